import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

struct Submission: Sendable {
    var batch: IngestBatch
    var completion: @Sendable (Result<WriteOutcome, PostgresError>) -> Void
    var submitted: ContinuousClock.Instant

    /// Rows for the group bound: an empty message still costs a key row.
    var weight: Int { max(1, batch.observations.count) }
}

/// The queue between submitters and the writer thread.
///
/// `@unchecked Sendable`: every stored property is read and written only while holding
/// `condition`'s lock.
final class SubmissionQueue: @unchecked Sendable {
    private let condition = NSCondition()
    private var items: [Submission] = []
    private var head = 0
    private var pendingRows = 0
    private var accepting = true
    private var runningWorkers: Int
    /// Writers holding a database connection: while one does, the others leave the work to it.
    private var connectedWorkers: Int
    private var writerThreads: [pthread_t] = []
    /// Writers waiting out a reconnect delay wait here, apart from `condition`: a submission's
    /// signal must wake a writer that can take it, not one that is waiting to reconnect.
    private let reconnectWait = NSCondition()
    private var stopping = false  // guarded by reconnectWait
    private let maxBatchRows: Int
    private let maxBatchDelay: Duration
    private let maxQueuedRows: Int

    init(configuration: ObservationWriter.Configuration, workers: Int) {
        runningWorkers = workers
        connectedWorkers = workers
        maxBatchRows = max(1, configuration.maxBatchRows)
        maxBatchDelay = configuration.maxBatchDelay
        maxQueuedRows = max(1, configuration.maxQueuedRows)
    }

    /// Writers connected, rows waiting, and since when the oldest waits: what the health check reports.
    var state: (connectedWriters: Int, queuedRows: Int, oldestSubmitted: ContinuousClock.Instant?) {
        condition.lock()
        defer { condition.unlock() }
        return (connectedWorkers, pendingRows, head < items.count ? items[head].submitted : nil)
    }

    var queuedRows: Int {
        condition.lock()
        defer { condition.unlock() }
        return pendingRows
    }

    enum Admission: Equatable { case queued, full(rows: Int), shutDown }

    /// Queues `submission` unless shut down, or unless it would take the rows waiting past
    /// `maxQueuedRows` (commits stuck: the senders are told to come back later instead).
    func enqueue(_ submission: Submission) -> Admission {
        condition.lock()
        defer { condition.unlock() }
        guard accepting else { return .shutDown }
        guard pendingRows == 0 || pendingRows + submission.weight <= maxQueuedRows else { return .full(rows: pendingRows) }
        items.append(submission)
        pendingRows += submission.weight
        condition.signal()
        return .queued
    }

    enum Next {
        case group([Submission], stillQueued: Int)
        /// Nothing came before the deadline.
        case idle
        /// Shut down and drained.
        case finished
    }

    /// The next group to commit. Waits while the queue is empty, until `deadline` if one is given
    /// (a writer without a connection must try to reconnect then).
    func nextGroup(until deadline: ContinuousClock.Instant? = nil) -> Next {
        condition.lock()
        defer { condition.unlock() }
        repeat {
            while head == items.count && accepting {
                guard let deadline else { condition.wait(); continue }
                let remaining = ContinuousClock.now.duration(to: deadline)
                if remaining <= .zero || !condition.wait(until: Date(timeIntervalSinceNow: remaining.seconds)) {
                    if head == items.count && accepting { return .idle }
                }
            }
            if head == items.count { return .finished }
            if maxBatchDelay > .zero && accepting && pendingRows < maxBatchRows {
                let deadline = Date(timeIntervalSinceNow: maxBatchDelay.seconds)
                while accepting && pendingRows < maxBatchRows {
                    if !condition.wait(until: deadline) { break }
                }
            }
        } while head == items.count  // another writer took everything while this one lingered
        var group: [Submission] = []
        var rows = 0
        while head < items.count {
            let weight = items[head].weight
            if !group.isEmpty && rows + weight > maxBatchRows { break }
            group.append(items[head])
            rows += weight
            head += 1
        }
        pendingRows -= rows
        if head == items.count {
            items.removeAll(keepingCapacity: items.capacity <= 65_536)
            head = 0
        } else if head >= 1024 && head * 2 >= items.count {
            items.removeFirst(head)
            head = 0
        }
        return .group(group, stillQueued: pendingRows)
    }

    /// Everything queued, taken at once: for answering every sender while no writer can reach
    /// the database, rather than a group per reconnect attempt.
    func takeAll() -> [Submission] {
        condition.lock()
        defer { condition.unlock() }
        let all = Array(items[head...])
        items.removeAll(keepingCapacity: items.capacity <= 65_536)
        head = 0
        pendingRows = 0
        return all
    }

    /// Puts a group a writer could not commit back at the head of the queue, for another writer.
    func putBack(_ group: [Submission]) {
        condition.lock()
        defer { condition.unlock() }
        if head >= group.count {
            head -= group.count
            for (offset, submission) in group.enumerated() { items[head + offset] = submission }
        } else {
            items = group + items[head...]
            head = 0
        }
        pendingRows += group.reduce(0) { $0 + $1.weight }
        condition.signal()
    }

    /// Waits until `deadline` or until shutdown begins (whichever comes first).
    func waitForShutdown(until deadline: ContinuousClock.Instant) {
        reconnectWait.lock()
        defer { reconnectWait.unlock() }
        while !stopping {
            let remaining = ContinuousClock.now.duration(to: deadline)
            if remaining <= .zero { return }
            _ = reconnectWait.wait(until: Date(timeIntervalSinceNow: remaining.seconds))
        }
    }

    var isShuttingDown: Bool {
        reconnectWait.lock()
        defer { reconnectWait.unlock() }
        return stopping
    }

    /// A writer lost or regained its connection.
    func writerConnected(_ connected: Bool) {
        condition.lock()
        connectedWorkers += connected ? 1 : -1
        condition.unlock()
    }

    /// Whether another writer holds a connection and can take the work.
    var anotherWriterConnected: Bool {
        condition.lock()
        defer { condition.unlock() }
        return connectedWorkers > 0
    }

    func markWriterThread() {
        condition.lock()
        writerThreads.append(pthread_self())
        condition.unlock()
    }

    /// A writer thread is ending: nil for all but the last, which gets whatever is still queued
    /// and calls `lastFinished()` once it has answered it. A writer without a connection can put
    /// a group back just after the connected one found the queue drained and left, and no
    /// submission may stay unanswered, nor `shutdown()` return before they are answered.
    func finishing() -> [Submission]? {
        condition.lock()
        defer { condition.unlock() }
        guard runningWorkers == 1 else {
            runningWorkers -= 1
            condition.broadcast()
            return nil
        }
        let leftovers = Array(items[head...])
        items.removeAll()
        head = 0
        pendingRows = 0
        return leftovers
    }

    func lastFinished() {
        condition.lock()
        runningWorkers -= 1
        condition.broadcast()
        condition.unlock()
    }

    func shutdown() {
        reconnectWait.lock()
        stopping = true
        reconnectWait.broadcast()
        reconnectWait.unlock()
        condition.lock()
        defer { condition.unlock() }
        accepting = false
        condition.broadcast()
        if writerThreads.contains(where: { pthread_equal($0, pthread_self()) != 0 }) { return }
        while runningWorkers > 0 {
            condition.wait()
        }
    }
}
