import Kafka
import TestSupport
import Testing

@Suite(.timeLimit(.minutes(2))) struct KafkaProducerShutdownTests {
    @Test func sendingAfterShutdownFailsClearly() async throws {
        let fixture = try KafkaFixture.start(partitions: 1)
        defer { fixture.cluster.shutdown() }
        let producer = try fixture.producer()
        let record = KafkaProducerRecord(topic: fixture.topic, key: "bed-1", value: Array("hr=180".utf8))
        _ = try await producer.send(record)
        await producer.shutdown()
        await producer.shutdown()  // idempotent

        await #expect {
            _ = try await producer.send(record)
        } throws: { error in
            let error = error as? KafkaError
            return error?.code == .state && error?.message == "producer is shut down"
                && error?.context == "send record to \(fixture.topic)"
        }
        #expect(throws: KafkaError.self) { try producer.send(record) { _ in Issue.record("no delivery report expected") } }
        await #expect(throws: KafkaError.self) { try await producer.flush(timeout: .seconds(1)) }
        #expect(producer.outstandingCount == 0)
    }

    /// No broker answers: the queue fills, flush times out, and shutdown fails what is left.
    @Test func aFullQueueATimedOutFlushAndShutdownSayWhatHappened() async throws {
        let producer = try KafkaProducer(
            configuration: KafkaProducerConfiguration(bootstrapServers: "127.0.0.1:\(freeTCPPort())",
                                                      properties: ["queue.buffering.max.messages": "2"]),
            logger: TestPostgres.logger)
        let reports = DeliveryReports()
        let record = KafkaProducerRecord(topic: "device-events", key: "bed-1", value: [1, 2, 3])
        for _ in 0..<2 {
            try producer.send(record) { reports.record($0) }
        }
        #expect {
            try producer.send(record) { _ in }
        } throws: { error in
            let error = error as? KafkaError
            return error?.code == .queueFull && error?.message.contains("queue is full") == true
        }
        #expect(producer.outstandingCount == 2)

        await #expect {
            try await producer.flush(timeout: .milliseconds(300))
        } throws: { error in
            let error = error as? KafkaError
            return error?.code == .timedOut && error?.message.contains("2 record(s) still waiting") == true
        }

        await producer.shutdown(timeout: .milliseconds(300))
        let failures = reports.failures
        #expect(failures.count == 2)
        #expect(failures.allSatisfy { [.purgedInQueue, .purgedInFlight].contains($0.code) && $0.context.hasPrefix("deliver record to device-events") })
    }
}
