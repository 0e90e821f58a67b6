import Alerts
import ClinicalAPI
import Engine
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
    /// May only view: a corridor display.
    static let corridorToken = "icu-corridor-token-0123456789abcdef"

    let databaseURL: String
    let engine: VitalsEngine
    let apiPort: Int
    let kafka: KafkaFixture
    private let api: Task<Void, any Error>

    var hub: AlertHub { engine.hub }
    var mllpPort: Int { engine.mllpPort }

    static func start() async throws -> AlertingEngine {
        let url = try TestPostgres.migratedDatabase()
        let kafka = try KafkaFixture.start(topic: "vitals.critical")
        var configuration = VitalsEngine.Configuration(
            databaseURL: url,
            profiles: DeviceProfileCatalog(profiles: try DeviceProfileLoader.loadDirectory(RepositoryPaths.root + "/device-profiles")),
            facility: facility, facilityZone: TimeZone(identifier: "Africa/Khartoum") ?? .gmt
        )
        configuration.mllp.port = 0
        configuration.api.port = 0
        configuration.tokens = try APITokens(parsing: """
            \(nurseToken) nurse.amina \(facility) ICU1
            \(corridorToken) icu.corridor \(facility) ICU1 can=view
            """)
        configuration.escalationCheckInterval = .milliseconds(200)
        configuration.kafka = VitalsEngine.KafkaSettings(bootstrapServers: kafka.cluster.bootstrapServers, topic: kafka.topic)
        let engine = try await VitalsEngine(configuration: configuration, logger: TestPostgres.logger)
        let service = engine.api
        let api = Task { try await service.run() }
        try await waitUntil(timeout: .seconds(30), "API listening") { engine.apiPort != nil }
        return AlertingEngine(databaseURL: url, engine: engine, apiPort: engine.apiPort ?? 0, kafka: kafka, api: api)
    }

    private init(databaseURL: String, engine: VitalsEngine, apiPort: Int, kafka: KafkaFixture, api: Task<Void, any Error>) {
        self.databaseURL = databaseURL
        self.engine = engine
        self.apiPort = apiPort
        self.kafka = kafka
        self.api = api
    }

    func stop() async {
        api.cancel()
        await engine.stop()
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
        Timestamp(secondsSinceEpoch: Date().timeIntervalSince1970)
    }
}
