import Decoders
import DeviceProfiles
import Foundation
import Ingest
import Logging
import Storage
import VitalSigns

/// A private PostgreSQL cluster in a temporary folder for one benchmark run, removed at the end.
/// The cluster of a run that was interrupted (Ctrl-C) is stopped and removed by the next run.
final class BenchCluster {
    static let folderPrefix = "vitals-bench-"

    let postgres: EmbeddedPostgres
    let folder: String
    let repository: Repository
    let logger: Logger

    init(repository: Repository, durable: Bool, logger: Logger) throws {
        Self.removeLeftovers(logger: logger)
        folder = NSTemporaryDirectory() + "/" + Self.folderPrefix + "\(getpid())"
        // 0755: when we run as root, the postgres user must be able to enter it.
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o755])
        let settings = durable ? [:] : ["fsync": "off", "synchronous_commit": "off", "full_page_writes": "off"]
        postgres = EmbeddedPostgres(dataDirectory: folder + "/data", settings: settings, logger: logger)
        self.repository = repository
        self.logger = logger
    }

    func start() throws {
        try postgres.start()
    }

    /// When this host's kernel writes dirty pages back: with a high threshold, commits stall for
    /// hundreds of milliseconds behind its bursts, which shows in every latency figure's tail.
    static var writebackLine: String {
        guard let writeback = KernelWriteback.current() else { return "kernel writeback: unknown (no /proc)" }
        return writeback.letsCommitsStall
            ? "kernel writeback: WARNING \(writeback.advice)"
            : "kernel writeback: from \(writeback.backgroundThreshold >> 20) MiB (small, steady writeback: no bursts for commits to wait behind)"
    }

    func stop() {
        do { try postgres.stop() } catch { say("could not stop the benchmark's PostgreSQL: \(error)") }
        try? FileManager.default.removeItem(atPath: folder)
    }

    /// Stops and removes the clusters of earlier runs whose process is gone.
    private static func removeLeftovers(logger: Logger) {
        let temporary = NSTemporaryDirectory()
        for name in (try? FileManager.default.contentsOfDirectory(atPath: temporary)) ?? [] where name.hasPrefix(folderPrefix) {
            guard let pid = Int32(name.dropFirst(folderPrefix.count)), pid != getpid(), kill(pid, 0) != 0 else { continue }
            let folder = temporary + "/" + name
            try? EmbeddedPostgres(dataDirectory: folder + "/data", logger: logger).stop()
            try? FileManager.default.removeItem(atPath: folder)
            say("removed the cluster of an interrupted run: \(folder)")
        }
    }

    /// A new database with the repository's migrations applied, in `mode` if given.
    func migratedDatabase(_ name: String, mode: StorageMode?) throws -> (url: String, report: MigrationReport) {
        try postgres.createDatabase(name)
        let url = localURL(database: name)
        let connection = try PostgresConnection(url: url)
        defer { connection.close() }
        let report = try Migrator(directory: repository.migrations, logger: logger, requestedMode: mode).migrate(connection)
        return (url, report)
    }

    var postmasterPID: Int32? {
        (try? String(contentsOfFile: folder + "/data/postmaster.pid", encoding: .utf8))?
            .split(separator: "\n").first.flatMap { Int32($0.trimmingCharacters(in: .whitespaces)) }
    }

    /// `database` through the cluster's private unix socket, as every client of the benchmarks
    /// connects (the engines and psql alike): they run beside the cluster, so TCP would only add
    /// the loopback network stack to every row.
    func localURL(database: String) -> String {
        postgres.unixSocketURL(database: database) ?? postgres.url(database: database)
    }

    /// One value from a query on the cluster's `postgres` database (or `database`).
    func scalar(_ sql: String, _ parameters: [String?] = [], database: String = "postgres") throws -> String? {
        let connection = try PostgresConnection(url: postgres.url(database: database))
        defer { connection.close() }
        return try connection.query(sql, parameters).scalar
    }

    func count(_ table: String, database: String) throws -> Int {
        Int(try scalar("SELECT count(*) FROM \(table)", database: database) ?? "") ?? -1
    }

    /// Writes dirty pages out so that one phase does not pay for the previous one's.
    func checkpoint() throws {
        _ = try scalar("CHECKPOINT")
    }

    /// Waits (up to 10 s) until no client is connected to `database`, so its statistics are final.
    func waitForNoConnections(to database: String) throws {
        for _ in 0..<200 {
            if try scalar("SELECT count(*) FROM pg_stat_activity WHERE datname = $1", [database]) == "0" { return }
            usleep(50_000)
        }
    }

    /// Transactions committed in `database` and WAL position, for per-phase deltas.
    func counters(_ database: String) throws -> (commits: Int, walBytes: Int) {
        let commits = Int(try scalar("SELECT xact_commit FROM pg_stat_database WHERE datname = $1", [database]) ?? "") ?? 0
        let wal = Int(try scalar("SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), '0/0')::bigint") ?? "") ?? 0
        return (commits, wal)
    }
}

/// The ingest path as the daemon wires it (see Tests/IngestTests/TestEngine.swift): the
/// group-commit writer behind the pipeline (flagger and writer stages), the ingestor and the MLLP
/// listener on a free loopback port. The alert stage is measured by `vitals-bench alerts`.
struct EngineUnderTest {
    let writer: ObservationWriter
    let pipeline: IngestPipeline
    let server: MLLPServer
    let port: Int

    static func start(url: String, decoder: PCD01Decoder, writerConnections: Int, logger: Logger) async throws -> EngineUnderTest {
        var writerConfiguration = ObservationWriter.Configuration()
        writerConfiguration.connections = writerConnections
        let writer = try ObservationWriter(url: url, configuration: writerConfiguration, logger: logger)
        var configuration = MLLPServer.Configuration()
        configuration.host = "127.0.0.1"
        configuration.port = 0
        let pipeline = IngestPipeline(profiles: decoder.profiles, writer: writer)
        let server = MLLPServer(configuration: configuration, ingestor: MessageIngestor(decoder: decoder, sink: pipeline, logger: logger), logger: logger)
        let port = try await server.start()
        return EngineUnderTest(writer: writer, pipeline: pipeline, server: server, port: port)
    }

    func stop() {
        server.stop()
        pipeline.shutdown()
        writer.shutdown()
    }
}
