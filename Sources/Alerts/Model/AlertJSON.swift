import Foundation
import VitalSigns

/// The JSON of alerts and alert events (docs/schemas/alert-event.v1.json). Every field is always
/// present, `null` when unknown, so consumers can tell "unknown" from "not sent".
enum AlertJSON {
    static let schemaVersion = 1

    private static let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return encoder
    }()

    static func event(_ event: AlertEvent) -> String {
        encode(EventBody(version: schemaVersion, eventId: event.id, type: event.type.rawValue,
                         occurredAt: event.occurredAt.iso8601, alert: AlertBody(event.alert)))
    }

    static func alert(_ alert: Alert) -> String {
        encode(AlertBody(alert))
    }

    static func alerts(_ alerts: [Alert], permissions: [String]) -> String {
        encode(ListBody(alerts: alerts.map(AlertBody.init), permissions: permissions))
    }

    private struct ListBody: Encodable {
        var alerts: [AlertBody]
        var permissions: [String]
    }

    private static func encode(_ value: some Encodable) -> String {
        // Encoding plain strings, numbers and optionals cannot fail.
        (try? encoder.encode(value)).map { String(decoding: $0, as: UTF8.self) } ?? "{}"
    }

    private struct EventBody: Encodable {
        var version: Int
        var eventId: Int64
        var type: String
        var occurredAt: String
        var alert: AlertBody
    }

    private struct PatientBody: Encodable {
        var id: String
        var authority: String
    }

    private struct AlertBody: Encodable {
        var alert: Alert

        init(_ alert: Alert) { self.alert = alert }

        enum Key: String, CodingKey {
            case id, state, severity, rule, vital, value, unit, patient, device, location, ward, facility
            case raisedAt, observedAt, acknowledgedAt, acknowledgedBy, resolvedAt, resolvedBy, escalationCount, escalatedAt
        }

        func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: Key.self)
            try container.encode(alert.id, forKey: .id)
            try container.encode(alert.state.rawValue, forKey: .state)
            try container.encode(alert.severity.rawValue, forKey: .severity)
            try container.encode(alert.rule, forKey: .rule)
            try container.encode(alert.vital, forKey: .vital)
            try container.encode(alert.value.flatMap { $0.isFinite ? $0 : nil }, forKey: .value)
            try container.encode(alert.unit, forKey: .unit)
            try container.encode(alert.patient.map { PatientBody(id: $0.id, authority: $0.assigningAuthority) }, forKey: .patient)
            try container.encode(alert.device, forKey: .device)
            try container.encode(alert.location, forKey: .location)
            try container.encode(alert.ward, forKey: .ward)
            try container.encode(alert.facility, forKey: .facility)
            try container.encode(alert.raisedAt.iso8601, forKey: .raisedAt)
            try container.encode(alert.observedAt.iso8601, forKey: .observedAt)
            try container.encode(alert.acknowledgedAt?.iso8601, forKey: .acknowledgedAt)
            try container.encode(alert.acknowledgedBy, forKey: .acknowledgedBy)
            try container.encode(alert.resolvedAt?.iso8601, forKey: .resolvedAt)
            try container.encode(alert.resolvedBy, forKey: .resolvedBy)
            try container.encode(alert.escalationCount, forKey: .escalationCount)
            try container.encode(alert.escalatedAt?.iso8601, forKey: .escalatedAt)
        }
    }
}
