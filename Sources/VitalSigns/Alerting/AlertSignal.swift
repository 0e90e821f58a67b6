/// Whom an alert is about: the patient, or the device while the patient is unknown.
/// Technical alarms (silence, sensor off) are always about the device. Equal and hashed by the
/// identifiers' bytes (`ExactText`), as the database's alert keys compare them.
public enum AlertSubject: Sendable, Hashable, Codable {
    case patient(PatientIdentifier)
    case device(String)

    public init(patient: PatientIdentifier?, deviceID: String) {
        self = patient.map(AlertSubject.patient) ?? .device(deviceID)
    }

    public static func == (lhs: AlertSubject, rhs: AlertSubject) -> Bool {
        switch (lhs, rhs) {
        case let (.patient(a), .patient(b)): a == b
        case let (.device(a), .device(b)): ExactText(a) == ExactText(b)
        default: false
        }
    }

    public func hash(into hasher: inout Hasher) {
        switch self {
        case .patient(let patient):
            hasher.combine(0)
            hasher.combine(patient)
        case .device(let deviceID):
            hasher.combine(1)
            hasher.combine(ExactText(deviceID))
        }
    }
}

/// Names a rule. Threshold alerts share one id and differ by vital kind in their key.
public struct RuleID: RawRepresentable, Sendable, Hashable, Codable, ExpressibleByStringLiteral, CustomStringConvertible {
    public var rawValue: String

    public init(rawValue: String) { self.rawValue = rawValue }
    public init(stringLiteral value: String) { self.rawValue = value }

    public var description: String { rawValue }

    public static let threshold: RuleID = "threshold"
    public static let news2: RuleID = "news2"
    public static let deviceSilent: RuleID = "device.silent"
}

/// At most one alert is open per key: one per subject, vital kind and rule, however many
/// samples keep it out of band. `kind` is nil for rules about no single vital (NEWS2, silence).
public struct AlertKey: Sendable, Hashable, Codable, CustomStringConvertible {
    public var subject: AlertSubject
    public var kind: VitalKind?
    public var rule: RuleID

    public init(subject: AlertSubject, kind: VitalKind?, rule: RuleID) {
        self.subject = subject
        self.kind = kind
        self.rule = rule
    }

    /// Names the device but never the patient: keys end up in logs.
    public var description: String {
        let who = switch subject {
        case .patient: "patient"
        case .device(let device): "device \(device)"
        }
        return "\(rule) \(kind?.name ?? "-") \(who)"
    }

    /// A total order for signals produced together.
    var sortKey: String {
        let who = switch subject {
        case .patient(let patient): "p \(patient.assigningAuthority) \(patient.id)"
        case .device(let device): "d \(device)"
        }
        return "\(rule) \(kind?.name ?? "-") \(who)"
    }
}

/// A change in an alert's state for the lifecycle (persistence, acknowledgement, timed
/// escalation) to act on.
public struct AlertSignal: Sendable, Hashable {
    public enum Action: Sendable, Hashable {
        case raise
        /// The open alert's severity went up (a warning value entered the critical band).
        case escalate(from: Severity)
        case clear
    }

    public var action: Action
    public var key: AlertKey
    /// The alert's severity after the change (for a clear, the severity it had).
    public var severity: Severity
    /// The value that caused the change: the vital's value, the NEWS2 total, nil for a device state.
    public var value: Double?
    public var patient: PatientIdentifier?
    public var deviceID: String?
    public var location: String?
    public var time: Timestamp
    /// How long the lifecycle waits for an acknowledgement before escalating this alert.
    public var escalationAfter: Duration
    /// The score behind a NEWS2 alert, parameter by parameter.
    public var news2: NEWS2Score?

    public var rule: RuleID { key.rule }
    public var kind: VitalKind? { key.kind }

    public init(
        action: Action, key: AlertKey, severity: Severity, value: Double?, patient: PatientIdentifier?,
        deviceID: String?, location: String?, time: Timestamp, escalationAfter: Duration, news2: NEWS2Score? = nil
    ) {
        self.action = action
        self.key = key
        self.severity = severity
        self.value = value
        self.patient = patient
        self.deviceID = deviceID
        self.location = location
        self.time = time
        self.escalationAfter = escalationAfter
        self.news2 = news2
    }
}
