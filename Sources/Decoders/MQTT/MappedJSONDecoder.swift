import VitalSigns

/// A vendor gateway's own JSON (protocol `mapped-json`), read as the profile's `payload:`
/// section describes it: which keys hold the device, time, patient and message id, and which
/// keys hold which vital sign in which unit. A payload with a badly typed field, or with none
/// of the mapped readings, is rejected as a whole.
public struct MappedJSONDecoder: FrameDecoder {
    public var profile: DeviceProfile
    public var mapping: JSONPayloadMapping

    /// Nil when the profile has no `payload:` section.
    public init?(profile: DeviceProfile) {
        guard let mapping = profile.jsonPayload else { return nil }
        self.profile = profile
        self.mapping = mapping
    }

    public func decode(_ frame: [UInt8], context: FrameContext) throws(FrameDecodeError) -> DecodedFrame {
        let payload = JSONValue.object(try JSONValue.object(parsing: frame))
        let device = try text(payload, mapping.deviceField, what: "device id") ?? context.deviceID
        guard let device else {
            throw FrameDecodeError(reason: "missing_device", detail: "no device id: \(mapping.deviceField.map { "'\($0)' is absent" } ?? "the profile maps no device field") and the topic names none")
        }
        let time = try self.time(payload) ?? context.receivedAt
        let patient = try text(payload, mapping.patientField, what: "patient id").map {
            PatientIdentifier(id: $0, assigningAuthority: mapping.patientAuthority)
        }
        let location = try text(payload, mapping.locationField, what: "location") ?? context.location
        var decoded = DecodedFrame(messageID: try text(payload, mapping.messageIDField, what: "message id"))
        for field in mapping.fields {
            switch payload.value(atPath: field.path) {
            case nil:
                continue
            case .null?:
                decoded.statusReports.append(DeviceStatusReport(
                    condition: .noValue, deviceID: device, time: time, detail: "\(field.path) is null", patient: patient, location: location))
            case .number(let value)?:
                let reading = try Reading(code: field.code, kind: field.kind, value: value, unit: field.unit, at: "'\(field.path)'")
                decoded.observations.append(profile.observation(reading, time: time, patient: patient, deviceID: device, location: location))
            case let other?:
                throw FrameDecodeError(reason: "invalid_value", detail: "'\(field.path)' must be a number, found \(other.typeName)")
            }
        }
        if decoded.observations.isEmpty && decoded.statusReports.isEmpty {
            let expected = mapping.fields.map(\.path).prefix(8).joined(separator: ", ")
            throw FrameDecodeError(reason: "missing_value", detail: "none of the mapped readings is present (expected one of: \(expected))")
        }
        return decoded
    }

    /// A text (or whole number) at a mapped key; nil when unmapped or absent.
    private func text(_ payload: JSONValue, _ path: String?, what: String) throws(FrameDecodeError) -> String? {
        guard let path, let node = payload.value(atPath: path), node != .null else { return nil }
        guard let text = node.identifierText else {
            throw FrameDecodeError(reason: "invalid_field", detail: "'\(path)' (\(what)) must be a non-empty text or a whole number, found \(node.typeName)")
        }
        return text
    }

    private func time(_ payload: JSONValue) throws(FrameDecodeError) -> Timestamp? {
        guard let path = mapping.timeField else { return nil }
        guard let node = payload.value(atPath: path), node != .null else {
            throw FrameDecodeError(reason: "missing_field", detail: "'\(path)' (time) is missing")
        }
        switch (mapping.timeFormat, node) {
        case (.rfc3339, .string(let text)):
            do {
                return try RFC3339Time.parse(text)
            } catch {
                throw FrameDecodeError(reason: "invalid_time", detail: "'\(path)' '\(text.prefix(40))' is \(RFC3339Time.explain(error))")
            }
        case (.epochSeconds, .number(let seconds)) where Self.plausibleEpoch.contains(seconds):
            return Timestamp(secondsSinceEpoch: seconds)
        case (.epochMilliseconds, .number(let milliseconds)) where Self.plausibleEpoch.contains(milliseconds / 1000):
            return Timestamp(microsecondsSinceEpoch: Int64((milliseconds * 1000).rounded()))
        case (.epochSeconds, .number), (.epochMilliseconds, .number):
            throw FrameDecodeError(reason: "invalid_time", detail: "'\(path)' \(node.number ?? 0) is outside 1970–2200 as \(mapping.timeFormat.rawValue)")
        default:
            let expected = mapping.timeFormat == .rfc3339 ? "an RFC 3339 text" : "a number (\(mapping.timeFormat.rawValue))"
            throw FrameDecodeError(reason: "invalid_time", detail: "'\(path)' must be \(expected), found \(node.typeName)")
        }
    }

    /// Epoch seconds from 1970 to 2200: wider is a wrong format setting (ms read as s), not a time.
    private static let plausibleEpoch: ClosedRange<Double> = 0...7_258_118_400
}
