import Foundation
import Pipeline
import Synchronization
import Testing
import TestSupport

@Suite struct PipelineLifecycleTests {
    @Test func shutdownDrainsEverythingPublishedAndStopsIntake() async throws {
        let gate = Gate()
        let topology = Topology(capacity: 1024, gate: gate)
        let pipeline = topology.pipeline
        for index in 0..<500 { try await pipeline.publish(Entry(producer: 0, index: index)) }
        gate.release()
        pipeline.shutdown()
        for (name, recorder) in topology.recorders {
            #expect(recorder.problems == [], "\(name)")
            #expect(recorder.seen == 500, "\(name)")
        }
        let blocking = ProducerThread(name: "late-producer") {
            #expect(throws: PipelineError.shutDown(pipeline: "test")) { try pipeline.publish(Entry(producer: 0, index: 500)) }
        }
        try await waitUntil(timeout: .seconds(30), "late producer refused") { blocking.finished }
        #expect(throws: PipelineError.shutDown(pipeline: "test")) { try pipeline.tryPublish(Entry(producer: 0, index: 500)) }
        await #expect(throws: PipelineError.shutDown(pipeline: "test")) { try await pipeline.publish(Entry(producer: 0, index: 500)) }
        pipeline.shutdown()  // idempotent
        #expect(topology.writer.seen == 500)
    }

    @Test func aProducerWaitingOnAFullRingIsToldOfShutdown() async throws {
        let gate = Gate()
        let topology = Topology(capacity: 2, gate: gate)
        let pipeline = topology.pipeline
        let outcome = Mutex<PipelineError?>(nil)
        try await pipeline.publish(contentsOf: [Entry(producer: 0, index: 0), Entry(producer: 0, index: 1)])
        let producer = ProducerThread(name: "refused-producer") {
            do { try pipeline.publish(Entry(producer: 0, index: 2)) } catch { outcome.withLock { $0 = error as? PipelineError } }
        }
        try await waitUntil(timeout: .seconds(30), "producer waiting") { pipeline.producerWaitCount == 1 }
        let shutdown = ProducerThread(name: "shutdown") { pipeline.shutdown() }
        try await waitUntil(timeout: .seconds(30), "producer told") { producer.finished }
        gate.release()
        try await waitUntil(timeout: .seconds(30), "shutdown finished") { shutdown.finished }
        #expect(outcome.withLock { $0 } == .shutDown(pipeline: "test"))
        #expect(topology.alerts.seen == 2)
    }

    /// Entries are released as soon as every terminal stage consumed them, not when overwritten.
    @Test func entriesReleaseTheirReferencesOnceConsumed() async throws {
        let alive = Counter()
        let completions = Counter()
        let topology = Topology(capacity: 64)
        let pipeline = topology.pipeline
        weak var watched: Token?
        do {
            let token = Token(alive)
            watched = token
            try await pipeline.publish(Entry(producer: 0, index: 0, token: token, completion: { completions.add(1) }))
        }
        for index in 1..<10 {
            try await pipeline.publish(Entry(producer: 0, index: index, token: Token(alive), completion: { completions.add(1) }))
        }
        // Ten of 64 slots used: nothing is overwritten, so only consumption can release them.
        try await waitUntil(timeout: .seconds(30), "entries consumed") { pipeline.occupancy == 0 }
        #expect(alive.current == 0)
        #expect(watched == nil)
        pipeline.shutdown()
        #expect(topology.writer.seen == 10)
    }

    @Test func aPipelineThatNeverStartedReleasesItsEntries() throws {
        let alive = Counter()
        do {
            let pipeline = Pipeline<Entry>(name: "unstarted", capacity: 8)
            pipeline.stage(name: "never") { _, _, _ in }
            for index in 0..<5 { #expect(try pipeline.tryPublish(Entry(producer: 0, index: index, token: Token(alive)))) }
            #expect(alive.current == 5)
            #expect(pipeline.occupancy == 5)
        }
        #expect(alive.current == 0)
    }
}
