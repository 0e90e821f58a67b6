import Alerts
import ClinicalAPI
import Decoders
import DeviceProfiles
import DeviceSimulator
import Foundation
import Ingest
import Kafka
import Logging
import Storage
import Synchronization
import TestSupport
import VitalSigns

/// The daemon's whole alert path as `serve` wires it: MLLP listener → pipeline (flagger, writer,
/// alert stage with the rules) → alert hub → nurses' API and Kafka outbox on a 3-broker mock
/// cluster, over a fresh database.
final class AlertingEngine: Sendable {
    static let facility = "KTH"
    static let nurseToken = "icu-nurse-token-0123456789abcdef"

    let databaseURL: String
    let mllpPort: Int
    let apiPort: Int
    let hub: AlertHub
    let kafka: KafkaFixture
    private let parts: Parts

    private struct Parts: Sendable {
        let writer: ObservationWriter
        let pipeline: IngestPipeline
        let server: MLLPServer
        let producer: KafkaProducer
        let forwarder: KafkaForwarder
        let api: Task<Void, any Error>
    }

    static func start() async throws -> AlertingEngine {
        let logger = TestPostgres.logger
        let url = try TestPostgres.migratedDatabase()
        let profiles = DeviceProfileCatalog(profiles: try DeviceProfileLoader.loadDirectory(RepositoryPaths.root + "/device-profiles"))
        let writer = try ObservationWriter(url: url, logger: logger)
        var hubConfiguration = AlertHub.Configuration(facility: facility)
        hubConfiguration.escalationCheckInterval = .milliseconds(200)
        let hub = try AlertHub(url: url, configuration: hubConfiguration, logger: logger)
        let monitor = AlertMonitor(hub: hub, profiles: profiles, settingsURL: url, logger: logger)
        let pipeline = IngestPipeline(profiles: profiles, writer: writer) { entry in
            monitor.consume(observations: entry.batch.observations, profileID: entry.profileID, conditions: entry.conditions, tick: entry.tick)
        }
        let kafka = try KafkaFixture.start(topic: "vitals.critical")
        let producer = try kafka.producer(KafkaForwarder.requiredProducerProperties)
        let forwarder = try KafkaForwarder(producer: producer, hub: hub, url: url, logger: logger)

        let decoder = PCD01Decoder(profiles: profiles, facilityZone: TimeZone(identifier: "Africa/Khartoum") ?? .gmt)
        var serverConfiguration = MLLPServer.Configuration()
        serverConfiguration.port = 0
        let server = MLLPServer(configuration: serverConfiguration, ingestor: MessageIngestor(decoder: decoder, sink: pipeline, logger: logger), logger: logger)
        let mllpPort = try await server.start()

        var apiConfiguration = ClinicalAPIServer.Configuration()
        apiConfiguration.port = 0
        let bound = Mutex<Int?>(nil)
        let tokens = try APITokens(parsing: "\(nurseToken) nurse.amina \(facility) ICU1")
        let application = try ClinicalAPIServer.application(hub: hub, tokens: tokens, configuration: apiConfiguration, logger: logger) { port in
            bound.withLock { $0 = port }
        }
        let api = Task { try await application.runService(gracefulShutdownSignals: []) }
        try await waitUntil(timeout: .seconds(30), "API listening") { bound.withLock { $0 } != nil }
        return AlertingEngine(
            databaseURL: url, mllpPort: mllpPort, apiPort: bound.withLock { $0 } ?? 0, hub: hub, kafka: kafka,
            parts: Parts(writer: writer, pipeline: pipeline, server: server, producer: producer, forwarder: forwarder, api: api)
        )
    }

    private init(databaseURL: String, mllpPort: Int, apiPort: Int, hub: AlertHub, kafka: KafkaFixture, parts: Parts) {
        self.databaseURL = databaseURL
        self.mllpPort = mllpPort
        self.apiPort = apiPort
        self.hub = hub
        self.kafka = kafka
        self.parts = parts
    }

    func stop() async {
        parts.server.stop()
        parts.pipeline.shutdown()
        parts.writer.shutdown()
        parts.api.cancel()
        hub.shutdown()
        parts.forwarder.shutdown()
        await parts.producer.shutdown()
    }

    /// Sends `reports` ORU^R01 messages of simulated monitor `index` (bed `ICU^<room>^<bed>`), the
    /// `critical` vital out of range in each, one second apart in observation time; returns the
    /// monitor. Every message must be acknowledged with AA.
    @discardableResult
    func sendReports(monitor index: Int, critical: VitalKind?, reports: Int, startingAt start: Timestamp) async throws -> SimulatedMonitor {
        var monitor = SimulatedMonitor(index: index)
        let client = try await MLLPClient.connect(host: "127.0.0.1", port: mllpPort)
        for offset in 0..<reports {
            let time = Timestamp(microsecondsSinceEpoch: start.microsecondsSinceEpoch + Int64(offset) * 1_000_000)
            let report = monitor.nextReport(at: time, criticalKind: critical)
            let ack = String(decoding: try await client.send(report.bytes), as: UTF8.self)
            guard ack.contains("MSA|AA|") else { throw TestSupportError("message not accepted: \(ack)") }
        }
        await client.close()
        return monitor
    }

    func query(_ sql: String) throws -> [[String?]] {
        let connection = try PostgresConnection(url: databaseURL)
        defer { connection.close() }
        return try connection.execute(sql).rows
    }

    static func now() -> Timestamp {
        Timestamp(microsecondsSinceEpoch: Int64((Date().timeIntervalSince1970 * 1_000_000).rounded()))
    }
}
