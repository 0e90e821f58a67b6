/// A `Duration` in the units that Foundation's waits and the metrics take.
extension Duration {
    /// For `Date(timeIntervalSinceNow:)`, `Thread.sleep(forTimeInterval:)` and the like.
    public var seconds: Double {
        let parts = components
        return Double(parts.seconds) + Double(parts.attoseconds) / 1e18
    }

    var nanoseconds: Int64 {
        let parts = components
        return parts.seconds &* 1_000_000_000 &+ parts.attoseconds / 1_000_000_000
    }
}
