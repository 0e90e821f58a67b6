import Decoders
import DeviceSimulator
import DeviceProfiles
import Foundation
import HL7v2
import Ingest
import Logging
import NIOCore
import Storage
import Synchronization
import TestSupport
import VitalSigns

let repositoryRoot = URL(fileURLWithPath: #filePath)
    .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

/// The ingest path as the daemon wires it, over a fresh database of the test PostgreSQL:
/// migrations, the group-commit writer behind the pipeline, and the MLLP listener on a real TCP
/// port. (The alert stage is EngineTests' business.)
final class TestEngine: QueriesDatabase, Sendable {
    let databaseURL: String
    let writer: ObservationWriter
    let pipeline: IngestPipeline
    let server: MLLPServer
    let port: Int
    let logs: LogRecorder

    /// `port` 0 picks a free one; pass an earlier engine's port to restart "the same daemon".
    static func start(
        databaseURL: String? = nil, port: Int = 0, defaultCharset: HL7Charset = .utf8, configure: (inout MLLPServer.Configuration) -> Void = { _ in }
    ) async throws -> TestEngine {
        let url = try databaseURL ?? TestPostgres.database()
        let logs = LogRecorder()
        let logger = Logger(label: "test.ingest") { _ in logs.handler() }
        let connection = try PostgresConnection(url: url)
        _ = try Migrator(directory: repositoryRoot.appendingPathComponent("timescale").path, logger: logger).migrate(connection)
        connection.close()
        let profiles = try DeviceProfileLoader.loadDirectory(repositoryRoot.appendingPathComponent("device-profiles").path)
        let catalog = DeviceProfileCatalog(profiles: profiles)
        let decoder = PCD01Decoder(profiles: catalog, facilityZone: TimeZone(identifier: "Africa/Khartoum")!)
        let writer = try ObservationWriter(url: url, logger: logger)
        let pipeline = IngestPipeline(profiles: catalog, writer: writer)
        var configuration = MLLPServer.Configuration()
        configuration.port = port
        configure(&configuration)
        let server = MLLPServer(configuration: configuration, ingestor: MessageIngestor(decoder: decoder, sink: pipeline, defaultCharset: defaultCharset, logger: logger), logger: logger)
        let bound: Int
        do {
            bound = try await server.start()
        } catch {
            pipeline.shutdown()
            writer.shutdown()
            throw error
        }
        return TestEngine(databaseURL: url, writer: writer, pipeline: pipeline, server: server, port: bound, logs: logs)
    }

    private init(databaseURL: String, writer: ObservationWriter, pipeline: IngestPipeline, server: MLLPServer, port: Int, logs: LogRecorder) {
        self.databaseURL = databaseURL
        self.writer = writer
        self.pipeline = pipeline
        self.server = server
        self.port = port
        self.logs = logs
    }

    func stop() {
        server.stop()
        pipeline.shutdown()
        writer.shutdown()
    }

}

/// A test's view of its database: queries on a connection of their own, as another client of
/// the database would see them.
protocol QueriesDatabase {
    var databaseURL: String { get }
}

extension QueriesDatabase {
    func query(_ sql: String, _ parameters: [String?] = []) throws -> [[String?]] {
        let connection = try PostgresConnection(url: databaseURL)
        defer { connection.close() }
        return try connection.query(sql, parameters).rows
    }

    func count(_ sql: String, _ parameters: [String?] = []) throws -> Int {
        Int(try query(sql, parameters).first?.first.flatMap { $0 } ?? "") ?? -1
    }
}

extension TestEngine {
    /// Rows stored more than once for the same device, time and vital: must always be 0.
    func duplicateRows() throws -> Int {
        try count("""
            SELECT count(*) FROM (
                SELECT device_id, observation_time, vital_kind FROM vital_signs
                GROUP BY 1, 2, 3 HAVING count(*) > 1
            ) duplicates
            """)
    }

    /// A ward of monitors sending to this engine as fast as its ACKs come back.
    func ward(monitors: Int, reportsPerMonitor: Int, firstMonitorIndex: Int) -> WardSimulator {
        var configuration = WardSimulator.Configuration()
        configuration.port = port
        configuration.monitors = monitors
        configuration.reportsPerMonitor = reportsPerMonitor
        configuration.interval = .zero
        configuration.firstMonitorIndex = firstMonitorIndex
        return WardSimulator(configuration: configuration)
    }
}
