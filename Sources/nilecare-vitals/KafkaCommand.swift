import ArgumentParser
import Logging
import ServiceLifecycle

struct KafkaCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "kafka", abstract: "Look at the Kafka side of alerting.", subcommands: [Tail.self]
    )

    struct Tail: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Print alert events as they arrive on the topic (Ctrl-C stops).")

        @Option(help: "Kafka bootstrap servers.")
        var bootstrapServers: String

        @Option(help: "Topic to follow.")
        var topic: String = "vitals.critical"

        @Option(help: "Partitions of the topic.")
        var partitions: Int = 6

        @OptionGroup var logging: LoggingOptions

        func run() async throws {
            let logger = logging.bootstrap()
            let tail = KafkaTail(bootstrapServers: bootstrapServers, topic: topic, partitions: partitions, logger: logger)
            try await ServiceGroup(services: [tail], gracefulShutdownSignals: [.sigint, .sigterm], logger: logger).run()
        }
    }
}
