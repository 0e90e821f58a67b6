import VitalSigns

let start = Timestamp(microsecondsSinceEpoch: 1_800_000_000_000_000)

/// The instant `seconds` after `start`.
func at(_ seconds: Double) -> Timestamp {
    start.advanced(by: .microseconds(Int64((seconds * 1_000_000).rounded())))
}

let patient = PatientIdentifier(id: "P-1", assigningAuthority: "KTH")
let otherPatient = PatientIdentifier(id: "P-2", assigningAuthority: "KTH")

func reading(
    _ kind: VitalKind, _ value: Double, at seconds: Double, patient: PatientIdentifier? = patient,
    device: String = "DEV-1", status: ObservationStatus = .final
) -> Observation {
    Observation(
        time: at(seconds), patient: patient, deviceID: device, location: "ICU^1^A", kind: kind,
        code: ObservationCode(code: "0", system: "MDC"), value: value, unit: kind.canonicalUnit, status: status
    )
}

/// Adult bands after NEWS2 and neonatal heart-rate bands, sampled every second.
let profile = DeviceProfile(
    id: "test-monitor",
    samplingInterval: .seconds(1),
    defaultPopulation: .adult,
    thresholds: [
        .adult: [
            .heartRate: ThresholdBand(criticalLow: 40, warningLow: 50, warningHigh: 110, criticalHigh: 130),
            .spo2: ThresholdBand(criticalLow: 90, warningLow: 94),
        ],
        .neonatal: [
            .heartRate: ThresholdBand(criticalLow: 90, warningLow: 100, warningHigh: 180, criticalHigh: 200),
        ],
    ]
)

/// The standard rules with one threshold rule for every kind and no rate-of-change rules.
func rules(threshold: ThresholdRule, rateOfChange: [RateOfChangeRule] = []) -> AlertRuleSet {
    var rules = AlertRuleSet.standard
    rules.thresholds = [:]
    rules.defaultThreshold = threshold
    rules.rateOfChange = rateOfChange
    return rules
}

func thresholdRule(warning: Debounce = .immediate, critical: Debounce = .immediate, margin: Double = 5, clear: Debounce = .immediate) -> ThresholdRule {
    ThresholdRule(
        warning: Trigger(raiseAfter: warning, escalationAfter: .seconds(600)),
        critical: Trigger(raiseAfter: critical, escalationAfter: .seconds(120)),
        clearMargin: margin, clearAfter: clear
    )
}

extension AlertEvaluator {
    /// Observes in turn, keeping the signals of one rule.
    mutating func feed(_ observations: [Observation], rule: RuleID = .threshold, population: Population? = nil) -> [AlertSignal] {
        observations.flatMap { observe($0, profile: profile, population: population) }.filter { $0.rule == rule }
    }
}

extension AlertSignal {
    /// What the signal says in one line, for compact expectations.
    var summary: String {
        let verb = switch action {
        case .raise: "raise"
        case .escalate(let from): "escalate from \(from.rawValue)"
        case .clear: "clear"
        }
        return "\(verb) \(severity.rawValue) \(value.map { String($0) } ?? "-") @\(Double(time.microsecondsSinceEpoch - start.microsecondsSinceEpoch) / 1_000_000)"
    }
}
