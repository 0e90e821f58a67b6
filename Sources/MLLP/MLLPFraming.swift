import NIOCore

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Minimal Lower Layer Protocol framing (HL7 v2 Implementation Guide, appendix C):
/// `<VT> message <FS><CR>`, i.e. `0x0B … 0x1C 0x0D`.
public enum MLLPFraming {
    public static let startBlock: UInt8 = 0x0B
    public static let endBlock: UInt8 = 0x1C
    public static let carriageReturn: UInt8 = 0x0D
}

/// What the decoder hands on: a whole frame's content, the start of a frame over the limit, or
/// bytes it had to throw away.
public enum MLLPInbound: Sendable {
    case frame(ByteBuffer)
    /// A frame longer than the limit: its first bytes (`start`, enough for its header, so that
    /// it can be answered by name) and its content's length. The rest was dropped as it arrived,
    /// never held in memory.
    case oversized(start: ByteBuffer, contentBytes: Int)
    /// Bytes outside any frame (noise before a start block) or an abandoned partial frame.
    case discarded(byteCount: Int, reason: MLLPDiscardReason)
}

public enum MLLPDiscardReason: String, Sendable {
    /// Bytes that arrived before a start block.
    case outsideFrame = "outside_frame"
    /// A new start block arrived before the previous frame ended.
    case unterminatedFrame = "unterminated_frame"
    /// An end block not followed by a carriage return.
    case badEndBlock = "bad_end_block"
}

public enum MLLPError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The connection closed in the middle of a frame.
    case truncatedFrame(receivedBytes: Int)

    public var description: String {
        switch self {
        case .truncatedFrame(let bytes): "connection closed inside an MLLP frame after \(bytes) bytes"
        }
    }
}

/// Splits a byte stream into MLLP frames, skipping (and reporting) anything outside them. A
/// frame past `maximumFrameBytes` is dropped as it arrives, its start kept, and reported whole
/// when it ends (`MLLPInbound.oversized`), so that it can be refused and the connection go on.
public struct MLLPFrameDecoder: ByteToMessageDecoder {
    public typealias InboundOut = MLLPInbound

    public let maximumFrameBytes: Int
    /// How far into the current frame the end block has already been searched for.
    private var scannedBytes = 0
    /// The frame over the limit being dropped: its start and its length so far.
    private var oversized: (start: ByteBuffer, contentBytes: Int)?

    /// The start of an oversized frame that is kept (or the limit, when smaller): far more than
    /// any MSH segment.
    static let keptStartBytes = 4_096

    public init(maximumFrameBytes: Int) {
        self.maximumFrameBytes = maximumFrameBytes
    }

    public mutating func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        if oversized != nil { return dropOversized(context: context, buffer: &buffer) }
        guard let first = buffer.readableBytesView.first else { return .needMoreData }
        if first != MLLPFraming.startBlock {
            let view = buffer.readableBytesView
            let noise = view.firstIndex(of: MLLPFraming.startBlock).map { $0 - view.startIndex } ?? view.count
            buffer.moveReaderIndex(forwardBy: noise)
            context.fireChannelRead(wrapInboundOut(.discarded(byteCount: noise, reason: .outsideFrame)))
            return .continue
        }
        // Search only bytes not searched before, for the end block or a new start block.
        let from = 1 + scannedBytes
        let found: (offset: Int, byte: UInt8)? = buffer.withUnsafeReadableBytes { bytes in
            guard from < bytes.count, let base = bytes.baseAddress else { return nil }
            let rest = bytes.count - from
            let end = memchr(base + from, Int32(MLLPFraming.endBlock), rest).map { $0 - UnsafeMutableRawPointer(mutating: base) }
            let start = memchr(base + from, Int32(MLLPFraming.startBlock), end.map { $0 - from } ?? rest)
                .map { $0 - UnsafeMutableRawPointer(mutating: base) }
            if let start { return (start, MLLPFraming.startBlock) }
            return end.map { ($0, MLLPFraming.endBlock) }
        }
        guard let found else {
            if buffer.readableBytes - 1 > maximumFrameBytes { return startDroppingOversized(upTo: buffer.readableBytes, buffer: &buffer) }
            scannedBytes = buffer.readableBytes - 1
            return .needMoreData
        }
        if found.byte == MLLPFraming.startBlock {
            // The sender gave up on a frame and started again: drop the unfinished one.
            buffer.moveReaderIndex(forwardBy: found.offset)
            scannedBytes = 0
            context.fireChannelRead(wrapInboundOut(.discarded(byteCount: found.offset, reason: .unterminatedFrame)))
            return .continue
        }
        let length = found.offset - 1
        // Whether the frame ends in this read or not: the limit is on its content. Its end block
        // is left for `dropOversized` to find.
        if length > maximumFrameBytes { return startDroppingOversized(upTo: found.offset, buffer: &buffer) }
        guard found.offset + 1 < buffer.readableBytes else {
            scannedBytes = found.offset - 1  // look at this end block again when its CR arrives
            return .needMoreData
        }
        scannedBytes = 0
        guard buffer.getInteger(at: buffer.readerIndex + found.offset + 1, as: UInt8.self) == MLLPFraming.carriageReturn else {
            // Up to and including the end block: what follows it may be the next frame's start.
            buffer.moveReaderIndex(forwardBy: found.offset + 1)
            context.fireChannelRead(wrapInboundOut(.discarded(byteCount: found.offset + 1, reason: .badEndBlock)))
            return .continue
        }
        buffer.moveReaderIndex(forwardBy: 1)
        let frame = buffer.readSlice(length: length)!
        buffer.moveReaderIndex(forwardBy: 2)
        context.fireChannelRead(wrapInboundOut(.frame(frame)))
        return .continue
    }

    public mutating func decodeLast(context: ChannelHandlerContext, buffer: inout ByteBuffer, seenEOF: Bool) throws -> DecodingState {
        while try decode(context: context, buffer: &buffer) == .continue {}
        if let cut = oversized {
            oversized = nil
            buffer.moveReaderIndex(forwardBy: buffer.readableBytes)
            throw MLLPError.truncatedFrame(receivedBytes: cut.contentBytes + 1)
        }
        if buffer.readableBytes > 0 {
            let received = buffer.readableBytes
            buffer.moveReaderIndex(forwardBy: received)
            throw MLLPError.truncatedFrame(receivedBytes: received)
        }
        return .needMoreData
    }

    /// Keeps the start of the frame at the reader index (`maximumFrameBytes` bounds its content,
    /// without start block, end block and CR) and drops the bytes before `end`.
    private mutating func startDroppingOversized(upTo end: Int, buffer: inout ByteBuffer) -> DecodingState {
        let start = buffer.getSlice(at: buffer.readerIndex + 1, length: min(maximumFrameBytes, Self.keptStartBytes)) ?? ByteBuffer()
        oversized = (ByteBuffer(buffer: start), end - 1)  // a copy: the buffer's storage is reused
        buffer.moveReaderIndex(forwardBy: end)
        scannedBytes = 0
        return .continue
    }

    /// Drops an oversized frame's bytes up to its end block, then reports it; a start block
    /// before that means the sender abandoned it.
    private mutating func dropOversized(context: ChannelHandlerContext, buffer: inout ByteBuffer) -> DecodingState {
        guard var current = oversized else { return .continue }
        let view = buffer.readableBytesView
        guard let index = view.firstIndex(where: { $0 == MLLPFraming.endBlock || $0 == MLLPFraming.startBlock }) else {
            current.contentBytes += view.count
            buffer.moveReaderIndex(forwardBy: view.count)
            oversized = current
            return .needMoreData
        }
        let offset = index - view.startIndex
        current.contentBytes += offset
        buffer.moveReaderIndex(forwardBy: offset)
        if view[index] == MLLPFraming.startBlock {
            oversized = nil
            context.fireChannelRead(wrapInboundOut(.discarded(byteCount: current.contentBytes + 1, reason: .unterminatedFrame)))
            return .continue
        }
        guard buffer.readableBytes >= 2 else {
            oversized = current
            return .needMoreData  // the end block stays until its CR arrives
        }
        oversized = nil
        guard buffer.getInteger(at: buffer.readerIndex + 1, as: UInt8.self) == MLLPFraming.carriageReturn else {
            // As for a frame within the limit: up to and including the end block is dropped.
            buffer.moveReaderIndex(forwardBy: 1)
            context.fireChannelRead(wrapInboundOut(.discarded(byteCount: current.contentBytes + 2, reason: .badEndBlock)))
            return .continue
        }
        buffer.moveReaderIndex(forwardBy: 2)
        context.fireChannelRead(wrapInboundOut(.oversized(start: current.start, contentBytes: current.contentBytes)))
        return .continue
    }
}

/// Wraps each outbound message in an MLLP frame.
public struct MLLPFrameEncoder: MessageToByteEncoder {
    public typealias OutboundIn = ByteBuffer

    public init() {}

    public func encode(data: ByteBuffer, out: inout ByteBuffer) throws {
        out.reserveCapacity(data.readableBytes + 3)
        out.writeInteger(MLLPFraming.startBlock)
        out.writeImmutableBuffer(data)
        out.writeInteger(MLLPFraming.endBlock)
        out.writeInteger(MLLPFraming.carriageReturn)
    }
}
