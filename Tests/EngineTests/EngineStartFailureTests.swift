import Engine
import DeviceProfiles
import Foundation
import Storage
import TestSupport
import Testing
import VitalSigns
#if canImport(Glibc)
import Glibc
#endif

@Suite(.timeLimit(.minutes(2))) struct EngineStartFailureTests {
    @Test("an engine that cannot start (its MLLP port taken) stops what it had started: no session of it stays on the database")
    func aFailedStartLeavesNothingRunning() async throws {
        let url = try TestPostgres.migratedDatabase()
        let taken = try ListeningSocket()
        defer { taken.close() }
        var configuration = VitalsEngine.Configuration(
            databaseURL: url,
            profiles: DeviceProfileCatalog(profiles: try DeviceProfileLoader.loadDirectory(RepositoryPaths.root + "/device-profiles")),
            facility: "KTH", facilityZone: .gmt
        )
        configuration.mllp.port = taken.port
        configuration.api.port = 0
        await #expect(throws: (any Error).self) { _ = try await VitalsEngine(configuration: configuration, logger: TestPostgres.logger) }

        // The writer, the alert hub and the monitor had connected before the listener failed.
        let reader = try PostgresConnection(url: url)
        defer { reader.close() }
        let others = """
            SELECT count(*) FROM pg_stat_activity
            WHERE datname = current_database() AND backend_type = 'client backend' AND pid <> pg_backend_pid()
            """
        try await waitUntil(timeout: .seconds(30), "the engine's sessions closed") { try reader.execute(others).scalar == "0" }
    }
}

/// A TCP port on 127.0.0.1 held by a listening socket.
private struct ListeningSocket {
    let descriptor: Int32
    let port: Int

    init() throws {
        let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard descriptor >= 0 else { throw TestSupportError("socket: \(String(cString: strerror(errno)))") }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let listening = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(descriptor, $0, length) == 0 && listen(descriptor, 1) == 0 && getsockname(descriptor, $0, &length) == 0 }
        }
        guard listening else {
            Glibc.close(descriptor)
            throw TestSupportError("listen on 127.0.0.1: \(String(cString: strerror(errno)))")
        }
        self.descriptor = descriptor
        port = Int(UInt16(bigEndian: address.sin_port))
    }

    func close() { Glibc.close(descriptor) }
}
