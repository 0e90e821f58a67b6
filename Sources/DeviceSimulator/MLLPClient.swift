import MLLP
import NIOCore
import NIOPosix

public enum MLLPClientError: Error, Sendable, CustomStringConvertible {
    /// The server closed the connection before acknowledging the message.
    case connectionClosed
    /// No acknowledgement within the timeout; the connection was closed, as replies can no
    /// longer be matched to messages.
    case acknowledgementTimeout(TimeAmount)

    public var description: String {
        switch self {
        case .connectionClosed: "the MLLP connection closed before the acknowledgement arrived"
        case .acknowledgementTimeout(let timeout): "no acknowledgement within \(timeout)"
        }
    }
}

/// An MLLP sender as bedside monitors behave: sends a message, and the frame that comes back is
/// its acknowledgement (replies arrive in order, so several may be outstanding).
public final class MLLPClient: Sendable {
    private let channel: Channel
    private let handler: NIOLoopBound<AcknowledgementHandler>

    private init(channel: Channel, handler: NIOLoopBound<AcknowledgementHandler>) {
        self.channel = channel
        self.handler = handler
    }

    public static func connect(
        host: String, port: Int, group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
        maximumFrameBytes: Int = 1 << 20
    ) async throws -> MLLPClient {
        try await connectFuture(host: host, port: port, group: group, maximumFrameBytes: maximumFrameBytes).get()
    }

    /// `connect` as a future, for callers that send from the event loop (chaining each message on
    /// the previous acknowledgement) so that no task scheduling sits between connection and sends.
    public static func connectFuture(
        host: String, port: Int, group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
        maximumFrameBytes: Int = 1 << 20
    ) -> EventLoopFuture<MLLPClient> {
        ClientBootstrap(group: group)
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandlers([
                        ByteToMessageHandler(MLLPFrameDecoder(maximumFrameBytes: maximumFrameBytes)),
                        MessageToByteHandler(MLLPFrameEncoder()),
                        AcknowledgementHandler(),
                    ])
                }
            }
            .connect(host: host, port: port)
            .flatMapThrowing { channel in
                // On the channel's loop; a connection the server already closed has no handlers left.
                guard let handler = try? channel.pipeline.syncOperations.handler(type: AcknowledgementHandler.self) else {
                    throw MLLPClientError.connectionClosed
                }
                return MLLPClient(channel: channel, handler: NIOLoopBound(handler, eventLoop: channel.eventLoop))
            }
    }

    /// Sends one message and waits for the frame that answers it.
    public func send(_ message: [UInt8], timeout: TimeAmount = .seconds(30)) async throws -> [UInt8] {
        try await sendFuture(message, timeout: timeout).get()
    }

    /// Sends without waiting; the future completes with the acknowledgement, or fails when the
    /// connection closes or no acknowledgement comes within `timeout` (as real senders give up).
    public func sendFuture(_ message: [UInt8], timeout: TimeAmount = .seconds(30)) -> EventLoopFuture<[UInt8]> {
        let promise = channel.eventLoop.makePromise(of: [UInt8].self)
        let handler = handler
        let channel = channel
        channel.eventLoop.execute {
            guard channel.isActive else {
                promise.fail(MLLPClientError.connectionClosed)
                return
            }
            handler.value.expect(promise)
            channel.writeAndFlush(channel.allocator.buffer(bytes: message), promise: nil)
            let timer = channel.eventLoop.scheduleTask(in: timeout) {
                promise.fail(MLLPClientError.acknowledgementTimeout(timeout))
                channel.close(promise: nil)
            }
            promise.futureResult.whenComplete { _ in timer.cancel() }
        }
        return promise.futureResult
    }

    /// Writes bytes as they are, with no framing: for sending garbage or partial frames.
    public func sendRaw(_ bytes: [UInt8]) async throws {
        let channel = channel
        let written = try await channel.eventLoop.submit {
            guard channel.isActive else { throw MLLPClientError.connectionClosed }
            // Written from the encoder's own position, so the bytes pass it by unframed.
            let context = try channel.pipeline.syncOperations.context(handlerType: MessageToByteHandler<MLLPFrameEncoder>.self)
            return context.writeAndFlush(NIOAny(channel.allocator.buffer(bytes: bytes)))
        }.get()
        try await written.get()
    }

    /// Resolves when the server closes the connection.
    public var closed: EventLoopFuture<Void> { channel.closeFuture }

    public func close() async {
        try? await channel.close()
    }

    /// The event loop the connection runs on, for chaining futures such as `sendFuture`'s.
    public var eventLoop: any EventLoop { channel.eventLoop }
}

/// Matches incoming frames to waiting senders, first in, first out.
private final class AcknowledgementHandler: ChannelInboundHandler {
    typealias InboundIn = MLLPInbound

    private var waiting = CircularBuffer<EventLoopPromise<[UInt8]>>()

    func expect(_ promise: EventLoopPromise<[UInt8]>) {
        waiting.append(promise)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard case .frame(var frame) = unwrapInboundIn(data), let promise = waiting.popFirst() else { return }
        promise.succeed(frame.readBytes(length: frame.readableBytes) ?? [])
    }

    func channelInactive(context: ChannelHandlerContext) {
        while let promise = waiting.popFirst() { promise.fail(MLLPClientError.connectionClosed) }
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        while let promise = waiting.popFirst() { promise.fail(error) }
        context.close(promise: nil)
    }
}
