import ArgumentParser
import Engine
import Foundation
import Kafka
import Logging
import NamedThreads
import ServiceLifecycle
import Synchronization

/// The demo's Kafka: librdkafka's mock cluster in this process (3 brokers, the real protocol on
/// loopback), and a consumer that prints every forwarded alert event.
struct KafkaDemo {
    let cluster: KafkaMockCluster
    let tail: KafkaTail

    static func start(topic: String, logger: Logger) throws -> KafkaDemo {
        let cluster = try KafkaMockCluster(brokers: 3, logger: logger)
        try cluster.createTopic(topic, partitions: 6, replicationFactor: 3)
        return KafkaDemo(cluster: cluster, tail: KafkaTail(bootstrapServers: cluster.bootstrapServers, topic: topic, partitions: 6, logger: logger))
    }

    /// The demo nurse's API token, made once and kept in the data folder (a secret: mode 0600).
    static func demoToken(dataDir: String, facility: String) throws -> (file: String, value: String) {
        let file = (dataDir as NSString).appendingPathComponent("api-tokens")
        if let text = try? String(contentsOfFile: file, encoding: .utf8),
           let line = text.split(separator: "\n").first(where: { !$0.hasPrefix("#") }),
           let token = line.split(separator: " ").first, line.split(separator: " ").count >= 3,
           line.split(separator: " ")[2] == facility {
            return (file, String(token))
        }
        var generator = SystemRandomNumberGenerator()
        let token = (0..<24).map { _ in String(format: "%02x", UInt8.random(in: 0...255, using: &generator)) }.joined()
        try FileManager.default.createDirectory(atPath: dataDir, withIntermediateDirectories: true)
        // Created readable by its owner only: written first and restricted after, it would be
        // readable by anyone for a moment.
        try? FileManager.default.removeItem(atPath: file)
        let contents = Data("# token user facility [ward]\n\(token) demo.nurse \(facility)\n".utf8)
        guard FileManager.default.createFile(atPath: file, contents: contents, attributes: [.posixPermissions: 0o600]) else {
            throw ValidationError("cannot write the demo's API token to \(file)")
        }
        return (file, token)
    }
}

/// Prints every record of a topic as it arrives: `kafka tail` and the demo's own output. The
/// consumer's poll blocks, so it runs on a thread of its own, not on the concurrency pool.
struct KafkaTail: Service {
    let bootstrapServers: String
    let topic: String
    let partitions: Int
    let logger: Logger

    func run() async throws {
        let running = Atomic<Bool>(true)
        let finished = DispatchSemaphore(value: 0)
        startThread(named: "nc-kafka-tail") { [logger, bootstrapServers, topic, partitions] in
            defer { finished.signal() }
            let consumer: KafkaConsumer
            do {
                consumer = try KafkaConsumer(configuration: KafkaConsumerConfiguration(bootstrapServers: bootstrapServers), logger: logger)
                try consumer.assign((0..<partitions).map { KafkaTopicPartition(topic: topic, partition: Int32($0)) }, from: .end)
            } catch {
                logger.error("kafka tail: cannot follow the topic", metadata: ["topic": "\(topic)", "error": "\(error)"])
                return
            }
            defer { consumer.close() }
            while running.load(ordering: .relaxed) {
                do {
                    for record in try consumer.poll(timeout: .milliseconds(200)) {
                        let key = record.key.map { String(decoding: $0, as: UTF8.self) } ?? ""
                        say("kafka \(record.topic)[\(record.partition)]@\(record.offset) key=\(key) \(String(decoding: record.value, as: UTF8.self))")
                    }
                } catch {
                    logger.warning("kafka tail: poll failed", metadata: ["error": "\(error)"])
                }
            }
        }
        try? await gracefulShutdown()
        running.store(false, ordering: .relaxed)
        await withCheckedContinuation { continuation in
            DispatchQueue.global().async { finished.wait(); continuation.resume() }
        }
    }
}

/// Prints the nurses' page address once the API listens.
struct NursesPageAnnouncer: Service {
    let host: String
    let engine: VitalsEngine
    /// The demo's own token, nil when the caller gave a tokens file.
    let token: String?
    let tokensFile: String

    func run() async throws {
        while engine.apiPort == nil && !Task.serviceIsStopping {
            try? await Task.sleep(for: .milliseconds(50))
        }
        if let value = engine.apiPort {
            if let token {
                say("  nurses:    http://\(host):\(value)/?access_token=\(token)")
            } else {
                say("  nurses:    http://\(host):\(value)/?access_token=<a token of \(tokensFile)>")
            }
        }
        try? await gracefulShutdown()
    }
}
