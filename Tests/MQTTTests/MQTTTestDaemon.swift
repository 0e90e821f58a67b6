import DeviceProfiles
import DeviceSimulator
import Foundation
import Testing
import Ingest
import Logging
import MQTT
import Storage
import TestSupport
import VitalSigns

let repositoryRoot = URL(fileURLWithPath: #filePath)
    .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

let gatewayProfile = repositoryProfile("generic-mqtt-gateway", else: .gatewayJSON)
let fhirProfile = repositoryProfile("fhir-observation", else: .fhirR4)

/// A repository profile; a test that uses it fails, naming the problem, if it does not load.
func repositoryProfile(_ id: String, else family: ProtocolFamily) -> DeviceProfile {
    do {
        let profiles = try DeviceProfileLoader.loadDirectory(repositoryRoot.appendingPathComponent("device-profiles").path)
        if let profile = profiles.first(where: { $0.id == id }) { return profile }
        Issue.record("device-profiles/ has no profile '\(id)'")
    } catch {
        Issue.record("the repository's device profiles do not load: \(error)")
    }
    return DeviceProfile(id: "missing", protocolFamily: family)
}

/// The MQTT ingest path as the daemon wires it: writer, rejection and presence recorders and the
/// MQTT source, over a database of the test PostgreSQL and a broker of the test's own.
final class MQTTTestDaemon: Sendable {
    let databaseURL: String
    let writer: ObservationWriter
    /// The pipeline in front of the writer, when the daemon has an alert stage.
    let pipeline: IngestPipeline?
    let recorder: RejectedFrameRecorder
    let presence: DevicePresenceRecorder
    let associations: PatientAssociationCache
    let source: MQTTSource

    init(broker: TestMosquitto, databaseURL: String, clientID: String = "nilecare-test",
         filter: String = "devices/+/vitals", profile: DeviceProfile = gatewayProfile,
         protocolVersion: MQTTConnectionOptions.ProtocolVersion = .v311,
         configure: (inout MQTTConnectionOptions) throws -> Void = { _ in },
         alertStage: IngestPipeline.AlertStage? = nil, logger: Logger = TestPostgres.logger) throws {
        self.databaseURL = databaseURL
        let writer = try ObservationWriter(url: databaseURL, logger: logger)
        self.writer = writer
        pipeline = alertStage.map { IngestPipeline(profiles: DeviceProfileCatalog(profiles: [profile]), writer: writer, alertStage: $0) }
        recorder = RejectedFrameRecorder(url: databaseURL, logger: logger)
        presence = DevicePresenceRecorder(url: databaseURL, logger: logger)
        associations = PatientAssociationCache(url: databaseURL, refreshInterval: .milliseconds(200), logger: logger)
        var options = MQTTConnectionOptions(broker: try MQTTBrokerURL(parsing: broker.url), clientID: clientID)
        options.protocolVersion = protocolVersion
        try configure(&options)
        var configuration = MQTTSource.Configuration(
            connection: options,
            subscriptions: [try MQTTSubscription(filter: MQTTTopicFilter(filter), profile: profile)]
        )
        configuration.reconnectDelay = .milliseconds(50)
        configuration.maxReconnectDelay = .milliseconds(500)
        configuration.resubscribeInterval = .milliseconds(200)
        configuration.subscriptionRecordWait = .milliseconds(200)
        source = MQTTSource(
            configuration: configuration, sink: pipeline ?? writer,
            rejections: RejectionReporter(recorder: recorder, logger: logger), presence: presence, associations: associations, logger: logger
        )
        try source.start()
    }

    func stop() {
        source.stop()
        associations.stop()
        pipeline?.shutdown()
        writer.shutdown()
        recorder.shutdown()
        presence.shutdown()
    }
}

/// A gateway simulator publishing to `broker` as fast as it acknowledges.
func gateways(_ broker: TestMosquitto, devices: Int, messagesPerDevice: Int, firstDevice: Int = 0) throws -> MQTTGatewaySimulator {
    var configuration = MQTTGatewaySimulator.Configuration()
    configuration.devices = devices
    configuration.firstDeviceIndex = firstDevice
    configuration.messagesPerDevice = messagesPerDevice
    configuration.rate = nil
    return try MQTTGatewaySimulator(
        configuration: configuration,
        options: MQTTConnectionOptions(broker: MQTTBrokerURL(parsing: broker.url), clientID: "sim-\(UUID().uuidString.prefix(8))")
    )
}

/// What the database holds: counted on a connection of its own.
func count(_ databaseURL: String, _ sql: String) throws -> Int {
    let connection = try PostgresConnection(url: databaseURL)
    defer { connection.close() }
    return Int(try connection.query(sql, []).rows.first?.first.flatMap { $0 } ?? "") ?? -1
}

func rows(_ databaseURL: String, _ sql: String) throws -> [[String?]] {
    let connection = try PostgresConnection(url: databaseURL)
    defer { connection.close() }
    return try connection.query(sql, []).rows
}

/// Messages stored more than once (must be 0): by message key and by device, time and vital.
func duplicates(_ databaseURL: String) throws -> Int {
    try count(databaseURL, """
        SELECT count(*) FROM (
            SELECT device_id, observation_time, vital_kind FROM vital_signs GROUP BY 1, 2, 3 HAVING count(*) > 1
        ) duplicates
        """)
}

/// A broker, a fresh database and a daemon connected to both: the start of most MQTT tests.
struct MQTTTestSetup {
    let broker: TestMosquitto
    let database: String
    let daemon: MQTTTestDaemon

    static func start(filter: String = "devices/+/vitals", profile: DeviceProfile = gatewayProfile) async throws -> MQTTTestSetup {
        let broker = try TestMosquitto()
        try await broker.start()
        let database = try TestPostgres.migratedDatabase()
        let daemon = try MQTTTestDaemon(broker: broker, databaseURL: database, filter: filter, profile: profile)
        try await waitUntil(timeout: .seconds(30), "source connected") { daemon.source.health.state == .connected }
        return MQTTTestSetup(broker: broker, database: database, daemon: daemon)
    }

    func stop() {
        daemon.stop()
        broker.stop()
    }

    /// Waits until the source has stored, or recognised as a duplicate, `count` messages.
    func waitUntilHandled(_ count: Int, pollEvery interval: Duration = .milliseconds(100)) async throws {
        try await waitUntil(timeout: .seconds(30), pollEvery: interval, "\(count) messages handled") {
            let statistics = daemon.source.statistics.current
            return statistics.stored + statistics.duplicates == count
        }
    }
}
