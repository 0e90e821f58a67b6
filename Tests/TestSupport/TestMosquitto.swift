import MQTT

/// A real mosquitto broker for one test, in a temporary folder removed at process exit, on a
/// free port. Start, stop and restart it as the test needs; persistence survives restarts.
public final class TestMosquitto: Sendable {
    private let broker: EmbeddedMosquitto

    public var port: Int { broker.port }
    public var url: String { broker.url }
    public var folder: String { broker.folder }

    /// Writes the configuration; `start()` launches the broker. `listenerSettings` apply to its
    /// listener (TLS files, for instance).
    public init(port: Int = freeTCPPort(), listenerSettings: [String] = []) throws {
        broker = try EmbeddedMosquitto(folder: try TestPostgres.makeTemporaryFolder(), port: port, extraSettings: listenerSettings)
    }

    /// Starts the broker and waits (up to `timeout`) until it accepts connections.
    public func start(timeout: Duration = .seconds(15)) async throws {
        let broker = broker
        try await Task.detached { try broker.start(timeout: timeout) }.value
    }

    public func stop() { broker.stop() }

    public func restart() async throws {
        stop()
        try await start()
    }
}
