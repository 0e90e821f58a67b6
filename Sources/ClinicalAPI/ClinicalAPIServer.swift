import Alerts
import Hummingbird
import Logging
import NIOCore

/// The HTTP API of the engine: the nurses' station page and the alerts API today; patients,
/// encounters, FHIR and audit later. A Hummingbird application, run as a lifecycle `Service`.
public enum ClinicalAPIServer {
    public struct Configuration: Sendable {
        public var host: String = "127.0.0.1"
        /// 0 picks a free port (reported to `onRunning`).
        public var port: Int = 8080
        /// Comment lines on a quiet alert stream, so proxies do not close it.
        public var keepAliveInterval: Duration = .seconds(15)
        /// A connection that sends no request, or sends one too slowly, for this long is closed
        /// (an open alert stream is not: the server is the one writing).
        public var idleTimeout: Duration = .seconds(60)
        /// An alert stream whose client takes none of a write for this long (a frozen screen,
        /// a script that never reads) is closed: its lines would wait in memory, and a graceful
        /// stop would wait on the write for ever. The client reconnects with its Last-Event-ID.
        public var streamWriteTimeout: Duration = .seconds(30)

        public init() {}
    }

    /// The application; run it with `runService()` or in a `ServiceGroup`. `onRunning` receives
    /// the bound port once it accepts connections.
    public static func application(
        hub: AlertHub, tokens: APITokens, configuration: Configuration, logger: Logger,
        onRunning: @escaping @Sendable (Int) async -> Void = { _ in }
    ) throws -> some ApplicationProtocol {
        let router = Router(context: APIRequestContext.self)
        AlertRoutes(
            hub: hub, tokens: tokens, keepAliveInterval: configuration.keepAliveInterval, writeTimeout: configuration.streamWriteTimeout, logger: logger
        ).register(on: router)
        try NursesStationPage().register(on: router)
        return Application(
            router: router,
            server: .http1(configuration: .init(idleTimeout: TimeAmount(configuration.idleTimeout))),
            configuration: ApplicationConfiguration(address: .hostname(configuration.host, port: configuration.port), serverName: "nilecare-vitals"),
            onServerRunning: { channel in await onRunning(channel.localAddress?.port ?? configuration.port) },
            logger: logger
        )
    }
}
