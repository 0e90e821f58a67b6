extension HL7Message {
    /// Runs `body` with a view that reads the message straight from its buffers.
    ///
    /// `HL7Segment` and `HL7Field` each hold the message's storage, so every field read retains
    /// and releases it; the view holds pointers instead, for hot loops such as a decoder's rows.
    /// The view and everything read from it are valid only inside `body`, as with
    /// `withUnsafeBufferPointer`: keep Strings, not texts.
    ///
    /// Public, not `package`: Swift 6.3 does not inline `package` declarations into other modules,
    /// even `@inlinable` ones, so every `isEmpty` or `component(_:)` of a decoder's rows was a call
    /// (parse + decode: 160,000 messages/s as `package`, 175,000 as public).
    public func withBorrowedView<R, E: Error>(_ body: (HL7BorrowedMessage) throws(E) -> R) throws(E) -> R {
        try storage.withBuffers { (buffers) throws(E) -> R in
            // Texts point at one copy of the buffers: each stays four words, cheap to pass around.
            try withUnsafePointer(to: buffers) { (buffers) throws(E) -> R in
                try storage.withIndex { (fieldStarts, segmentBases) throws(E) -> R in
                    try body(HL7BorrowedMessage(buffers: buffers, fieldStarts: fieldStarts, segmentBases: segmentBases))
                }
            }
        }
    }
}

/// A parsed message seen through pointers; see `HL7Message.withBorrowedView`.
public struct HL7BorrowedMessage {
    let buffers: UnsafePointer<MessageBuffers>
    let fieldStarts: UnsafeBufferPointer<Int32>
    let segmentBases: UnsafeBufferPointer<Int32>

    public var segmentCount: Int { segmentBases.count - 1 }

    /// - Precondition: `index` is in `0..<segmentCount`, as for an array.
    public func segment(at index: Int) -> HL7BorrowedSegment {
        precondition(index >= 0 && index < segmentCount, "segment index out of range")
        let layout = SegmentLayout(segment: index, fieldStarts: fieldStarts, segmentBases: segmentBases, bytes: buffers.pointee.bytes)
        return HL7BorrowedSegment(buffers: buffers, fieldStarts: fieldStarts, layout: layout)
    }
}

/// One segment, read as `HL7Segment` reads it.
public struct HL7BorrowedSegment {
    let buffers: UnsafePointer<MessageBuffers>
    let fieldStarts: UnsafeBufferPointer<Int32>
    let layout: SegmentLayout

    /// Whether the segment ID is `id`, compared on the bytes.
    public func hasID(_ id: StaticString) -> Bool { layout.hasID(id, bytes: buffers.pointee.bytes) }

    /// HL7 numbering, as `HL7Segment`'s subscript: out of range gives an empty field.
    public subscript(field: Int) -> HL7BorrowedText {
        HL7BorrowedText(buffers: buffers, piece: layout.field(field, fieldStarts: fieldStarts))
    }
}

/// A field or one of its components, read as `HL7Field` and `HL7Component` read them.
public struct HL7BorrowedText {
    let buffers: UnsafePointer<MessageBuffers>
    let piece: MessageBuffers.Piece

    /// Not present, or present with zero length.
    public var isEmpty: Bool { piece.start >= piece.end }

    /// 0-based repetition of a field; empty past the end.
    public func repetition(_ index: Int) -> HL7BorrowedText {
        HL7BorrowedText(buffers: buffers, piece: buffers.pointee.piece(index, of: piece, separator: ByteFlags.repetition))
    }

    /// 1-based component (of the first repetition, for a field); empty past the end.
    public func component(_ number: Int) -> HL7BorrowedText {
        let component = buffers.pointee.piece(number - 1, of: piece, separator: ByteFlags.component, stops: ByteFlags.repetition)
        return HL7BorrowedText(buffers: buffers, piece: component)
    }

    /// A coded element (CE, CWE, CNE): its first three components.
    public typealias CodedElement = (identifier: HL7BorrowedText, text: HL7BorrowedText, codingSystem: HL7BorrowedText)

    /// Components 1, 2 and 3 read in one pass: a decoder reading two of them would otherwise
    /// scan twice.
    public var codedElement: CodedElement {
        let pieces = buffers.pointee.firstThreePieces(of: piece, separator: ByteFlags.component, stops: ByteFlags.repetition)
        return (HL7BorrowedText(buffers: buffers, piece: pieces.0), HL7BorrowedText(buffers: buffers, piece: pieces.1),
                HL7BorrowedText(buffers: buffers, piece: pieces.2))
    }

    /// 1-based subcomponent of a component; empty past the end.
    public func subcomponent(_ number: Int) -> HL7BorrowedText {
        HL7BorrowedText(buffers: buffers, piece: buffers.pointee.piece(number - 1, of: piece, separator: ByteFlags.subcomponent))
    }

    /// First repetition, first component, first subcomponent, escapes decoded (as `HL7Field.value`;
    /// for a component, the same as `HL7Component.value`).
    public var value: String {
        buffers.pointee.text(of: piece, stoppingAt: ByteFlags.repetition | ByteFlags.component | ByteFlags.subcomponent)
    }

    /// The text as sent, delimiters and escapes and all, in the message's charset: a key that
    /// a retransmission repeats byte for byte.
    public var textAsSent: String {
        buffers.pointee.plainText(from: piece.start, to: piece.end)
    }

    /// The bytes as sent, escapes and all.
    public var bytes: UnsafeBufferPointer<UInt8> {
        UnsafeBufferPointer(rebasing: buffers.pointee.bytes[piece.start..<max(piece.start, piece.end)])
    }

    /// The bytes as sent when they read as themselves: ASCII, with no delimiter or escape
    /// character of the message, so `value` would be exactly this text. nil otherwise. For
    /// lookups straight from the message's bytes, with no String built.
    public var plainASCII: UnsafeBufferPointer<UInt8>? {
        let bytes = bytes, flags = buffers.pointee.flags
        for byte in bytes where byte >= 0x80 || flags[Int(byte)] != 0 { return nil }
        return bytes
    }

    /// Whether the bytes as sent are exactly `text`.
    public func equals(_ text: StaticString) -> Bool {
        let bytes = bytes, expected = text.utf8Start
        // Lengths first: most mismatches end there.
        guard bytes.count == text.utf8CodeUnitCount else { return false }
        for index in 0..<bytes.count where bytes[index] != expected[index] { return false }
        return true
    }
}
