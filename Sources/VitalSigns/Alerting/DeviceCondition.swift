/// A state the device reports about its own measurement, not about the patient: the probe
/// is off, the signal is too poor to measure, or a measurement produced no value. Decoders
/// produce these from the device's own status fields (an OBX-11 `X`, a gateway's probe flag).
public struct DeviceCondition: Sendable, Hashable {
    public enum Status: String, Sendable, Hashable, Codable, CaseIterable {
        /// The device says it measures normally again: clears the others.
        case normal
        case sensorOff = "sensor_off"
        /// Poor signal or out of track (motion, low perfusion, electrode noise).
        case noSignal = "no_signal"
        case noValue = "no_value"

        /// The rule a technical alarm of this status is raised under; nil for `normal`.
        public var rule: RuleID? {
            switch self {
            case .normal: nil
            case .sensorOff: "device.sensor_off"
            case .noSignal: "device.no_signal"
            case .noValue: "device.no_value"
            }
        }
    }

    public var time: Timestamp
    public var deviceID: String
    public var patient: PatientIdentifier?
    public var location: String?
    /// The channel concerned; nil when the whole device is affected.
    public var kind: VitalKind?
    public var status: Status

    public init(time: Timestamp, deviceID: String, patient: PatientIdentifier? = nil, location: String? = nil, kind: VitalKind? = nil, status: Status) {
        self.time = time
        self.deviceID = deviceID
        self.patient = patient
        self.location = location
        self.kind = kind
        self.status = status
    }
}
