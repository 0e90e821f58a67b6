import Synchronization

/// The highest claimed sequence and whether intake is closed, in one atomic word, so that a
/// claim and `shutdown()` cannot cross: a claim is a compare-and-exchange that fails once the
/// closed bit is set, and closing returns the last sequence ever claimed.
final class ClaimCursor: Sendable {
    /// `(claimed + 1) << 1 | closed`: claimed starts at -1.
    private let word = Atomic<Int64>(0)
    // Producers and stages both read this word; keep neighbours off its line.
    private let padding: (Int64, Int64, Int64, Int64, Int64, Int64, Int64, Int64,
                          Int64, Int64, Int64, Int64, Int64, Int64) = (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)

    struct State {
        let claimed: Int64
        let closed: Bool
        fileprivate let word: Int64
    }

    func load() -> State {
        let word = word.load(ordering: .acquiring)
        return State(claimed: (word >> 1) - 1, closed: word & 1 == 1, word: word)
    }

    /// The highest claimed sequence.
    var claimed: Int64 { load().claimed }

    /// Claims up to `last` if nobody claimed or closed since `state` was read.
    func advance(from state: State, to last: Int64) -> Bool {
        word.compareExchange(expected: state.word, desired: (last + 1) << 1, ordering: .acquiringAndReleasing).exchanged
    }

    /// Stops all further claims; returns the last sequence claimed.
    func close() -> Int64 {
        let old = word.bitwiseOr(1, ordering: .sequentiallyConsistent).oldValue
        return (old >> 1) - 1
    }
}
