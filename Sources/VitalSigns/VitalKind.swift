/// The vital signs the engine understands. Stored as a `smallint`: the raw values are part of
/// the database schema and must never be renumbered.
public enum VitalKind: Int16, Sendable, CaseIterable, Codable {
    /// A code the engine has no mapping for; the row keeps its original code.
    case unknown = 0
    case heartRate = 1
    case pulseRate = 2
    case spo2 = 3
    case respirationRate = 4
    case nibpSystolic = 5
    case nibpDiastolic = 6
    case nibpMean = 7
    case arterialSystolic = 8
    case arterialDiastolic = 9
    case arterialMean = 10
    case temperature = 11
    case etco2 = 12
    case perfusionIndex = 13

    /// The name used in device profiles, configuration and the API.
    public var name: String {
        switch self {
        case .unknown: "unknown"
        case .heartRate: "heart_rate"
        case .pulseRate: "pulse_rate"
        case .spo2: "spo2"
        case .respirationRate: "respiration_rate"
        case .nibpSystolic: "nibp_systolic"
        case .nibpDiastolic: "nibp_diastolic"
        case .nibpMean: "nibp_mean"
        case .arterialSystolic: "arterial_systolic"
        case .arterialDiastolic: "arterial_diastolic"
        case .arterialMean: "arterial_mean"
        case .temperature: "temperature"
        case .etco2: "etco2"
        case .perfusionIndex: "perfusion_index"
        }
    }

    public init?(name: String) {
        guard let kind = VitalKind.allCases.first(where: { $0.name == name }) else { return nil }
        self = kind
    }

    /// What a value or a threshold of this kind can be, in its canonical unit: wider than any
    /// patient, so that only a device's "no value" marker (65535, -1), a bound in another unit
    /// (95 meant as °F) or a typo (`40:0`, which YAML reads as the base-60 number 2400) falls
    /// outside. Such a value is not stored as the vital (it would raise a false critical alarm),
    /// and such a bound is refused (it would silence one).
    public var plausibleBounds: ClosedRange<Double> {
        switch self {
        case .heartRate, .pulseRate: 0...350
        case .spo2, .perfusionIndex: 0...100
        case .respirationRate: 0...150
        case .nibpSystolic, .nibpDiastolic, .nibpMean, .arterialSystolic, .arterialDiastolic, .arterialMean: 0...400
        case .temperature: 10...45  // deep hypothermia in cardiac theatre goes to 18 °C
        case .etco2: 0...150
        case .unknown: -Double.greatestFiniteMagnitude...Double.greatestFiniteMagnitude
        }
    }

    /// The UCUM unit every value of this kind is stored in.
    public var canonicalUnit: UCUMUnit {
        switch self {
        case .unknown: .unitless
        case .heartRate, .pulseRate: .beatsPerMinute
        case .spo2: .percent
        case .respirationRate: .breathsPerMinute
        case .nibpSystolic, .nibpDiastolic, .nibpMean,
             .arterialSystolic, .arterialDiastolic, .arterialMean, .etco2: .millimetreOfMercury
        case .temperature: .degreeCelsius
        case .perfusionIndex: .percent
        }
    }
}
