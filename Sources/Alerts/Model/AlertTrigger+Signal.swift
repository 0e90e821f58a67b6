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
    /// Read from the right it is unambiguous: vital kinds and rule ids hold no `|`, and the
    /// patient's id no unescaped `:` (`keyEscaped`).
    static func key(_ key: AlertKey) -> String {
        let subject = switch key.subject {
        case .patient(let patient): "p:\(patient.assigningAuthority):\(keyEscaped(patient.id))"
        case .device(let device): "d:\(device)"
        }
        return "\(subject)|\(key.kind?.name ?? "-")|\(key.rule)"
    }

    /// A patient's id with `\` and `:` escaped (`\\`, `\c`), so that authority `KTH:MRN` with id
    /// `1` and authority `KTH` with id `MRN:1` are two patients, not one whose open alert takes
    /// the other's. Ids without either (nearly all) are unchanged; migration 0017 rewrites the
    /// keys of open alerts whose ids have them.
    private static func keyEscaped(_ id: String) -> String {
        guard id.utf8.contains(where: { $0 == UInt8(ascii: "\\") || $0 == UInt8(ascii: ":") }) else { return id }
        var escaped = ""
        for scalar in id.unicodeScalars {
            switch scalar {
            case "\\": escaped += "\\\\"
            case ":": escaped += "\\c"
            default: escaped.unicodeScalars.append(scalar)
            }
        }
        return escaped
    }
}
