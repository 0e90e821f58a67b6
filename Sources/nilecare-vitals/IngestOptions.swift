import Alerts
import ArgumentParser
import ClinicalAPI
import Decoders
import DeviceProfiles
import Foundation
import Ingest
import Kafka
import ServiceLifecycle
import Synchronization
import Logging
import NIOCore
import Storage
import VitalSigns

/// How the daemon ingests: where it listens, how it decodes, how it batches.
struct IngestOptions: ParsableArguments {
    @Option(help: "Address the MLLP listener binds to.")
    var mllpHost: String = "127.0.0.1"

    @Option(help: "MLLP port (2575 is HL7's registered port; 0 picks a free one).")
    var mllpPort: Int = 2575

    @Option(help: "Largest accepted MLLP frame, in bytes.")
    var maxFrameBytes: Int = 1 << 20

    @Option(help: "Close an MLLP connection silent for this many seconds.")
    var idleTimeoutSeconds: Int = 300

    @Option(help: "Folder of device profiles (*.yaml).")
    var profiles: String = RepositoryPaths.locate("device-profiles")

    @Option(help: "Time zone of HL7 timestamps that carry no offset (IANA name).")
    var facilityTimeZone: String = "Africa/Khartoum"

    @Option(help: "Most observation rows in one database commit.")
    var maxBatchRows: Int = 20_000

    func validate() throws {
        guard TimeZone(identifier: facilityTimeZone) != nil else {
            throw ValidationError("unknown time zone '\(facilityTimeZone)' (use an IANA name such as Africa/Khartoum)")
        }
        guard maxFrameBytes >= 1024 else { throw ValidationError("--max-frame-bytes must be at least 1024") }
        guard idleTimeoutSeconds > 0 else { throw ValidationError("--idle-timeout-seconds must be positive") }
        guard maxBatchRows > 0 else { throw ValidationError("--max-batch-rows must be positive") }
    }
}

/// The running engine: the writer behind the pipeline, the alert hub with its rules, Kafka
/// forwarder and HTTP API, and the MLLP listener in front.
struct IngestEngine {
    let writer: ObservationWriter
    let pipeline: IngestPipeline
    let hub: AlertHub
    let forwarder: KafkaForwarder?
    let producer: KafkaProducer?
    let server: MLLPServer
    let api: any Service
    let apiPort: APIPort
    let storageMode: StorageMode
    let profiles: [DeviceProfile]

    /// Where sources hand their observations.
    var sink: any ObservationSink { pipeline }

    /// Migrates, loads and validates the device profiles, then starts everything but the API
    /// (a service for the caller's group).
    static func start(databaseURL: String, migrations: String, options: IngestOptions, alerts: AlertOptions, logger: Logger) async throws -> IngestEngine {
        let connection = try PostgresConnection(url: databaseURL)
        let report = try Migrator(directory: migrations, logger: logger).migrate(connection)
        connection.close()
        logger.info("storage ready", metadata: [
            "mode": "\(report.mode.rawValue)",
            "migrations_applied": "\(report.applied.count)",
        ])

        let profiles: [DeviceProfile]
        do {
            profiles = try DeviceProfileLoader.loadDirectory(options.profiles)
        } catch {
            throw ValidationError("invalid device profiles, not starting:\n\(error)")
        }
        logger.info("device profiles loaded", metadata: ["profiles": "\(profiles.map(\.id).joined(separator: ","))"])
        let catalog = DeviceProfileCatalog(profiles: profiles)
        let tokens = try alerts.tokens(logger: logger)
        let decoder = PCD01Decoder(profiles: catalog, facilityZone: TimeZone(identifier: options.facilityTimeZone) ?? .gmt)

        var writerConfiguration = ObservationWriter.Configuration()
        writerConfiguration.maxBatchRows = options.maxBatchRows
        let writer = try ObservationWriter(url: databaseURL, configuration: writerConfiguration, logger: logger)
        let hub = try AlertHub(url: databaseURL, configuration: .init(facility: alerts.facility), logger: logger)
        let monitor = AlertMonitor(hub: hub, profiles: catalog, settingsURL: databaseURL, logger: logger)
        let pipeline = IngestPipeline(profiles: catalog, writer: writer) { entry in
            monitor.consume(observations: entry.batch.observations, profileID: entry.profileID, conditions: entry.conditions, tick: entry.tick)
        }

        var producer: KafkaProducer?
        var forwarder: KafkaForwarder?
        if let servers = alerts.kafkaBootstrapServers {
            let properties = try alerts.kafkaProperties().merging(KafkaForwarder.requiredProducerProperties) { _, required in required }
            let started = try KafkaProducer(configuration: KafkaProducerConfiguration(bootstrapServers: servers, properties: properties), logger: logger)
            var configuration = KafkaForwarder.Configuration()
            configuration.topic = alerts.kafkaTopic
            producer = started
            forwarder = try KafkaForwarder(producer: started, hub: hub, url: databaseURL, configuration: configuration, logger: logger)
            logger.info("forwarding alert events to Kafka", metadata: ["topic": "\(alerts.kafkaTopic)"])
        } else {
            logger.warning("no --kafka-bootstrap-servers: alert events wait in the outbox (alert_events) until Kafka is configured")
        }

        var apiConfiguration = ClinicalAPIServer.Configuration()
        apiConfiguration.host = alerts.apiHost
        apiConfiguration.port = alerts.apiPort
        let apiPort = APIPort()
        let api = try ClinicalAPIServer.application(hub: hub, tokens: tokens, configuration: apiConfiguration, logger: logger) { port in
            apiPort.set(port)
        }

        var serverConfiguration = MLLPServer.Configuration()
        serverConfiguration.host = options.mllpHost
        serverConfiguration.port = options.mllpPort
        serverConfiguration.maximumFrameBytes = options.maxFrameBytes
        serverConfiguration.idleTimeout = .seconds(Int64(options.idleTimeoutSeconds))
        let ingestor = MessageIngestor(decoder: decoder, sink: pipeline, logger: logger)
        let server = MLLPServer(configuration: serverConfiguration, ingestor: ingestor, logger: logger)
        try await server.start()
        return IngestEngine(
            writer: writer, pipeline: pipeline, hub: hub, forwarder: forwarder, producer: producer, server: server,
            api: api, apiPort: apiPort, storageMode: report.mode, profiles: profiles
        )
    }

    /// Stops listening first, drains the pipeline into the writer and the hub, then lets each
    /// finish what it was given; undelivered alert events stay in the outbox.
    func stop() async {
        server.stop()
        pipeline.shutdown()
        writer.shutdown()
        hub.shutdown()
        forwarder?.shutdown()
        await producer?.shutdown()
    }
}

/// The API's bound port, known once it listens.
final class APIPort: Sendable {
    private let port = Mutex<Int?>(nil)

    func set(_ value: Int) { port.withLock { $0 = value } }
    var value: Int? { port.withLock { $0 } }
}
