/// The National Early Warning Score 2, chart 1 ("The NEWS scoring system"): Royal College of
/// Physicians, National Early Warning Score (NEWS) 2: Standardising the assessment of
/// acute-illness severity in the NHS. Updated report of a working party. London: RCP, 2017.
///
/// The chart is written in whole units (tenths of a degree for temperature), so a value is
/// rounded to that resolution before it is scored, as it would be when charted by hand.
/// NEWS2 is validated for adults only (not under 16s, not in pregnancy).
public enum NEWS2 {
    /// Respiration rate per minute: ≤8 → 3, 9–11 → 1, 12–20 → 0, 21–24 → 2, ≥25 → 3.
    public static func respirationRateScore(_ perMinute: Double) -> Int {
        switch whole(perMinute) {
        case ...8: 3
        case 9...11: 1
        case 12...20: 0
        case 21...24: 2
        default: 3
        }
    }

    /// SpO2 %. Scale 1: ≤91 → 3, 92–93 → 2, 94–95 → 1, ≥96 → 0. Scale 2 (target 88–92 %,
    /// hypercapnic respiratory failure): ≤83 → 3, 84–85 → 2, 86–87 → 1, 88–92 → 0, ≥93 on air
    /// → 0, and on oxygen 93–94 → 1, 95–96 → 2, ≥97 → 3. Unknown oxygen is scored as air.
    public static func spo2Score(_ percent: Double, scale: SpO2Scale, onOxygen: Bool?) -> Int {
        let value = whole(percent)
        switch scale {
        case .scale1:
            switch value {
            case ...91: return 3
            case 92...93: return 2
            case 94...95: return 1
            default: return 0
            }
        case .scale2:
            switch value {
            case ...83: return 3
            case 84...85: return 2
            case 86...87: return 1
            case 88...92: return 0
            default: break
            }
            guard onOxygen == true else { return 0 }
            switch value {
            case 93...94: return 1
            case 95...96: return 2
            default: return 3
            }
        }
    }

    /// Air or oxygen: supplemental oxygen → 2, air → 0.
    public static func airOrOxygenScore(onOxygen: Bool) -> Int { onOxygen ? 2 : 0 }

    /// Systolic blood pressure mmHg: ≤90 → 3, 91–100 → 2, 101–110 → 1, 111–219 → 0, ≥220 → 3.
    public static func systolicScore(_ mmHg: Double) -> Int {
        switch whole(mmHg) {
        case ...90: 3
        case 91...100: 2
        case 101...110: 1
        case 111...219: 0
        default: 3
        }
    }

    /// Pulse per minute: ≤40 → 3, 41–50 → 1, 51–90 → 0, 91–110 → 1, 111–130 → 2, ≥131 → 3.
    public static func pulseScore(_ perMinute: Double) -> Int {
        switch whole(perMinute) {
        case ...40: 3
        case 41...50: 1
        case 51...90: 0
        case 91...110: 1
        case 111...130: 2
        default: 3
        }
    }

    /// Consciousness (ACVPU): alert → 0; new confusion, voice, pain or unresponsive → 3.
    public static func consciousnessScore(_ level: Consciousness) -> Int { level == .alert ? 0 : 3 }

    /// Temperature °C: ≤35.0 → 3, 35.1–36.0 → 1, 36.1–38.0 → 0, 38.1–39.0 → 1, ≥39.1 → 2.
    public static func temperatureScore(_ celsius: Double) -> Int {
        switch whole(celsius * 10) {
        case ...350: 3
        case 351...360: 1
        case 361...380: 0
        case 381...390: 1
        default: 2
        }
    }

    /// Rounded half away from zero, as a chart entry; saturates instead of trapping.
    private static func whole(_ value: Double) -> Int {
        let rounded = value.rounded()
        guard rounded.isFinite else { return rounded > 0 ? Int.max : Int.min }
        return Int(max(-1e15, min(1e15, rounded)))
    }
}

/// Which NEWS2 SpO2 scale applies: scale 2 only for patients with hypercapnic respiratory
/// failure and a prescribed target of 88–92 %, on a clinician's decision.
public enum SpO2Scale: String, Sendable, Hashable, Codable {
    case scale1 = "scale_1"
    case scale2 = "scale_2"
}

/// ACVPU.
public enum Consciousness: String, Sendable, Hashable, Codable, CaseIterable {
    case alert
    case newConfusion = "new_confusion"
    case voice, pain, unresponsive
}

/// What a nurse records at the bedside that monitors do not measure.
public struct ClinicalAssessment: Sendable, Hashable {
    public var time: Timestamp
    public var patient: PatientIdentifier
    public var consciousness: Consciousness?
    /// Whether the patient is on supplemental oxygen; nil when not assessed.
    public var supplementalOxygen: Bool?

    public init(time: Timestamp, patient: PatientIdentifier, consciousness: Consciousness? = nil, supplementalOxygen: Bool? = nil) {
        self.time = time
        self.patient = patient
        self.consciousness = consciousness
        self.supplementalOxygen = supplementalOxygen
    }
}

/// A NEWS2 score from the parameters that were known; a nil part was not measured recently.
public struct NEWS2Score: Sendable, Hashable, Codable {
    public var respirationRate: Int?
    public var spo2: Int?
    public var airOrOxygen: Int?
    public var systolic: Int?
    public var pulse: Int?
    public var consciousness: Int?
    public var temperature: Int?

    /// The RCP's clinical response bands.
    public enum Response: String, Sendable, Hashable, Codable {
        /// Aggregate 0–4.
        case low
        /// A single parameter scoring 3 (aggregate below 5): urgent ward-based response.
        case lowMedium = "low_medium"
        /// Aggregate 5–6: key threshold for urgent response.
        case medium
        /// Aggregate 7 or more: emergency response.
        case high
    }

    public init(
        respirationRate: Int? = nil, spo2: Int? = nil, airOrOxygen: Int? = nil, systolic: Int? = nil,
        pulse: Int? = nil, consciousness: Int? = nil, temperature: Int? = nil
    ) {
        self.respirationRate = respirationRate
        self.spo2 = spo2
        self.airOrOxygen = airOrOxygen
        self.systolic = systolic
        self.pulse = pulse
        self.consciousness = consciousness
        self.temperature = temperature
    }

    private var parts: [Int?] { [respirationRate, spo2, airOrOxygen, systolic, pulse, consciousness, temperature] }

    public var total: Int { parts.reduce(0) { $0 + ($1 ?? 0) } }
    public var hasSingleParameterThree: Bool { parts.contains(3) }
    /// All seven parameters known: a partial score can only be lower than the full one.
    public var isComplete: Bool { !parts.contains(nil) }

    public var response: Response {
        if total >= 7 { return .high }
        if total >= 5 { return .medium }
        return hasSingleParameterThree ? .lowMedium : .low
    }

    /// Emergency response is critical; urgent responses (5–6, or a single 3) are warnings.
    public var severity: Severity {
        switch response {
        case .low: .normal
        case .lowMedium, .medium: .warning
        case .high: .critical
        }
    }
}
