/// Latency figures from every sample of a run: a sorted array, exact percentiles.
struct LatencySummary: Sendable {
    let count: Int
    let p50: Double
    let p99: Double
    let max: Double
    let mean: Double

    /// `nanoseconds`: one entry per message. Figures are in milliseconds.
    init(nanoseconds: [UInt64]) {
        let sorted = nanoseconds.sorted()
        count = sorted.count
        func at(_ fraction: Double) -> Double {
            guard !sorted.isEmpty else { return .nan }
            // Nearest rank: the smallest sample with at least `fraction` of samples at or below it.
            let rank = Swift.max(1, Int((fraction * Double(sorted.count)).rounded(.up)))
            return Double(sorted[Swift.min(rank, sorted.count) - 1]) / 1e6
        }
        p50 = at(0.50)
        p99 = at(0.99)
        max = sorted.last.map { Double($0) / 1e6 } ?? .nan
        mean = sorted.isEmpty ? .nan : Double(sorted.reduce(0, +)) / Double(sorted.count) / 1e6
    }

    var line: String {
        "ACK latency p50 \(format(ms: p50))  p99 \(format(ms: p99))  max \(format(ms: max))  (mean \(format(ms: mean)), \(count.grouped) samples)"
    }
}
