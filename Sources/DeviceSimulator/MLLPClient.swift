import MLLP
import NIOCore
import NIOPosix

public enum MLLPClientError: Error, Sendable, CustomStringConvertible {
    /// The server closed the connection before acknowledging the message.
    case connectionClosed

    public var description: String { "the MLLP connection closed before the acknowledgement arrived" }
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
        let channel = try await ClientBootstrap(group: group)
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
            .get()
        let handler = try await channel.eventLoop.submit {
            NIOLoopBound(try channel.pipeline.syncOperations.handler(type: AcknowledgementHandler.self), eventLoop: channel.eventLoop)
        }.get()
        return MLLPClient(channel: channel, handler: handler)
    }

    /// Sends one message and waits for the frame that answers it.
    public func send(_ message: [UInt8]) async throws -> [UInt8] {
        try await sendFuture(message).get()
    }

    /// Sends without waiting; the future completes with the acknowledgement.
    public func sendFuture(_ message: [UInt8]) -> EventLoopFuture<[UInt8]> {
        let promise = channel.eventLoop.makePromise(of: [UInt8].self)
        let handler = handler
        let channel = channel
        channel.eventLoop.execute {
            handler.value.expect(promise)
            channel.writeAndFlush(channel.allocator.buffer(bytes: message), promise: nil)
        }
        return promise.futureResult
    }

    /// Writes bytes as they are, with no framing: for sending garbage or partial frames.
    public func sendRaw(_ bytes: [UInt8]) async throws {
        let buffer = channel.allocator.buffer(bytes: bytes)
        try await channel.pipeline.context(handlerType: MessageToByteHandler<MLLPFrameEncoder>.self).flatMap { context in
            context.writeAndFlush(NIOAny(buffer))
        }.get()
    }

    /// Resolves when the server closes the connection.
    public var closed: EventLoopFuture<Void> { channel.closeFuture }

    public func close() async {
        try? await channel.close()
    }
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
