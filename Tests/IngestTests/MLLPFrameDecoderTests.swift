import MLLP
import NIOCore
import NIOEmbedded
import Testing

/// The framing alone, fed through an embedded channel one read at a time.
@Suite struct MLLPFrameDecoderTests {
    enum Out: Equatable {
        case frame(String)
        case oversized(start: String, bytes: Int)
        case discarded(Int, MLLPDiscardReason)
    }

    /// Feeds `stream` in reads of `chunk` bytes and returns what the decoder handed on.
    func decode(_ stream: [UInt8], limit: Int, chunk: Int) throws -> [Out] {
        let channel = EmbeddedChannel(handler: ByteToMessageHandler(MLLPFrameDecoder(maximumFrameBytes: limit)))
        var offset = 0
        while offset < stream.count {
            let end = min(offset + chunk, stream.count)
            try channel.writeInbound(channel.allocator.buffer(bytes: stream[offset..<end]))
            offset = end
        }
        var out: [Out] = []
        while let inbound = try channel.readInbound(as: MLLPInbound.self) {
            switch inbound {
            case .frame(let buffer): out.append(.frame(String(buffer: buffer)))
            case .oversized(let start, let bytes): out.append(.oversized(start: String(buffer: start), bytes: bytes))
            case .discarded(let count, let reason): out.append(.discarded(count, reason))
            }
        }
        _ = try channel.finish()
        return out
    }

    func framed(_ text: String) -> [UInt8] {
        [MLLPFraming.startBlock] + Array(text.utf8) + [MLLPFraming.endBlock, MLLPFraming.carriageReturn]
    }

    @Test("a frame over the limit is reported once with its start and length, whatever the reads; the frames around it pass", arguments: [1, 2, 7, 64, 10_000])
    func oversizedFramesAcrossReads(chunk: Int) throws {
        let big = "MSH|BIG|" + String(repeating: "x", count: 5_000)
        let stream = framed("before") + framed(big) + framed("after")
        let out = try decode(stream, limit: 100, chunk: chunk)
        #expect(out == [.frame("before"), .oversized(start: String(big.prefix(100)), bytes: big.utf8.count), .frame("after")])
    }

    @Test("an oversized frame abandoned by a new start block, or ended without its CR, is dropped, not reported as a message", arguments: [1, 3, 10_000])
    func oversizedFramesThatDoNotEnd(chunk: Int) throws {
        let long = String(repeating: "y", count: 300)
        let abandoned = [MLLPFraming.startBlock] + Array(long.utf8) + framed("next")
        #expect(try decode(abandoned, limit: 100, chunk: chunk) == [.discarded(301, .unterminatedFrame), .frame("next")])
        let badEnd = [MLLPFraming.startBlock] + Array(long.utf8) + [MLLPFraming.endBlock, UInt8(ascii: "z")] + framed("next")
        #expect(try decode(badEnd, limit: 100, chunk: chunk) == [.discarded(302, .badEndBlock), .discarded(1, .outsideFrame), .frame("next")])
    }
}
