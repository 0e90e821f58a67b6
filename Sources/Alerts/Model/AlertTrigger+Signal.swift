import VitalSigns

extension AlertTrigger {
    /// The hub's view of a rule's decision. NEWS2 speaks in clinical responses, so its warning
    /// (aggregate 5–6 or a single parameter at 3) is `urgent` and its critical (7+) `emergency`.
    public init(_ signal: AlertSignal) {
        let isNEWS2 = signal.rule == .news2
        let severity: AlertSeverity = switch (signal.severity, isNEWS2) {
        case (.critical, true): .emergency
        case (_, true): .urgent
        case (.critical, false): .critical
        case (_, false): .warning
        }
        let vital = signal.kind?.name ?? (isNEWS2 ? "news2" : "device")
        self.init(
            action: signal.action == .clear ? .clear : .raise(severity),
            key: Self.key(signal.key),
            rule: signal.kind.map { "\(signal.rule).\($0.name)" } ?? signal.rule.rawValue,
            vital: vital,
            value: signal.value,
            unit: isNEWS2 ? nil : signal.kind.map { $0.canonicalUnit.ucum },
            patient: signal.patient,
            device: signal.deviceID ?? "unknown",
            location: signal.location,
            observedAt: signal.time,
            escalateAfter: signal.escalationAfter > .zero ? signal.escalationAfter : nil
        )
    }

    /// `p:KTH:MRN-1|spo2|threshold`: the subject in full, so two patients never share a key.
    static func key(_ key: AlertKey) -> String {
        let subject = switch key.subject {
        case .patient(let patient): "p:\(patient.assigningAuthority):\(patient.id)"
        case .device(let device): "d:\(device)"
        }
        return "\(subject)|\(key.kind?.name ?? "-")|\(key.rule)"
    }
}
