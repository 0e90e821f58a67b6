import Foundation
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
        let payload: GatewayPayload
        do {
            payload = try JSONDecoder().decode(GatewayPayload.self, from: Data(frame))
        } catch let error as FrameDecodeError {
            throw error
        } catch let error as DecodingError {
            throw Self.explain(error)
        } catch {
            throw FrameDecodeError(reason: "invalid_json", detail: "\(error)")
        }

        let device = context.deviceID.flatMap { $0.isEmpty ? nil : $0 } ?? payload.device.flatMap { $0.isEmpty ? nil : $0 }
        guard let device else {
            throw FrameDecodeError(reason: "missing_field", detail: "device: required when the topic names no device")
        }
        let messageTime = try payload.time.map { text throws(FrameDecodeError) in try Self.timestamp(text, field: "time") }
        let patient = payload.patient.map { PatientIdentifier(id: $0.id, assigningAuthority: $0.authority ?? "") }
        let location = payload.location ?? context.location

        var observations: [Observation] = []
        observations.reserveCapacity(payload.observations.count)
        for (index, entry) in payload.observations.enumerated() {
            let field = "observations[\(index)]"
            var status = ObservationStatus.final
            if let text = entry.status {
                guard let parsed = ObservationStatus(code: text) else {
                    throw FrameDecodeError(reason: "invalid_value", detail: "\(field).status: '\(text.prefix(8))' is not one of F, P, C, R, X, D")
                }
                status = parsed
            }
            guard let time = try entry.time.map({ text throws(FrameDecodeError) in try Self.timestamp(text, field: "\(field).time") }) ?? messageTime else {
                throw FrameDecodeError(reason: "missing_field", detail: "\(field).time: required when the message has no time")
            }
            guard entry.value.isFinite else {
                throw FrameDecodeError(reason: "invalid_value", detail: "\(field).value: not a finite number")
            }
            // X (cannot obtain) and D (deleted) carry no value to store.
            guard status.carriesValue else { continue }

            let reading = try profile.reading(
                code: ObservationCode(code: entry.code, system: entry.system), value: entry.value,
                unitTexts: entry.unit.map { [$0] } ?? [], at: field
            )
            observations.append(profile.observation(reading, time: time, patient: patient, deviceID: device, location: location, status: status))
        }
        return DecodedFrame(observations: observations, messageID: payload.id ?? Self.contentID(frame))
    }

    /// `h:` and the FNV-1a 64-bit hash of the payload: a redelivered copy has the same id.
    static func contentID(_ bytes: [UInt8]) -> String {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in bytes {
            hash ^= UInt64(byte)
            hash &*= 0x0000_0100_0000_01b3
        }
        let hex = String(hash, radix: 16)
        return "h:" + String(repeating: "0", count: 16 - hex.count) + hex
    }

    private static func timestamp(_ text: String, field: String) throws(FrameDecodeError) -> Timestamp {
        do {
            return try RFC3339Time.parse(text)
        } catch {
            throw FrameDecodeError(reason: "invalid_time", detail: "\(field): '\(text.prefix(40))' is \(RFC3339Time.explain(error))")
        }
    }

    /// A JSON decoding error as a reason and the field it is about.
    private static func explain(_ error: DecodingError) -> FrameDecodeError {
        func path(_ keys: [any CodingKey], _ last: (any CodingKey)? = nil) -> String {
            var text = ""
            for key in keys + (last.map { [$0] } ?? []) {
                if let index = key.intValue { text += "[\(index)]" } else { text += text.isEmpty ? key.stringValue : "." + key.stringValue }
            }
            return text
        }
        switch error {
        case .keyNotFound(let key, let context):
            return FrameDecodeError(reason: "missing_field", detail: "\(path(context.codingPath, key)): required")
        case .valueNotFound(_, let context):
            return FrameDecodeError(reason: "missing_field", detail: "\(path(context.codingPath)): required, found null")
        case .typeMismatch(let type, let context):
            if context.codingPath.isEmpty {
                return FrameDecodeError(reason: "invalid_json", detail: "the payload is not a JSON object")
            }
            let expected = type == Double.self ? "a number" : type == String.self ? "a string" : "\(type)"
            return FrameDecodeError(reason: "invalid_value", detail: "\(path(context.codingPath)): expected \(expected)")
        case .dataCorrupted(let context):
            if context.codingPath.isEmpty {
                return FrameDecodeError(reason: "invalid_json", detail: "not JSON: \(context.debugDescription)")
            }
            return FrameDecodeError(reason: "invalid_value", detail: "\(path(context.codingPath)): \(context.debugDescription)")
        @unknown default:
            return FrameDecodeError(reason: "invalid_json", detail: "\(error)")
        }
    }
}

/// The payload as the format describes it; `version` is read first so a newer format is refused
/// as such rather than for a field it no longer has.
private struct GatewayPayload: Decodable {
    var id: String?
    var device: String?
    var patient: Patient?
    var location: String?
    var time: String?
    var observations: [Entry]

    struct Patient: Decodable {
        var id: String
        var authority: String?
    }

    struct Entry: Decodable {
        var code: String
        var system: String
        var value: Double
        var unit: String?
        var time: String?
        var status: String?
    }

    enum CodingKeys: String, CodingKey {
        case version, id, device, patient, location, time, observations
    }

    init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        let version = try container.decodeIfPresent(Int.self, forKey: .version) ?? 1
        guard version == 1 else {
            throw FrameDecodeError(reason: "unsupported_version", detail: "version: \(version) (this engine reads version 1)")
        }
        id = try container.decodeIfPresent(String.self, forKey: .id)
        device = try container.decodeIfPresent(String.self, forKey: .device)
        patient = try container.decodeIfPresent(Patient.self, forKey: .patient)
        location = try container.decodeIfPresent(String.self, forKey: .location)
        time = try container.decodeIfPresent(String.self, forKey: .time)
        observations = try container.decode([Entry].self, forKey: .observations)
    }
}
