/// A profile's bands in one flat array indexed by population and `VitalKind.rawValue`, so
/// the pipeline's flagger classifies each observation with no hashing and no allocation.
public struct ThresholdTable: Sendable {
    private static let kindCount = VitalKind.allCases.count
    private let bands: [ThresholdBand?]

    public init(_ thresholds: [Population: [VitalKind: ThresholdBand]]) {
        var bands = [ThresholdBand?](repeating: nil, count: Population.allCases.count * Self.kindCount)
        for (population, byKind) in thresholds {
            for (kind, band) in byKind { bands[Self.index(kind, population)] = band }
        }
        self.bands = bands
    }

    public func band(_ kind: VitalKind, population: Population) -> ThresholdBand? {
        let index = Self.index(kind, population)
        return bands.indices.contains(index) ? bands[index] : nil
    }

    /// Normal, warning or critical; normal when the population has no band for the kind.
    public func classify(_ kind: VitalKind, value: Double, population: Population) -> Severity {
        band(kind, population: population)?.classify(value) ?? .normal
    }

    private static func index(_ kind: VitalKind, _ population: Population) -> Int {
        population.tableRow * kindCount + Int(kind.rawValue)
    }
}

private extension Population {
    var tableRow: Int {
        switch self {
        case .adult: 0
        case .paediatric: 1
        case .neonatal: 2
        }
    }
}
