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

    init(storage: MessageStorage, start: Int, end: Int, flagsInside: UInt8 = ByteFlags.unknown) {
        self.storage = storage
        self.start = start
        self.end = end
        self.flagsInside = flagsInside
    }

    static func absent(in storage: MessageStorage) -> TextSpan {
        TextSpan(storage: storage, start: 0, end: 0, flagsInside: 0)
    }

    var isEmpty: Bool { start >= end }

    /// Pieces between `separator` bytes; 0 for an empty span.
    func pieceCount(separatedBy separator: UInt8) -> Int {
        guard !isEmpty else { return 0 }
        guard flagsInside & separator != 0 else { return 1 }
        return storage.pieceCount(start, end, separator: separator)
    }

    /// The 0-based piece between `separator` bytes, looking no further than the first `stops` byte
    /// (so a field's component can be found without first cutting out its repetition);
    /// an absent span past the last piece.
    func piece(_ index: Int, separatedBy separator: UInt8, endingAt stops: UInt8 = 0) -> TextSpan {
        guard !isEmpty, index >= 0 else { return .absent(in: storage) }
        guard flagsInside & separator != 0 else { return index == 0 ? self : .absent(in: storage) }
        let piece = storage.piece(index, of: start, end, separator: separator, stops: stops)
        return TextSpan(storage: storage, start: piece.start, end: piece.end, flagsInside: piece.flags)
    }

    /// Every piece in order; one empty piece for an empty span, so positions survive in the model.
    func pieces(separatedBy separator: UInt8) -> [TextSpan] {
        guard flagsInside & separator != 0 else { return [self] }
        return storage.pieces(of: start, end, separator: separator).map {
            TextSpan(storage: storage, start: $0.start, end: $0.end, flagsInside: $0.flags)
        }
    }

    /// Decoded text up to the first byte flagged in `stops`.
    func text(stoppingAt stops: UInt8) -> String {
        guard flagsInside & (stops | ByteFlags.escape) != 0 else { return storage.plainText(from: start, to: end) }
        return storage.text(from: start, to: end, stoppingAt: stops)
    }

    var rawBytes: ArraySlice<UInt8> { storage.bytes[start..<max(start, end)] }
}
