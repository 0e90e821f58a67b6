import DequeModule
import Foundation
import Logging
import NamedThreads
import Pipeline
import Storage
import Synchronization
import VitalSigns

/// One source message as it travels the ring: its observations (flagged in place by the first
/// stage), what the device said about itself, and whom to tell once it is durable. A `tick`
/// entry carries no data: it is the alert stage's clock for rules that fire on silence.
public struct IngestEntry: Sendable {
    public var batch: IngestBatch
    public var profileID: String?
    public var conditions: [DeviceCondition]
    public var tick: Timestamp?
    /// The rules saw these observations in an earlier entry: the alert stage skips this one.
    public var evaluated = false
    var settlement: Settlement?
}

/// The engine's pipeline: sources publish into a bounded ring; the flagger marks critical values;
/// behind it, in parallel, the writer stage hands batches to the group-commit writer and the
/// alert stage evaluates the rules. The alert stage never waits for the batch to be flushed.
///
/// A source's completion comes once both are settled: the rows committed and the alert changes
/// they led to stored by the hub (`Settlement`). Most entries change no alert and wait for the
/// writer alone; one that raises an alert is acknowledged after the alert is durable too, so a
/// crash between the two commits cannot leave an acknowledged value without its alert.
///
/// Backpressure: `submit` never blocks (MLLP calls it on an event loop). When the ring is full
/// the entry waits in a backlog, and the source's own bound on unacknowledged messages stops it
/// reading; full-ring refusals are counted (`pipeline_full_rejections_total`). Nothing is dropped
/// and nothing overtakes: entries enter the ring in the order they were submitted, so the alert
/// rules see each device's values in the order it sent them.
public final class IngestPipeline: ObservationSink, Sendable {
    /// Runs on the alert stage's own thread, once per entry, in ring order. It calls
    /// `alertsStored` exactly once: when the alert changes the entry led to are stored (true), or
    /// will not be (false); at once when it led to none.
    public typealias AlertStage = @Sendable (_ entry: borrowing IngestEntry, _ alertsStored: @escaping @Sendable (Bool) -> Void) -> Void

    public struct Configuration: Sendable {
        /// Entries (messages, not observations) in the ring; a power of two.
        public var capacity: Int = 4_096
        /// How often the alert stage gets a clock tick.
        public var tickInterval: Duration = .seconds(1)

        public init() {}
    }

    private let ring: Pipeline<IngestEntry>
    private let backlog = Locked(Backlog())
    /// The backlog's length, read without the lock: while it is 0, `submit` publishes directly.
    private let backlogCount = Atomic<Int>(0)
    private let ticker: Ticker
    private let hasAlertStage: Bool

    public init(
        configuration: Configuration = .init(), profiles: DeviceProfileCatalog, writer: ObservationWriter,
        alertStage: AlertStage? = nil
    ) {
        hasAlertStage = alertStage != nil
        ring = Pipeline(name: "ingest", capacity: configuration.capacity)
        let flagger = CriticalValueFlagger(profiles: profiles)
        let flagged = ring.stage(name: "flagger", mutating: { entry, _, _ in
            flagger.flag(&entry.batch.observations, profileID: entry.profileID)
        })
        ring.stage(name: "writer", after: [flagged]) { entry, _, _ in
            guard entry.tick == nil, let settlement = entry.settlement else { return }
            writer.submit(entry.batch) { settlement.rowsSettled($0) }
        }
        if let alertStage {
            ring.stage(name: "alerts", after: [flagged]) { entry, _, _ in
                guard !entry.evaluated else { return }
                let settlement = entry.settlement
                alertStage(entry) { stored in settlement?.alertsSettled(stored) }
            }
        }
        ring.start()
        ticker = Ticker()
        if alertStage != nil { ticker.start(every: configuration.tickInterval, ring: ring) }
    }

    public func submit(_ batch: IngestBatch, completion: @escaping @Sendable (Result<WriteOutcome, PostgresError>) -> Void) {
        submit(batch, profileID: nil, conditions: [], completion: completion)
    }

    public func submit(
        _ batch: IngestBatch, profileID: String?, conditions: [DeviceCondition],
        completion: @escaping @Sendable (Result<WriteOutcome, PostgresError>) -> Void
    ) {
        let settlement = Settlement(awaitingAlerts: hasAlertStage, completion: completion)
        publish(IngestEntry(batch: batch, profileID: profileID, conditions: conditions, tick: nil, settlement: settlement))
    }

    /// Rules only: an entry without a completion, which the writer stage passes over.
    public func evaluate(_ observations: [Observation], profileID: String?, conditions: [DeviceCondition]) {
        publish(IngestEntry(batch: IngestBatch(observations: observations), profileID: profileID, conditions: conditions, tick: nil))
    }

    /// Storage only: the alert stage passes over it.
    public func store(_ batch: IngestBatch, profileID: String?, completion: @escaping @Sendable (Result<WriteOutcome, PostgresError>) -> Void) {
        let settlement = Settlement(awaitingAlerts: false, completion: completion)
        publish(IngestEntry(batch: batch, profileID: profileID, conditions: [], tick: nil, evaluated: true, settlement: settlement))
    }

    private func publish(_ entry: IngestEntry) {
        // A waiting entry may be this source's previous one: then this one queues behind it.
        if backlogCount.load(ordering: .acquiring) == 0 {
            do {
                if try ring.tryPublish(entry) { return }
            } catch {
                return Self.refuse([entry])
            }
        }
        let startDrain = backlog.withLock { backlog in
            backlog.entries.append(entry)
            backlogCount.store(backlog.entries.count, ordering: .releasing)
            let idle = !backlog.draining
            backlog.draining = true
            return idle
        }
        if startDrain { drainBacklog() }
    }

    /// Publishes the backlog oldest first until it is empty, or waits for room when the ring is
    /// full again. One drain runs at a time (`draining`); it calls itself back from the ring.
    private func drainBacklog() {
        enum Outcome { case drained, full, shutDown([IngestEntry]) }
        let outcome = backlog.withLock { backlog -> Outcome in
            while let oldest = backlog.entries.first {
                do {
                    guard try ring.tryPublish(oldest) else { return .full }
                } catch {
                    let refused = Array(backlog.entries)
                    backlog.entries.removeAll()
                    backlogCount.store(0, ordering: .releasing)
                    backlog.draining = false
                    return .shutDown(refused)
                }
                backlog.entries.removeFirst()
                backlogCount.store(backlog.entries.count, ordering: .releasing)
            }
            backlog.draining = false
            return .drained
        }
        switch outcome {
        case .drained: return
        // Outside the lock: the ring may call back at once, on this thread.
        case .full: ring.notifyWhenRoom { [self] in drainBacklog() }
        case .shutDown(let refused): Self.refuse(refused)
        }
    }

    private static func refuse(_ entries: [IngestEntry]) {
        for entry in entries {
            entry.settlement?.refuse(PostgresError(message: "the pipeline is shut down; the batch was not stored", context: "publish to the ingest pipeline"))
        }
    }

    /// Stops intake and the ticker, lets every stage drain what was published, joins them.
    public func shutdown() {
        ticker.stop()
        ring.shutdown()
    }

    public var occupancy: Int { ring.occupancy }

    /// How often publishing into the ring found it full: a submission that went to the backlog,
    /// or a drain of the backlog that had to wait for room again.
    public var fullRejections: Int { ring.fullRejections }
}

/// Entries that found the ring full, oldest first.
private struct Backlog {
    var entries = Deque<IngestEntry>()
    /// A drain is publishing the backlog or waiting for room to.
    var draining = false
}

/// The alert stage's clock: a thread that publishes a tick entry at a fixed interval.
private final class Ticker: Sendable {
    private let running = Atomic<Bool>(true)
    /// Signalled by `stop`, so that stopping does not wait out the interval.
    private let wake = DispatchSemaphore(value: 0)
    private let stopped = DispatchSemaphore(value: 0)
    private let started = Atomic<Bool>(false)

    func start(every interval: Duration, ring: Pipeline<IngestEntry>) {
        started.store(true, ordering: .relaxed)
        startThread(named: "nc-alert-ticker") { [self] in
            while running.load(ordering: .relaxed) {
                guard wake.wait(timeout: .now() + interval.seconds) == .timedOut else { break }
                let now = Timestamp(secondsSinceEpoch: Date().timeIntervalSince1970)
                let tick = IngestEntry(batch: IngestBatch(observations: []), profileID: nil, conditions: [], tick: now)
                // A full ring delays the tick rather than blocking this thread forever at shutdown.
                if (try? ring.tryPublish(tick)) == nil { break }
            }
            stopped.signal()
        }
    }

    func stop() {
        guard started.load(ordering: .relaxed) else { return }
        if running.exchange(false, ordering: .relaxed) {
            wake.signal()
            stopped.wait()
        }
    }
}
