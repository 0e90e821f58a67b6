import Logging
import Metrics
import NIOCore
import NIOHTTP1
import NIOPosix
import Prometheus
import ServiceLifecycle
import Synchronization

/// Serves the process's swift-metrics in the Prometheus text format (`GET /metrics`) and a
/// liveness answer (`GET /health`), on a port of its own so scraping never competes with ingest.
public final class MetricsEndpoint: Service, Sendable {
    /// The registry every metric of the process lands in, once `bootstrapMetrics()` has run.
    public static let registry = PrometheusCollectorRegistry()
    private static let bootstrapped = Mutex(false)

    /// Routes swift-metrics to `registry`; safe to call more than once (only the first counts).
    public static func bootstrapMetrics() {
        let first = bootstrapped.withLock { done in
            defer { done = true }
            return !done
        }
        if first { MetricsSystem.bootstrap(PrometheusMetricsFactory(registry: registry)) }
    }

    private let host: String
    private let port: Int
    /// A connection that sends nothing for this long is closed: the port is often open to the
    /// network for scraping, and idle connections would hold file descriptors the engine's
    /// MLLP listener needs.
    private let idleTimeout: TimeAmount
    private let logger: Logger
    private let channel = Mutex<Channel?>(nil)
    private let checks = HealthChecks()

    public init(host: String, port: Int, idleTimeout: Duration = .seconds(60), logger: Logger) {
        self.host = host
        self.port = port
        self.idleTimeout = TimeAmount(idleTimeout)
        self.logger = logger
    }

    /// Adds a component to `GET /health` (a source, a connection); `check` runs per request.
    public func addHealthCheck(_ name: String, _ check: @escaping @Sendable () -> HealthStatus) {
        checks.add(name, check)
    }

    /// Binds and returns the port (useful with port 0).
    @discardableResult
    public func start() async throws -> Int {
        let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { [checks, idleTimeout] channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(IdleStateHandler(readTimeout: idleTimeout))
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline()
                    try channel.pipeline.syncOperations.addHandler(MetricsRequestHandler(checks: checks))
                }
            }
            .bind(host: host, port: port)
            .get()
        self.channel.withLock { $0 = channel }
        let bound = channel.localAddress?.port ?? port
        logger.info("metrics endpoint started", metadata: ["host": "\(host)", "port": "\(bound)", "path": "/metrics"])
        return bound
    }

    public func run() async throws {
        if channel.withLock({ $0 }) == nil { try await start() }
        await withGracefulShutdownHandler {
            try? await self.channel.withLock { $0 }?.closeFuture.get()
        } onGracefulShutdown: {
            self.stop()
        }
    }

    public func stop() {
        channel.withLock { current in
            current?.close(promise: nil)
            current = nil
        }
    }
}

private final class MetricsRequestHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private var head: HTTPRequestHead?
    private let checks: HealthChecks

    init(checks: HealthChecks) { self.checks = checks }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let idle = event as? IdleStateHandler.IdleStateEvent, idle == .read { return context.close(promise: nil) }
        context.fireUserInboundEventTriggered(event)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let request):
            head = request
        case .body:
            break
        case .end:
            guard let request = head else { return }
            head = nil
            let (status, contentType, body): (HTTPResponseStatus, String, [UInt8])
            switch (request.method, request.uri) {
            case (.GET, "/metrics"):
                (status, contentType, body) = (.ok, "text/plain; version=0.0.4; charset=utf-8", MetricsEndpoint.registry.emitToBuffer())
            case (.GET, "/health"):
                (status, contentType, body) = (.ok, "text/plain; charset=utf-8", Array(HealthReport.render(checks.run()).utf8))
            default:
                (status, contentType, body) = (.notFound, "text/plain; charset=utf-8", Array("not found: try /metrics or /health\n".utf8))
            }
            var headers = HTTPHeaders()
            headers.add(name: "Content-Type", value: contentType)
            headers.add(name: "Content-Length", value: "\(body.count)")
            context.write(wrapOutboundOut(.head(HTTPResponseHead(version: request.version, status: status, headers: headers))), promise: nil)
            context.write(wrapOutboundOut(.body(.byteBuffer(context.channel.allocator.buffer(bytes: body)))), promise: nil)
            let keepAlive = request.isKeepAlive
            context.writeAndFlush(wrapOutboundOut(.end(nil))).assumeIsolated().whenComplete { _ in
                if !keepAlive { context.close(promise: nil) }
            }
        }
    }
}

/// The registered health checks.
final class HealthChecks: Sendable {
    private let checks = Mutex<[(name: String, check: @Sendable () -> HealthStatus)]>([])

    func add(_ name: String, _ check: @escaping @Sendable () -> HealthStatus) {
        checks.withLock { $0.append((name, check)) }
    }

    func run() -> [(name: String, status: HealthStatus)] {
        checks.withLock { $0 }.map { ($0.name, $0.check()) }
    }
}
