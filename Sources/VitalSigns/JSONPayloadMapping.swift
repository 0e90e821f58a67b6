/// How a vendor's own JSON payload (protocol `mapped-json`) carries its readings: which keys
/// hold the device, time, patient and message id, and which keys hold which vital sign in
/// which unit. Loaded from a profile's `payload:` section.
public struct JSONPayloadMapping: Sendable, Hashable {
    /// How the payload writes its time.
    public enum TimeFormat: String, Sendable, Hashable, CaseIterable {
        /// `2026-11-29T09:00:00.250+02:00`: RFC 3339 with an offset.
        case rfc3339
        case epochSeconds = "epoch_seconds"
        case epochMilliseconds = "epoch_milliseconds"
    }

    /// One reading: the value at `path` is a `kind` measured in `unit`.
    public struct Field: Sendable, Hashable {
        /// The key, or a dotted path into nested objects (`vitals.hr`).
        public var path: String
        public var kind: VitalKind
        public var unit: UCUMUnit
        /// The code stored with the value; by default the key path in the profile's own system.
        public var code: ObservationCode

        public init(path: String, kind: VitalKind, unit: UCUMUnit, code: ObservationCode) {
            self.path = path
            self.kind = kind
            self.unit = unit
            self.code = code
        }
    }

    public var deviceField: String?
    public var timeField: String?
    public var timeFormat: TimeFormat
    public var patientField: String?
    /// The authority of the payload's patient ids, when the payload does not say.
    public var patientAuthority: String
    public var locationField: String?
    public var messageIDField: String?
    public var fields: [Field]

    public init(
        deviceField: String? = nil,
        timeField: String? = nil,
        timeFormat: TimeFormat = .rfc3339,
        patientField: String? = nil,
        patientAuthority: String = "",
        locationField: String? = nil,
        messageIDField: String? = nil,
        fields: [Field]
    ) {
        self.deviceField = deviceField
        self.timeField = timeField
        self.timeFormat = timeFormat
        self.patientField = patientField
        self.patientAuthority = patientAuthority
        self.locationField = locationField
        self.messageIDField = messageIDField
        self.fields = fields
    }
}
