import Kafka
import Logging
import Synchronization
import TestSupport

extension Array where Element == UInt8 {
    var text: String { String(decoding: self, as: UTF8.self) }
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
