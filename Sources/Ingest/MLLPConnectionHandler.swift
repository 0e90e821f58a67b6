import Logging
import MLLP
import NIOCore

/// One MLLP connection: hands frames to the ingestor, writes the replies back in the order the
/// messages arrived, stops reading while too many messages wait for storage or while the sender
/// does not read its acknowledgements, and closes a connection that misbehaves without disturbing
/// any other.
final class MLLPConnectionHandler: ChannelDuplexHandler {
    typealias InboundIn = MLLPInbound
    typealias OutboundIn = Never
    typealias OutboundOut = ByteBuffer

    private let ingestor: MessageIngestor
    private let maximumFrameBytes: Int
    private let maximumInFlight: Int
    private let idleTimeout: TimeAmount
    private let logger: Logger
    private let metrics = IngestMetrics()
    private var peer = "unknown"
    /// Replies in arrival order; nil until the message's outcome is known, empty when nothing
    /// goes back.
    private var pending = CircularBuffer<[UInt8]?>()
    /// Frames read past `maximumInFlight`, not yet handed to the ingestor: one read can bring
    /// thousands of tiny frames, and parsing them all at once would hold up every other
    /// connection of this event loop. Each completion hands over as many as it freed slots.
    private var waiting = CircularBuffer<Received>()

    /// What is handed to the ingestor.
    private enum Received {
        case frame([UInt8])
        /// A frame past the limit: its start, for the header the refusal names, and its length.
        case oversized(start: [UInt8], contentBytes: Int)
    }
    private var readHeld = false
    /// How many replies have been written (and their slots removed) so far.
    private var completedOffset = 0
    private var closing = false
    /// Each kind of trouble is logged once per connection; counters keep the rest.
    private var loggedReasons: Set<String> = []
    /// When the last reply went out: a sender reading its ACK after a slow commit is not idle.
    private var lastReply = NIODeadline.now()
    /// Since when the sender has not been reading its replies (the channel unwritable); nil
    /// while it reads them.
    private var unreadSince: NIODeadline?

    init(ingestor: MessageIngestor, maximumFrameBytes: Int, maximumInFlight: Int, idleTimeout: TimeAmount, logger: Logger) {
        self.ingestor = ingestor
        self.maximumFrameBytes = maximumFrameBytes
        self.maximumInFlight = maximumInFlight
        self.idleTimeout = idleTimeout
        self.logger = logger
    }

    func channelActive(context: ChannelHandlerContext) {
        peer = context.remoteAddress.map { "\($0)" } ?? "unknown"
        metrics.connectionsOpened.increment()
        logger.debug("MLLP connection opened", metadata: ["peer": "\(peer)"])
        context.fireChannelActive()
    }

    func channelInactive(context: ChannelHandlerContext) {
        metrics.connectionsClosed.increment()
        logger.debug("MLLP connection closed", metadata: ["peer": "\(peer)", "unacknowledged": "\(pending.count)"])
        context.fireChannelInactive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .discarded(let count, let reason):
            metrics.discardedBytes(reason.rawValue).increment(by: count)
            logOnce(reason.rawValue, "bytes outside an MLLP frame skipped", ["bytes": "\(count)"])
        case .frame(var frame):
            receive(.frame(frame.readBytes(length: frame.readableBytes) ?? []), context: context)
        case .oversized(var start, let contentBytes):
            // Counted and logged by the ingestor with the message it refuses.
            receive(.oversized(start: start.readBytes(length: start.readableBytes) ?? [], contentBytes: contentBytes), context: context)
        }
    }

    private func receive(_ received: Received, context: ChannelHandlerContext) {
        guard !closing else { return }
        if pending.count < maximumInFlight, waiting.isEmpty, context.channel.isWritable {
            hand(received, context: context)
        } else {
            waiting.append(received)
        }
    }

    /// Gives a frame to the ingestor; its reply comes back in a task of this event loop.
    private func hand(_ received: Received, context: ChannelHandlerContext) {
        let slot = completedOffset + pending.count  // absolute arrival number
        pending.append(nil)
        let loop = context.eventLoop
        let bound = NIOLoopBound((self, context), eventLoop: loop)
        let reply: @Sendable (IngestReply) -> Void = { reply in
            loop.execute {
                let (handler, context) = bound.value
                handler.complete(slot: slot, reply: reply, context: context)
            }
        }
        switch received {
        case .frame(let bytes):
            ingestor.ingest(bytes, peer: peer, reply: reply)
        case .oversized(let start, let contentBytes):
            ingestor.refuseOversized(start: start, contentBytes: contentBytes, limit: maximumFrameBytes, peer: peer, reply: reply)
        }
    }

    /// Holds reads back while the connection has too many messages waiting for storage, or while
    /// its replies pile up unsent because the sender is not reading them (they would otherwise
    /// grow without bound in memory).
    func read(context: ChannelHandlerContext) {
        if pending.count >= maximumInFlight || !waiting.isEmpty || !context.channel.isWritable {
            readHeld = true
        } else {
            context.read()
        }
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable {
            unreadSince = nil
            handWaiting(context: context)
            resumeReadingIfHeld(context: context)
        } else {
            if unreadSince == nil { unreadSince = .now() }
            metrics.connectionErrors("not_reading_replies").increment()
            logOnce("not_reading_replies", "MLLP sender is not reading its acknowledgements; its messages wait until it does", [:])
        }
        context.fireChannelWritabilityChanged()
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is MLLPListenerStopping {
            closing = true
            context.close(promise: nil)
            return
        }
        if let idle = event as? IdleStateHandler.IdleStateEvent, idle == .read {
            // Reads are held while the sender does not read its replies: a sender that stays so
            // for the idle timeout is hung, and would hold its frames and its place for ever.
            if let unreadSince, NIODeadline.now() - unreadSince >= idleTimeout {
                return close(context, reason: "replies_unread_timeout", "closing MLLP connection: its sender has not read its acknowledgements for the idle timeout")
            }
            // Quiet because we are busy storing, or because the sender has only just been answered
            // (a commit that took longer than the timeout), is not idle.
            guard pending.isEmpty, waiting.isEmpty, NIODeadline.now() - lastReply >= idleTimeout else { return }
            return close(context, reason: "idle_timeout", "closing idle MLLP connection")
        }
        context.fireUserInboundEventTriggered(event)
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        // A half-sent frame is what closing a connection ourselves (idle, storage down) leaves:
        // that closing was the reason logged and counted.
        if closing, case MLLPError.truncatedFrame = error { return }
        let reason: String
        switch error {
        case MLLPError.truncatedFrame: reason = "truncated_frame"
        case is IOError: reason = "io_error"
        default: reason = "protocol_error"
        }
        metrics.connectionErrors(reason).increment()
        logOnce(reason, "closing MLLP connection", ["error": "\(error)"])
        closing = true
        context.close(promise: nil)
    }

    // MARK: Replies in order

    private func complete(slot: Int, reply: IngestReply, context: ChannelHandlerContext) {
        let index = slot - completedOffset
        guard index >= 0, index < pending.count else { return }  // connection already reset
        switch reply {
        case .acknowledge(let bytes):
            pending[pending.index(pending.startIndex, offsetBy: index)] = bytes
        case .noAcknowledgment:
            pending[pending.index(pending.startIndex, offsetBy: index)] = []
        case .retryLater(let reason):
            metrics.connectionErrors("storage_unavailable").increment()
            logOnce("storage_unavailable", "closing MLLP connection so the sender retries", ["reason": "\(reason)"])
            closing = true
            pending.removeAll()
            waiting.removeAll()
            context.close(promise: nil)
            return
        }
        var wrote = false
        while let first = pending.first, let ack = first {
            pending.removeFirst()
            completedOffset += 1
            guard !ack.isEmpty else { continue }
            context.write(wrapOutboundOut(context.channel.allocator.buffer(bytes: ack)), promise: nil)
            wrote = true
        }
        if wrote {
            context.flush()
            lastReply = .now()
        }
        handWaiting(context: context)
        resumeReadingIfHeld(context: context)
    }

    /// As many waiting frames as there are free slots: each hand-over's reply comes back in a
    /// task of its own, so a flood of tiny frames still shares the event loop. None while the
    /// sender is not reading its replies: each frame would add a reply to memory (a 4-byte frame
    /// of garbage, a 150-byte `AE`), so they wait, bounded by the one read that brought them.
    private func handWaiting(context: ChannelHandlerContext) {
        while pending.count < maximumInFlight, context.channel.isWritable, let next = waiting.popFirst() {
            hand(next, context: context)
        }
    }

    private func resumeReadingIfHeld(context: ChannelHandlerContext) {
        if readHeld, pending.count < maximumInFlight, waiting.isEmpty, context.channel.isWritable {
            readHeld = false
            context.read()
        }
    }

    private func close(_ context: ChannelHandlerContext, reason: String, _ message: Logger.Message) {
        metrics.connectionErrors(reason).increment()
        logOnce(reason, message, [:])
        closing = true
        context.close(promise: nil)
    }

    private func logOnce(_ reason: String, _ message: Logger.Message, _ metadata: Logger.Metadata) {
        guard loggedReasons.insert(reason).inserted else { return }
        var metadata = metadata
        metadata["peer"] = "\(peer)"
        metadata["reason"] = "\(reason)"
        logger.warning(message, metadata: metadata)
    }
}

/// Sent to every connection when the listener stops: each closes itself, and a frame its sender
/// had not finished is not logged or counted as the sender's fault.
struct MLLPListenerStopping: Sendable {}
