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

    /// Runs `body` with the bytes and flag table as pointers, which every reading algorithm works on.
    func withBuffers<R, E: Error>(_ body: (MessageBuffers) throws(E) -> R) throws(E) -> R {
        try bytes.withUnsafeBufferPointer { (bytes) throws(E) in
            try flags.withUnsafeBufferPointer { (flags) throws(E) in
                try body(MessageBuffers(bytes: bytes, flags: flags, delimiters: delimiters, charset: charset))
            }
        }
    }

    /// Runs `body` with the field index as pointers.
    func withIndex<R, E: Error>(
        _ body: (_ fieldStarts: UnsafeBufferPointer<Int32>, _ segmentBases: UnsafeBufferPointer<Int32>) throws(E) -> R
    ) throws(E) -> R {
        try fieldStarts.withUnsafeBufferPointer { (fieldStarts) throws(E) in
            try segmentBases.withUnsafeBufferPointer { (segmentBases) throws(E) in try body(fieldStarts, segmentBases) }
        }
    }

    /// Where segment `index` lies in the index.
    func layout(ofSegment index: Int) -> SegmentLayout {
        withIndex { fieldStarts, segmentBases in
            bytes.withUnsafeBufferPointer {
                SegmentLayout(segment: index, fieldStarts: fieldStarts, segmentBases: segmentBases, bytes: $0)
            }
        }
    }
}
