import Foundation
import Metrics
import NamedThreads
import Synchronization

enum StageHandler<Element: Sendable>: Sendable {
    case reading(Pipeline<Element>.Handler)
    case mutating(Pipeline<Element>.MutatingHandler)

    var mutates: Bool {
        if case .mutating = self { true } else { false }
    }
}

/// One stage: its handler, its sequence counter and the dedicated thread that runs its loop.
final class StageRunner<Element: Sendable>: Sendable {
    let name: String
    let index: Int
    let upstream: [Int]
    let handler: StageHandler<Element>
    /// The last sequence this stage has processed.
    let sequence = SequenceCounter()
    /// Where this stage waits for its upstream stages (a first stage waits on the pipeline's
    /// `sourceParking` instead): each waiter is woken only by what it waits for.
    let parking = Parking()
    private let lag: Gauge
    private let exited = DispatchSemaphore(value: 0)
    /// Stored before `exited` is signalled: the atomic gives `join()` a happens-before edge that
    /// race detectors see for certain.
    private let finished = Atomic<Bool>(false)

    /// Report the lag gauge every this many batches (and whenever the stage goes idle).
    private static var reportEvery: Int { 64 }

    init(name: String, index: Int, upstream: [Int], handler: StageHandler<Element>, lag: Gauge) {
        self.name = name
        self.index = index
        self.upstream = upstream
        self.handler = handler
        self.lag = lag
    }

    /// `barrier`: the upstream stages' counters (empty: read what producers published).
    /// `terminal`: for a terminal stage, every terminal stage's counter, to reclaim slots.
    /// `waitOn`: where the stage parks; `wakes`: where the stages (and, for a terminal stage, the
    /// producers) wait that this stage's progress can unblock.
    func start(
        pipeline: Pipeline<Element>, barrier: [SequenceCounter], terminal: [SequenceCounter]?,
        waitOn: Parking, wakes: [Parking]
    ) {
        startThread(named: "nc-\(name)") { [self] in
            run(pipeline, barrier: barrier, terminal: terminal, waitOn: waitOn, wakes: wakes)
            finished.store(true, ordering: .releasing)
            exited.signal()
        }
    }

    func join() {
        exited.wait()
        precondition(finished.load(ordering: .acquiring))
    }

    private func run(
        _ pipeline: Pipeline<Element>, barrier: [SequenceCounter], terminal: [SequenceCounter]?, waitOn: Parking, wakes: [Parking]
    ) {
        let storage = pipeline.storage
        var next: Int64 = 0
        var batches = 0
        while true {
            guard let available = waitForAvailable(next, pipeline, barrier, on: waitOn) else { break }
            switch handler {
            case .reading(let handle):
                for sequence in next...available {
                    handle(storage.slot(sequence).pointee, sequence, sequence == available)
                }
            case .mutating(let handle):
                for sequence in next...available {
                    handle(&storage.slot(sequence).pointee, sequence, sequence == available)
                }
            }
            if let terminal {
                sequence.storeSequentiallyConsistent(available)
                pipeline.reclaim(terminal: terminal)
            } else {
                sequence.store(available)
            }
            for parking in wakes { parking.wakeParked() }
            if terminal != nil { pipeline.room.notifyIfRegistered(freeSlots: { pipeline.freeSlots }) }
            next = available + 1
            batches += 1
            if batches % Self.reportEvery == 0 { report(pipeline, processed: available) }
        }
        report(pipeline, processed: next - 1)
    }

    /// The highest sequence this stage may process now, waiting while there is none; nil once
    /// the pipeline shut down and the stage processed everything published.
    private func waitForAvailable(
        _ next: Int64, _ pipeline: Pipeline<Element>, _ barrier: [SequenceCounter], on parking: Parking
    ) -> Int64? {
        var available = next - 1
        func look() -> Bool {
            available = barrier.isEmpty
                ? pipeline.storage.highestPublished(from: next, through: pipeline.cursor.claimed)
                : barrier.minimum()
            return available >= next || pipeline.isDrained(next: next)
        }
        parking.wait(until: look, beforeParking: { report(pipeline, processed: next - 1) })
        return available >= next ? available : nil
    }

    private func report(_ pipeline: Pipeline<Element>, processed: Int64) {
        lag.record(max(0, pipeline.cursor.claimed - processed))
        pipeline.metrics.occupancy.record(pipeline.occupancy)
    }
}
