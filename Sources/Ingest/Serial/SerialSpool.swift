import DequeModule
import Foundation
import Storage
import VitalSigns

/// One port's decoded batches on their way to the database, in the order they were read.
///
/// The port's thread never waits for the database: it keeps reading, so that each frame is
/// stamped when it arrives and the kernel's tty buffer never overflows (a serial device does not
/// wait, and what it sends into a full buffer is lost without a trace). At most `maxInFlight`
/// batches are submitted at a time; the others wait here, up to `maxWaitingObservations`, beyond
/// which the oldest waiting batches are dropped and counted: memory stays bounded in a long
/// outage, and the loss is known rather than silent. A batch that has to wait is shown to the
/// alert rules at once (`evaluated`): an alert must not wait for the database. With a journal,
/// what it holds is on disk too (`SerialJournal`), and outlives the engine.
final class SerialSpool: @unchecked Sendable {
    struct Batch: Sendable {
        /// Made when the batch is read and sent with every attempt: a retry after a commit whose
        /// outcome was lost (the connection dropped while committing) is then recognised.
        var key: MessageKey? = nil
        var observations: [Observation]
        var conditions: [DeviceCondition]
        /// The rules have seen it: it only needs storing.
        var evaluated = false
    }

    // @unchecked: the stored vars are used only while holding `condition`'s lock.
    private let condition = NSCondition()
    private let maxInFlight: Int
    private let maxWaitingObservations: Int
    private var waiting = Deque<Batch>()
    private var waitingObservations = 0
    private var inFlight = 0
    /// Set when the port stops for good: nothing more is handed out.
    private var closed = false
    /// Written under the lock, so that it is emptied only when nothing it holds is unstored.
    private let journal: SerialJournal?

    init(maxInFlight: Int, maxWaitingObservations: Int, journal: SerialJournal? = nil) {
        self.maxInFlight = max(1, maxInFlight)
        self.maxWaitingObservations = max(0, maxWaitingObservations)
        self.journal = journal
    }

    /// Whether what is given up at a stop stays on disk for the next start.
    var isJournaled: Bool { journal != nil }

    /// The batches the journal holds from an earlier run, and its lines that did not read back.
    func recoverJournal() -> (batches: [Batch], unreadable: Int) {
        condition.withLock { journal?.recover() ?? ([], 0) }
    }

    /// Queues `batch` behind the waiting ones (`journaled`: it is in the journal already, as a
    /// recovered batch is; else it is appended to it first). Returns the batch to submit now if a slot is free,
    /// the observations dropped to keep within the bound (the newest batch is always kept), and
    /// whether `batch` itself waits, marked `evaluated`: the caller shows it to the rules now.
    func add(_ batch: Batch, journaled: Bool = false) -> (submit: Batch?, dropped: Int, waits: Bool) {
        condition.withLock {
            guard !closed else { return (nil, batch.observations.count, false) }
            if !journaled { journal?.append(batch) }
            // Device conditions alone, that would wait: shown to the rules, nothing to store.
            if batch.observations.isEmpty && (!waiting.isEmpty || inFlight >= maxInFlight) { return (nil, 0, true) }
            waiting.append(batch)
            waitingObservations += batch.observations.count
            var dropped = 0
            while waitingObservations > maxWaitingObservations, waiting.count > 1 {
                let oldest = waiting.removeFirst()
                waitingObservations -= oldest.observations.count
                dropped += oldest.observations.count
            }
            let next = takeNext()
            // Past `takeNext` whatever is left ends with `batch`.
            guard !waiting.isEmpty else { return (next, dropped, false) }
            waiting[waiting.count - 1].evaluated = true
            return (next, dropped, true)
        }
    }

    /// A submitted batch is done with (stored, or refused for good): the next one to submit.
    func finished() -> Batch? {
        condition.withLock {
            inFlight -= 1
            condition.broadcast()
            // Everything journaled is stored (or refused for its data). Not once closed: what
            // was given up then is for the next start.
            if inFlight == 0, waiting.isEmpty, !closed { journal?.clear() }
            return takeNext()
        }
    }

    private func takeNext() -> Batch? {
        guard !closed, inFlight < maxInFlight, let next = waiting.popFirst() else { return nil }
        waitingObservations -= next.observations.count
        inFlight += 1
        return next
    }

    /// Batches waiting for a slot.
    var waitingCount: Int { condition.withLock { waiting.count } }

    /// Waits up to `timeout` for every batch to be done with, then closes; returns the
    /// observations still waiting then, which are given up.
    func drain(timeout: Duration) -> Int {
        let deadline = Date(timeIntervalSinceNow: timeout.seconds)
        return condition.withLock {
            while inFlight > 0 || !waiting.isEmpty, !closed, condition.wait(until: deadline) {}
            return closeLocked()
        }
    }

    /// Hands out nothing more; returns the observations that were waiting (given up, or with a
    /// journal left to the next start).
    func close() -> Int {
        condition.withLock { closeLocked() }
    }

    private func closeLocked() -> Int {
        closed = true
        // What is in it stays for the next start, which may be another engine's.
        journal?.release()
        defer {
            waiting.removeAll()
            waitingObservations = 0
        }
        condition.broadcast()
        return waitingObservations
    }
}
