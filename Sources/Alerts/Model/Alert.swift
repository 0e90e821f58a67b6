import VitalSigns

/// One alert as the nurses' station and the event bus see it (docs/api/alerts.md).
public struct Alert: Sendable, Hashable {
    public var id: Int64
    /// `patient or device | vital | rule`: at most one unresolved alert per key.
    public var key: String
    public var state: AlertState
    public var severity: AlertSeverity
    public var rule: String
    /// A vital kind's name, `news2`, or `device` for technical alarms.
    public var vital: String
    public var value: Double?
    public var unit: String?
    public var patient: PatientIdentifier?
    public var device: String
    public var location: String?
    public var facility: String
    public var raisedAt: Timestamp
    public var observedAt: Timestamp
    public var acknowledgedAt: Timestamp?
    public var acknowledgedBy: String?
    public var resolvedAt: Timestamp?
    /// The clinician, or `Alert.resolvedBySystem` when its condition cleared.
    public var resolvedBy: String?
    public var escalationCount: Int
    /// When it was raised or last escalated: the escalation clock starts here.
    public var escalatedAt: Timestamp?
    /// The rule's time to acknowledge before the alert escalates; nil never escalates.
    public var escalateAfter: Duration?
    /// The severity the rules last asked for (the raise or a worsening), before any escalation
    /// by the timer; nil for alerts stored by builds that did not record it.
    public var ruleSeverity: AlertSeverity? = nil

    /// The ward: the point of care, first component of the bed (`ICU` of `ICU^1^A`).
    public var ward: String? { Alert.ward(of: location) }

    public static func ward(of location: String?) -> String? {
        guard let location, let first = location.split(separator: "^", omittingEmptySubsequences: false).first, !first.isEmpty else {
            return nil
        }
        return String(first)
    }

    /// The alert's JSON (docs/api/alerts.md).
    public var json: String { AlertJSON.alert(self) }

    /// `{"alerts": [...], "permissions": [...]}`: the alerts, and what the caller may do to them
    /// (so that a screen offers only that).
    public static func json(_ alerts: [Alert], permissions: [String]) -> String { AlertJSON.alerts(alerts, permissions: permissions) }

    /// Due for escalation at `now`: open (not acknowledged) for longer than the rule allows.
    /// `resolvedBy` of an alert whose condition cleared by itself.
    public static let resolvedBySystem = "system"

    public func isDueForEscalation(at now: Timestamp) -> Bool {
        guard state == .open, let escalateAfter else { return false }
        let since = escalatedAt ?? raisedAt
        return now.microsecondsSinceEpoch - since.microsecondsSinceEpoch >= escalateAfter.microseconds
    }
}

/// One announced change of an alert: the unit of the live stream and of Kafka.
public struct AlertEvent: Sendable, Hashable {
    /// Increasing sequence number; `Last-Event-ID` and Kafka consumers rely on it.
    public var id: Int64
    public var type: AlertEventType
    public var occurredAt: Timestamp
    public var alert: Alert

    /// The event's JSON as it is stored, streamed and sent (docs/schemas/alert-event.v1.json).
    public var json: String { AlertJSON.event(self) }
}

extension Duration {
    var microseconds: Int64 {
        let parts = components
        return parts.seconds * 1_000_000 + parts.attoseconds / 1_000_000_000_000
    }
}
