/// A parsed HL7 v2 message: the original bytes plus a compact index of its fields.
///
/// Parsing validates everything up front (delimiters, segment IDs, escape sequences, charset) and
/// allocates only the index; text is decoded lazily when a value is read, so reading never fails.
public struct HL7Message: Sendable {
    let storage: MessageStorage

    /// - Parameter defaultCharset: used when MSH-18 is empty.
    public init(parsing bytes: [UInt8], defaultCharset: HL7Charset = .utf8) throws(HL7ParseError) {
        storage = try HL7Parser.parse(bytes, defaultCharset: defaultCharset, headerOnly: false)
    }

    public init(parsing text: String, defaultCharset: HL7Charset = .utf8) throws(HL7ParseError) {
        try self.init(parsing: Array(text.utf8), defaultCharset: defaultCharset)
    }

    /// Parses the MSH segment alone, ignoring the rest: enough to acknowledge a message whose body
    /// failed to parse with the right control ID, versions and applications.
    public init(parsingHeaderOf bytes: [UInt8], defaultCharset: HL7Charset = .utf8) throws(HL7ParseError) {
        storage = try HL7Parser.parse(bytes, defaultCharset: defaultCharset, headerOnly: true)
    }

    public var bytes: [UInt8] { storage.bytes }
    public var delimiters: HL7Delimiters { storage.delimiters }
    /// From MSH-18, or the parser's default when MSH-18 is empty.
    public var charset: HL7Charset { storage.charset }

    public var segmentCount: Int { storage.segmentCount }

    /// - Precondition: `index` is in `0..<segmentCount`, as for an array.
    public func segment(at index: Int) -> HL7Segment {
        precondition(index >= 0 && index < segmentCount, "segment index out of range")
        return HL7Segment(storage: storage, index: index)
    }

    public var segments: HL7SegmentList { HL7SegmentList(message: self) }

    /// All segments with this ID, in message order; compares raw bytes, no strings are made.
    public func segments(named id: String) -> [HL7Segment] {
        guard let code = SegmentCode(id) else { return [] }
        var found: [HL7Segment] = []
        for index in 0..<segmentCount where code.matches(storage, segment: index) {
            found.append(HL7Segment(storage: storage, index: index))
        }
        return found
    }

    public func firstSegment(named id: String) -> HL7Segment? {
        guard let code = SegmentCode(id) else { return nil }
        return (0..<segmentCount).first { code.matches(storage, segment: $0) }.map { segment(at: $0) }
    }

    /// The MSH segment (the parser guarantees it comes first).
    public var header: HL7Segment { segment(at: 0) }

    /// The MSH segment alone, as a message of its own: enough to acknowledge this one later
    /// without keeping its body in memory.
    public var headerAlone: HL7Message {
        (try? HL7Message(parsingHeaderOf: Array(header.rawBytes), defaultCharset: charset)) ?? self
    }
}

/// The segments of a message as a random-access collection.
public struct HL7SegmentList: RandomAccessCollection, Sendable {
    let message: HL7Message
    public var startIndex: Int { 0 }
    public var endIndex: Int { message.segmentCount }
    public subscript(position: Int) -> HL7Segment { message.segment(at: position) }
}

/// A segment ID as its three bytes, for matching without building strings.
private struct SegmentCode {
    let bytes: (UInt8, UInt8, UInt8)

    init?(_ id: String) {
        let utf8 = Array(id.utf8)
        guard utf8.count == 3 else { return nil }
        bytes = (utf8[0], utf8[1], utf8[2])
    }

    func matches(_ storage: MessageStorage, segment: Int) -> Bool {
        let start = storage.layout(ofSegment: segment).start
        return storage.bytes.withUnsafeBufferPointer { buffer in
            buffer[start] == bytes.0 && buffer[start + 1] == bytes.1 && buffer[start + 2] == bytes.2
        }
    }
}

// MARK: - Header conveniences

extension HL7Message {
    /// MSH-9.1, e.g. "ORU".
    public var messageType: String { header[9].component(1).value }
    /// MSH-9.2, e.g. "R01".
    public var triggerEvent: String { header[9].component(2).value }
    /// MSH-9.3, e.g. "ORU_R01".
    public var messageStructure: String { header[9].component(3).value }
    /// MSH-10.
    public var controlID: String { header[10].value }
    /// MSH-3, first component (HD namespace ID).
    public var sendingApplication: String { header[3].value }
    /// MSH-4, first component.
    public var sendingFacility: String { header[4].value }
    /// MSH-5, first component.
    public var receivingApplication: String { header[5].value }
    /// MSH-6, first component.
    public var receivingFacility: String { header[6].value }
    /// MSH-7 as sent (HL7 DTM/TS text).
    public var timestamp: String { header[7].value }
    /// MSH-11.1: P, T or D.
    public var processingID: String { header[11].value }
    /// MSH-12.1, e.g. "2.6".
    public var versionID: String { header[12].value }
}
