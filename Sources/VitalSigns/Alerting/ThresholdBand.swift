/// The bands of one vital sign, in its canonical unit. Values below a `*Low` or above a
/// `*High` bound are out of that band; the bounds themselves are inside. Every bound is
/// optional (SpO2 has no high bounds). The warning band lies inside the critical band.
public struct ThresholdBand: Sendable, Hashable, Codable {
    public var criticalLow: Double?
    public var warningLow: Double?
    public var warningHigh: Double?
    public var criticalHigh: Double?

    public init(criticalLow: Double? = nil, warningLow: Double? = nil, warningHigh: Double? = nil, criticalHigh: Double? = nil) {
        self.criticalLow = criticalLow
        self.warningLow = warningLow
        self.warningHigh = warningHigh
        self.criticalHigh = criticalHigh
    }

    /// The names used in device profiles and persisted settings, low to high.
    public typealias Bound = CodingKeys

    public enum CodingKeys: String, CodingKey, CaseIterable {
        case criticalLow = "critical_low"
        case warningLow = "warning_low"
        case warningHigh = "warning_high"
        case criticalHigh = "critical_high"
    }

    public subscript(bound: Bound) -> Double? {
        get {
            switch bound {
            case .criticalLow: criticalLow
            case .warningLow: warningLow
            case .warningHigh: warningHigh
            case .criticalHigh: criticalHigh
            }
        }
        set {
            switch bound {
            case .criticalLow: criticalLow = newValue
            case .warningLow: warningLow = newValue
            case .warningHigh: warningHigh = newValue
            case .criticalHigh: criticalHigh = newValue
            }
        }
    }

    /// Which band a value falls in. Called for every observation: no allocation.
    @inlinable
    public func classify(_ value: Double) -> Severity {
        if let low = criticalLow, value < low { return .critical }
        if let high = criticalHigh, value > high { return .critical }
        if let low = warningLow, value < low { return .warning }
        if let high = warningHigh, value > high { return .warning }
        return .normal
    }

    public func isCritical(_ value: Double) -> Bool { classify(value) == .critical }

    /// Whether a value is back inside the normal range by `margin` on either side: the
    /// hysteresis that keeps a value hovering at a bound from raising and clearing in turn.
    /// The margin shrinks to a quarter of a narrow range so that clearing stays possible.
    public func isInside(_ value: Double, byMargin margin: Double) -> Bool {
        let low = warningLow ?? criticalLow
        let high = warningHigh ?? criticalHigh
        var margin = max(0, margin)
        if let low, let high { margin = min(margin, (high - low) / 4) }
        if let low, value < low + margin { return false }
        if let high, value > high - margin { return false }
        return true
    }

    /// What is wrong with the band, as reasons naming its keys; empty when it is usable.
    /// Bounds must be finite and strictly increase from critical_low to critical_high.
    public var problems: [String] {
        var problems: [String] = []
        let present = Bound.allCases.compactMap { key in self[key].map { (key, $0) } }
        if present.isEmpty {
            return ["needs at least one of \(Bound.allCases.map(\.rawValue).joined(separator: ", "))"]
        }
        for (key, value) in present where !value.isFinite {
            problems.append("\(key.rawValue) must be a finite number")
        }
        for (lower, upper) in zip(present, present.dropFirst()) where lower.1.isFinite && upper.1.isFinite && lower.1 >= upper.1 {
            problems.append("\(lower.0.rawValue) (\(lower.1)) must be below \(upper.0.rawValue) (\(upper.1))")
        }
        return problems
    }
}
