import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// A real mosquitto broker for one test: its own folder (config, persistence, log) and a free
/// port on 127.0.0.1. Persistence is on, so a restart keeps sessions and queued messages.
/// Killed at process exit if a test forgets to stop it.
public final class TestMosquitto: Sendable {
    public let port: Int
    public let folder: String
    private let process = Mutex<ProcessBox?>(nil)

    public var url: String { "mqtt://127.0.0.1:\(port)" }

    /// Writes the configuration; `start()` launches the broker.
    public init(port: Int = freeTCPPort()) throws {
        self.port = port
        folder = try TestPostgres.makeTemporaryFolder()
        // Queues and windows wide open: tests publish bursts to sessions that are away.
        let configuration = """
            listener \(port) 127.0.0.1
            allow_anonymous true
            persistence true
            persistence_location \(folder)/
            user root
            max_queued_messages 0
            max_inflight_messages 1000
            log_dest file \(folder)/mosquitto.log
            log_type error
            log_type warning
            log_type notice
            """
        try configuration.write(toFile: folder + "/mosquitto.conf", atomically: true, encoding: .utf8)
    }

    deinit { stop() }

    /// Starts the broker and waits (up to `timeout`) until it accepts connections.
    public func start(timeout: Duration = .seconds(15)) async throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: Self.executable)
        process.arguments = ["-c", folder + "/mosquitto.conf"]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        _ = Self.running.withLock { $0.insert(process.processIdentifier) }
        Self.registerExitCleanup()
        self.process.withLock { $0 = ProcessBox(process: process) }
        let port = port
        try await waitUntil(timeout: timeout, "mosquitto accepting connections on port \(port)") {
            guard process.isRunning else {
                let log = (try? String(contentsOfFile: folder + "/mosquitto.log", encoding: .utf8)) ?? ""
                throw TestSupportError("mosquitto exited (status \(process.terminationStatus)): \(log.suffix(500))")
            }
            return Self.acceptsConnections(port: port)
        }
    }

    /// Stops the broker (SIGTERM: it saves its persistence file) and waits for it to exit.
    public func stop() {
        guard let box = process.withLock({ current -> ProcessBox? in
            defer { current = nil }
            return current
        }) else { return }
        box.process.terminate()
        box.process.waitUntilExit()
        _ = Self.running.withLock { $0.remove(box.process.processIdentifier) }
    }

    public func restart() async throws {
        stop()
        try await start()
    }

    static let executable: String = {
        for path in ["/usr/sbin/mosquitto", "/usr/local/sbin/mosquitto", "/usr/bin/mosquitto"] where FileManager.default.isExecutableFile(atPath: path) {
            return path
        }
        return "/usr/sbin/mosquitto"
    }()

    private static func acceptsConnections(port: Int) -> Bool {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        return withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0
            }
        }
    }

    private static let running = Mutex<Set<Int32>>([])
    private static let exitCleanup = Atomic<Bool>(false)

    private static func registerExitCleanup() {
        if exitCleanup.compareExchange(expected: false, desired: true, ordering: .relaxed).exchanged {
            atexit { TestMosquitto.running.withLock { for pid in $0 { kill(pid, SIGKILL) } } }
        }
    }
}

/// `Process` is not Sendable; it is only touched under the owner's mutex or after taking it out.
private struct ProcessBox: @unchecked Sendable {
    let process: Process
}
