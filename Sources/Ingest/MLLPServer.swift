import Logging
import MLLP
import NIOCore
import NIOPosix
import ServiceLifecycle
import Synchronization

/// The MLLP listener: accepts bedside monitors and gateways and feeds their HL7 messages to the
/// ingestor. Runs as a `Service` so it shuts down gracefully with the rest of the daemon.
public final class MLLPServer: Service, Sendable {
    public struct Configuration: Sendable {
        public var host: String = "127.0.0.1"
        /// 0 picks a free port; `boundPort` says which.
        public var port: Int = 2575
        public var maximumFrameBytes: Int = 1 << 20
        /// A connection that sends nothing for this long, with nothing pending and no reply sent
        /// for as long, is closed: within one to two timeouts of going quiet (the check runs
        /// once per timeout).
        public var idleTimeout: TimeAmount = .minutes(5)
        /// Messages a connection may have waiting for storage before we stop reading it.
        public var maximumInFlightPerConnection: Int = 64
        /// Connections open at once; one more is closed as soon as it is accepted. Each may hold
        /// a frame of up to `maximumFrameBytes` while it arrives, so this bounds that memory too.
        public var maximumConnections: Int = 1_000
        /// Connections open at once from one address (a gateway that leaks a connection per
        /// message fills its own share, not the listener's: the other devices stay connected).
        public var maximumConnectionsPerPeer: Int = 256

        public init() {}
    }

    private let configuration: Configuration
    private let ingestor: MessageIngestor
    private let group: any EventLoopGroup
    private let logger: Logger
    private let channel = Mutex<Channel?>(nil)
    /// Open connections, so that stopping closes them too (senders resend what was not ACKed).
    private let connections = ConnectionRegistry()

    public init(configuration: Configuration, ingestor: MessageIngestor, group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton, logger: Logger) {
        self.configuration = configuration
        self.ingestor = ingestor
        self.group = group
        self.logger = logger
    }

    /// Binds the listening socket and returns the port it listens on.
    @discardableResult
    public func start() async throws -> Int {
        let configuration = configuration
        let ingestor = ingestor
        let logger = logger
        let connections = connections
        let channel = try await ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 256)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .childChannelOption(.maxMessagesPerRead, value: 16)
            .childChannelOption(.autoRead, value: true)
            .childChannelInitializer { channel in
                let id = ObjectIdentifier(channel)
                let limits = ConnectionRegistry.Limits(total: configuration.maximumConnections, perPeer: configuration.maximumConnectionsPerPeer)
                switch connections.add(channel, id: id, limits: limits) {
                case .added:
                    channel.closeFuture.whenComplete { _ in connections.remove(id) }
                case .refused(let limit, let firstSinceBelowLimit):
                    let (reason, what, count) = switch limit {
                    case .total: ("too_many_connections", "the listener is at its connection limit", limits.total)
                    case .perPeer: ("too_many_connections_from_peer", "its address has as many connections open as one may", limits.perPeer)
                    }
                    IngestMetrics().connectionErrors(reason).increment()
                    // Once per episode at the limit, not once per refused connection.
                    if firstSinceBelowLimit {
                        logger.warning("MLLP connection refused: \(what)", metadata: [
                            "peer": "\(channel.remoteAddress.map { "\($0)" } ?? "unknown")", "reason": "\(reason)", "limit": "\(count)",
                        ])
                    }
                    return channel.close()
                }
                return channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandlers([
                        IdleStateHandler(readTimeout: configuration.idleTimeout),
                        ByteToMessageHandler(MLLPFrameDecoder(maximumFrameBytes: configuration.maximumFrameBytes)),
                        MessageToByteHandler(MLLPFrameEncoder()),
                        MLLPConnectionHandler(
                            ingestor: ingestor, maximumFrameBytes: configuration.maximumFrameBytes,
                            maximumInFlight: configuration.maximumInFlightPerConnection,
                            idleTimeout: configuration.idleTimeout, logger: logger
                        ),
                    ])
                }
            }
            .bind(host: configuration.host, port: configuration.port)
            .get()
        self.channel.withLock { $0 = channel }
        let port = channel.localAddress?.port ?? configuration.port
        logger.info("MLLP listener started", metadata: ["host": "\(configuration.host)", "port": "\(port)"])
        return port
    }

    public var boundPort: Int? {
        channel.withLock { $0?.localAddress?.port }
    }

    /// Runs until the service group shuts down, then stops accepting connections.
    public func run() async throws {
        if boundPort == nil { try await start() }
        await withGracefulShutdownHandler {
            let channel = self.channel.withLock { $0 }
            try? await channel?.closeFuture.get()
        } onGracefulShutdown: {
            self.stop()
        }
    }

    /// Stops listening and closes every connection. Messages not yet acknowledged stay with
    /// their senders, who send them again on reconnect.
    public func stop() {
        guard let channel = channel.withLock({ current in defer { current = nil }; return current }) else { return }
        channel.close(promise: nil)
        for connection in connections.all {
            // Through the handler first, so that a frame our close cuts is not counted as the
            // sender's fault; then directly, for a connection accepted but not set up yet.
            connection.pipeline.fireUserInboundEventTriggered(MLLPListenerStopping())
            connection.close(promise: nil)
        }
        logger.info("MLLP listener stopped")
    }
}

/// The open connections of a listener, and how many each address has open.
private final class ConnectionRegistry: Sendable {
    struct Limits {
        var total: Int
        var perPeer: Int
    }

    enum Limit {
        case total, perPeer
    }

    private struct State {
        var channels: [ObjectIdentifier: (channel: Channel, peer: String)] = [:]
        var openByPeer: [String: Int] = [:]
        /// Whether a connection was refused since the count was last below the limit.
        var refusing = false
        /// The addresses refused since their count was last below the per-peer limit.
        var refusingPeers: Set<String> = []
    }
    private let state = Mutex(State())

    enum Admission {
        case added
        /// `firstSinceBelowLimit`: the first refusal since there was room, the one to log.
        case refused(Limit, firstSinceBelowLimit: Bool)
    }

    func add(_ channel: Channel, id: ObjectIdentifier, limits: Limits) -> Admission {
        // The address without the port: a gateway's connections come from many ports.
        let peer = channel.remoteAddress?.ipAddress ?? "unknown"
        return state.withLock { state in
            guard state.channels.count < limits.total else {
                defer { state.refusing = true }
                return .refused(.total, firstSinceBelowLimit: !state.refusing)
            }
            guard state.openByPeer[peer, default: 0] < limits.perPeer else {
                return .refused(.perPeer, firstSinceBelowLimit: state.refusingPeers.insert(peer).inserted)
            }
            state.channels[id] = (channel, peer)
            state.openByPeer[peer, default: 0] += 1
            return .added
        }
    }

    func remove(_ id: ObjectIdentifier) {
        state.withLock { state in
            guard let (_, peer) = state.channels.removeValue(forKey: id) else { return }
            state.refusing = false
            state.refusingPeers.remove(peer)
            state.openByPeer[peer, default: 1] -= 1
            if state.openByPeer[peer] == 0 { state.openByPeer[peer] = nil }
        }
    }

    var all: [Channel] { state.withLock { $0.channels.values.map(\.channel) } }
}
