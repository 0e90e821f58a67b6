import Kafka
import Logging
import TestSupport
import Testing

@Suite(.timeLimit(.minutes(2))) struct KafkaLoggingTests {
    /// librdkafka retries an unreachable broker every few hundred milliseconds and logs the
    /// failures (as a log line and an error event): both go to swift-log at debug level.
    /// Losing every broker is worth a warning.
    @Test func reconnectAttemptsAreLoggedAtDebugLevel() async throws {
        let logs = LogRecorder()
        var logger = Logger(label: "kafka.logging-test") { _ in logs.handler() }
        logger.logLevel = .debug
        let producer = try KafkaProducer(
            configuration: KafkaProducerConfiguration(bootstrapServers: "127.0.0.1:\(freeTCPPort())",
                                                      properties: [:]),
            logger: logger)
        try producer.send(KafkaProducerRecord(topic: "device-events", key: "bed-1", value: [1])) { _ in }

        try await waitUntil(timeout: .seconds(30), "a failed connection attempt logged and reported") {
            logs.all.contains { $0.metadata["kafka.facility"] == "FAIL" }
                && logs.all.contains { $0.metadata["kafka.error"] == "_TRANSPORT" }
                && logs.all.contains { $0.metadata["kafka.error"] == "_ALL_BROKERS_DOWN" }
        }
        await producer.shutdown(timeout: .milliseconds(100))

        let churn = logs.all.filter { ["FAIL", "BROKERFAIL", "CONNECT"].contains($0.metadata["kafka.facility"]) }
        #expect(churn.allSatisfy { $0.level == .debug })
        #expect(churn.first?.message.contains("Connection refused") == true)
        let transportErrors = logs.all.filter { $0.metadata["kafka.error"] == "_TRANSPORT" }
        #expect(transportErrors.allSatisfy { $0.level == .debug })
        let allDown = logs.all.filter { $0.metadata["kafka.error"] == "_ALL_BROKERS_DOWN" }
        #expect(!allDown.isEmpty && allDown.allSatisfy { $0.level == .warning })
    }
}
