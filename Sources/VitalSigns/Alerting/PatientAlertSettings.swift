/// A patient's own alerting settings, set by a clinician and persisted by the application:
/// bands that replace the profile's for some vital kinds, the population when it differs from
/// the device's, and the NEWS2 SpO2 scale.
public struct PatientAlertSettings: Sendable, Hashable, Codable {
    public var population: Population?
    /// Replaces the profile's whole band for these kinds.
    public var thresholds: [VitalKind: ThresholdBand]
    public var spo2Scale: SpO2Scale

    public init(population: Population? = nil, thresholds: [VitalKind: ThresholdBand] = [:], spo2Scale: SpO2Scale = .scale1) {
        self.population = population
        self.thresholds = thresholds
        self.spo2Scale = spo2Scale
    }

    /// Every problem with the overrides, keyed `thresholds.<kind>` like the profiles' errors.
    public func validate() throws(PatientAlertSettingsError) {
        var problems: [PatientAlertSettingsError.Problem] = []
        for (kind, band) in thresholds.sorted(by: { $0.key.rawValue < $1.key.rawValue }) {
            if kind == .unknown {
                problems.append(.init(key: "thresholds.unknown", reason: "unknown is not a vital kind"))
            }
            problems += band.problems.map { .init(key: "thresholds.\(kind.name)", reason: $0) }
        }
        guard problems.isEmpty else { throw PatientAlertSettingsError(problems: problems) }
    }

    private enum CodingKeys: String, CodingKey {
        case population, thresholds
        case spo2Scale = "spo2_scale"
    }

    // Bands are keyed by the vital kind's name, as in device profiles.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        population = try container.decodeIfPresent(Population.self, forKey: .population)
        spo2Scale = try container.decodeIfPresent(SpO2Scale.self, forKey: .spo2Scale) ?? .scale1
        var thresholds: [VitalKind: ThresholdBand] = [:]
        for (name, band) in try container.decodeIfPresent([String: ThresholdBand].self, forKey: .thresholds) ?? [:] {
            guard let kind = VitalKind(name: name), kind != .unknown else {
                throw DecodingError.dataCorruptedError(forKey: .thresholds, in: container, debugDescription: "unknown vital kind '\(name)'")
            }
            thresholds[kind] = band
        }
        self.thresholds = thresholds
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encodeIfPresent(population, forKey: .population)
        try container.encode(spo2Scale, forKey: .spo2Scale)
        try container.encode(Dictionary(uniqueKeysWithValues: thresholds.map { ($0.key.name, $0.value) }), forKey: .thresholds)
    }
}

/// Why a patient's settings were refused, every problem with its key.
public struct PatientAlertSettingsError: Error, Sendable, Hashable, CustomStringConvertible {
    public struct Problem: Sendable, Hashable {
        public var key: String
        public var reason: String
    }

    public var problems: [Problem]

    public var description: String {
        problems.map { "\($0.key): \($0.reason)" }.joined(separator: "\n")
    }
}
