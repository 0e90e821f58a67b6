/// A parsed message's bytes and flag table as plain pointers, with the algorithms that read them.
///
/// `MessageStorage` (behind `HL7Field` and friends) and `HL7BorrowedMessage` both read through
/// these, so there is one implementation of finding pieces and decoding text.
struct MessageBuffers {
    let bytes: UnsafeBufferPointer<UInt8>
    /// `ByteFlags` for the message's delimiters, indexed by byte.
    let flags: UnsafeBufferPointer<UInt8>
    let delimiters: HL7Delimiters
    let charset: HL7Charset

    /// A range of the bytes with the `ByteFlags` that occur inside it (`.unknown` when not yet looked at).
    struct Piece {
        var start: Int
        var end: Int
        var flags: UInt8

        static let absent = Piece(start: 0, end: 0, flags: 0)
    }

    /// Decodes `start..<end` up to the first byte whose `ByteFlags` are in `stops`, unescaping if needed.
    ///
    /// The hot path: plain text without escapes becomes a String straight from the buffer, the only
    /// allocation being the String's own (none at all up to 15 UTF-8 bytes).
    func text(from start: Int, to end: Int, stoppingAt stops: UInt8) -> String {
        guard start < end else { return "" }
        var p = start
        var sawEscape = false
        while p < end {
            let byteFlags = flags[Int(bytes[p])]
            if byteFlags != 0 {
                if byteFlags & stops != 0 { break }
                sawEscape = sawEscape || byteFlags == ByteFlags.escape
            }
            p += 1
        }
        let text = UnsafeBufferPointer(rebasing: bytes[start..<p])
        return sawEscape
            ? EscapeDecoder.decode(text, delimiters: delimiters, charset: charset)
            : charset.string(decoding: text)
    }

    /// The text of a piece: straight from the bytes when its flags say it holds no stop or escape.
    func text(of piece: Piece, stoppingAt stops: UInt8) -> String {
        guard piece.flags & (stops | ByteFlags.escape) != 0 else { return plainText(from: piece.start, to: piece.end) }
        return text(from: piece.start, to: piece.end, stoppingAt: stops)
    }

    /// The bytes as they are, decoded in the message charset: segment IDs, MSH-1, MSH-2, and text
    /// already known to hold no escapes.
    func plainText(from start: Int, to end: Int) -> String {
        charset.string(decoding: UnsafeBufferPointer(rebasing: bytes[start..<max(start, end)]))
    }

    /// The `index`th piece of `within` between bytes flagged `separator`, looking no further than
    /// the first byte flagged in `stops`; `.absent` past the last piece. A piece whose flags are
    /// known to hold no separator is its own only piece.
    func piece(_ index: Int, of within: Piece, separator: UInt8, stops: UInt8 = 0) -> Piece {
        guard within.start < within.end, index >= 0 else { return .absent }
        guard within.flags & separator != 0 else { return index == 0 ? within : .absent }
        var pieceStart = within.start
        var flagsInside: UInt8 = 0
        var current = 0
        var p = within.start
        while p < within.end {
            let byteFlags = flags[Int(bytes[p])]
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
        guard current == index else { return .absent }
        return Piece(start: pieceStart, end: p, flags: flagsInside)
    }

    /// The first three pieces of `within`, as `piece(0…2, of:separator:stops:)`, in one pass:
    /// each piece is read from where the one before it ended.
    func firstThreePieces(of within: Piece, separator: UInt8, stops: UInt8) -> (Piece, Piece, Piece) {
        let first = piece(0, of: within, separator: separator, stops: stops)
        guard let rest = remainder(of: within, after: first, separator: separator) else { return (first, .absent, .absent) }
        let second = piece(0, of: rest, separator: separator, stops: stops)
        guard let last = remainder(of: rest, after: second, separator: separator) else { return (first, second, .absent) }
        return (first, second, piece(0, of: last, separator: separator, stops: stops))
    }

    /// What follows `piece` in `within` when a separator ends it; nil when a stop or the end does.
    private func remainder(of within: Piece, after piece: Piece, separator: UInt8) -> Piece? {
        guard piece.end >= within.start, piece.end < within.end, flags[Int(bytes[piece.end])] & separator != 0 else { return nil }
        return Piece(start: piece.end + 1, end: within.end, flags: within.flags)
    }

    /// Every piece of `start..<end` between bytes flagged `separator`.
    func pieces(of start: Int, _ end: Int, separator: UInt8) -> [Piece] {
        var pieces: [Piece] = []
        var pieceStart = start
        var flagsInside: UInt8 = 0
        for p in start..<max(start, end) {
            let byteFlags = flags[Int(bytes[p])]
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

    func pieceCount(_ start: Int, _ end: Int, separator: UInt8) -> Int {
        var count = 1
        for p in start..<end where flags[Int(bytes[p])] & separator != 0 { count += 1 }
        return count
    }
}
