/// One segment of a parsed message; fields are read lazily from the message bytes.
public struct HL7Segment: Sendable {
    let storage: MessageStorage
    private let layout: SegmentLayout
    /// 0-based position in the message.
    public let index: Int

    init(storage: MessageStorage, index: Int) {
        self.storage = storage
        self.index = index
        layout = storage.layout(ofSegment: index)
    }

    /// "MSH", "OBX", …
    public var id: String { storage.withBuffers { $0.plainText(from: layout.start, to: layout.start + 3) } }

    /// Whether the segment ID is `id`, compared on the bytes: for dispatching on segment type
    /// in a loop without making a String per segment.
    public func hasID(_ id: StaticString) -> Bool {
        storage.bytes.withUnsafeBufferPointer { layout.hasID(id, bytes: $0) }
    }

    /// The highest field number present (trailing empty fields that were sent count).
    public var fieldCount: Int { layout.fieldCount }

    /// HL7 numbering: `obx[5]` is OBX-5; `msh[1]` is the field separator and `msh[2]` the encoding
    /// characters, both returned as literal text. Out of range gives an empty field.
    public subscript(field: Int) -> HL7Field {
        let piece = storage.fieldStarts.withUnsafeBufferPointer { layout.field(field, fieldStarts: $0) }
        return HL7Field(span: TextSpan(storage: storage, piece))
    }

    /// The segment as sent, without its terminator.
    public var rawBytes: ArraySlice<UInt8> {
        storage.bytes[layout.start..<storage.fieldStarts.withUnsafeBufferPointer { layout.end(fieldStarts: $0) }]
    }
}
