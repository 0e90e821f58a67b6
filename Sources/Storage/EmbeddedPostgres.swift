import Foundation
import Logging
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Something went wrong creating, starting or stopping an embedded cluster.
public struct EmbeddedPostgresError: Error, Sendable, CustomStringConvertible {
    /// What we were doing, e.g. "initdb".
    public var step: String
    /// The command line that failed, if any.
    public var command: String?
    public var exitStatus: Int32?
    /// Its output (stdout and stderr), and the tail of the server log where relevant.
    public var output: String
    public var hint: String?

    public var description: String {
        var text = "embedded PostgreSQL: \(step) failed"
        if let command { text += "\n  command: \(command)" }
        if let exitStatus { text += "\n  exit status: \(exitStatus)" }
        if !output.isEmpty {
            text += "\n  output:\n" + output.split(separator: "\n", omittingEmptySubsequences: false).map { "    " + $0 }.joined(separator: "\n")
        }
        if let hint { text += "\n  hint: \(hint)" }
        return text
    }
}

/// A private PostgreSQL cluster under a data folder of its own, created with `initdb` on first
/// use and reused afterwards, started and stopped with `pg_ctl`.
///
/// - Listens on 127.0.0.1 only, on a free port (or the given one), with its unix socket in a
///   private directory inside the data folder. Connections over that socket are trusted (only
///   this user and the server's can reach it); TCP asks for a password, made at the first start
///   and kept in `nilecare-password` in the data folder (readable by this user only), which
///   `url` carries. Another user of the host cannot read or change the data.
/// - Loads TimescaleDB (`shared_preload_libraries`) whenever `timescaledb.so` exists in
///   `pg_config --pkglibdir`.
/// - Settings are written to `nilecare.conf` in the data folder at each start (included from
///   `postgresql.conf`): `defaultSettings`, then `settings` (e.g. `["fsync": "off"]` for
///   throwaway test data), which wins over them.
/// - A `postmaster.pid` left by a crashed run is detected and removed; a server from an earlier
///   run that is still alive is adopted.
/// - When running as root, the cluster belongs to the `postgres` user and commands run through
///   `runuser` (PostgreSQL refuses to run as root).
public final class EmbeddedPostgres: Sendable {
    public let dataDirectory: String
    public let requestedPort: Int?
    public let settings: [String: String]
    public let logger: Logger

    private struct State {
        var port: Int?
        var socketDirectory: String?
        var password = ""
        var binDirectory: String?
        var packageLibraryDirectory: String??
    }
    private let state = Mutex(State())
    /// Serialises start/stop/createDatabase (each takes seconds; `url` stays readable meanwhile).
    private let lifecycle = Mutex(())

    static let configFileName = "nilecare.conf"
    public static let passwordFileName = "nilecare-password"
    /// What the cluster runs with unless `settings` says otherwise.
    ///
    /// `wal_init_zero`: a young cluster has no used WAL files to recycle, so each new 16 MB file
    /// is filled with zeroes and flushed while the backend holds the WAL write lock, and every
    /// commit waits: 40–70 ms every few seconds under ingest load. Off, the file is sparse and its
    /// first flushes also commit block allocations, which cost less here; recycled files are never
    /// zeroed anyway (docs/operations/database-host.md).
    static let defaultSettings = ["wal_init_zero": "off"]
    static let logFileName = "embedded-postgres.log"

    public init(dataDirectory: String, port: Int? = nil, settings: [String: String] = [:], logger: Logger) {
        // Absolute: the server tools may run as another user, from another working directory.
        let absolute = dataDirectory.hasPrefix("/")
            ? dataDirectory
            : (FileManager.default.currentDirectoryPath as NSString).appendingPathComponent(dataDirectory)
        self.dataDirectory = (absolute as NSString).standardizingPath
        self.requestedPort = port
        self.settings = settings
        self.logger = logger
    }

    /// The `postgresql://` URL of database `postgres` over TCP; empty before `start()`.
    public var url: String {
        state.withLock { state in
            guard let port = state.port else { return "" }
            return Self.url(port: port, password: state.password, database: "postgres")
        }
    }

    /// The port the server listens on, once started.
    public var port: Int? { state.withLock { $0.port } }

    /// A URL that connects through the private unix socket (a little faster than TCP).
    public func unixSocketURL(database: String = "postgres") -> String? {
        state.withLock { state in
            guard let port = state.port, let socket = state.socketDirectory else { return nil }
            return "postgresql://postgres@/\(Self.percentEncoded(database))?host=\(Self.percentEncoded(socket))&port=\(port)"
        }
    }

    /// The URL of `database` on this server (it need not exist yet).
    public func url(database: String) -> String {
        state.withLock { state in
            guard let port = state.port else { return "" }
            return Self.url(port: port, password: state.password, database: database)
        }
    }

    /// True when `timescaledb.so` is installed for this PostgreSQL (`pg_config --pkglibdir`).
    public var timescaleAvailable: Bool {
        guard let directory = packageLibraryDirectory() else { return false }
        return FileManager.default.fileExists(atPath: (directory as NSString).appendingPathComponent("timescaledb.so"))
    }

    /// True when a server is running on this data folder.
    public var isRunning: Bool {
        (try? runningServer()) != nil
    }

    /// Creates the cluster if needed, starts it (or adopts one already running on this data
    /// folder), creates `database` if it does not exist, and returns its URL.
    @discardableResult
    public func start(database: String = "postgres") throws -> String {
        try lifecycle.withLock { _ in
            try startLocked()
        }
        if database != "postgres" {
            return try createDatabase(database)
        }
        return url
    }

    /// Creates `name` unless it exists and returns its URL. The server must be running.
    @discardableResult
    public func createDatabase(_ name: String) throws -> String {
        guard state.withLock({ $0.port }) != nil else {
            throw EmbeddedPostgresError(step: "create database \(name)", output: "the server is not started")
        }
        let connection = try PostgresConnection(url: url)
        defer { connection.close() }
        let exists = try connection.query("SELECT 1 FROM pg_database WHERE datname = $1", [name]).rows.isEmpty == false
        if !exists {
            let quoted = try connection.quoteIdentifier(name)
            do {
                try connection.execute("CREATE DATABASE " + quoted)
                logger.debug("created database", metadata: ["database": "\(name)"])
            } catch {
                // 42P04: created concurrently by someone else, which is fine.
                if error.sqlState != "42P04" { throw error }
            }
        }
        return url(database: name)
    }

    /// Drops `name` (terminating its connections) if it exists.
    public func dropDatabase(_ name: String) throws {
        let connection = try PostgresConnection(url: url)
        defer { connection.close() }
        let quoted = try connection.quoteIdentifier(name)
        try connection.execute("DROP DATABASE IF EXISTS " + quoted + " WITH (FORCE)")
    }

    /// Stops the server (fast shutdown: open transactions are rolled back). Harmless when it is
    /// not running. `immediately`: as in a crash, every backend exits at once without releasing
    /// its locks, so none waiting on another's lock is granted it on the way down and commits.
    public func stop(immediately: Bool = false) throws {
        try lifecycle.withLock { _ in
            defer { state.withLock { $0.port = nil } }
            guard try runningServer() != nil else { return }
            let bin = try binDirectory()
            let result = try run(step: "pg_ctl stop", (bin as NSString).appendingPathComponent("pg_ctl"),
                                 ["stop", "-D", dataDirectory, "-m", immediately ? "immediate" : "fast", "-w", "-t", "120"])
            guard result.status == 0 else {
                throw EmbeddedPostgresError(step: "pg_ctl stop", command: result.command, exitStatus: result.status,
                                            output: result.output + logTail())
            }
            logger.info("embedded PostgreSQL stopped", metadata: ["data_directory": "\(dataDirectory)"])
        }
    }

    /// A free TCP port on 127.0.0.1 (bound and released; another process could still take it),
    /// never the same one twice in this process: a service given a port may take seconds to bind
    /// it (initdb runs first), and meanwhile the kernel can offer the same free port again, for
    /// instance to another test's broker.
    public static func freeTCPPort() -> Int {
        for _ in 0..<64 {
            let port = unusedTCPPort()
            if port == 0 || handedOutPorts.withLock({ $0.insert(port).inserted }) { return port }
        }
        return 0
    }

    private static let handedOutPorts = Mutex<Set<Int>>([])

    private static func unusedTCPPort() -> Int {
        let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard descriptor >= 0 else { return 0 }
        defer { close(descriptor) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = 0
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0 else { return 0 }
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let named = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(descriptor, $0, &length) }
        }
        guard named == 0 else { return 0 }
        return Int(UInt16(bigEndian: address.sin_port))
    }

    // MARK: - Start

    private func startLocked() throws {
        let bin = try binDirectory()
        try ensureDataDirectory(bin: bin)

        if let running = try runningServer() {
            state.withLock {
                $0.port = running.port
                $0.socketDirectory = running.socketDirectory
            }
            logger.info("adopted a PostgreSQL server already running on this data folder",
                        metadata: ["pid": "\(running.pid)", "port": "\(running.port)", "data_directory": "\(dataDirectory)"])
            if let requestedPort, requestedPort != running.port {
                logger.warning("running server listens on port \(running.port), not the requested \(requestedPort)")
            }
            try setPassword()
            return
        }

        var attempt = 0
        while true {
            attempt += 1
            let port = requestedPort ?? Self.freeTCPPort()
            guard port > 0 else {
                throw EmbeddedPostgresError(step: "choose a port", output: "could not bind a TCP socket on 127.0.0.1")
            }
            let socketDirectory = try prepareSocketDirectory(port: port)
            try writeConfiguration(port: port, socketDirectory: socketDirectory)
            // The log is appended to across starts: only this attempt's lines say why it failed.
            let logStart = (try? FileManager.default.attributesOfItem(atPath: logPath)[.size] as? Int) ?? 0
            let result = try run(step: "pg_ctl start", (bin as NSString).appendingPathComponent("pg_ctl"),
                                 ["start", "-D", dataDirectory, "-l", logPath, "-w", "-t", "120", "-s"])
            if result.status == 0 {
                state.withLock {
                    $0.port = port
                    $0.socketDirectory = socketDirectory
                }
                try setPassword()
                logger.info("embedded PostgreSQL started", metadata: [
                    "port": "\(port)", "data_directory": "\(dataDirectory)",
                    "timescaledb": "\(timescaleAvailable ? "preloaded" : "not installed")",
                ])
                return
            }
            let tail = logTail(from: logStart)
            let portTaken = tail.contains("could not bind") || tail.contains("Address already in use")
            if portTaken && requestedPort == nil && attempt < 3 {
                logger.notice("port \(port) was taken before the server could bind it; trying another")
                continue
            }
            throw EmbeddedPostgresError(
                step: "pg_ctl start", command: result.command, exitStatus: result.status, output: result.output + tail,
                hint: portTaken ? "port \(port) is in use" : nil)
        }
    }

    private var logPath: String { (dataDirectory as NSString).appendingPathComponent(Self.logFileName) }

    private func ensureDataDirectory(bin: String) throws {
        let fileManager = FileManager.default
        let versionFile = (dataDirectory as NSString).appendingPathComponent("PG_VERSION")
        if fileManager.fileExists(atPath: versionFile) {
            try ensureOwnership(recursive: true)
            try ensureSettingsIncluded()
            logger.debug("reusing PostgreSQL data folder", metadata: ["data_directory": "\(dataDirectory)"])
            return
        }
        var isDirectory: ObjCBool = false
        if fileManager.fileExists(atPath: dataDirectory, isDirectory: &isDirectory) {
            guard isDirectory.boolValue else {
                throw EmbeddedPostgresError(step: "prepare data folder", output: "\(dataDirectory) exists and is not a folder")
            }
            let contents = (try? fileManager.contentsOfDirectory(atPath: dataDirectory)) ?? []
            if !contents.isEmpty {
                throw EmbeddedPostgresError(
                    step: "prepare data folder",
                    output: "\(dataDirectory) is not empty and is not a PostgreSQL data folder (no PG_VERSION): \(contents.sorted().prefix(5).joined(separator: ", "))",
                    hint: "point the data folder at an empty or new folder")
            }
        } else {
            do {
                // Parents get ordinary permissions: the server user must be able to pass through them.
                let parent = (dataDirectory as NSString).deletingLastPathComponent
                try fileManager.createDirectory(atPath: parent, withIntermediateDirectories: true)
                try fileManager.createDirectory(atPath: dataDirectory, withIntermediateDirectories: false,
                                                attributes: [.posixPermissions: 0o700])
            } catch {
                throw EmbeddedPostgresError(step: "create data folder", output: "\(dataDirectory): \(error)")
            }
        }
        try ensureOwnership(recursive: false)

        logger.info("initialising a new PostgreSQL cluster", metadata: ["data_directory": "\(dataDirectory)"])
        let result = try run(step: "initdb", (bin as NSString).appendingPathComponent("initdb"), [
            "-D", dataDirectory, "-U", "postgres", "--auth-local=trust", "--auth-host=trust",
            "--encoding=UTF8", "--locale=C",
        ] + (settings["fsync"] == "off" ? ["--no-sync"] : []))
        guard result.status == 0 else {
            throw EmbeddedPostgresError(
                step: "initdb", command: result.command, exitStatus: result.status, output: result.output,
                hint: Self.runningAsRoot ? "the postgres user must be able to enter every folder above \(dataDirectory)" : nil)
        }
        try ensureSettingsIncluded()
    }

    /// Our settings live in a file of their own, rewritten at each start, that `postgresql.conf`
    /// includes. Checked at every start, not only after `initdb`: a first run stopped between the
    /// two would otherwise leave a cluster that starts on PostgreSQL's defaults (port 5432, the
    /// system's socket folder) for good.
    private func ensureSettingsIncluded() throws {
        let configPath = (dataDirectory as NSString).appendingPathComponent("postgresql.conf")
        let include = "include_if_exists = '\(Self.configFileName)'"
        do {
            let current = try String(contentsOfFile: configPath, encoding: .utf8)
            if current.split(separator: "\n").contains(where: { $0.trimmingCharacters(in: .whitespaces) == include }) { return }
            let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: configPath))
            defer { try? handle.close() }
            try handle.seekToEnd()
            try handle.write(contentsOf: Data("\n# Added by NileCare's EmbeddedPostgres.\n\(include)\n".utf8))
        } catch {
            throw EmbeddedPostgresError(step: "edit postgresql.conf", output: "\(configPath): \(error)")
        }
    }

    private func prepareSocketDirectory(port: Int) throws -> String {
        var directory = (dataDirectory as NSString).appendingPathComponent("sockets")
        // sun_path holds 107 bytes: fall back to a short private folder under /tmp when needed.
        if (directory + "/.s.PGSQL.\(port).lock").utf8.count > 100 {
            var hash: UInt64 = 0xcbf2_9ce4_8422_2325
            for byte in dataDirectory.utf8 { hash = (hash ^ UInt64(byte)) &* 0x0000_0100_0000_01B3 }
            directory = "/tmp/nilecare-pg-\(String(hash, radix: 16))"
        }
        // Made with mkdir(2), which never follows a link: under /tmp the name is predictable, and
        // whoever made it first could have made it a link (chown follows links) or a folder of
        // theirs with a socket of theirs in it. One that exists must be a private folder of ours.
        if mkdir(directory, 0o700) != 0 {
            let failure = errno
            var info = stat()
            guard failure == EEXIST, lstat(directory, &info) == 0 else {
                throw EmbeddedPostgresError(step: "create socket folder", output: "\(directory): \(String(cString: strerror(failure)))")
            }
            try Self.checkPrivateFolder(directory, info)
        }
        try chownToServerUser(directory, recursive: false)
        return directory
    }

    /// A folder of ours, or of the server's user: a real folder (not a link), owned by either,
    /// writable by no one else.
    static func checkPrivateFolder(_ path: String, _ info: stat) throws {
        let owners = [getuid()] + (runningAsRoot ? postgresUser.map { [$0.uid] } ?? [] : [])
        guard info.st_mode & S_IFMT == S_IFDIR, owners.contains(info.st_uid), info.st_mode & 0o022 == 0 else {
            throw EmbeddedPostgresError(
                step: "socket folder",
                output: "\(path) exists but is not a private folder of this user's (a symbolic link, another user's, or writable by others): remove it"
            )
        }
    }

    private func writeConfiguration(port: Int, socketDirectory: String) throws {
        var lines = [
            "# Written by NileCare's EmbeddedPostgres at each start: changes here are overwritten.",
            "listen_addresses = '127.0.0.1'",
            "port = \(port)",
            "unix_socket_directories = \(Self.quoted(socketDirectory))",
        ]
        if timescaleAvailable {
            lines.append("shared_preload_libraries = 'timescaledb'")
            lines.append("timescaledb.telemetry_level = 'off'")
        }
        for (name, value) in Self.defaultSettings.merging(settings, uniquingKeysWith: { _, given in given }).sorted(by: { $0.key < $1.key }) {
            lines.append("\(name) = \(Self.quoted(value))")
        }
        let path = (dataDirectory as NSString).appendingPathComponent(Self.configFileName)
        do {
            try (lines.joined(separator: "\n") + "\n").write(toFile: path, atomically: true, encoding: .utf8)
        } catch {
            throw EmbeddedPostgresError(step: "write \(Self.configFileName)", output: "\(path): \(error)")
        }
        try chownToServerUser(path, recursive: false)
        try writeAccessRules()
    }

    /// `pg_hba.conf`, rewritten at each start, so that a cluster made by an earlier build (which
    /// trusted TCP too) asks for the password from then on.
    private func writeAccessRules() throws {
        let rules = """
            # Written by NileCare's EmbeddedPostgres at each start: changes here are overwritten.
            # The unix socket's folder is private to this user and the server's.
            local all all trust
            # TCP asks for the password kept in \(Self.passwordFileName).
            host all all 127.0.0.1/32 scram-sha-256

            """
        let path = (dataDirectory as NSString).appendingPathComponent("pg_hba.conf")
        do {
            try rules.write(toFile: path, atomically: true, encoding: .utf8)
        } catch {
            throw EmbeddedPostgresError(step: "write pg_hba.conf", output: "\(path): \(error)")
        }
        try chownToServerUser(path, recursive: false)
        _ = chmod(path, 0o600)
    }

    /// Reads the TCP password from the data folder (making it at the first start) and sets it on
    /// the server over the trusted unix socket: the file is the truth, whatever the server held.
    private func setPassword() throws {
        let path = (dataDirectory as NSString).appendingPathComponent(Self.passwordFileName)
        var password = (FileManager.default.contents(atPath: path).map { String(decoding: $0, as: UTF8.self) } ?? "")
            .trimmingCharacters(in: .whitespacesAndNewlines)
        if password.isEmpty {
            var generator = SystemRandomNumberGenerator()
            let digits = Array("0123456789abcdef")
            password = String((0..<32).map { _ in digits[Int.random(in: 0..<16, using: &generator)] })
            guard FileManager.default.createFile(atPath: path, contents: Data((password + "\n").utf8), attributes: [.posixPermissions: 0o600]) else {
                throw EmbeddedPostgresError(step: "write \(Self.passwordFileName)", output: "\(path): \(String(cString: strerror(errno)))")
            }
        }
        // Ours are hex; an operator's own is held to letters and digits too, which no quoting gets wrong.
        guard password.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber) }) else {
            throw EmbeddedPostgresError(step: "read \(Self.passwordFileName)", output: "\(path) holds characters other than letters and digits: remove it to make a new one")
        }
        guard let socketURL = unixSocketURL() else {
            throw EmbeddedPostgresError(step: "set the password", output: "the server's unix socket is not known")
        }
        do {
            let connection = try PostgresConnection(url: socketURL)
            defer { connection.close() }
            // Hashed here: a failed statement is quoted in the server's log and in the error.
            let hashed = try connection.quoteLiteral(try connection.encryptedPassword(password, role: "postgres"))
            try connection.execute("ALTER ROLE postgres PASSWORD \(hashed)")
        } catch {
            throw EmbeddedPostgresError(step: "set the password", output: error.redactedDescription)
        }
        state.withLock { $0.password = password }
    }

    // MARK: - Running server detection

    private struct RunningServer {
        var pid: Int32
        var port: Int
        var socketDirectory: String?
    }

    /// The server running on this data folder, per postmaster.pid; removes a stale pid file.
    private func runningServer() throws -> RunningServer? {
        let pidPath = (dataDirectory as NSString).appendingPathComponent("postmaster.pid")
        guard let data = FileManager.default.contents(atPath: pidPath), let text = String(data: data, encoding: .utf8) else {
            return nil
        }
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        guard let pid = lines.first.flatMap({ Int32($0.trimmingSpaces()) }), pid > 0 else {
            logger.warning("removing an unreadable postmaster.pid", metadata: ["data_directory": "\(dataDirectory)"])
            try? FileManager.default.removeItem(atPath: pidPath)
            return nil
        }
        if Self.isPostmaster(pid: pid, dataDirectory: dataDirectory) {
            let port = lines.count > 3 ? Int(lines[3].trimmingSpaces()) : nil
            let socket = lines.count > 4 ? String(lines[4].trimmingSpaces()) : nil
            return RunningServer(pid: pid, port: port ?? 5432, socketDirectory: socket?.isEmpty == false ? socket : nil)
        }
        logger.warning("removing a stale postmaster.pid left by a server that is no longer running",
                       metadata: ["pid": "\(pid)", "data_directory": "\(dataDirectory)"])
        do {
            try FileManager.default.removeItem(atPath: pidPath)
        } catch {
            throw EmbeddedPostgresError(step: "remove stale postmaster.pid", output: "\(pidPath): \(error)")
        }
        return nil
    }

    /// True when `pid` is alive and is a postgres server for `dataDirectory`.
    static func isPostmaster(pid: Int32, dataDirectory: String) -> Bool {
        if kill(pid, 0) != 0 && errno != EPERM { return false }
        #if os(Linux)
        if let comm = try? String(contentsOfFile: "/proc/\(pid)/comm", encoding: .utf8) {
            let name = comm.trimmingSpaces()
            if name != "postgres" && name != "postmaster" { return false }
        }
        if let cwd = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(pid)/cwd") {
            let expected = (dataDirectory as NSString).resolvingSymlinksInPath
            return (cwd as NSString).standardizingPath == expected || cwd == dataDirectory
        }
        #endif
        return true
    }

    // MARK: - Binaries

    private func binDirectory() throws -> String {
        if let cached = state.withLock({ $0.binDirectory }) { return cached }
        var candidates: [String] = []
        if let fromEnvironment = ProcessInfo.processInfo.environment["NILECARE_PG_BINDIR"], !fromEnvironment.isEmpty {
            candidates.append(fromEnvironment)
        }
        if let pgConfig = Self.findOnPath("pg_config"), let bindir = Self.capture(pgConfig, ["--bindir"]) {
            candidates.append(bindir)
        }
        let debianRoot = "/usr/lib/postgresql"
        let versions = ((try? FileManager.default.contentsOfDirectory(atPath: debianRoot)) ?? [])
            .compactMap(Int.init).sorted(by: >)
        candidates += versions.map { "\(debianRoot)/\($0)/bin" }
        candidates += ["/usr/local/pgsql/bin", "/opt/homebrew/bin", "/usr/local/bin", "/usr/bin"]
        for candidate in candidates {
            let initdb = (candidate as NSString).appendingPathComponent("initdb")
            let pgCtl = (candidate as NSString).appendingPathComponent("pg_ctl")
            if FileManager.default.isExecutableFile(atPath: initdb) && FileManager.default.isExecutableFile(atPath: pgCtl) {
                state.withLock { $0.binDirectory = candidate }
                return candidate
            }
        }
        throw EmbeddedPostgresError(
            step: "find PostgreSQL server binaries",
            output: "no folder with initdb and pg_ctl among: \(candidates.joined(separator: ", "))",
            hint: "install the PostgreSQL server (apt-get install postgresql) or set NILECARE_PG_BINDIR")
    }

    private func packageLibraryDirectory() -> String? {
        if let cached = state.withLock({ $0.packageLibraryDirectory }) { return cached }
        var found: String?
        let bin = try? binDirectory()
        let pgConfig = bin.map { ($0 as NSString).appendingPathComponent("pg_config") }
            .flatMap { FileManager.default.isExecutableFile(atPath: $0) ? $0 : nil } ?? Self.findOnPath("pg_config")
        if let pgConfig {
            found = Self.capture(pgConfig, ["--pkglibdir"])
        }
        state.withLock { $0.packageLibraryDirectory = .some(found) }
        return found
    }

    static func findOnPath(_ name: String) -> String? {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/local/bin:/usr/bin:/bin"
        for directory in path.split(separator: ":") {
            let candidate = (String(directory) as NSString).appendingPathComponent(name)
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        }
        return nil
    }

    /// The trimmed standard output of a quick command, nil if it fails.
    static func capture(_ executable: String, _ arguments: [String]) -> String? {
        guard let result = try? runProcess(executable, arguments), result.status == 0 else { return nil }
        let text = String(result.output.trimmingSpaces())
        return text.isEmpty ? nil : text
    }

    // MARK: - Running commands

    static var runningAsRoot: Bool { geteuid() == 0 }

    private struct CommandResult {
        var command: String
        var status: Int32
        var output: String
    }

    /// Runs a PostgreSQL binary, as the `postgres` user when we are root.
    private func run(step: String, _ executable: String, _ arguments: [String]) throws -> CommandResult {
        var launch = executable
        var fullArguments = arguments
        if Self.runningAsRoot {
            guard let runuser = ["/usr/sbin/runuser", "/sbin/runuser", "/usr/bin/runuser"].first(where: {
                FileManager.default.isExecutableFile(atPath: $0)
            }) else {
                throw EmbeddedPostgresError(step: step, output: "running as root, and runuser is not installed",
                                            hint: "PostgreSQL refuses to run as root; run as another user or install util-linux")
            }
            launch = runuser
            fullArguments = ["-u", "postgres", "--", executable] + arguments
        }
        let command = ([launch] + fullArguments).joined(separator: " ")
        logger.debug("running \(command)")
        do {
            let result = try Self.runProcess(launch, fullArguments)
            return CommandResult(command: command, status: result.status, output: result.output)
        } catch {
            throw EmbeddedPostgresError(step: step, command: command, output: "could not launch: \(error)")
        }
    }

    /// Runs a process with stdin from /dev/null and stdout+stderr into a temporary file, and
    /// waits for it with `waitpid`.
    ///
    /// Not `Foundation.Process`, and not a pipe: `pg_ctl start` leaves a server running that
    /// inherits the child's descriptors, and Foundation notices a child's exit through a
    /// descriptor it shares with the child, so it would wait for the server to exit too. Here
    /// every descriptor above stderr is closed in the child.
    static func runProcess(_ executable: String, _ arguments: [String]) throws -> (status: Int32, output: String) {
        let outputPath = NSTemporaryDirectory() + "nilecare-pgcmd-\(getpid())-\(UInt64.random(in: 0...UInt64.max)).out"
        let outputDescriptor = open(outputPath, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard outputDescriptor >= 0 else {
            throw EmbeddedPostgresError(step: "create \(outputPath)", output: String(cString: strerror(errno)))
        }
        defer {
            close(outputDescriptor)
            unlink(outputPath)
        }

        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_adddup2(&actions, outputDescriptor, 1)
        posix_spawn_file_actions_adddup2(&actions, outputDescriptor, 2)
        SpawnExtensions.closeDescriptors(from: 3, in: &actions, keeping: outputDescriptor)
        SpawnExtensions.changeDirectory(to: "/", in: &actions)

        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        // Default signal handling in the child (the test runner or daemon may ignore some).
        var defaultSignals = sigset_t()
        sigfillset(&defaultSignals)
        posix_spawnattr_setsigdefault(&attributes, &defaultSignals)
        var noSignals = sigset_t()
        sigemptyset(&noSignals)
        posix_spawnattr_setsigmask(&attributes, &noSignals)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK))

        let argv = [executable] + arguments
        var pid: pid_t = 0
        let spawned: Int32 = withCStringArray(argv) { argumentPointers in
            var mutableArguments = argumentPointers.map { $0.map { UnsafeMutablePointer(mutating: $0) } }
            return mutableArguments.withUnsafeMutableBufferPointer { buffer in
                withCStringArray(serverEnvironment) { environment in
                    var mutableEnvironment = environment.map { $0.map { UnsafeMutablePointer(mutating: $0) } }
                    return mutableEnvironment.withUnsafeMutableBufferPointer {
                        posix_spawn(&pid, executable, &actions, &attributes, buffer.baseAddress!, $0.baseAddress!)
                    }
                }
            }
        }
        guard spawned == 0 else {
            throw EmbeddedPostgresError(step: "launch \(executable)", output: String(cString: strerror(spawned)))
        }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 {
            if errno != EINTR {
                throw EmbeddedPostgresError(step: "wait for \(executable)", output: String(cString: strerror(errno)))
            }
        }
        let exitStatus: Int32
        if status & 0x7F == 0 {
            exitStatus = (status >> 8) & 0xFF  // exited normally
        } else {
            exitStatus = 128 + (status & 0x7F)  // killed by a signal, as shells report it
        }
        let text = (try? String(contentsOfFile: outputPath, encoding: .utf8)) ?? ""
        return (exitStatus, text)
    }

    /// What the tools and the server they start see of our environment: only PATH and TZ. The
    /// server runs as another user, who can read its environment in /proc: the engine's secrets
    /// (a database URL, broker credentials) must not be there, and stray `PG*` variables would
    /// change what initdb and pg_ctl do.
    static var serverEnvironment: [String] {
        let inherited = ProcessInfo.processInfo.environment
        return ["PATH=" + (inherited["PATH"] ?? "/usr/sbin:/usr/bin:/sbin:/bin")] + (inherited["TZ"].map { ["TZ=" + $0] } ?? [])
    }

    private func ensureOwnership(recursive: Bool) throws {
        guard Self.runningAsRoot, let owner = Self.postgresUser else { return }
        var info = stat()
        if stat(dataDirectory, &info) == 0, info.st_uid == owner.uid { return }
        try chownToServerUser(dataDirectory, recursive: recursive)
    }

    private func chownToServerUser(_ path: String, recursive: Bool) throws {
        guard Self.runningAsRoot, let owner = Self.postgresUser else { return }
        if recursive {
            let result = try Self.runProcess("/bin/chown", ["-R", "\(owner.uid):\(owner.gid)", path])
            guard result.status == 0 else {
                throw EmbeddedPostgresError(step: "chown \(path)", command: "chown -R \(owner.uid):\(owner.gid) \(path)",
                                            exitStatus: result.status, output: result.output)
            }
        } else if chown(path, owner.uid, owner.gid) != 0 {
            throw EmbeddedPostgresError(step: "chown \(path)", output: String(cString: strerror(errno)))
        }
    }

    static var postgresUser: (uid: uid_t, gid: gid_t)? {
        guard let entry = getpwnam("postgres") else { return nil }
        return (entry.pointee.pw_uid, entry.pointee.pw_gid)
    }

    /// The last lines the server logged from byte `offset` of its log on.
    private func logTail(from offset: Int = 0, lines count: Int = 30) -> String {
        guard let handle = FileHandle(forReadingAtPath: logPath) else { return "" }
        defer { try? handle.close() }
        guard (try? handle.seek(toOffset: UInt64(offset))) != nil, let data = try? handle.readToEnd() else { return "" }
        let lines = String(decoding: data, as: UTF8.self).split(separator: "\n").suffix(count)
        return lines.isEmpty ? "" : "\n--- \(logPath) (last \(lines.count) lines) ---\n" + lines.joined(separator: "\n")
    }

    // MARK: - Formatting

    static func url(port: Int, password: String, database: String) -> String {
        "postgresql://postgres:\(percentEncoded(password))@127.0.0.1:\(port)/\(percentEncoded(database))"
    }

    static func percentEncoded(_ text: String) -> String {
        var allowed = CharacterSet.alphanumerics
        allowed.insert(charactersIn: "-._~")
        return text.addingPercentEncoding(withAllowedCharacters: allowed) ?? text
    }

    /// A `postgresql.conf` string: its quotes doubled and backslashes escaped (the file reads
    /// `\n`, `\t` and the like inside quotes).
    static func quoted(_ value: String) -> String {
        "'" + value.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "'", with: "''") + "'"
    }
}

/// glibc's `posix_spawn_file_actions_addclosefrom_np` / `_addchdir_np`, which the Swift Glibc
/// module does not expose; looked up at run time, with a portable fallback.
enum SpawnExtensions {
    private typealias CloseFrom = @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32
    private typealias ChangeDirectory = @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, UnsafePointer<CChar>) -> Int32

    private static func symbol(_ name: String) -> UnsafeMutableRawPointer? {
        guard let handle = dlopen(nil, RTLD_NOW) else { return nil }
        return dlsym(handle, name)
    }

    /// Closes every descriptor >= `lowest` in the child (after the dup2 actions already added).
    static func closeDescriptors(from lowest: Int32, in actions: inout posix_spawn_file_actions_t, keeping _: Int32) {
        if let pointer = symbol("posix_spawn_file_actions_addclosefrom_np") {
            let closeFrom = unsafeBitCast(pointer, to: CloseFrom.self)
            if closeFrom(&actions, lowest) == 0 { return }
        }
        // Fallback: close each descriptor open now (glibc ignores closing one that is not open).
        let listing = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd")) ?? []
        var descriptors = listing.compactMap { Int32($0) }.filter { $0 >= lowest }
        if descriptors.isEmpty && listing.isEmpty {
            descriptors = Array(lowest..<Int32(min(Int(getdtablesize()), 4096)))
        }
        for descriptor in descriptors {
            posix_spawn_file_actions_addclose(&actions, descriptor)
        }
    }

    static func changeDirectory(to path: String, in actions: inout posix_spawn_file_actions_t) {
        guard let pointer = symbol("posix_spawn_file_actions_addchdir_np") else { return }
        let change = unsafeBitCast(pointer, to: ChangeDirectory.self)
        _ = change(&actions, path)
    }
}
