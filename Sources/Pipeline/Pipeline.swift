import Foundation
import Metrics
import Synchronization

/// A bounded multi-producer ring buffer with stages behind sequence barriers, after the LMAX
/// Disruptor. Sources publish entries; each stage runs on its own named thread and sees every
/// entry once, in sequence order, in batches.
///
/// - **Claim**: producers move the atomic `cursor` forward by the size of their batch with a
///   compare-and-exchange, but never more than `capacity` past `reclaimed`, the sequence up to
///   which every terminal stage is done (the gating sequence). A full ring makes a producer wait
///   (`publish`), give up (`tryPublish`, with `notifyWhenRoom`/`waitForRoom` to learn when to
///   retry) or suspend (`publish` async); every wait is counted.
/// - **Publish**: the producer initializes its slots, then stores each slot's sequence into the
///   per-slot availability flags with release ordering. Claims complete out of order; consumers
///   scan the flags, so they only see fully written entries and only in sequence order.
/// - **Barriers**: a stage without upstream stages reads up to the highest contiguously published
///   sequence; a stage with upstream stages reads up to the slowest of their sequence counters
///   (acquire), so it sees what they wrote. A stage stores its own counter (release) after each
///   batch. A `mutating:` stage may change entries in place; `start()` checks that every other
///   stage runs strictly before or after it.
/// - **Lifetimes**: slots are preallocated and uninitialized; publishing initializes a slot, and
///   once every terminal stage has consumed it, the entry is deinitialized at once (not when
///   overwritten), so the references it holds (observations, completion closures) are released.
///   The terminal stage that finishes a batch last does this and then advances `reclaimed`, which
///   is what producers gate on. Entries of a pipeline that never started go with the pipeline.
/// - **Waiting**: idle stages and blocked producers spin briefly, then park on
///   one condition variable (`Parking`, an event count on a pthread condition rather than a raw
///   futex: it is only reached when idle). Whoever advances a sequence pays one fence and one load
///   to learn whether anyone is parked, and only the first waker after a park broadcasts.
/// - **Memory ordering**: a slot's contents are published by the release store of its flag and
///   seen through the acquire load of it; a stage's writes reach downstream stages through its
///   counter (release store, acquire load); `reclaimed` (release, acquire) orders the
///   deinitialization of a slot before the next producer initializes it. Sequentially consistent
///   fences are used only where a store must be seen before a load (parking, terminal stages
///   handing over reclamation).
/// - **Shutdown**: `shutdown()` sets a closed bit in the cursor word (claims fail from then on,
///   and the last claimed sequence is known), lets every stage drain up to it and joins the
///   threads.
///
/// The stage threads keep the pipeline alive until `shutdown()`.
public final class Pipeline<Element: Sendable>: @unchecked Sendable {
    /// Handlers get the entry, its sequence and whether it ends the batch available to the stage.
    public typealias Handler = @Sendable (borrowing Element, _ sequence: Int64, _ endOfBatch: Bool) -> Void
    public typealias MutatingHandler = @Sendable (inout Element, _ sequence: Int64, _ endOfBatch: Bool) -> Void

    /// A stage of this pipeline, to name as upstream of later stages and to ask for its lag.
    public struct Stage: Hashable, Sendable {
        public let name: String
        let index: Int
    }

    public let name: String
    public var capacity: Int { storage.capacity }

    let storage: RingStorage<Element>
    /// Highest claimed sequence, and the closed bit that `shutdown()` sets.
    let cursor = ClaimCursor()
    /// Every entry up to here is consumed by all terminal stages and deinitialized.
    let reclaimed = SequenceCounter()
    private let reclaiming = Atomic<Bool>(false)
    /// Where first stages wait for producers to publish.
    let sourceParking = Parking()
    /// Where producers wait for terminal stages to free slots.
    let roomParking = Parking()
    let room = RoomNotifier()
    let metrics: PipelineMetrics

    private let stopping = Atomic<Bool>(false)
    /// Set before `stopping`: the last sequence stages must process before they exit.
    private let drainTarget = SequenceCounter()

    private let waits = Atomic<Int>(0)
    private let waitNanoseconds = Atomic<Int64>(0)
    private let rejections = Atomic<Int>(0)

    private struct Topology {
        var stages: [StageRunner<Element>] = []
        var started = false
        var finished = false
    }
    private let topology = Locked(Topology())
    private let shutdownLock = NSLock()

    /// `capacity`: slots in the ring, a power of two. `name` is the `pipeline` dimension of the
    /// metrics: `pipeline_occupancy`, `pipeline_stage_lag` (with `stage`), `pipeline_producer_waits_total`,
    /// `pipeline_producer_wait` (a timer) and `pipeline_full_rejections_total`.
    public init(name: String, capacity: Int, metricsFactory: any MetricsFactory = MetricsSystem.factory) {
        self.name = name
        storage = RingStorage(capacity: capacity)
        metrics = PipelineMetrics(pipeline: name, factory: metricsFactory)
    }

    deinit {
        // Entries published but never consumed (a pipeline that was never started).
        let last = cursor.claimed
        let first = reclaimed.load() + 1
        if last >= first { storage.deinitialize(from: first, through: last) }
    }

    // MARK: Topology

    /// Adds a stage that reads entries after every stage in `upstream` has processed them.
    @discardableResult
    public func stage(name: String, after upstream: [Stage] = [], _ handler: @escaping Handler) -> Stage {
        add(name: name, upstream: upstream, handler: .reading(handler))
    }

    /// Adds a stage that may change entries in place. Every other stage must run strictly before
    /// or after it (checked by `start()`). Pass the handler with its `mutating:` label (a trailing
    /// closure makes a reading stage).
    @discardableResult @_disfavoredOverload
    public func stage(name: String, after upstream: [Stage] = [], mutating handler: @escaping MutatingHandler) -> Stage {
        add(name: name, upstream: upstream, handler: .mutating(handler))
    }

    private func add(name stageName: String, upstream: [Stage], handler: StageHandler<Element>) -> Stage {
        topology.withLock { topology in
            precondition(!topology.started, "stages are added before start()")
            for stage in upstream {
                precondition(stage.index < topology.stages.count && topology.stages[stage.index].name == stage.name,
                             "upstream stage '\(stage.name)' does not belong to pipeline '\(name)'")
            }
            let index = topology.stages.count
            topology.stages.append(StageRunner(name: stageName, index: index, upstream: upstream.map(\.index),
                                               handler: handler, lag: metrics.stageLag(stageName)))
            return Stage(name: stageName, index: index)
        }
    }

    /// Starts one thread per stage. Entries published before are processed then.
    public func start() {
        let stages: [StageRunner<Element>] = topology.withLock { topology in
            precondition(!topology.started, "start() is called once")
            precondition(!topology.stages.isEmpty, "a pipeline needs at least one stage")
            topology.started = true
            return topology.stages
        }
        Self.checkMutatingStages(stages)
        let downstream = Set(stages.flatMap(\.upstream))
        let terminal = stages.filter { !downstream.contains($0.index) }.map(\.sequence)
        for stage in stages {
            let barrier = stage.upstream.map { stages[$0].sequence }
            let isTerminal = !downstream.contains(stage.index)
            let followers = stages.filter { $0.upstream.contains(stage.index) }.map(\.parking)
            stage.start(
                pipeline: self, barrier: barrier, terminal: isTerminal ? terminal : nil,
                waitOn: stage.upstream.isEmpty ? sourceParking : stage.parking,
                wakes: isTerminal ? followers + [roomParking] : followers
            )
        }
    }

    private static func checkMutatingStages(_ stages: [StageRunner<Element>]) {
        // ancestors[i]: every stage that runs before stage i.
        var ancestors: [Set<Int>] = []
        for stage in stages {
            ancestors.append(stage.upstream.reduce(into: Set(stage.upstream)) { $0.formUnion(ancestors[$1]) })
        }
        for stage in stages where stage.handler.mutates {
            for other in stages where other.index != stage.index {
                precondition(ancestors[stage.index].contains(other.index) || ancestors[other.index].contains(stage.index),
                             "stage '\(other.name)' runs in parallel with the mutating stage '\(stage.name)'")
            }
        }
    }

    // MARK: Shutdown

    /// Stops intake (later and waiting publishes throw `PipelineError.shutDown`), lets every stage
    /// process everything published, and joins the stage threads. Idempotent; a concurrent call
    /// returns when the first is done. Not to be called from a stage's handler (it would wait for
    /// its own thread). A pipeline that never started has nothing to drain: its entries are
    /// released with it.
    public func shutdown() {
        shutdownLock.lock()
        defer { shutdownLock.unlock() }
        let stages: [StageRunner<Element>]? = topology.withLock { topology in
            if topology.finished { return nil }
            topology.finished = true
            return topology.started ? topology.stages : []
        }
        guard let stages else { return }

        // Claims made before this are published (no producer waits between claim and publish);
        // none can follow. Producers waiting for room wake up and give up.
        let last = cursor.close()
        drainTarget.store(last)
        stopping.store(true, ordering: .sequentiallyConsistent)
        for parking in [sourceParking, roomParking] + stages.map(\.parking) { parking.wakeAll() }
        for stage in stages { stage.join() }
        room.notify(freeSlots: Int.max)  // waiters retry and learn that intake stopped
    }

    /// For stage threads: whether a stage at `next` has drained everything and may exit.
    func isDrained(next: Int64) -> Bool {
        stopping.load(ordering: .acquiring) && next > drainTarget.load()
    }

    // MARK: Reclaiming

    /// Called by terminal stages after storing their sequence: deinitializes the entries all of
    /// them are done with and lets producers reuse the slots. One thread at a time does the work
    /// (`reclaiming`); one that finds the flag taken leaves, since the holder looks again.
    func reclaim(terminal: [SequenceCounter]) {
        if terminal.count == 1 {  // the only terminal stage: nobody to race with
            let first = reclaimed.loadRelaxed() + 1
            let last = terminal[0].loadRelaxed()
            if last >= first {
                storage.deinitialize(from: first, through: last)
                reclaimed.store(last)
            }
            return
        }
        while true {
            guard reclaiming.compareExchange(expected: false, desired: true, ordering: .sequentiallyConsistent).exchanged
            else { return }
            let first = reclaimed.loadRelaxed() + 1
            let last = terminal.minimumSequentiallyConsistent()
            if last >= first {
                storage.deinitialize(from: first, through: last)
                reclaimed.store(last)
            }
            reclaiming.store(false, ordering: .sequentiallyConsistent)
            // A terminal stage that advanced while we held the flag gave up: check for it.
            if terminal.minimumSequentiallyConsistent() <= reclaimed.load() { return }
        }
    }

    // MARK: Figures

    /// Entries published or being published and not yet consumed by every terminal stage.
    public var occupancy: Int {
        let reclaimed = reclaimed.load()
        return Int(max(0, cursor.claimed - reclaimed))
    }

    /// Free slots, as a producer claiming now would see them.
    var freeSlots: Int { capacity - occupancy }

    /// How far the stage is behind the highest claimed sequence.
    public func lag(of stage: Stage) -> Int64 {
        let sequence = topology.withLock { $0.stages[stage.index].sequence }.load()
        return max(0, cursor.claimed - sequence)
    }

    /// Times a producer found the ring full and waited (blocking or async publish), counted when
    /// the wait begins.
    public var producerWaitCount: Int { waits.load(ordering: .relaxed) }

    /// Total time producers spent waiting for room, added when each wait ends.
    public var producerWaitTime: Duration { .nanoseconds(waitNanoseconds.load(ordering: .relaxed)) }

    /// Times `tryPublish` returned false because the ring was full.
    public var fullRejections: Int { rejections.load(ordering: .relaxed) }

    /// A producer found the ring full and starts waiting: counted now, timed when it ends.
    func beginWait() -> ContinuousClock.Instant {
        waits.add(1, ordering: .relaxed)
        metrics.producerWaits.increment()
        return .now
    }

    func endWait(since start: ContinuousClock.Instant) {
        let elapsed = ContinuousClock.now - start
        let nanoseconds = elapsed.components.seconds * 1_000_000_000 + elapsed.components.attoseconds / 1_000_000_000
        waitNanoseconds.add(nanoseconds, ordering: .relaxed)
        metrics.producerWaitTime.recordNanoseconds(nanoseconds)
    }

    func recordRejection() {
        rejections.add(1, ordering: .relaxed)
        metrics.fullRejections.increment()
    }

    var isAccepting: Bool { !cursor.load().closed }
}
