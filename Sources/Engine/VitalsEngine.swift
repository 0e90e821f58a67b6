import Alerts
import ClinicalAPI
import Decoders
import Foundation
import HL7v2
import Hummingbird
import Ingest
import Kafka
import Logging
import ServiceLifecycle
import Storage
import Synchronization
import VitalSigns

/// Everything the engine runs, wired once for the daemon, the demo, the end-to-end tests and the
/// benchmarks: the MLLP listener in front of the pipeline (flagger, then the writer and the alert
/// stage), the alert hub, the nurses' API, and the Kafka outbox.
///
/// Start order: writer, hub, pipeline, Kafka forwarder, MLLP listener; the API is a `Service`
/// for the caller's group. Stop order is the reverse of the data's path, so every accepted
/// message is committed and every decided alert stored before the process ends.
public final class VitalsEngine: Sendable {
    public struct Configuration: Sendable {
        public var databaseURL: String
        public var profiles: DeviceProfileCatalog
        public var facility: String
        /// The zone of HL7 timestamps without an offset.
        public var facilityZone: TimeZone
        /// MSH-11 processing ids whose messages are stored (`PCD01Decoder.acceptedProcessingIDs`).
        public var acceptedProcessingIDs: Set<String> = ["P"]
        /// The charset of HL7 messages whose MSH-18 is empty.
        public var hl7DefaultCharset: HL7Charset = .utf8
        public var writer = ObservationWriter.Configuration()
        public var pipeline = IngestPipeline.Configuration()
        public var mllp = MLLPServer.Configuration()
        public var api = ClinicalAPIServer.Configuration()
        public var tokens = APITokens([:])
        public var escalationCheckInterval: Duration = .seconds(1)
        /// nil: alert events wait in the outbox.
        public var kafka: KafkaSettings?

        public init(databaseURL: String, profiles: DeviceProfileCatalog, facility: String, facilityZone: TimeZone) {
            self.databaseURL = databaseURL
            self.profiles = profiles
            self.facility = facility
            self.facilityZone = facilityZone
        }
    }

    public struct KafkaSettings: Sendable {
        public var bootstrapServers: String
        public var topic: String
        /// Passed through to librdkafka (security.protocol, sasl.*, ssl.*).
        public var properties: [String: String]

        public init(bootstrapServers: String, topic: String = "vitals.critical", properties: [String: String] = [:]) {
            self.bootstrapServers = bootstrapServers
            self.topic = topic
            self.properties = properties
        }
    }

    public let writer: ObservationWriter
    public let pipeline: IngestPipeline
    public let hub: AlertHub
    public let server: MLLPServer
    public let forwarder: KafkaForwarder?
    /// The HTTP API, to run in the caller's service group.
    public let api: any Service
    public let mllpPort: Int
    private let monitor: AlertMonitor
    private let boundAPIPort = BoundPort()

    /// Where sources hand their observations.
    public var sink: any ObservationSink { pipeline }

    /// The API's port once it listens (nil before).
    public var apiPort: Int? { boundAPIPort.value }

    /// Starts everything but the API; the database must be migrated. When a step fails (the
    /// MLLP port taken, a bad Kafka setting), what had started is stopped before the error is
    /// thrown: no thread goes on writing to the database behind the caller's back.
    public init(configuration: Configuration, logger: Logger) async throws {
        let url = configuration.databaseURL
        let writer = try ObservationWriter(url: url, configuration: configuration.writer, logger: logger)
        let hub: AlertHub
        do {
            var hubConfiguration = AlertHub.Configuration(facility: configuration.facility)
            hubConfiguration.escalationCheckInterval = configuration.escalationCheckInterval
            hub = try AlertHub(url: url, configuration: hubConfiguration, logger: logger)
        } catch {
            writer.shutdown()
            throw error
        }
        let monitor = AlertMonitor(hub: hub, profiles: configuration.profiles, settingsURL: url, logger: logger)
        let pipeline = IngestPipeline(configuration: configuration.pipeline, profiles: configuration.profiles, writer: writer) { entry, alertsStored in
            monitor.consume(observations: entry.batch.observations, profileID: entry.profileID, conditions: entry.conditions, tick: entry.tick,
                            whenStored: alertsStored)
        }
        var forwarder: KafkaForwarder?
        var server: MLLPServer?
        do {
            forwarder = try Self.forwarder(configuration.kafka, hub: hub, url: url, logger: logger)
            let bound = boundAPIPort
            api = try ClinicalAPIServer.application(hub: hub, tokens: configuration.tokens, configuration: configuration.api, logger: logger) { port in
                bound.set(port)
            }
            var decoder = PCD01Decoder(profiles: configuration.profiles, facilityZone: configuration.facilityZone)
            decoder.acceptedProcessingIDs = configuration.acceptedProcessingIDs
            let ingestor = MessageIngestor(decoder: decoder, sink: pipeline, defaultCharset: configuration.hl7DefaultCharset, logger: logger)
            let listener = MLLPServer(configuration: configuration.mllp, ingestor: ingestor, logger: logger)
            server = listener
            mllpPort = try await listener.start()
            self.server = listener
        } catch {
            await Self.stop(server: server, pipeline: pipeline, monitor: monitor, writer: writer, hub: hub, forwarder: forwarder)
            throw error
        }
        self.writer = writer
        self.hub = hub
        self.monitor = monitor
        self.pipeline = pipeline
        self.forwarder = forwarder
    }

    /// The alert events' forwarder to Kafka, when one is configured.
    private static func forwarder(_ kafka: KafkaSettings?, hub: AlertHub, url: String, logger: Logger) throws -> KafkaForwarder? {
        guard let kafka else {
            logger.warning("no Kafka configured: alert events wait in the outbox (alert_events) until it is")
            return nil
        }
        let properties = KafkaForwarder.latencyProducerDefaults
            .merging(kafka.properties) { _, chosen in chosen }
            .merging(KafkaForwarder.requiredProducerProperties) { _, required in required }
        let producerConfiguration = KafkaProducerConfiguration(bootstrapServers: kafka.bootstrapServers, properties: properties)
        var forwarding = KafkaForwarder.Configuration()
        forwarding.topic = kafka.topic
        let forwarder = try KafkaForwarder(
            makeProducer: { () throws(KafkaError) in try KafkaProducer(configuration: producerConfiguration, logger: logger) },
            hub: hub, url: url, configuration: forwarding, logger: logger
        )
        logger.info("forwarding alert events to Kafka", metadata: ["topic": "\(kafka.topic)"])
        return forwarder
    }

    /// Stops listening, drains the pipeline into the writer and the hub, lets each finish what
    /// it was given; undelivered alert events stay in the outbox for the next start.
    public func stop() async {
        await Self.stop(server: server, pipeline: pipeline, monitor: monitor, writer: writer, hub: hub, forwarder: forwarder)
    }

    private static func stop(
        server: MLLPServer?, pipeline: IngestPipeline, monitor: AlertMonitor, writer: ObservationWriter, hub: AlertHub, forwarder: KafkaForwarder?
    ) async {
        server?.stop()
        pipeline.shutdown()
        monitor.stop()
        writer.shutdown()
        hub.shutdown()
        await forwarder?.shutdown()
    }
}

/// A port known once a listener is up.
final class BoundPort: Sendable {
    private let port = Mutex<Int?>(nil)

    func set(_ value: Int) { port.withLock { $0 = value } }
    var value: Int? { port.withLock { $0 } }
}
