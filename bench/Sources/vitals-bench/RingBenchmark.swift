import DequeModule
import Foundation
import Pipeline
import Synchronization

/// The pipeline's ring against a `Mutex`-protected `Deque` of the same capacity, each with one
/// consumer thread: throughput with 1, 2 and 4 producer threads, and publish-to-consume latency
/// at a fixed offered rate.
struct RingBenchmark {
    let seconds: Double
    let rounds: Int
    let capacity: Int
    let latencyRate: Int
    let summary: Summary

    func run() throws {
        heading("ring: Pipeline ring against Mutex<Deque>, one consumer thread")
        say("capacity \(capacity) slots; throughput: producers publish as fast as they can (then the consumer drains); "
            + "latency: \(latencyRate.grouped) items/s offered in all, paced, every item timed")
        say("each figure: \(rounds) rounds of \(format(seconds / Double(rounds), decimals: 2)) s, the two queues alternating, "
            + "median of the rounds (range in brackets); latency pools the rounds' samples")
        let header = ["producers", "queue", "items/s, batch 1", "items/s, batch 16", "latency p50", "latency p99"]
        var rows: [[String]] = []
        for producers in [1, 2, 4] {
            var single: [QueueKind: [Double]] = [:], batched: [QueueKind: [Double]] = [:], samples: [QueueKind: [UInt64]] = [:]
            for _ in 0..<rounds {
                for kind in QueueKind.allCases {
                    single[kind, default: []].append(throughput(kind, producers: producers, batch: 1))
                    batched[kind, default: []].append(throughput(kind, producers: producers, batch: 16))
                    samples[kind, default: []].append(contentsOf: latency(kind, producers: producers))
                }
            }
            for kind in QueueKind.allCases {
                let latency = LatencySummary(nanoseconds: samples[kind] ?? [])
                let one = Spread(single[kind] ?? []), sixteen = Spread(batched[kind] ?? [])
                rows.append(["\(producers)", kind.rawValue, one.median.rounded0, sixteen.median.rounded0,
                             microseconds(latency.p50), microseconds(latency.p99)])
                say("  \(producers) producer(s), \(kind.rawValue): \(one) items/s (batch 1), \(sixteen) items/s (batch 16), "
                    + "latency p50 \(microseconds(latency.p50)) p99 \(microseconds(latency.p99)) (\(latency.count.grouped) samples)")
            }
            let ring = Spread(single[.ring] ?? []).median, mutex = Spread(single[.mutexDeque] ?? []).median
            summary.add(SummaryRow(figure: "ring, \(producers) producer(s), batch 1", measured: "\(ring.rounded0) items/s",
                                   comparedWith: "Mutex<Deque> \(mutex.rounded0) items/s",
                                   ratio: "\(format(ring / mutex, decimals: 1))×"))
        }
        printTable(header: header, rows: rows)
    }

    private var roundSeconds: Double { seconds / Double(rounds) }

    // MARK: Phases

    /// Items per second from the first publish until the consumer has drained the last one.
    private func throughput(_ kind: QueueKind, producers: Int, batch: Int) -> Double {
        let consumer = Consumer(timing: false)
        let queue = kind.make(capacity: capacity, consumer: consumer)
        let stop = Atomic<Bool>(false)
        let start = ContinuousClock.now
        let threads = (0..<producers).map { producer in
            BenchThread(name: "producer-\(producer)") {
                let items = [Item](repeating: Item(stamp: 0, producer: producer), count: batch)
                while !stop.load(ordering: .relaxed) { queue.publish(items) }
            }
        }
        Thread.sleep(forTimeInterval: roundSeconds)
        stop.store(true, ordering: .relaxed)
        threads.forEach { $0.join() }
        queue.stop()
        let elapsed = BenchTime.seconds(ContinuousClock.now - start)
        return Double(consumer.consumed) / elapsed
    }

    /// Publish-to-consume latency of every item at `latencyRate` items/s offered in all.
    private func latency(_ kind: QueueKind, producers: Int) -> [UInt64] {
        let consumer = Consumer(timing: true, expected: Int(Double(latencyRate) * roundSeconds) + 1_000)
        let queue = kind.make(capacity: capacity, consumer: consumer)
        let interval = UInt64(1e9 / Double(latencyRate) * Double(producers))
        let perProducer = Int(Double(latencyRate) * roundSeconds) / producers
        let threads = (0..<producers).map { producer in
            BenchThread(name: "producer-\(producer)") {
                var due = monotonicNanoseconds() + UInt64(producer) * interval / UInt64(producers)
                var one = [Item(stamp: 0, producer: producer)]
                for _ in 0..<perProducer {
                    while monotonicNanoseconds() < due { sched_yield() }
                    one[0].stamp = monotonicNanoseconds()
                    queue.publish(one)
                    due += interval
                }
            }
        }
        threads.forEach { $0.join() }
        queue.stop()
        return consumer.latencies
    }

    private func microseconds(_ milliseconds: Double) -> String {
        milliseconds.isNaN ? "n/a" : "\(format(milliseconds * 1000, decimals: 1)) µs"
    }

    private func printTable(header: [String], rows: [[String]]) {
        let widths = header.indices.map { column in ([header] + rows).map { $0[column].count }.max() ?? 0 }
        func line(_ cells: [String]) -> String {
            "| " + zip(cells, widths).map { $0.padding(toLength: $1, withPad: " ", startingAt: 0) }.joined(separator: " | ") + " |"
        }
        say("")
        say(line(header))
        say("|" + widths.map { String(repeating: "-", count: $0 + 2) }.joined(separator: "|") + "|")
        for row in rows { say(line(row)) }
    }
}

/// Median and range of a figure over rounds.
struct Spread: CustomStringConvertible {
    let median: Double
    let low: Double
    let high: Double

    init(_ values: [Double]) {
        let sorted = values.sorted()
        median = sorted.isEmpty ? .nan : sorted[sorted.count / 2]
        low = sorted.first ?? .nan
        high = sorted.last ?? .nan
    }

    var description: String { "\(median.rounded0) [\(low.rounded0)–\(high.rounded0)]" }
}

struct Item: Sendable {
    var stamp: UInt64
    var producer: Int
}

func monotonicNanoseconds() -> UInt64 {
    var now = timespec()
    clock_gettime(CLOCK_MONOTONIC, &now)
    return UInt64(now.tv_sec) * 1_000_000_000 + UInt64(now.tv_nsec)
}

/// What the consumer thread does with each item. Touched only by that thread until the queue
/// is stopped (which joins it).
final class Consumer: @unchecked Sendable {
    private let timing: Bool
    private(set) var consumed = 0
    private(set) var latencies: [UInt64] = []

    init(timing: Bool, expected: Int = 0) {
        self.timing = timing
        latencies.reserveCapacity(expected)
    }

    func consume(_ item: Item) {
        consumed += 1
        if timing { latencies.append(monotonicNanoseconds() &- item.stamp) }
    }
}

enum QueueKind: String, CaseIterable {
    case ring = "Pipeline ring"
    case mutexDeque = "Mutex<Deque>"

    func make(capacity: Int, consumer: Consumer) -> any BenchQueue {
        switch self {
        case .ring: RingQueue(capacity: capacity, consumer: consumer)
        case .mutexDeque: MutexDequeQueue(capacity: capacity, consumer: consumer)
        }
    }
}

protocol BenchQueue: Sendable {
    /// Enqueues the batch, waiting while the queue is full.
    func publish(_ batch: [Item])
    /// Lets the consumer drain, then joins it.
    func stop()
}

struct RingQueue: BenchQueue {
    let pipeline: Pipeline<Item>

    init(capacity: Int, consumer: Consumer) {
        pipeline = Pipeline(name: "bench", capacity: capacity)
        pipeline.stage(name: "bench-consumer") { item, _, _ in consumer.consume(item) }
        pipeline.start()
    }

    func publish(_ batch: [Item]) {
        do { try pipeline.publish(contentsOf: batch) } catch { fatalError("\(error)") }
    }

    func stop() { pipeline.shutdown() }
}

/// The baseline: a bounded queue as one writes it without a ring, one lock around a Deque.
/// Producers yield while it is full; the consumer takes everything there under one lock,
/// and spins, then yields, while it is empty (it never parks, which favours its latency).
final class MutexDequeQueue: BenchQueue {
    private struct State {
        var items = Deque<Item>()
        var stopped = false
    }
    private final class Shared: Sendable {
        let state = Mutex(State())
    }
    private let shared = Shared()
    private let capacity: Int
    private let consumerThread: BenchThread

    init(capacity: Int, consumer: Consumer) {
        self.capacity = capacity
        shared.state.withLock { $0.items.reserveCapacity(capacity) }
        consumerThread = BenchThread(name: "bench-consumer") { [shared] in
            var taken: [Item] = []
            taken.reserveCapacity(capacity)
            var idle = 0
            while true {
                let stopped = shared.state.withLock { state in
                    taken.append(contentsOf: state.items)
                    state.items.removeAll(keepingCapacity: true)
                    return state.stopped
                }
                if taken.isEmpty {
                    if stopped { return }
                    idle += 1
                    if idle > 200 { sched_yield() }
                    continue
                }
                idle = 0
                for item in taken { consumer.consume(item) }
                taken.removeAll(keepingCapacity: true)
            }
        }
    }

    func publish(_ batch: [Item]) {
        while !shared.state.withLock({ state in
            guard state.items.count + batch.count <= capacity else { return false }
            state.items.append(contentsOf: batch)
            return true
        }) { sched_yield() }
    }

    func stop() {
        shared.state.withLock { $0.stopped = true }
        consumerThread.join()
    }
}

/// A named thread running `body`, joined with `join()`.
final class BenchThread: Sendable {
    private let done = DispatchSemaphore(value: 0)

    init(name: String, _ body: @escaping @Sendable () -> Void) {
        let thread = Thread { [done] in
            body()
            done.signal()
        }
        thread.name = name
        thread.start()
    }

    func join() { done.wait() }
}
