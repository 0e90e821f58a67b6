/// A byte range of a message: the part of a field, repetition or component being read.
///
/// Levels are named by their `ByteFlags` (`.repetition`, `.component`, `.subcomponent`), so every
/// scan is one table lookup per byte whatever the message's delimiters.
struct TextSpan: Sendable {
    let storage: MessageStorage
    let start: Int
    let end: Int
    /// The `ByteFlags` that occur inside, as seen by the scan that found the span, or `.unknown`.
    /// Knowing them skips work: no separator means no splitting, no escape or stop byte means the
    /// bytes become a String without a second scan. MSH-1 and MSH-2 are given 0 so that their
    /// delimiter characters read as text.
    let flagsInside: UInt8

    init(storage: MessageStorage, _ piece: MessageBuffers.Piece) {
        self.storage = storage
        self.start = piece.start
        self.end = piece.end
        self.flagsInside = piece.flags
    }

    private var piece: MessageBuffers.Piece { MessageBuffers.Piece(start: start, end: end, flags: flagsInside) }

    var isEmpty: Bool { start >= end }

    /// Pieces between `separator` bytes; 0 for an empty span.
    func pieceCount(separatedBy separator: UInt8) -> Int {
        guard !isEmpty else { return 0 }
        guard flagsInside & separator != 0 else { return 1 }
        return storage.withBuffers { $0.pieceCount(start, end, separator: separator) }
    }

    /// The 0-based piece between `separator` bytes, looking no further than the first `stops` byte
    /// (so a field's component can be found without first cutting out its repetition);
    /// an absent span past the last piece.
    func piece(_ index: Int, separatedBy separator: UInt8, endingAt stops: UInt8 = 0) -> TextSpan {
        TextSpan(storage: storage, storage.withBuffers { $0.piece(index, of: piece, separator: separator, stops: stops) })
    }

    /// Every piece in order; one empty piece for an empty span, so positions survive in the model.
    func pieces(separatedBy separator: UInt8) -> [TextSpan] {
        guard flagsInside & separator != 0 else { return [self] }
        return storage.withBuffers { $0.pieces(of: start, end, separator: separator) }.map { TextSpan(storage: storage, $0) }
    }

    /// Decoded text up to the first byte flagged in `stops`.
    func text(stoppingAt stops: UInt8) -> String {
        storage.withBuffers { $0.text(of: piece, stoppingAt: stops) }
    }

    var rawBytes: ArraySlice<UInt8> { storage.bytes[start..<max(start, end)] }
}
