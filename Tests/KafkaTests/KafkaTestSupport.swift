import Kafka
import Logging
import Synchronization
import TestSupport

/// A fresh 3-broker mock cluster with one topic, and helpers to send to and read back from it.
struct KafkaFixture {
    let cluster: KafkaMockCluster
    let topic: String
    let partitions: Int
    let logger: Logger

    static func start(topic: String = "device-events", partitions: Int = 6, logger: Logger = TestPostgres.logger) throws -> KafkaFixture {
        let cluster = try KafkaMockCluster(brokers: 3, logger: logger)
        try cluster.createTopic(topic, partitions: partitions, replicationFactor: 3)
        return KafkaFixture(cluster: cluster, topic: topic, partitions: partitions, logger: logger)
    }

    func producer(_ properties: [String: String] = [:]) throws -> KafkaProducer {
        try KafkaProducer(configuration: KafkaProducerConfiguration(bootstrapServers: cluster.bootstrapServers, properties: properties),
                          logger: logger)
    }

    var allPartitions: [KafkaTopicPartition] {
        (0..<partitions).map { KafkaTopicPartition(topic: topic, partition: Int32($0)) }
    }

    /// Reads every partition from the beginning until `count` records have arrived.
    func readBack(_ count: Int, timeout: Duration = .seconds(60)) async throws -> [KafkaConsumerRecord] {
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
    func storedCount() throws -> Int64 {
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

extension Array where Element == UInt8 {
    var text: String { String(decoding: self, as: UTF8.self) }
}

extension KafkaConsumerRecord {
    var keyText: String { key?.text ?? "" }
}

/// Delivery reports of callback sends, as they arrive on the producer's poll thread.
final class DeliveryReports: Sendable {
    private let results = Mutex<[Result<KafkaDelivery, KafkaError>]>([])

    var count: Int { results.withLock { $0.count } }
    var successCount: Int { results.withLock { $0.count { (try? $0.get()) != nil } } }
    var failures: [KafkaError] {
        results.withLock { $0.compactMap { result in
            if case .failure(let error) = result { return error }
            return nil
        } }
    }

    func record(_ result: Result<KafkaDelivery, KafkaError>) { results.withLock { $0.append(result) } }

    /// Sends `perKey` records for each key, interleaved (key 0 #0, key 1 #0, …, key 0 #1, …),
    /// with body `body(key, sequence)`; returns how many were sent.
    func send(_ keys: [String], perKey: Int, to topic: String, with producer: KafkaProducer,
              body: (String, Int) -> String) throws -> Int {
        for sequence in 0..<perKey {
            for key in keys {
                let record = KafkaProducerRecord(topic: topic, key: key, value: Array(body(key, sequence).utf8))
                try producer.send(record) { self.record($0) }
            }
        }
        return keys.count * perKey
    }
}
