import VitalSigns

/// The alert lifecycle as pure state transitions over the unresolved alerts:
/// open → acknowledged → resolved, raised and cleared by triggers, acknowledged and resolved by
/// clinicians, escalated when open for longer than its rule allows.
///
/// Each decision updates the state at once (so the next trigger in the same batch sees it) and is
/// returned as a change for the hub to make durable; `apply` then takes in the committed alerts
/// (with their ids and times).
struct AlertLifecycle {
    let facility: String
    /// By key as its bytes (`ExactText`): the database's unique key compares them so, and two
    /// devices whose ids differ only in how an accent is encoded must not share an alert.
    private var unresolved: [ExactText: Alert] = [:]
    /// When the database last refused an alert's escalation, by key, until a change of it is stored.
    private var escalationRefusedAt: [ExactText: Timestamp] = [:]

    init(facility: String, unresolved: [Alert]) {
        self.facility = facility
        for alert in unresolved { self.unresolved[ExactText(alert.key)] = alert }
    }

    /// The unresolved alert stored as `id`; never one raised in the batch being decided, which
    /// has no id yet (0).
    func alert(id: Int64) -> Alert? {
        guard id > 0 else { return nil }
        return unresolved.values.first { $0.id == id }
    }

    /// The change a trigger asks for, if any: a raise for an unresolved key only escalates when it
    /// is more severe; a clear resolves the key's alert. `now` is the hub's clock.
    mutating func handle(_ trigger: AlertTrigger, at now: Timestamp) -> [AlertChange] {
        let changes = decide(trigger, at: now)
        for change in changes { record(change) }
        return changes
    }

    private func decide(_ trigger: AlertTrigger, at now: Timestamp) -> [AlertChange] {
        let existing = unresolved[ExactText(trigger.key)]
        switch trigger.action {
        case .raise(let severity):
            guard var alert = existing else { return [AlertChange(alert: newAlert(trigger, severity: severity), event: .raised)] }
            // The rules raise an open key again only when its condition got worse. That is news
            // when it is more severe than the alert, and also when the alert's severity came from
            // the escalation timer: the condition itself is worse than when it was raised.
            guard severity > alert.severity || alert.escalationCount > 0 else { return [] }
            // Worse, and measured in another ward: the patient moved. The alert leaves the old
            // ward's screens (resolved) and is raised anew where the nurses now caring for the
            // patient see it and acknowledge it; each ward's stream sees a whole story.
            if let location = trigger.location, Alert.ward(of: location) != alert.ward {
                var left = alert
                left.state = .resolved
                left.resolvedBy = Alert.resolvedBySystem
                var moved = newAlert(trigger, severity: max(severity, alert.severity))
                moved.ruleSeverity = severity
                return [AlertChange(alert: left, event: .resolved, replacing: existing), AlertChange(alert: moved, event: .raised)]
            }
            alert.severity = max(severity, alert.severity)
            alert.ruleSeverity = severity
            alert.value = trigger.value
            alert.observedAt = trigger.observedAt
            if let location = trigger.location { alert.location = location }
            // A worse condition calls for attention again: the worse rule's time to acknowledge
            // applies from now (not from the milder alert's raise, which would escalate it at
            // once), and an acknowledgement of the milder condition does not cover it.
            alert.escalateAfter = trigger.escalateAfter
            alert.escalatedAt = now
            if alert.state == .acknowledged {
                alert.state = .open
                alert.acknowledgedAt = nil
                alert.acknowledgedBy = nil
            }
            return [AlertChange(alert: alert, event: .escalated, replacing: existing)]
        case .clear:
            guard var alert = existing else { return [] }
            alert.state = .resolved
            alert.resolvedBy = Alert.resolvedBySystem
            return [AlertChange(alert: alert, event: .resolved, replacing: existing)]
        }
    }

    private func newAlert(_ trigger: AlertTrigger, severity: AlertSeverity) -> Alert {
        Alert(
            id: 0, key: trigger.key, state: .open, severity: severity, rule: trigger.rule, vital: trigger.vital,
            value: trigger.value, unit: trigger.unit, patient: trigger.patient, device: trigger.device,
            location: trigger.location, facility: facility, raisedAt: trigger.observedAt, observedAt: trigger.observedAt,
            escalationCount: 0, escalatedAt: nil, escalateAfter: trigger.escalateAfter, ruleSeverity: severity
        )
    }

    /// nil when already acknowledged: the first acknowledgement stands.
    mutating func acknowledge(_ alert: Alert, by clinician: String) -> AlertChange? {
        guard alert.state == .open else { return nil }
        var acknowledged = alert
        acknowledged.state = .acknowledged
        acknowledged.acknowledgedBy = clinician
        let change = AlertChange(alert: acknowledged, event: .acknowledged, replacing: alert)
        record(change)
        return change
    }

    mutating func resolve(_ alert: Alert, by clinician: String) -> AlertChange {
        var resolved = alert
        resolved.state = .resolved
        resolved.resolvedBy = clinician
        let change = AlertChange(alert: resolved, event: .resolved, replacing: alert)
        record(change)
        return change
    }

    /// Open alerts past their rule's time to acknowledge, one severity step up each; one whose
    /// escalation the database refused waits that time again before the next try (due at once,
    /// it was tried, refused and logged at every batch).
    mutating func escalate(at now: Timestamp) -> [AlertChange] {
        let due = unresolved.values.filter { alert in
            guard alert.id != 0, alert.isDueForEscalation(at: now) else { return false }
            guard let refused = escalationRefusedAt[ExactText(alert.key)], let wait = alert.escalateAfter else { return true }
            return now.duration(since: refused) >= wait
        }.sorted { $0.id < $1.id }
        return due.map { alert in
            var escalated = alert
            escalated.severity = alert.severity.escalated
            escalated.escalationCount += 1
            escalated.escalatedAt = now
            let change = AlertChange(alert: escalated, event: .escalated, replacing: alert)
            record(change)
            return change
        }
    }

    private mutating func record(_ change: AlertChange) {
        unresolved[ExactText(change.alert.key)] = change.alert.state == .resolved ? nil : change.alert
    }

    /// Puts back what a change the database refused replaced: the alert as it was, or nothing
    /// for a raise (its key open in another engine's hands, say). Changes of one batch are
    /// discarded last first, so each puts back what the one before it left.
    mutating func discard(_ change: AlertChange) {
        let key = ExactText(change.alert.key)
        if change.event == .escalated { escalationRefusedAt[key] = change.alert.escalatedAt }
        unresolved[key] = change.replaced
    }

    /// Takes in committed events: their alerts (with ids and times) are the new truth.
    mutating func apply(_ events: [AlertEvent]) {
        for event in events {
            escalationRefusedAt[ExactText(event.alert.key)] = nil
            record(AlertChange(alert: event.alert, event: event.type))
        }
    }
}
