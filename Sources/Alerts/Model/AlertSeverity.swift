/// How urgently a nurse must look, in increasing order. Threshold rules raise `warning` or
/// `critical`; NEWS2 raises `urgent` (5–6 or a single 3) or `emergency` (7+); escalation of an
/// unacknowledged alert moves it one step up.
public enum AlertSeverity: String, Sendable, Hashable, Comparable, CaseIterable, Codable {
    case warning, urgent, critical, emergency

    private var rank: Int { Self.allCases.firstIndex(of: self) ?? 0 }

    public static func < (lhs: AlertSeverity, rhs: AlertSeverity) -> Bool { lhs.rank < rhs.rank }

    /// One step up; `emergency` stays `emergency`.
    public var escalated: AlertSeverity {
        Self.allCases[min(rank + 1, Self.allCases.count - 1)]
    }
}

/// Where an alert is in its life.
public enum AlertState: String, Sendable, Hashable, Codable {
    case open, acknowledged, resolved
}

/// What happened to an alert; each is announced as one event.
public enum AlertEventType: String, Sendable, Hashable, Codable {
    case raised, escalated, acknowledged, resolved
}
