import VitalSigns

/// What the rules decided about one alert key: raise it (at a severity) or clear it. The hub
/// turns triggers into alert lifecycle changes; a raise for a key that is already open only
/// escalates when the severity is higher.
public struct AlertTrigger: Sendable, Hashable {
    public enum Action: Sendable, Hashable {
        case raise(AlertSeverity)
        case clear
    }

    public var action: Action
    /// `patient or device | vital | rule`.
    public var key: String
    public var rule: String
    public var vital: String
    public var value: Double?
    public var unit: String?
    public var patient: PatientIdentifier?
    public var device: String
    public var location: String?
    public var observedAt: Timestamp
    /// Time to acknowledge before escalation; nil never escalates.
    public var escalateAfter: Duration?

    public init(
        action: Action, key: String, rule: String, vital: String, value: Double? = nil, unit: String? = nil,
        patient: PatientIdentifier? = nil, device: String, location: String? = nil, observedAt: Timestamp,
        escalateAfter: Duration? = nil
    ) {
        self.action = action
        self.key = key
        self.rule = rule
        self.vital = vital
        self.value = value
        self.unit = unit
        self.patient = patient
        self.device = device
        self.location = location
        self.observedAt = observedAt
        self.escalateAfter = escalateAfter
    }
}

/// Whose alerts a caller sees: one facility, optionally one ward of it.
public struct AlertScope: Sendable, Hashable {
    public var facility: String
    public var ward: String?

    public init(facility: String, ward: String? = nil) {
        self.facility = facility
        self.ward = ward
    }

    public func contains(facility: String, ward: String?) -> Bool {
        facility == self.facility && (self.ward == nil || ward == self.ward)
    }

    public func contains(_ alert: Alert) -> Bool { contains(facility: alert.facility, ward: alert.ward) }
}
