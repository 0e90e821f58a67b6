import Foundation
import Logging
import Storage
import Synchronization
import TestSupport
import Testing
import VitalSigns

@Suite("EmbeddedPostgres and recovery")
struct EmbeddedPostgresTests {
    let logger = TestPostgres.logger

    @Test("a socket folder under /tmp (a data folder too deep for a socket path) that someone replaced by a link is refused, not followed")
    func aSocketFolderReplacedByALinkIsRefused() throws {
        let deep = try TestPostgres.makeTemporaryFolder() + "/" + String(repeating: "deep-folder-", count: 6)
        let cluster = EmbeddedPostgres(dataDirectory: deep, settings: TestPostgres.fastSettings, logger: logger)
        _ = try cluster.start(database: "postgres")
        let socketURL = try #require(cluster.unixSocketURL())
        try cluster.stop()
        let socketFolder = try #require(socketURL.components(separatedBy: "host=").last?.components(separatedBy: "&").first?.removingPercentEncoding)
        #expect(socketFolder.hasPrefix("/tmp/nilecare-pg-"))

        // Another user's trick: the folder becomes a link to a file of theirs.
        let target = try TestPostgres.makeTemporaryFolder() + "/victim"
        try "x".write(toFile: target, atomically: true, encoding: .utf8)
        try FileManager.default.removeItem(atPath: socketFolder)
        try FileManager.default.createSymbolicLink(atPath: socketFolder, withDestinationPath: target)
        defer { try? FileManager.default.removeItem(atPath: socketFolder) }
        #expect {
            _ = try cluster.start(database: "postgres")
        } throws: { error in
            "\(error)".contains("is not a private folder") && "\(error)".contains(socketFolder)
        }
        let owner = try FileManager.default.attributesOfItem(atPath: target)[.ownerAccountID] as? Int
        #expect(owner == Int(getuid()))
    }

    @Test("a second start reuses the data folder, also after a crash left a stale postmaster.pid")
    func reuseAndStalePid() throws {
        let cluster = try TestPostgres.privateCluster()
        let url = try cluster.start(database: "keep")
        #expect(url.hasPrefix("postgresql://postgres:") && url.contains("@127.0.0.1:"))
        #expect(url.hasSuffix("/keep"))
        #expect(cluster.isRunning)
        let connection = try PostgresConnection(url: url)
        try connection.execute("CREATE TABLE survivor (v text); INSERT INTO survivor VALUES ('still here')")
        #expect(try connection.execute("SHOW wal_init_zero").scalar == "off")  // the cluster's default
        connection.close()
        let versionFile = cluster.dataDirectory + "/PG_VERSION"
        let created = try FileManager.default.attributesOfItem(atPath: versionFile)[.modificationDate] as? Date
        try cluster.stop()
        #expect(!cluster.isRunning)
        try cluster.stop()  // harmless when stopped

        // Simulate a crash: a postmaster.pid whose process no longer exists.
        let deadPID = try deadProcessID()
        let pidFile = cluster.dataDirectory + "/postmaster.pid"
        try "\(deadPID)\n\(cluster.dataDirectory)\n1700000000\n5432\n/tmp\n127.0.0.1\n  5432001         0\nready   \n".write(
            toFile: pidFile, atomically: true, encoding: .utf8)

        // Settings given win over the defaults, and are written again at each start.
        let again = EmbeddedPostgres(
            dataDirectory: cluster.dataDirectory, settings: TestPostgres.fastSettings.merging(["wal_init_zero": "on"]) { $1 }, logger: logger)
        let secondURL = try again.start(database: "keep")
        defer { try? again.stop() }
        let reopened = try PostgresConnection(url: secondURL)
        defer { reopened.close() }
        #expect(try reopened.execute("SELECT v FROM survivor").scalar == "still here")
        #expect(try reopened.execute("SHOW wal_init_zero").scalar == "on")
        #expect(try FileManager.default.attributesOfItem(atPath: versionFile)[.modificationDate] as? Date == created)
        #expect(again.unixSocketURL() != nil)
        let viaSocket = try PostgresConnection(url: again.unixSocketURL(database: "keep") ?? "")
        defer { viaSocket.close() }
        #expect(try viaSocket.execute("SELECT count(*) FROM survivor").scalar == "1")

        // A third instance adopts the running server instead of starting another.
        let adopter = EmbeddedPostgres(dataDirectory: cluster.dataDirectory, logger: logger)
        #expect(try adopter.start() == again.url)
    }

    @Test("a data folder whose postgresql.conf lost the include of our settings (a first run stopped after initdb) gets it back at the next start")
    func theSettingsIncludeIsRestored() throws {
        let cluster = try TestPostgres.privateCluster()
        _ = try cluster.start()
        try cluster.stop()
        let configPath = cluster.dataDirectory + "/postgresql.conf"
        let config = try String(contentsOfFile: configPath, encoding: .utf8)
        try config.split(separator: "\n", omittingEmptySubsequences: false).filter { !$0.hasPrefix("include_if_exists") }
            .joined(separator: "\n").write(toFile: configPath, atomically: true, encoding: .utf8)

        let again = EmbeddedPostgres(dataDirectory: cluster.dataDirectory, settings: TestPostgres.fastSettings, logger: logger)
        let url = try again.start()
        defer { try? again.stop() }
        let connection = try PostgresConnection(url: url)
        defer { connection.close() }
        // On PostgreSQL's defaults it would listen on 5432, not on the port it was given.
        #expect(try connection.execute("SHOW port").scalar == again.port.map(String.init))
        let restored = try String(contentsOfFile: configPath, encoding: .utf8)
        #expect(restored.components(separatedBy: "include_if_exists = 'nilecare.conf'").count == 2)
    }

    @Test("the server does not inherit the engine's environment: its secrets would be readable as the postgres user in /proc")
    func theServerGetsAMinimalEnvironment() throws {
        // What this process has beyond PATH and TZ (the test runner's own variables): none of it
        // may reach the server. runuser sets the postgres user's HOME, SHELL, USER and LOGNAME, and
        // the tools their PWD. (Not a variable set here: setenv races with the other tests' spawns.)
        let ours = Set(ProcessInfo.processInfo.environment.keys).subtracting(["PATH", "TZ", "HOME", "SHELL", "USER", "LOGNAME", "PWD"])
        try #require(!ours.isEmpty)
        let cluster = try TestPostgres.privateCluster()
        _ = try cluster.start()
        defer { try? cluster.stop() }
        let pidLine = try String(contentsOfFile: cluster.dataDirectory + "/postmaster.pid", encoding: .utf8).split(separator: "\n").first
        let pid = try #require(pidLine.flatMap { Int32($0) })
        let environment = try #require(FileManager.default.contents(atPath: "/proc/\(pid)/environ"))
        let variables = environment.split(separator: 0).map { String(decoding: $0, as: UTF8.self) }
        let names = Set(variables.compactMap { $0.split(separator: "=", maxSplits: 1).first.map(String.init) })
        #expect(names.contains("PATH"))
        #expect(names.isDisjoint(with: ours), "inherited: \(names.intersection(ours).sorted())")
    }

    @Test("TCP asks for the password kept in the data folder (readable by its owner only); a cluster that trusted TCP asks for it after its next start")
    func tcpAsksForThePassword() throws {
        // Every statement logged: the password is set hashed, so the log never holds it.
        let cluster = try TestPostgres.privateCluster(settings: TestPostgres.fastSettings.merging(["log_statement": "all"]) { $1 })
        let url = try cluster.start()
        defer { try? cluster.stop() }
        let port = try #require(cluster.port)
        let passwordFile = cluster.dataDirectory + "/" + EmbeddedPostgres.passwordFileName
        let password = try String(contentsOfFile: passwordFile, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(password.count == 32)
        let serverLog = try String(contentsOfFile: cluster.dataDirectory + "/embedded-postgres.log", encoding: .utf8)
        #expect(serverLog.contains("ALTER ROLE postgres PASSWORD 'SCRAM-SHA-256$"), "the statement setting the password was not logged")
        #expect(!serverLog.contains(password), "the server's log holds the password")
        #expect(try FileManager.default.attributesOfItem(atPath: passwordFile)[.posixPermissions] as? Int == 0o600)
        #expect(url.contains(":\(password)@"))
        let withPassword = try PostgresConnection(url: url)
        #expect(try withPassword.execute("SELECT 1").scalar == "1")
        withPassword.close()
        func refusal(_ url: String) -> String {
            do {
                try PostgresConnection(url: url).close()
                return "connected"
            } catch {
                return error.message
            }
        }
        #expect(refusal("postgresql://postgres@127.0.0.1:\(port)/postgres").contains("password"))
        let wrong = refusal("postgresql://postgres:not-it@127.0.0.1:\(port)/postgres")
        #expect(wrong.contains("password authentication failed"))
        #expect(!wrong.contains("not-it"), "the password stays out of the message")

        // A data folder of an earlier build: TCP trusted, no password made yet.
        try cluster.stop()
        try "local all all trust\nhost all all 127.0.0.1/32 trust\n".write(toFile: cluster.dataDirectory + "/pg_hba.conf", atomically: true, encoding: .utf8)
        try FileManager.default.removeItem(atPath: passwordFile)
        let restarted = try cluster.start()
        let newPassword = try String(contentsOfFile: passwordFile, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(newPassword != password && restarted.contains(":\(newPassword)@"))
        #expect(refusal("postgresql://postgres@127.0.0.1:\(try #require(cluster.port))/postgres").contains("password"))
        #expect(refusal(restarted) == "connected")
    }

    @Test("settings reach the server as written, quotes and backslashes included")
    func settingsAreQuoted() throws {
        let name = #"ward\north's\tbeds"#
        let cluster = try TestPostgres.privateCluster(settings: TestPostgres.fastSettings.merging(["cluster_name": name]) { $1 })
        let url = try cluster.start()
        defer { try? cluster.stop() }
        let connection = try PostgresConnection(url: url)
        defer { connection.close() }
        #expect(try connection.execute("SHOW cluster_name").scalar == name)
    }

    @Test("freeTCPPort never hands out a port twice in one process, though the kernel offers some again")
    func freePortsAreDistinct() {
        // 1,000 binds to port 0 here gave 974 distinct ports: a repeat is all but certain.
        let ports = (0..<1_000).map { _ in EmbeddedPostgres.freeTCPPort() }
        #expect(!ports.contains(0))
        #expect(Set(ports).count == ports.count)
    }

    @Test("a folder that is not a data folder is refused with a clear error")
    func notADataFolder() throws {
        let folder = NSTemporaryDirectory() + "nilecare-notdata-\(UInt32.random(in: 0...UInt32.max))"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        try "hello".write(toFile: folder + "/notes.txt", atomically: true, encoding: .utf8)
        let cluster = EmbeddedPostgres(dataDirectory: folder, logger: logger)
        let error = #expect(throws: EmbeddedPostgresError.self) { try cluster.start() }
        #expect(error?.description.contains("not a PostgreSQL data folder") == true)
    }

    @Test("timescaleAvailable reflects timescaledb.so in pg_config --pkglibdir")
    func timescaleDetection() throws {
        let cluster = try TestPostgres.shared()
        let connection = try PostgresConnection(url: cluster.url)
        defer { connection.close() }
        // The running server's own library folder, asked of the server rather than of pg_config.
        let libraryFolder = try #require(try connection.execute("SELECT setting FROM pg_config WHERE name = 'PKGLIBDIR'").scalar)
        #expect(cluster.timescaleAvailable == FileManager.default.fileExists(atPath: libraryFolder + "/timescaledb.so"))
        let preload = try connection.execute("SHOW shared_preload_libraries").scalar ?? ""
        #expect(preload.contains("timescaledb") == cluster.timescaleAvailable)
        #expect(try connection.execute("SHOW listen_addresses").scalar == "127.0.0.1")
    }

    @Test("when the server goes away, submissions fail with an error; after a restart the writer serves again")
    func writerRecovers() async throws {
        let cluster = try TestPostgres.privateCluster(port: freeTCPPort())
        let url = try cluster.start(database: "vitals")
        defer { try? cluster.stop() }
        let setup = try PostgresConnection(url: url)
        _ = try Migrator(directory: RepositoryPaths.migrations, logger: logger).migrate(setup)
        setup.close()

        var configuration = ObservationWriter.Configuration()
        configuration.reconnectDelay = .milliseconds(20)
        configuration.maxReconnectDelay = .milliseconds(200)
        let writer = try ObservationWriter(url: url, configuration: configuration, logger: logger)
        defer { writer.shutdown() }
        #expect(try await writer.write(IngestBatch(message: key("R-1"), observations: [observation(seconds: 1)])) == .stored(observations: 1))
        #expect(writer.health.connectedWriters == configuration.connections)

        try cluster.stop()
        let error = await #expect(throws: PostgresError.self) {
            _ = try await writer.write(IngestBatch(message: key("R-2"), observations: [observation(seconds: 2)]))
        }
        #expect(error?.isConnectionFailure == true)
        // While it is down, every attempt fails (nothing is acknowledged).
        await #expect(throws: PostgresError.self) {
            _ = try await writer.write(IngestBatch(message: key("R-2"), observations: [observation(seconds: 2)]))
        }
        // The health check says so once every connection has been found gone.
        try await waitUntil(timeout: .seconds(30), "no writer connected") {
            _ = try? await writer.write(IngestBatch(message: key("R-2"), observations: [observation(seconds: 2)]))
            return writer.health.connectedWriters == 0
        }

        try cluster.start()
        // The writers reconnect by themselves, with no traffic to prompt them.
        try await waitUntil(timeout: .seconds(30), "a writer connected again") { writer.health.connectedWriters >= 1 }
        let stored = Atomic<Int>(0)
        try await waitUntil(timeout: .seconds(60), "writer to store again after the restart") {
            do {
                let outcome = try await writer.write(IngestBatch(message: key("R-2"), observations: [observation(seconds: 2)]))
                if outcome == .stored(observations: 1) { stored.add(1, ordering: .relaxed) }
                return true
            } catch {
                return false
            }
        }
        #expect(stored.load(ordering: .relaxed) == 1)
        #expect(writer.health.connectedWriters >= 1)
        #expect(try await writer.write(IngestBatch(message: key("R-2"), observations: [observation(seconds: 2)])) == .duplicate)
        let reader = try PostgresConnection(url: url)
        defer { reader.close() }
        #expect(try count(reader, "SELECT count(*) FROM vital_signs") == 2)
    }
}

/// The id of a process that has exited (a child we started and reaped).
func deadProcessID() throws -> Int32 {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/bin/true")
    try process.run()
    process.waitUntilExit()
    return process.processIdentifier
}
