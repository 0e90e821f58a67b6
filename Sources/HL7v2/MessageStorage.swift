/// A parsed message: the input bytes plus the index built by `MessageScanner`.
///
/// Segment `s` owns `fieldStarts[segmentBases[s] ..< segmentBases[s + 1]]`: the start offset of
/// each delimited part (part 0 is the segment ID) followed by a sentinel one past the segment's
/// last byte, so every part ends one byte (its delimiter) before the next entry: 4 bytes per field,
/// built in one pass, with components and subcomponents found on demand.
final class MessageStorage: Sendable {
    let bytes: [UInt8]
    let fieldStarts: [Int32]
    let segmentBases: [Int32]
    let delimiters: HL7Delimiters
    let charset: HL7Charset
    /// `ByteFlags` for these delimiters.
    let flags: [UInt8]

    init(
        bytes: [UInt8], fieldStarts: [Int32], segmentBases: [Int32], delimiters: HL7Delimiters, charset: HL7Charset,
        flags: [UInt8]
    ) {
        self.bytes = bytes
        self.fieldStarts = fieldStarts
        self.segmentBases = segmentBases
        self.delimiters = delimiters
        self.charset = charset
        self.flags = flags
    }

    var segmentCount: Int { segmentBases.count - 1 }

    func segmentStart(_ segment: Int) -> Int {
        Int(fieldStarts[Int(segmentBases[segment])])
    }

    /// Decodes `start..<end` up to the first byte whose `ByteFlags` are in `stops`, unescaping if needed.
    ///
    /// The hot path: plain text without escapes becomes a String straight from the buffer, the only
    /// allocation being the String's own (none at all up to 15 UTF-8 bytes).
    func text(from start: Int, to end: Int, stoppingAt stops: UInt8) -> String {
        guard start < end else { return "" }
        return withBuffers { buffer, flags in
            var p = start
            var sawEscape = false
            while p < end {
                let byteFlags = flags[Int(buffer[p])]
                if byteFlags != 0 {
                    if byteFlags & stops != 0 { break }
                    sawEscape = sawEscape || byteFlags == ByteFlags.escape
                }
                p += 1
            }
            return decode(UnsafeBufferPointer(rebasing: buffer[start..<p]), escaped: sawEscape)
        }
    }

    private func decode(_ text: UnsafeBufferPointer<UInt8>, escaped: Bool) -> String {
        escaped
            ? EscapeDecoder.decode(text, delimiters: delimiters, charset: charset)
            : charset.string(decoding: text)
    }

    /// The `index`th piece of `start..<end` between bytes flagged `separator`, looking no further than
    /// the first byte flagged in `stops`, with the flags of the bytes inside; (0, 0, 0) past the last piece.
    func piece(_ index: Int, of start: Int, _ end: Int, separator: UInt8, stops: UInt8) -> Piece {
        withBuffers { buffer, flags in
            var pieceStart = start
            var flagsInside: UInt8 = 0
            var current = 0
            var p = start
            while p < end {
                let byteFlags = flags[Int(buffer[p])]
                if byteFlags != 0 {
                    if byteFlags & separator != 0 {
                        if current == index { return Piece(start: pieceStart, end: p, flags: flagsInside) }
                        current += 1
                        pieceStart = p + 1
                        flagsInside = 0
                    } else if byteFlags & stops != 0 {
                        break
                    } else {
                        flagsInside |= byteFlags
                    }
                }
                p += 1
            }
            guard current == index else { return Piece(start: 0, end: 0, flags: 0) }
            return Piece(start: pieceStart, end: p, flags: flagsInside)
        }
    }

    /// Every piece of `start..<end` between bytes flagged `separator`.
    func pieces(of start: Int, _ end: Int, separator: UInt8) -> [Piece] {
        withBuffers { buffer, flags in
            var pieces: [Piece] = []
            var pieceStart = start
            var flagsInside: UInt8 = 0
            for p in start..<max(start, end) {
                let byteFlags = flags[Int(buffer[p])]
                if byteFlags & separator != 0 {
                    pieces.append(Piece(start: pieceStart, end: p, flags: flagsInside))
                    pieceStart = p + 1
                    flagsInside = 0
                } else {
                    flagsInside |= byteFlags
                }
            }
            pieces.append(Piece(start: pieceStart, end: max(pieceStart, end), flags: flagsInside))
            return pieces
        }
    }

    struct Piece {
        var start: Int
        var end: Int
        /// `ByteFlags` of the bytes between start and end.
        var flags: UInt8
    }

    func pieceCount(_ start: Int, _ end: Int, separator: UInt8) -> Int {
        withBuffers { buffer, flags in
            var count = 1
            for p in start..<end where flags[Int(buffer[p])] & separator != 0 { count += 1 }
            return count
        }
    }

    private func withBuffers<R>(_ body: (UnsafeBufferPointer<UInt8>, UnsafeBufferPointer<UInt8>) -> R) -> R {
        bytes.withUnsafeBufferPointer { buffer in flags.withUnsafeBufferPointer { flags in body(buffer, flags) } }
    }

    /// The bytes as they are, decoded in the message charset: segment IDs, MSH-1, MSH-2, and text
    /// already known to hold no escapes.
    func plainText(from start: Int, to end: Int) -> String {
        bytes.withUnsafeBufferPointer { charset.string(decoding: UnsafeBufferPointer(rebasing: $0[start..<end])) }
    }
}
