import Foundation
import Pipeline
import Synchronization

/// Counts how many of its instances are alive, to check that entries release what they hold.
final class Token: Sendable {
    let alive: Counter
    init(_ alive: Counter) {
        self.alive = alive
        alive.add(1)
    }
    deinit { alive.add(-1) }
}

final class Counter: Sendable {
    private let value = Atomic<Int>(0)
    func add(_ amount: Int) { value.add(amount, ordering: .relaxed) }
    var current: Int { value.load(ordering: .relaxed) }
}

/// An entry as the engine's: a batch of values (an array), a class reference, a closure, and the
/// flag the first stage sets.
struct Entry: Sendable {
    var producer: Int
    var index: Int
    var values: [Int]
    var token: Token?
    var completion: (@Sendable () -> Void)?
    var flagged = false

    init(producer: Int, index: Int, token: Token? = nil, completion: (@Sendable () -> Void)? = nil) {
        self.producer = producer
        self.index = index
        values = [producer, index]
        self.token = token
        self.completion = completion
    }
}

/// What one stage saw. Written only by the stage's thread; read after `shutdown()` joined it.
final class Recorder: @unchecked Sendable {
    private var nextIndex: [Int: Int] = [:]
    private var nextSequence: Int64 = 0
    private(set) var seen = 0
    private(set) var problems: [String] = []
    private let published = Atomic<Int>(0)

    /// Entries seen so far, readable from any thread while the stage runs.
    var count: Int { published.load(ordering: .acquiring) }

    func record(_ entry: borrowing Entry, sequence: Int64, mustBeFlagged: Bool) {
        if sequence != nextSequence { problem("sequence \(sequence), expected \(nextSequence)") }
        nextSequence = sequence + 1
        let expected = nextIndex[entry.producer, default: 0]
        if entry.index != expected { problem("producer \(entry.producer): index \(entry.index), expected \(expected)") }
        nextIndex[entry.producer] = entry.index + 1
        if entry.values != [entry.producer, entry.index] { problem("entry \(sequence) has values \(entry.values)") }
        if mustBeFlagged && !entry.flagged { problem("entry \(sequence) seen before the flagger processed it") }
        seen += 1
        published.store(seen, ordering: .releasing)
    }

    func indices(of producer: Int) -> Int { nextIndex[producer, default: 0] }

    private func problem(_ text: String) {
        if problems.count < 10 { problems.append(text) }
    }
}

/// Holds a stage until the test opens it: a deliberately stalled consumer.
final class Gate: Sendable {
    private let open = Atomic<Bool>(false)
    func release() { open.store(true, ordering: .releasing) }
    func pass() {
        while !open.load(ordering: .acquiring) { usleep(100) }
    }
}

/// The engine's topology: the flagger marks entries in place, the storage writer and the alert
/// hub read them in parallel behind it.
struct Topology {
    let pipeline: Pipeline<Entry>
    let flagger = Recorder()
    let writer = Recorder()
    let alerts = Recorder()
    let flaggerStage: Pipeline<Entry>.Stage
    let writerStage: Pipeline<Entry>.Stage
    let alertStage: Pipeline<Entry>.Stage

    init(capacity: Int, gate: Gate? = nil, name: String = "test") {
        pipeline = Pipeline<Entry>(name: name, capacity: capacity)
        let flagger = flagger, writer = writer, alerts = alerts
        flaggerStage = pipeline.stage(name: "flagger", mutating: { entry, sequence, _ in
            gate?.pass()
            flagger.record(entry, sequence: sequence, mustBeFlagged: false)
            entry.flagged = true
        })
        writerStage = pipeline.stage(name: "storage-writer", after: [flaggerStage]) { entry, sequence, _ in
            writer.record(entry, sequence: sequence, mustBeFlagged: true)
        }
        alertStage = pipeline.stage(name: "alert-hub", after: [flaggerStage]) { entry, sequence, _ in
            alerts.record(entry, sequence: sequence, mustBeFlagged: true)
        }
        pipeline.start()
    }

    var recorders: [(String, Recorder)] { [("flagger", flagger), ("storage-writer", writer), ("alert-hub", alerts)] }
}

/// Runs `body` on a dedicated thread; `finished` tells when it returned.
final class ProducerThread: Sendable {
    private let done = Atomic<Bool>(false)
    private let semaphore = DispatchSemaphore(value: 0)

    init(name: String, _ body: @escaping @Sendable () -> Void) {
        let thread = Thread { [self] in
            body()
            done.store(true, ordering: .releasing)
            semaphore.signal()
        }
        thread.name = name
        thread.start()
    }

    var finished: Bool { done.load(ordering: .acquiring) }
    func join() {
        semaphore.wait()
        precondition(finished)
    }
}
