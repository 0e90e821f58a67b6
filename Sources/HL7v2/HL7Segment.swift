/// One segment of a parsed message; fields are read lazily from the message bytes.
public struct HL7Segment: Sendable {
    let storage: MessageStorage
    /// Where this segment's entries begin in `storage.fieldStarts`.
    private let base: Int
    /// Delimited parts, the segment ID included.
    private let partCount: Int
    /// MSH-shaped: field 1 is the separator itself and field 2 (part 1) the literal encoding characters.
    private let isHeader: Bool
    /// 0-based position in the message.
    public let index: Int

    init(storage: MessageStorage, index: Int) {
        self.storage = storage
        self.index = index
        base = Int(storage.segmentBases[index])
        partCount = Int(storage.segmentBases[index + 1]) - base - 1
        let start = Int(storage.fieldStarts[base])
        isHeader = partCount >= 2 && storage.bytes.withUnsafeBufferPointer {
            HeaderSegment.isHeaderID($0[start], $0[start + 1], $0[start + 2])
        }
    }

    /// "MSH", "OBX", …
    public var id: String { storage.plainText(from: start, to: start + 3) }

    /// Whether the segment ID is `id`, compared on the bytes: for dispatching on segment type
    /// in a loop without making a String per segment.
    public func hasID(_ id: StaticString) -> Bool {
        guard id.utf8CodeUnitCount == 3 else { return false }
        let start = start
        return storage.bytes.withUnsafeBufferPointer { bytes in
            guard start + 3 <= bytes.count else { return false }
            return id.withUTF8Buffer { expected in
                bytes[start] == expected[0] && bytes[start + 1] == expected[1] && bytes[start + 2] == expected[2]
            }
        }
    }

    /// The highest field number present (trailing empty fields that were sent count).
    public var fieldCount: Int { isHeader ? partCount : partCount - 1 }

    /// HL7 numbering: `obx[5]` is OBX-5; `msh[1]` is the field separator and `msh[2]` the encoding
    /// characters, both returned as literal text. Out of range gives an empty field.
    public subscript(field: Int) -> HL7Field {
        if isHeader {
            if field == 1 {
                return HL7Field(span: TextSpan(storage: storage, start: start + 3, end: start + 4, flagsInside: 0))
            }
            if field == 2 { return HL7Field(span: part(1, flagsInside: 0)) }
            return HL7Field(span: part(field - 1))
        }
        return HL7Field(span: part(field))
    }

    /// The segment as sent, without its terminator.
    public var rawBytes: ArraySlice<UInt8> {
        storage.bytes[start..<(Int(storage.fieldStarts[base + partCount]) - 1)]
    }

    private var start: Int { Int(storage.fieldStarts[base]) }

    /// Fields as indexed; nothing is known of their content until it is scanned.
    private func part(_ number: Int, flagsInside: UInt8 = ByteFlags.unknown) -> TextSpan {
        guard number >= 1, number < partCount else { return TextSpan.absent(in: storage) }
        let start = Int(storage.fieldStarts[base + number])
        let end = Int(storage.fieldStarts[base + number + 1]) - 1
        return TextSpan(storage: storage, start: start, end: end, flagsInside: flagsInside)
    }
}
