/// How far a value, or an alert, is from normal: `normal < warning < critical`.
public enum Severity: String, Sendable, Hashable, Codable, CaseIterable, Comparable {
    case normal, warning, critical

    private var rank: UInt8 {
        switch self {
        case .normal: 0
        case .warning: 1
        case .critical: 2
        }
    }

    public static func < (lhs: Severity, rhs: Severity) -> Bool { lhs.rank < rhs.rank }
}
