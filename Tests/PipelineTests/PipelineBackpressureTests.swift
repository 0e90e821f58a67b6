import Foundation
import MetricsTestKit
import Pipeline
import Synchronization
import Testing
import TestSupport

@Suite struct PipelineBackpressureTests {
    @Test func aFullRingBlocksTheProducerUntilTheSlowStageCatchesUp() async throws {
        let gate = Gate()
        let topology = Topology(capacity: 4, gate: gate)
        let pipeline = topology.pipeline
        let published = Counter()
        let producer = ProducerThread(name: "blocking-producer") {
            for index in 0..<20 {
                try! pipeline.publish(Entry(producer: 0, index: index))
                published.add(1)
            }
        }
        try await waitUntil(timeout: .seconds(30), "producer waiting on the full ring") {
            pipeline.producerWaitCount >= 1 && pipeline.occupancy == 4
        }
        #expect(published.current == 4)
        #expect(!producer.finished)

        gate.release()
        try await waitUntil(timeout: .seconds(30), "producer finished") { producer.finished }
        pipeline.shutdown()
        #expect(published.current == 20)
        #expect(pipeline.producerWaitTime > .zero)
        for (name, recorder) in topology.recorders {
            #expect(recorder.problems == [], "\(name)")
            #expect(recorder.seen == 20, "\(name)")
        }
    }

    @Test func tryPublishFailsWhenFullAndTheRoomNotificationFires() async throws {
        let gate = Gate()
        let topology = Topology(capacity: 4, gate: gate)
        let pipeline = topology.pipeline
        #expect(try pipeline.tryPublish(contentsOf: (0..<4).map { Entry(producer: 0, index: $0) }))
        #expect(try !pipeline.tryPublish(Entry(producer: 0, index: 4)))
        #expect(pipeline.fullRejections == 1)

        let notified = Counter()
        pipeline.notifyWhenRoom(for: 2) { notified.add(1) }
        #expect(notified.current == 0)  // the stage is held: nothing can have freed a slot
        gate.release()
        try await waitUntil(timeout: .seconds(30), "room notification") { notified.current == 1 }
        #expect(try pipeline.tryPublish(contentsOf: [Entry(producer: 0, index: 4), Entry(producer: 0, index: 5)]))

        await pipeline.waitForRoom(for: 4)  // returns once the stages caught up
        #expect(try pipeline.tryPublish(contentsOf: (6..<10).map { Entry(producer: 0, index: $0) }))
        pipeline.shutdown()
        #expect(notified.current == 1)
        for (name, recorder) in topology.recorders {
            #expect(recorder.problems == [], "\(name)")
            #expect(recorder.seen == 10, "\(name)")
        }
    }

    @Test func aBatchLargerThanTheRingIsRefusedByTryPublishAndSplitByPublish() async throws {
        let topology = Topology(capacity: 8)
        let pipeline = topology.pipeline
        let batch = (0..<20).map { Entry(producer: 0, index: $0) }
        #expect(throws: PipelineError.batchLargerThanRing(pipeline: "test", count: 20, capacity: 8)) {
            try pipeline.tryPublish(contentsOf: batch)
        }
        let blocking = ProducerThread(name: "splitting-producer") { try! pipeline.publish(contentsOf: batch) }
        try await pipeline.publish(contentsOf: batch.map { Entry(producer: 1, index: $0.index) })
        try await waitUntil(timeout: .seconds(30), "blocking producer finished") { blocking.finished }
        pipeline.shutdown()
        for (name, recorder) in topology.recorders {
            #expect(recorder.problems == [], "\(name)")
            #expect(recorder.seen == 40, "\(name)")
        }
    }

    @Test func figuresAreReportedThroughSwiftMetrics() async throws {
        let metrics = TestMetrics()
        let gate = Gate()
        let pipeline = Pipeline<Entry>(name: "metered", capacity: 2, metricsFactory: metrics)
        let stage = pipeline.stage(name: "slow") { _, _, _ in gate.pass() }
        pipeline.start()
        try await pipeline.publish(contentsOf: [Entry(producer: 0, index: 0), Entry(producer: 0, index: 1)])
        #expect(try !pipeline.tryPublish(Entry(producer: 0, index: 2)))
        let producer = ProducerThread(name: "metered-producer") { try! pipeline.publish(Entry(producer: 0, index: 2)) }
        try await waitUntil(timeout: .seconds(30), "producer waiting") { pipeline.producerWaitCount == 1 || producer.finished }
        #expect(pipeline.lag(of: stage) >= 2)
        gate.release()
        try await waitUntil(timeout: .seconds(30), "producer finished") { producer.finished }
        pipeline.shutdown()

        let dimensions = [("pipeline", "metered")]
        #expect(try metrics.expectCounter("pipeline_producer_waits_total", dimensions).totalValue == 1)
        #expect(try metrics.expectCounter("pipeline_full_rejections_total", dimensions).totalValue == 1)
        #expect(try metrics.expectTimer("pipeline_producer_wait", dimensions).values.count == 1)
        #expect(try metrics.expectGauge("pipeline_occupancy", dimensions).lastValue == 0)
        #expect(try metrics.expectGauge("pipeline_stage_lag", [("pipeline", "metered"), ("stage", "slow")]).lastValue == 0)
        #expect(pipeline.lag(of: stage) == 0)
    }
}
