import Synchronization

/// A stage's or the ring's sequence number, alone on its cache lines so that threads advancing
/// neighbouring counters don't invalidate each other's lines (false sharing).
final class SequenceCounter: Sendable {
    private let value: Atomic<Int64>
    // Class instances are separate heap blocks; the padding keeps the next block off this line.
    private let padding: (Int64, Int64, Int64, Int64, Int64, Int64, Int64, Int64,
                          Int64, Int64, Int64, Int64, Int64, Int64) = (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)

    init(_ initial: Int64 = -1) {
        value = Atomic(initial)
    }

    func load() -> Int64 {
        value.load(ordering: .acquiring)
    }

    /// For a thread that only needs a recent value (the producer's compare-exchange checks it).
    func loadRelaxed() -> Int64 {
        value.load(ordering: .relaxed)
    }

    func loadSequentiallyConsistent() -> Int64 {
        value.load(ordering: .sequentiallyConsistent)
    }

    func store(_ newValue: Int64) {
        value.store(newValue, ordering: .releasing)
    }

    func storeSequentiallyConsistent(_ newValue: Int64) {
        value.store(newValue, ordering: .sequentiallyConsistent)
    }
}

extension Sequence where Element == SequenceCounter {
    /// The slowest of the counters: how far every one of them has come.
    func minimum() -> Int64 {
        var lowest = Int64.max
        for counter in self { lowest = Swift.min(lowest, counter.load()) }
        return lowest
    }

    func minimumSequentiallyConsistent() -> Int64 {
        var lowest = Int64.max
        for counter in self { lowest = Swift.min(lowest, counter.loadSequentiallyConsistent()) }
        return lowest
    }
}
