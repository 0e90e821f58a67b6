import Foundation
import Storage

/// The batches a source has handed to its sink and not yet seen committed. The source's loop
/// thread waits here before it lets acknowledgements out; sink completions (other threads)
/// report back. Batches that failed for a passing reason come back to be submitted again.
///
/// `@unchecked Sendable`: every stored property is used only while holding `condition`'s lock.
final class CommitTracker: @unchecked Sendable {
    /// A batch with the profile it was decoded with, as it is submitted again.
    struct Retry: Sendable {
        var batch: IngestBatch
        var profileID: String
        /// The message as received, kept for `rejected_frames` should the database refuse it.
        var payload: [UInt8]
    }

    private let condition = NSCondition()
    private var inFlight = 0
    private var failed: [Retry] = []
    private(set) var lastError: String?

    var count: Int { condition.withLock { inFlight } }

    func submitted() {
        condition.withLock { inFlight += 1 }
    }

    /// A submission is over: committed (or refused for good), or to be retried.
    func finished(retry batch: Retry? = nil, error: String? = nil) {
        condition.withLock {
            inFlight -= 1
            if let batch { failed.append(batch) }
            if let error { lastError = error }
            if inFlight == 0 { condition.broadcast() }
        }
    }

    /// Waits until nothing is in flight; returns the batches to submit again. Nil when `stopping`
    /// (checked every 100 ms) has said so for `stopGrace` and something is still in flight: a
    /// rejected frame waits for its row as long as the database is away, and a stop must not.
    func waitForAll(unless stopping: () -> Bool) -> [Retry]? {
        condition.withLock {
            var givingUpAt: Date?
            while inFlight > 0 {
                if stopping() {
                    let deadline = givingUpAt ?? Date(timeIntervalSinceNow: Self.stopGrace.seconds)
                    if Date() >= deadline { return nil }
                    givingUpAt = deadline
                }
                _ = condition.wait(until: Date(timeIntervalSinceNow: 0.1))
            }
            defer { failed = [] }
            return failed
        }
    }

    /// How long a stop waits for what is in flight; a commit takes milliseconds.
    static let stopGrace = Duration.seconds(5)
}
