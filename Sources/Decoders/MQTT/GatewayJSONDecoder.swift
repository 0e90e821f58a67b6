import VitalSigns

/// The engine's MQTT gateway JSON, version 1 (docs/formats/mqtt-gateway-json.md) → observations.
///
/// A payload is taken or refused whole: one bad observation refuses the message, so a gateway
/// never has half a reading stored. Refusals carry a stable reason (`invalid_json`,
/// `unsupported_version`, `missing_field`, `invalid_value`, `invalid_time`, `unknown_unit`, `missing_unit`) and a
/// detail naming the field (`observations[2].value`).
public struct GatewayJSONDecoder: FrameDecoder {
    public var profile: DeviceProfile

    public init(profile: DeviceProfile) {
        self.profile = profile
    }

    public func decode(_ frame: [UInt8], context: FrameContext) throws(FrameDecodeError) -> DecodedFrame {
        let payload = Fields(try JSONValue.object(parsing: frame), path: "")
        // The version first, so a newer format is refused as such rather than for a field it no longer has.
        if let version = try payload.number("version"), version != 1 {
            throw FrameDecodeError(reason: "unsupported_version", detail: "version: \(Self.text(version)) (this engine reads version 1)")
        }
        let id = try payload.text("id")
        let sentDevice = try payload.text("device")
        // An empty id names no patient (the association applies), rather than one shared by every
        // gateway that sends it.
        let patient = try payload.object("patient").flatMap { fields throws(FrameDecodeError) -> PatientIdentifier? in
            let id = try fields.requiredText("id")
            return id.isEmpty ? nil : PatientIdentifier(id: id, assigningAuthority: try fields.text("authority") ?? "")
        }
        let location = try payload.text("location") ?? context.location
        let messageTimeText = try payload.text("time")
        let entries = try payload.requiredList("observations")

        guard let device = context.deviceID.flatMap({ $0.isEmpty ? nil : $0 }) ?? sentDevice.flatMap({ $0.isEmpty ? nil : $0 }) else {
            throw FrameDecodeError(reason: "missing_field", detail: "device: required when the topic names no device")
        }
        let messageTime = try messageTimeText.map { text throws(FrameDecodeError) in try Self.timestamp(text, field: "time") }

        var observations: [Observation] = []
        observations.reserveCapacity(entries.count)
        for (index, element) in entries.enumerated() {
            let field = "observations[\(index)]"
            guard case .object(let members) = element else {
                throw FrameDecodeError(reason: "invalid_value", detail: "\(field): expected an object, found \(element.typeName)")
            }
            let entry = Fields(members, path: field)
            let code = try entry.requiredText("code")
            let system = try entry.requiredText("system")
            let value = try entry.requiredNumber("value")
            let unit = try entry.text("unit")
            let timeText = try entry.text("time")
            var status = ObservationStatus.final
            if let text = try entry.text("status") {
                guard let parsed = ObservationStatus(code: text) else {
                    throw FrameDecodeError(reason: "invalid_value", detail: "\(field).status: '\(text.prefix(8))' is not one of F, P, C, R, X, D")
                }
                status = parsed
            }
            guard let time = try timeText.map({ text throws(FrameDecodeError) in try Self.timestamp(text, field: "\(field).time") }) ?? messageTime else {
                throw FrameDecodeError(reason: "missing_field", detail: "\(field).time: required when the message has no time")
            }
            // X (cannot obtain) and D (deleted) carry no value to store.
            guard status.carriesValue else { continue }

            let reading = try profile.reading(
                code: ObservationCode(code: code, system: system), value: value, unitTexts: unit.map { [$0] } ?? [], at: field
            )
            observations.append(profile.observation(reading, time: time, patient: patient, deviceID: device, location: location, status: status))
        }
        return DecodedFrame(observations: observations, messageID: id ?? DecodedFrame.contentID(frame))
    }

    private static func timestamp(_ text: String, field: String) throws(FrameDecodeError) -> Timestamp {
        do {
            return try RFC3339Time.parse(text)
        } catch {
            throw FrameDecodeError(reason: "invalid_time", detail: "\(field): '\(text.prefix(40))' is \(RFC3339Time.explain(error))")
        }
    }

    /// A version as sent: `2`, not `2.0`.
    private static func text(_ number: Double) -> String {
        number == number.rounded() && abs(number) < 1e15 ? String(Int64(number)) : String(number)
    }
}

/// The members of one payload object, read by name with the format's rules: a required field
/// that is absent or null is `missing_field`, a field of the wrong type is `invalid_value`, and
/// an optional field sent as null counts as absent. Errors name the field by its path.
private struct Fields {
    let members: JSONObject
    let path: String

    init(_ members: JSONObject, path: String) {
        self.members = members
        self.path = path
    }

    func text(_ key: String) throws(FrameDecodeError) -> String? { try optional(key, "a string", \.string) }
    func requiredText(_ key: String) throws(FrameDecodeError) -> String { try required(key, "a string", \.string) }
    func number(_ key: String) throws(FrameDecodeError) -> Double? { try optional(key, "a number", \.number) }
    func requiredNumber(_ key: String) throws(FrameDecodeError) -> Double { try required(key, "a number", \.number) }
    func requiredList(_ key: String) throws(FrameDecodeError) -> [JSONValue] { try required(key, "a list", \.array) }

    func object(_ key: String) throws(FrameDecodeError) -> Fields? {
        try optional(key, "an object", \.object).map { Fields($0, path: name(key)) }
    }

    private func optional<Value>(_ key: String, _ expected: String, _ typed: (JSONValue) -> Value?) throws(FrameDecodeError) -> Value? {
        guard let value = members[key], value != .null else { return nil }
        guard let result = typed(value) else { throw mismatch(key, expected: expected, found: value) }
        return result
    }

    private func required<Value>(_ key: String, _ expected: String, _ typed: (JSONValue) -> Value?) throws(FrameDecodeError) -> Value {
        guard let value = members[key] else {
            throw FrameDecodeError(reason: "missing_field", detail: "\(name(key)): required")
        }
        guard value != .null else {
            throw FrameDecodeError(reason: "missing_field", detail: "\(name(key)): required, found null")
        }
        guard let result = typed(value) else { throw mismatch(key, expected: expected, found: value) }
        return result
    }

    private func mismatch(_ key: String, expected: String, found value: JSONValue) -> FrameDecodeError {
        FrameDecodeError(reason: "invalid_value", detail: "\(name(key)): expected \(expected), found \(value.typeName)")
    }

    private func name(_ key: String) -> String {
        path.isEmpty ? key : "\(path).\(key)"
    }
}
