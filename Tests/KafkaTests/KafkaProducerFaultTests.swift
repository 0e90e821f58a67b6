import Kafka
import Logging
import TestSupport
import Testing

/// Brokers that go away and requests that fail: once the cluster is whole again every record is
/// stored exactly once.
@Suite(.timeLimit(.minutes(5))) struct KafkaProducerFaultTests {
    @Test func everyRecordIsStoredOnceThroughBrokerOutagesAndProduceErrors() async throws {
        let logs = LogRecorder()
        var logger = Logger(label: "kafka.fault-test") { _ in logs.handler() }
        logger.logLevel = .trace
        let fixture = try KafkaFixture.start(topic: "faults", partitions: 6, logger: logger)
        defer { fixture.cluster.shutdown() }
        // Leaders 1, 2, 3, 1, 2, 3 (the mock picks them at random otherwise).
        for partition in 0..<Int32(fixture.partitions) {
            try fixture.cluster.setPartitionLeader(topic: fixture.topic, partition: partition, brokerID: partition % 3 + 1)
        }
        let producer = try fixture.producer(["debug": "msg,eos"])

        // Warm up (metadata, producer id) so that the faults hit Produce requests.
        _ = try await producer.send(KafkaProducerRecord(topic: fixture.topic, key: "warm-up", value: [1]))

        let injected: [KafkaErrorCode] = [
            .notLeaderForPartition, .requestTimedOut, .notEnoughReplicas, .requestTimedOut,
            .leaderNotAvailable, .notEnoughReplicasAfterAppend, .requestTimedOut,
        ]
        try fixture.cluster.pushRequestErrors(apiKey: .produce, injected)
        try fixture.cluster.setBrokerDown(2)

        let keys = (0..<20).map { "device-\($0)" }
        let reports = DeliveryReports()
        let total = try reports.send(keys, perKey: 15, to: fixture.topic, with: producer) { key, sequence in "\(key)#\(sequence)" }

        // Partitions led by brokers 1 and 3 keep taking records while broker 2 is down.
        try await waitUntil(timeout: .seconds(60), "deliveries while broker 2 is down") {
            reports.successCount > 0
        }
        // Broker 2 leads some partitions, and leadership does not move: their records wait.
        #expect(reports.count < total)
        try fixture.cluster.setBrokerUp(2)
        try fixture.cluster.setBrokerDown(3)
        try fixture.cluster.setBrokerUp(3)

        try await waitUntil(timeout: .seconds(120), "\(total) delivery reports") { reports.count == total }
        try await producer.flush(timeout: .seconds(30))
        await producer.shutdown()
        let failures = reports.failures
        #expect(failures.isEmpty, "\(failures.prefix(3))")

        let records = try await fixture.readBack(total + 1)
        let bodies = records.map(\.value.text).filter { $0.hasPrefix("device-") }
        #expect(bodies.count == total, "no loss, no duplicates")
        #expect(Set(bodies).count == total)
        #expect(try fixture.storedCount() == Int64(total + 1))

        // Every injected error hit a Produce request (librdkafka's `msg` debug log says so).
        let produceErrors = logs.all.filter { $0.metadata["kafka.facility"] == "MSGSET" && $0.message.contains("encountered error") }
        #expect(produceErrors.count >= injected.count)
        let loud = logs.all.filter { $0.level >= .warning }
        #expect(loud.isEmpty, "\(loud.prefix(5).map(\.message))")
    }
}
