import Foundation
import Pipeline
import Synchronization
import Testing

@Suite struct PipelineStressTests {
    /// Four producers using all three publish APIs through a small ring (it wraps hundreds of
    /// times and fills up), with the engine's three stages behind it.
    @Test func everyStageSeesEveryEntryOnceInProducerOrder() async throws {
        let producers = 4
        let perProducer = 10_000
        let topology = Topology(capacity: 64)
        let pipeline = topology.pipeline

        // Batches of 1 to 7 entries, different per producer.
        @Sendable func batches(of producer: Int) -> [[Entry]] {
            var result: [[Entry]] = []
            var index = 0
            while index < perProducer {
                let size = min(1 + (index + producer) % 7, perProducer - index)
                result.append((index..<index + size).map { Entry(producer: producer, index: $0) })
                index += size
            }
            return result
        }
        // Producers 0 and 1: blocking publish on their own threads.
        let threads = (0..<2).map { producer in
            ProducerThread(name: "producer-\(producer)") {
                for batch in batches(of: producer) { try! pipeline.publish(contentsOf: batch) }
            }
        }
        // Producer 2: tryPublish on a thread, waiting for the room notification when full.
        let nonBlocking = ProducerThread(name: "producer-2") {
            let room = DispatchSemaphore(value: 0)
            for batch in batches(of: 2) {
                while !(try! pipeline.tryPublish(contentsOf: batch)) {
                    pipeline.notifyWhenRoom(for: batch.count) { room.signal() }
                    room.wait()
                }
            }
        }
        // Producer 3: async publish.
        for batch in batches(of: 3) { try await pipeline.publish(contentsOf: batch) }
        for thread in threads + [nonBlocking] { thread.join() }

        pipeline.shutdown()
        for (name, recorder) in topology.recorders {
            #expect(recorder.problems == [], "\(name)")
            #expect(recorder.seen == producers * perProducer, "\(name)")
            for producer in 0..<producers { #expect(recorder.indices(of: producer) == perProducer, "\(name), producer \(producer)") }
        }
        #expect(pipeline.occupancy == 0)
    }
}
