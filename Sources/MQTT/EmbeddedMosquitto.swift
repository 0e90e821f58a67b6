import CMosquitto
import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// A private mosquitto broker in a folder of its own (configuration, persistence, log) on
/// 127.0.0.1, for the demo, the benchmarks and the tests. Persistence is on, so a restart keeps
/// sessions and queued messages.
public final class EmbeddedMosquitto: Sendable {
    public let folder: String
    public let port: Int
    private let pid = Mutex<pid_t?>(nil)

    public var url: String { "mqtt://127.0.0.1:\(port)" }

    /// Writes the configuration. The queue and in-flight limits are opened wide: sessions that
    /// are away must keep everything, and the engine holds acknowledgements until commit.
    /// `inflightWindow`: QoS 1 messages the broker sends a 3.1.1 client before its PUBACKs.
    public init(folder: String, port: Int, inflightWindow: Int = 2_000, extraSettings: [String] = []) throws {
        self.folder = folder
        self.port = port
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        let configuration = [
            "listener \(port) 127.0.0.1",
            "allow_anonymous true",
            "persistence true",
            "persistence_location \(folder)/",
            "user root",
            "max_queued_messages 0",
            "max_inflight_messages \(inflightWindow)",
            "log_dest file \(folder)/mosquitto.log",
            "log_type error", "log_type warning", "log_type notice",
        ] + extraSettings
        try configuration.joined(separator: "\n").appending("\n").write(toFile: folder + "/mosquitto.conf", atomically: true, encoding: .utf8)
    }

    deinit { stop() }

    /// Starts the broker and waits until it accepts connections (or `timeout` passes).
    public func start(timeout: Duration = .seconds(15)) throws(MQTTError) {
        guard pid.withLock({ $0 }) == nil else { return }
        let executable = Self.executable
        // A clean signal mask: threads of the caller (dispatch, the test runner) block SIGTERM,
        // and a spawned child would inherit that and never stop.
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var empty = sigset_t()
        sigemptyset(&empty)
        posix_spawnattr_setsigmask(&attributes, &empty)
        // A process group of its own: Ctrl-C in the terminal goes to the caller, which stops the
        // broker itself after its own orderly shutdown (the broker must outlive the clients).
        posix_spawnattr_setpgroup(&attributes, 0)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETPGROUP))
        // Its own log file says everything; keep the caller's terminal clean.
        var files = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&files)
        defer { posix_spawn_file_actions_destroy(&files) }
        posix_spawn_file_actions_addopen(&files, 1, "/dev/null", O_WRONLY, 0)
        posix_spawn_file_actions_addopen(&files, 2, "/dev/null", O_WRONLY, 0)
        // Nothing else of ours: an inherited listening socket would outlive its owner's close.
        posix_spawn_file_actions_addclosefrom_np(&files, 3)
        var child: pid_t = 0
        let arguments = [executable, "-c", folder + "/mosquitto.conf"]
        var argv = arguments.map { strdup($0) } + [nil]
        defer { for pointer in argv { free(pointer) } }
        let code = posix_spawn(&child, executable, &files, &attributes, &argv, environ)
        guard code == 0 else { throw MQTTError(.configuration, "could not start \(executable): \(String(cString: strerror(code)))") }
        pid.withLock { $0 = child }
        Self.running.withLock { _ = $0.insert(child) }
        Self.registerExitCleanup()

        let deadline = ContinuousClock.now + timeout
        while !Self.acceptsConnections(port: port) {
            var status: Int32 = 0
            if waitpid(child, &status, WNOHANG) == child {
                pid.withLock { $0 = nil }
                let log = (try? String(contentsOfFile: folder + "/mosquitto.log", encoding: .utf8)) ?? ""
                throw MQTTError(.configuration, "mosquitto exited at start (status \(status)); its log ends: \(log.suffix(400))")
            }
            guard ContinuousClock.now < deadline else {
                stop()
                throw MQTTError(.connection, "mosquitto did not accept connections on port \(port) within \(timeout)")
            }
            Thread.sleep(forTimeInterval: 0.02)
        }
    }

    /// Stops the broker (SIGTERM: it saves its persistence file first) and waits for it to exit.
    public func stop() {
        guard let child = pid.withLock({ current -> pid_t? in
            defer { current = nil }
            return current
        }) else { return }
        kill(child, SIGTERM)
        var status: Int32 = 0
        while waitpid(child, &status, 0) == -1 && errno == EINTR {}
        _ = Self.running.withLock { $0.remove(child) }
    }

    public var isRunning: Bool { pid.withLock { $0 } != nil }

    public static let executable: String = {
        for path in ["/usr/sbin/mosquitto", "/usr/local/sbin/mosquitto", "/usr/bin/mosquitto"] where access(path, X_OK) == 0 {
            return path
        }
        return "/usr/sbin/mosquitto"
    }()

    public static func acceptsConnections(port: Int) -> Bool {
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

    /// Brokers of this process, killed at exit if nobody stopped them.
    private static let running = Mutex<Set<pid_t>>([])
    private static let exitCleanup = Atomic<Bool>(false)

    private static func registerExitCleanup() {
        if exitCleanup.compareExchange(expected: false, desired: true, ordering: .relaxed).exchanged {
            atexit { EmbeddedMosquitto.running.withLock { for pid in $0 { kill(pid, SIGKILL) } } }
        }
    }
}
