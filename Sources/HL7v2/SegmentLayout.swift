/// Where one segment's fields lie in the message index, and HL7's field numbering over it:
/// shared by `HL7Segment` and `HL7BorrowedSegment`.
struct SegmentLayout {
    /// Where this segment's entries begin in the index's `fieldStarts`.
    let base: Int
    /// Delimited parts, the segment ID included.
    let partCount: Int
    /// MSH-shaped: field 1 is the separator itself and field 2 (part 1) the literal encoding characters.
    let isHeader: Bool
    /// Offset of the segment's first byte (its ID).
    let start: Int

    /// - Precondition: `index` is a segment of the index (checked by the callers).
    init(
        segment index: Int, fieldStarts: UnsafeBufferPointer<Int32>, segmentBases: UnsafeBufferPointer<Int32>,
        bytes: UnsafeBufferPointer<UInt8>
    ) {
        base = Int(segmentBases[index])
        partCount = Int(segmentBases[index + 1]) - base - 1
        start = Int(fieldStarts[base])
        isHeader = partCount >= 2 && HeaderSegment.isHeaderID(bytes[start], bytes[start + 1], bytes[start + 2])
    }

    /// The highest field number present (trailing empty fields that were sent count).
    var fieldCount: Int { isHeader ? partCount : partCount - 1 }

    /// Field `number` in HL7 numbering: MSH-1 and MSH-2 come with flags 0 so that their delimiter
    /// characters read as text; other fields' content is unknown until scanned. Absent out of range.
    func field(_ number: Int, fieldStarts: UnsafeBufferPointer<Int32>) -> MessageBuffers.Piece {
        guard isHeader else { return part(number, fieldStarts: fieldStarts) }
        if number == 1 { return MessageBuffers.Piece(start: start + 3, end: start + 4, flags: 0) }
        if number == 2 { return part(1, fieldStarts: fieldStarts, flags: 0) }
        return part(number - 1, fieldStarts: fieldStarts)
    }

    /// One past the segment's last byte (its terminator's offset).
    func end(fieldStarts: UnsafeBufferPointer<Int32>) -> Int {
        Int(fieldStarts[base + partCount]) - 1
    }

    /// Whether the segment ID is `id`, compared on the bytes.
    func hasID(_ id: StaticString, bytes: UnsafeBufferPointer<UInt8>) -> Bool {
        guard id.utf8CodeUnitCount == 3, start + 3 <= bytes.count else { return false }
        let expected = id.utf8Start
        return bytes[start] == expected[0] && bytes[start + 1] == expected[1] && bytes[start + 2] == expected[2]
    }

    private func part(_ number: Int, fieldStarts: UnsafeBufferPointer<Int32>, flags: UInt8 = ByteFlags.unknown) -> MessageBuffers.Piece {
        guard number >= 1, number < partCount else { return .absent }
        let start = Int(fieldStarts[base + number])
        let end = Int(fieldStarts[base + number + 1]) - 1
        return MessageBuffers.Piece(start: start, end: end, flags: flags)
    }
}
