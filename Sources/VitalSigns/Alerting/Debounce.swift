/// How long a condition must hold before it counts: `samples` consecutive evaluations or
/// `duration` since the first of them, whichever comes first. With neither (or one sample,
/// or a zero duration) it counts at once.
public struct Debounce: Sendable, Hashable, Codable {
    public var samples: Int?
    public var duration: Duration?

    public init(samples: Int? = nil, duration: Duration? = nil) {
        self.samples = samples
        self.duration = duration
    }

    public static let immediate = Debounce()
    public static func samples(_ count: Int) -> Debounce { Debounce(samples: count) }
    public static func after(_ duration: Duration) -> Debounce { Debounce(duration: duration) }
}

/// A run of consecutive evaluations for which a condition held.
struct Streak: Sendable {
    private(set) var since: Timestamp?
    private(set) var count = 0

    var isEmpty: Bool { count == 0 }

    mutating func extend(at time: Timestamp) {
        if since == nil { since = time }
        count += 1
    }

    mutating func reset() { self = Streak() }

    func satisfies(_ debounce: Debounce, at now: Timestamp) -> Bool {
        guard let since else { return false }
        if debounce.samples == nil && debounce.duration == nil { return true }
        if let samples = debounce.samples, count >= samples { return true }
        if let duration = debounce.duration, now.duration(since: since) >= duration { return true }
        return false
    }
}
