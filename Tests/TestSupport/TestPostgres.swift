import Foundation
import Logging
import Storage
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// One real PostgreSQL cluster shared by the whole test process: started lazily under a
/// temporary folder on the first `database()` call, stopped (and its folder removed) when the
/// process exits. Each test asks for a fresh database of its own.
///
/// Leftovers of crashed test processes (their clusters and folders) are cleaned up at start.
public enum TestPostgres {
    /// Behind a pthread mutex (`NSLock`), not `Synchronization.Mutex`: ThreadSanitizer does not
    /// see the latter's futex, and the race-checked pipeline tests start this cluster too.
    private static let sharedLock = NSLock()
    nonisolated(unsafe) private static var sharedCluster: Result<EmbeddedPostgres, TestSupportError>?

    /// Quiet by default; set `NILECARE_TEST_LOG=debug` (or another level) to see more.
    public static let logger: Logger = {
        var logger = Logger(label: "nilecare.tests")
        let level = ProcessInfo.processInfo.environment["NILECARE_TEST_LOG"].flatMap(Logger.Level.init(rawValue:))
        logger.logLevel = level ?? .warning
        return logger
    }()

    /// Folder prefix under the temporary directory; the creating process id follows it.
    static let folderPrefix = "nilecare-testpg-"

    /// A unique database name: `t_<pid>_<counter>_<random>`.
    public static func uniqueName(_ prefix: String = "t") -> String {
        let number = counter.add(1, ordering: .relaxed).newValue
        return "\(prefix)_\(getpid())_\(number)_\(UInt32.random(in: 0...UInt32.max))"
    }
    private static let counter = Atomic<Int>(0)

    /// The URL of a fresh (empty, just created) database on the shared cluster. If `name`
    /// exists already it is dropped first.
    public static func database(_ name: String = uniqueName()) throws -> String {
        let cluster = try shared()
        try cluster.dropDatabase(name)
        return try cluster.createDatabase(name)
    }

    /// The shared cluster itself (start it if needed). Do not stop it: other tests use it.
    public static func shared() throws -> EmbeddedPostgres {
        let result: Result<EmbeddedPostgres, TestSupportError> = sharedLock.withLock {
            if let known = sharedCluster { return known }
            let started = startShared()
            sharedCluster = started
            return started
        }
        return try result.get()
    }

    /// A fresh database with the repository's migrations applied (the mode the server
    /// supports, or `mode` if given).
    public static func migratedDatabase(_ name: String = uniqueName(), mode: StorageMode? = nil) throws -> String {
        let url = try database(name)
        try migrate(url, mode: mode)
        return url
    }

    /// Applies the repository's migrations to the database at `url` (e.g. on a private cluster).
    public static func migrate(_ url: String, mode: StorageMode? = nil) throws {
        let connection = try PostgresConnection(url: url)
        defer { connection.close() }
        _ = try Migrator(directory: RepositoryPaths.migrations, logger: logger, requestedMode: mode).migrate(connection)
    }

    /// A cluster of the caller's own (for tests that stop or break it), under a new temporary
    /// folder that is removed at process exit. Not started.
    public static func privateCluster(port: Int? = nil, settings: [String: String] = fastSettings) throws -> EmbeddedPostgres {
        let folder = try makeTemporaryFolder()
        return EmbeddedPostgres(dataDirectory: folder + "/data", port: port, settings: settings, logger: logger)
    }

    /// Settings for throwaway test data: durability off, so tests do not wait for the disk.
    public static let fastSettings: [String: String] = [
        "fsync": "off",
        "synchronous_commit": "off",
        "full_page_writes": "off",
        "max_connections": "200",
    ]

    // MARK: - Internals

    private static func startShared() -> Result<EmbeddedPostgres, TestSupportError> {
        cleanUpLeftovers()
        do {
            let folder = try makeTemporaryFolder()
            let cluster = EmbeddedPostgres(dataDirectory: folder + "/data", settings: fastSettings, logger: logger)
            try cluster.start()
            return .success(cluster)
        } catch {
            return .failure(TestSupportError("could not start the test PostgreSQL cluster: \(error)"))
        }
    }

    public static func makeTemporaryFolder() throws -> String {
        let base = NSTemporaryDirectory().hasSuffix("/") ? NSTemporaryDirectory() : NSTemporaryDirectory() + "/"
        let folder = base + folderPrefix + "\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        // 0755: when we run as root, the postgres user must be able to enter it.
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true,
                                                attributes: [.posixPermissions: 0o755])
        registerForCleanup(folder)
        return folder
    }

    private static let cleanupFolders = Mutex<[String]>([])
    private static let atexitRegistered = Atomic<Bool>(false)

    private static func registerForCleanup(_ folder: String) {
        cleanupFolders.withLock { $0.append(folder) }
        if atexitRegistered.compareExchange(expected: false, desired: true, ordering: .relaxed).exchanged {
            atexit { TestPostgres.cleanUpAtExit() }
        }
    }

    /// Stops every cluster under our folders and removes the folders.
    static func cleanUpAtExit() {
        let folders = cleanupFolders.withLock { $0 }
        for folder in folders {
            stopAndRemove(folder)
        }
    }

    private static func stopAndRemove(_ folder: String) {
        let data = folder + "/data"
        if FileManager.default.fileExists(atPath: data + "/postmaster.pid") {
            let cluster = EmbeddedPostgres(dataDirectory: data, logger: Logger(label: "nilecare.tests.cleanup", factory: { _ in SwiftLogNoOpLogHandler() }))
            if cluster.isRunning {
                do { try cluster.stop() } catch { print("TestPostgres: could not stop \(data): \(error)") }
            }
        }
        try? FileManager.default.removeItem(atPath: folder)
    }

    /// Removes folders (and stops clusters) left by test processes that no longer exist.
    private static func cleanUpLeftovers() {
        let base = NSTemporaryDirectory()
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: base) else { return }
        for name in names where name.hasPrefix(folderPrefix) {
            let rest = name.dropFirst(folderPrefix.count)
            guard let pid = rest.split(separator: "-").first.flatMap({ Int32($0) }), pid != getpid() else { continue }
            if kill(pid, 0) == 0 || errno == EPERM { continue }  // its process is alive
            stopAndRemove((base as NSString).appendingPathComponent(name))
        }
    }
}

/// Where things are in the repository, from this file's location.
public enum RepositoryPaths {
    /// The repository root (…/Tests/TestSupport/TestPostgres.swift → …).
    public static let root: String = {
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0..<3 { url.deleteLastPathComponent() }
        return url.path
    }()

    /// The SQL migrations folder, `timescale/`.
    public static var migrations: String { root + "/timescale" }

    /// A copy of the migrations in a temporary folder of its own, for a test that edits them.
    /// The caller removes it.
    public static func copyOfMigrations() throws -> String {
        let folder = NSTemporaryDirectory() + "nilecare-migrations-\(UInt32.random(in: 0...UInt32.max))"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        for name in try FileManager.default.contentsOfDirectory(atPath: migrations) where name.hasSuffix(".sql") {
            try FileManager.default.copyItem(atPath: migrations + "/" + name, toPath: folder + "/" + name)
        }
        return folder
    }
}

/// A copy of the migrations with those from `version` on held aside, for a test that makes a
/// database as an earlier build did (`folder`), then lets the later ones in and upgrades it.
public struct MigrationsBefore {
    public let folder: String
    /// The files held aside, in order.
    public let later: [String]

    public init(version: String) throws {
        folder = try RepositoryPaths.copyOfMigrations()
        later = try FileManager.default.contentsOfDirectory(atPath: folder).filter { $0.hasSuffix(".sql") && $0 >= version }.sorted()
        for file in later { try FileManager.default.moveItem(atPath: folder + "/" + file, toPath: folder + "/" + file + ".later") }
    }

    /// Puts the held files back: the next migration run applies them.
    public func letLaterIn() throws {
        for file in later { try FileManager.default.moveItem(atPath: folder + "/" + file + ".later", toPath: folder + "/" + file) }
    }

    public func remove() {
        try? FileManager.default.removeItem(atPath: folder)
    }
}

public struct TestSupportError: Error, CustomStringConvertible, Sendable {
    public var description: String
    public init(_ description: String) { self.description = description }
}

/// Polls `condition` until it returns true, failing with a clear error when `timeout` passes
/// first. Use it instead of sleeping: it returns as soon as the condition holds.
///
/// Time the poller spent waiting to be scheduled, beyond its own pause, does not count: with
/// other suites' blocking calls (initdb, libpq) holding the cooperative threads, a poller could
/// otherwise wake past its deadline having checked twice (seen: "2 checks" in 10 s).
public func waitUntil(
    timeout: Duration,
    pollEvery interval: Duration = .milliseconds(10),
    _ what: @autoclosure () -> String = "condition",
    fileID: String = #fileID, line: Int = #line,
    _ condition: () async throws -> Bool
) async throws {
    let clock = ContinuousClock()
    var deadline = clock.now + timeout
    var attempts = 0
    var lastError: (any Error)?
    while true {
        attempts += 1
        do {
            if try await condition() { return }
            lastError = nil
        } catch {
            lastError = error
        }
        if clock.now >= deadline {
            var message = "\(what()) not met within \(timeout) (\(attempts) checks) at \(fileID):\(line)"
            if let lastError { message += "; last check threw: \(lastError)" }
            throw TestSupportError(message)
        }
        let asleep = clock.now
        try await Task.sleep(for: interval)
        let starved = asleep.duration(to: clock.now) - interval
        if starved > .milliseconds(100) { deadline += starved }
    }
}

/// A free TCP port on 127.0.0.1.
public func freeTCPPort() -> Int {
    EmbeddedPostgres.freeTCPPort()
}

extension TestPostgres {
    /// True when TimescaleDB is installed for the PostgreSQL the tests use (then the shared
    /// cluster preloads it and migrations choose TimescaleDB mode).
    public static let timescaleInstalled: Bool = {
        let probe = EmbeddedPostgres(dataDirectory: NSTemporaryDirectory() + "nilecare-probe-unused", logger: logger)
        return probe.timescaleAvailable
    }()
}
