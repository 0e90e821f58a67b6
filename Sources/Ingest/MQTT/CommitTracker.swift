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

    /// Waits until nothing is in flight; returns the batches to submit again.
    func waitForAll() -> [Retry] {
        condition.withLock {
            while inFlight > 0 { condition.wait() }
            defer { failed = [] }
            return failed
        }
    }
}
