/// Entry point: reads the delimiters, sizes the index, runs the scanner.
enum HL7Parser {
    static func parse(
        _ bytes: [UInt8], defaultCharset: HL7Charset, headerOnly: Bool
    ) throws(HL7ParseError) -> MessageStorage {
        guard bytes.count < Int(Int32.max) else { throw HL7ParseError(kind: .tooLarge, byteOffset: 0) }
        return try bytes.withUnsafeBufferPointer { (input) throws(HL7ParseError) in
            let (headerStart, delimiters) = try HeaderReader.readDelimiters(input)
            let census = ByteCensus(input, fieldSeparator: delimiters.field)
            let table = ByteFlags.table(for: delimiters)
            var failure: HL7ParseError?
            var charset = defaultCharset
            var segmentBases: [Int32] = []
            // The census bounds the index exactly enough to write it without growth checks.
            let fieldStarts = [Int32](unsafeUninitializedCapacity: census.maxFieldEntries) { fieldBuffer, fieldCount in
                segmentBases = [Int32](unsafeUninitializedCapacity: census.maxSegments + 1) { segmentBuffer, segmentCount in
                    table.withUnsafeBufferPointer { flags in
                        var scanner = MessageScanner(
                            input: input, flags: flags, delimiters: delimiters, charset: defaultCharset,
                            hasHighBytes: census.hasHighBytes,
                            fieldStarts: IndexWriter(fieldBuffer), segmentBases: IndexWriter(segmentBuffer)
                        )
                        do throws(HL7ParseError) {
                            try scanner.scan(from: headerStart, headerOnly: headerOnly)
                        } catch {
                            failure = error
                        }
                        fieldCount = scanner.fieldStarts.count
                        segmentCount = scanner.segmentBases.count
                        charset = scanner.charset
                    }
                }
            }
            if let failure { throw failure }
            return MessageStorage(
                bytes: bytes, fieldStarts: fieldStarts, segmentBases: segmentBases, delimiters: delimiters,
                charset: charset, flags: table
            )
        }
    }
}

/// Appends offsets into a buffer sized by `ByteCensus`.
struct IndexWriter {
    private let buffer: UnsafeMutableBufferPointer<Int32>
    private(set) var count = 0

    init(_ buffer: UnsafeMutableBufferPointer<Int32>) {
        self.buffer = buffer
    }

    mutating func append(_ offset: Int) {
        // Cannot fail given the census bounds; checked anyway so no input can write out of bounds.
        guard count < buffer.count else { return }
        buffer[count] = Int32(truncatingIfNeeded: offset)
        count += 1
    }

    subscript(index: Int) -> Int {
        index >= 0 && index < count ? Int(buffer[index]) : 0
    }
}
