/// When a severity of a rule raises, and how long its alert may stay unacknowledged before
/// the lifecycle escalates it.
public struct Trigger: Sendable, Hashable, Codable {
    public var raiseAfter: Debounce
    public var escalationAfter: Duration

    public init(raiseAfter: Debounce, escalationAfter: Duration) {
        self.raiseAfter = raiseAfter
        self.escalationAfter = escalationAfter
    }
}

/// How a vital's warning and critical bands raise and clear. The bands themselves come from
/// the device profile or the patient's overrides.
public struct ThresholdRule: Sendable, Hashable, Codable {
    public var warning: Trigger
    public var critical: Trigger
    /// Clearing needs the value back inside the normal range by this much (canonical unit).
    public var clearMargin: Double
    public var clearAfter: Debounce

    public init(warning: Trigger, critical: Trigger, clearMargin: Double, clearAfter: Debounce) {
        self.warning = warning
        self.critical = critical
        self.clearMargin = clearMargin
        self.clearAfter = clearAfter
    }

    public func trigger(_ severity: Severity) -> Trigger { severity == .critical ? critical : warning }
}

/// A fast change of one vital, e.g. SpO2 falling by 5 points within 60 s, whatever the bands
/// say: a patient can deteriorate well inside them.
public struct RateOfChangeRule: Sendable, Hashable, Codable {
    public enum Direction: String, Sendable, Hashable, Codable { case falling, rising }

    public var id: RuleID
    public var kind: VitalKind
    public var direction: Direction
    /// Raise when the value moved by at least this much within `window`.
    public var change: Double
    public var window: Duration
    /// Clear when the move within `window` is back below this (smaller than `change`).
    public var clearBelow: Double
    public var severity: Severity
    public var trigger: Trigger
    public var clearAfter: Debounce

    public init(
        id: RuleID, kind: VitalKind, direction: Direction, change: Double, window: Duration, clearBelow: Double,
        severity: Severity, trigger: Trigger, clearAfter: Debounce
    ) {
        self.id = id
        self.kind = kind
        self.direction = direction
        self.change = change
        self.window = window
        self.clearBelow = clearBelow
        self.severity = severity
        self.trigger = trigger
        self.clearAfter = clearAfter
    }
}

/// When NEWS2 (adults only) raises: `urgent` for an aggregate of 5–6 or a single parameter
/// scoring 3 (warning), `emergency` for 7 or more (critical).
public struct NEWS2Rule: Sendable, Hashable, Codable {
    public var urgent: Trigger
    public var emergency: Trigger
    public var clearAfter: Debounce
    /// Monitor readings older than this are not scored.
    public var maxReadingAge: Duration
    /// Consciousness and oxygen assessments older than this are not scored.
    public var maxAssessmentAge: Duration

    public init(urgent: Trigger, emergency: Trigger, clearAfter: Debounce, maxReadingAge: Duration, maxAssessmentAge: Duration) {
        self.urgent = urgent
        self.emergency = emergency
        self.clearAfter = clearAfter
        self.maxReadingAge = maxReadingAge
        self.maxAssessmentAge = maxAssessmentAge
    }

    public func trigger(_ severity: Severity) -> Trigger { severity == .critical ? emergency : urgent }
}

/// A device that stopped sending: silent for `missedIntervals` sampling intervals of its
/// profile, and never less than `minimumSilence`. Devices whose profile names no interval
/// are not watched.
public struct SilenceRule: Sendable, Hashable, Codable {
    public var missedIntervals: Int
    public var minimumSilence: Duration
    public var severity: Severity
    public var escalationAfter: Duration

    public init(missedIntervals: Int, minimumSilence: Duration, severity: Severity, escalationAfter: Duration) {
        self.missedIntervals = missedIntervals
        self.minimumSilence = minimumSilence
        self.severity = severity
        self.escalationAfter = escalationAfter
    }

    public func allowedSilence(samplingInterval: Duration) -> Duration {
        max(samplingInterval * missedIntervals, minimumSilence)
    }
}

/// Technical alarms from a device's own status (sensor off, no signal, no value).
public struct DeviceConditionRule: Sendable, Hashable, Codable {
    public var severity: Severity
    public var trigger: Trigger
    public var clearAfter: Debounce

    public init(severity: Severity, trigger: Trigger, clearAfter: Debounce) {
        self.severity = severity
        self.trigger = trigger
        self.clearAfter = clearAfter
    }
}

/// Every rule the evaluator applies besides the bands: debounce, hysteresis, rate of change,
/// NEWS2, technical alarms and escalation times.
public struct AlertRuleSet: Sendable, Hashable, Codable {
    /// Threshold rules by vital kind; kinds without one use `defaultThreshold`.
    public var thresholds: [VitalKind: ThresholdRule]
    public var defaultThreshold: ThresholdRule
    public var rateOfChange: [RateOfChangeRule]
    public var news2: NEWS2Rule
    public var silence: SilenceRule
    public var deviceConditions: DeviceConditionRule

    public init(
        thresholds: [VitalKind: ThresholdRule], defaultThreshold: ThresholdRule, rateOfChange: [RateOfChangeRule],
        news2: NEWS2Rule, silence: SilenceRule, deviceConditions: DeviceConditionRule
    ) {
        self.thresholds = thresholds
        self.defaultThreshold = defaultThreshold
        self.rateOfChange = rateOfChange
        self.news2 = news2
        self.silence = silence
        self.deviceConditions = deviceConditions
    }

    public func threshold(for kind: VitalKind) -> ThresholdRule { thresholds[kind] ?? defaultThreshold }
}
