import Kafka
import TestSupport
import Testing

@Suite(.timeLimit(.minutes(3))) struct KafkaProducerDeliveryTests {
    static func headers(_ key: String) -> [KafkaHeader] {
        [KafkaHeader(key: "device-id", value: key), KafkaHeader(key: "schema", value: "vitals.critical.v1"),
         KafkaHeader(key: "trace", value: nil), KafkaHeader(key: "empty", value: [])]
    }

    @Test func recordsArriveWithTheirKeyPartitionBodyAndHeaders() async throws {
        let fixture = try KafkaFixture.start()
        defer { fixture.cluster.shutdown() }
        let producer = try fixture.producer()
        let keys = (1...12).map { "monitor-\($0 * 7919)" }
        let expectedPartitions = keys.map { KafkaPartitioner.partition(forKey: $0, partitionCount: fixture.partitions) }
        #expect(Set(expectedPartitions).count >= 3, "the keys should spread over several partitions")

        var deliveries: [String: KafkaDelivery] = [:]
        for key in keys {
            let record = KafkaProducerRecord(topic: fixture.topic, key: key, value: Array("body of \(key)".utf8),
                                             headers: Self.headers(key))
            deliveries[key] = try await producer.send(record)
        }
        await producer.shutdown()

        for (key, partition) in zip(keys, expectedPartitions) {
            #expect(deliveries[key]?.partition == partition, "delivery of \(key)")
            #expect(deliveries[key]?.topic == fixture.topic)
        }
        let records = try await fixture.readBack(keys.count)
        #expect(records.count == keys.count)
        #expect(Set(records.map(\.keyText)) == Set(keys))
        for record in records {
            let key = record.keyText
            #expect(record.partition == KafkaPartitioner.partition(forKey: key, partitionCount: fixture.partitions), "record \(key)")
            #expect(record.offset == deliveries[key]?.offset)
            #expect(record.value.text == "body of \(key)")
            #expect(record.headers == Self.headers(key))
        }
    }

    @Test func eachKeysRecordsStayInOrderWithCallbackSends() async throws {
        let fixture = try KafkaFixture.start(partitions: 4)
        defer { fixture.cluster.shutdown() }
        let producer = try fixture.producer()
        let keys = (0..<5).map { "bed-\($0)" }
        let perKey = 40
        let reports = DeliveryReports()
        let total = try reports.send(keys, perKey: perKey, to: fixture.topic, with: producer) { _, sequence in "\(sequence)" }
        try await waitUntil(timeout: .seconds(60), "\(total) delivery reports") { reports.count == total }
        await producer.shutdown()
        #expect(reports.failures.isEmpty)

        let records = try await fixture.readBack(total)
        #expect(records.count == total)
        for key in keys {
            let ofKey = records.filter { $0.keyText == key }
            #expect(ofKey.map(\.value.text) == (0..<perKey).map { "\($0)" }, "order of \(key)")
            #expect(ofKey.map(\.offset) == ofKey.map(\.offset).sorted())
            #expect(Set(ofKey.map(\.partition)) == [KafkaPartitioner.partition(forKey: key, partitionCount: fixture.partitions)])
        }
    }

    @Test func aGroupConsumerReadsWhatWasSent() async throws {
        let fixture = try KafkaFixture.start(partitions: 3)
        defer { fixture.cluster.shutdown() }
        let producer = try fixture.producer()
        for index in 0..<10 {
            _ = try await producer.send(KafkaProducerRecord(topic: fixture.topic, key: "k\(index)", value: Array("v\(index)".utf8)))
        }
        await producer.shutdown()

        let consumer = try KafkaConsumer(
            configuration: KafkaConsumerConfiguration(bootstrapServers: fixture.cluster.bootstrapServers, groupID: "kafka-tail-test"),
            logger: fixture.logger)
        defer { consumer.close() }
        try consumer.subscribe(topics: [fixture.topic])
        var records: [KafkaConsumerRecord] = []
        try await waitUntil(timeout: .seconds(60), "10 records through the consumer group") {
            records += try consumer.poll(timeout: .milliseconds(100))
            return records.count >= 10
        }
        #expect(Set(records.map(\.value.text)) == Set((0..<10).map { "v\($0)" }))
    }
}
