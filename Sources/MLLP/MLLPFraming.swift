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

/// What the decoder hands on: a whole frame's content, or bytes it had to throw away.
public enum MLLPInbound: Sendable {
    case frame(ByteBuffer)
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
    /// A frame grew past the configured limit before it ended.
    case frameTooLarge(limit: Int)
    /// The connection closed in the middle of a frame.
    case truncatedFrame(receivedBytes: Int)

    public var description: String {
        switch self {
        case .frameTooLarge(let limit): "MLLP frame larger than the limit of \(limit) bytes"
        case .truncatedFrame(let bytes): "connection closed inside an MLLP frame after \(bytes) bytes"
        }
    }
}

/// Splits a byte stream into MLLP frames, skipping (and reporting) anything outside them.
public struct MLLPFrameDecoder: ByteToMessageDecoder {
    public typealias InboundOut = MLLPInbound

    public let maximumFrameBytes: Int
    /// How far into the current frame the end block has already been searched for.
    private var scannedBytes = 0

    public init(maximumFrameBytes: Int) {
        self.maximumFrameBytes = maximumFrameBytes
    }

    public mutating func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
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
            scannedBytes = buffer.readableBytes - 1
            try checkSize(contentBytes: buffer.readableBytes - 1)
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
        // Whether the frame ends in this read or not: the limit is on its content.
        try checkSize(contentBytes: length)
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
        if buffer.readableBytes > 0 {
            let received = buffer.readableBytes
            buffer.moveReaderIndex(forwardBy: received)
            throw MLLPError.truncatedFrame(receivedBytes: received)
        }
        return .needMoreData
    }

    /// `maximumFrameBytes` bounds a frame's content, without its start block, end block and CR.
    private func checkSize(contentBytes: Int) throws {
        if contentBytes > maximumFrameBytes {
            throw MLLPError.frameTooLarge(limit: maximumFrameBytes)
        }
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
