/// The recent values of one vital of one subject, for rate-of-change rules.
struct SampleWindow: Sendable {
    private var samples: [(time: Timestamp, value: Double)] = []

    var lastTime: Timestamp? { samples.last?.time }

    /// Adds a value and forgets those older than `keeping`; false (and nothing added) for a
    /// value older than the newest one.
    mutating func append(_ value: Double, at time: Timestamp, keeping: Duration) -> Bool {
        if let lastTime, time < lastTime { return false }
        samples.append((time, value))
        let oldest = time.advanced(by: .zero - keeping)
        if let firstKept = samples.firstIndex(where: { $0.time >= oldest }), firstKept > 0 {
            samples.removeFirst(firstKept)
        }
        return true
    }

    /// How far the newest value has fallen below the highest (or risen above the lowest) of
    /// the values within `window` before it; zero when it has not.
    func change(_ direction: RateOfChangeRule.Direction, within window: Duration) -> Double {
        guard let newest = samples.last else { return 0 }
        let start = newest.time.advanced(by: .zero - window)
        var extreme = newest.value
        for sample in samples.reversed() {
            if sample.time < start { break }
            extreme = direction == .falling ? max(extreme, sample.value) : min(extreme, sample.value)
        }
        return direction == .falling ? extreme - newest.value : newest.value - extreme
    }
}
