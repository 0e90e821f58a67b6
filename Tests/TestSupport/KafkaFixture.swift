import Kafka
import Logging

/// A fresh 3-broker mock cluster with one topic, and helpers to send to and read back from it.
public struct KafkaFixture: Sendable {
    public let cluster: KafkaMockCluster
    public let topic: String
    public let partitions: Int
    public let logger: Logger

    public static func start(topic: String = "device-events", partitions: Int = 6, logger: Logger = TestPostgres.logger) throws -> KafkaFixture {
        let cluster = try KafkaMockCluster(brokers: 3, logger: logger)
        try cluster.createTopic(topic, partitions: partitions, replicationFactor: 3)
        return KafkaFixture(cluster: cluster, topic: topic, partitions: partitions, logger: logger)
    }

    public func producer(_ properties: [String: String] = [:]) throws -> KafkaProducer {
        try KafkaProducer(configuration: KafkaProducerConfiguration(bootstrapServers: cluster.bootstrapServers, properties: properties),
                          logger: logger)
    }

    public var allPartitions: [KafkaTopicPartition] {
        (0..<partitions).map { KafkaTopicPartition(topic: topic, partition: Int32($0)) }
    }

    /// Reads every partition from the beginning until `count` records have arrived.
    public func readBack(_ count: Int, timeout: Duration = .seconds(60)) async throws -> [KafkaConsumerRecord] {
        let consumer = try KafkaConsumer(configuration: KafkaConsumerConfiguration(bootstrapServers: cluster.bootstrapServers),
                                         logger: logger)
        defer { consumer.close() }
        try consumer.assign(allPartitions)
        var records: [KafkaConsumerRecord] = []
        try await waitUntil(timeout: timeout, "\(count) records read back from \(topic) (have \(records.count))") {
            records += try consumer.poll(timeout: .milliseconds(100))
            return records.count >= count
        }
        return records
    }

    /// How many records the brokers hold in the topic (high minus low watermark, summed).
    public func storedCount() throws -> Int64 {
        let consumer = try KafkaConsumer(configuration: KafkaConsumerConfiguration(bootstrapServers: cluster.bootstrapServers),
                                         logger: logger)
        defer { consumer.close() }
        var total: Int64 = 0
        for partition in allPartitions {
            let (low, high) = try consumer.watermarkOffsets(partition, timeout: .seconds(10))
            total += high - low
        }
        return total
    }
}

extension KafkaConsumerRecord {
    /// The record's key as UTF-8 text ("" without a key).
    public var keyText: String { key.map { String(decoding: $0, as: UTF8.self) } ?? "" }
}
