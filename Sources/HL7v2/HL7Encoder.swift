/// Writes segment values as HL7 v2 bytes.
///
/// Text is escaped (`\F\ \S\ \T\ \R\ \E\`, `\P\` for a declared truncation character, CR as
/// `\X0D\`, LF as `\.br\`, or `\X0A\` when `.` is a delimiter), and trailing empty fields,
/// repetitions, components and subcomponents are left out, so a parsed message round-trips to
/// the same model.
public struct HL7Encoder: Sendable {
    public var delimiters: HL7Delimiters
    public var segmentTerminator: UInt8
    /// The charset text is written in; it should match the MSH-18 being encoded. Characters it
    /// cannot hold become `\Xhh..\` (their UTF-8 bytes) for ASCII, and `?` for 8859/1.
    public var charset: HL7Charset

    public init(delimiters: HL7Delimiters = .standard, segmentTerminator: UInt8 = 0x0D, charset: HL7Charset = .utf8) {
        self.delimiters = delimiters
        self.segmentTerminator = segmentTerminator
        self.charset = charset
    }

    public func encode(_ segments: [HL7SegmentValue]) -> [UInt8] {
        var output: [UInt8] = []
        output.reserveCapacity(segments.count * 80)
        for segment in segments {
            append(segment, to: &output)
        }
        return output
    }

    private func append(_ segment: HL7SegmentValue, to output: inout [UInt8]) {
        output.append(contentsOf: segment.id.utf8)
        var fields = segment.fields[...]
        if HeaderSegment.isHeaderID(segment.id) {
            output.append(delimiters.field)
            output.append(contentsOf: delimiters.encodingCharacters)
            fields = fields.dropFirst(2)
        }
        for field in fields.droppingTrailing(where: \.isEmpty) {
            output.append(delimiters.field)
            append(field, to: &output)
        }
        output.append(segmentTerminator)
    }

    func append(_ field: HL7FieldValue, to output: inout [UInt8]) {
        let isEmptyComponent: ([String]) -> Bool = { $0.allSatisfy(\.isEmpty) }
        let repetitions = field.repetitions.droppingTrailing { $0.allSatisfy(isEmptyComponent) }
        for (r, repetition) in repetitions.enumerated() {
            if r > 0 { output.append(delimiters.repetition) }
            for (c, component) in repetition.droppingTrailing(where: isEmptyComponent).enumerated() {
                if c > 0 { output.append(delimiters.component) }
                for (s, subcomponent) in component.droppingTrailing(where: \.isEmpty).enumerated() {
                    if s > 0 { output.append(delimiters.subcomponent) }
                    appendEscaped(subcomponent, to: &output)
                }
            }
        }
    }

    func appendEscaped(_ text: String, to output: inout [UInt8]) {
        switch charset {
        case .utf8:
            for byte in text.utf8 { appendEscaped(byte, to: &output) }
        case .iso8859_1:
            for scalar in text.unicodeScalars {
                appendEscaped(scalar.value < 0x100 ? UInt8(scalar.value) : UInt8(ascii: "?"), to: &output)
            }
        case .ascii:
            for scalar in text.unicodeScalars {
                if scalar.isASCII {
                    appendEscaped(UInt8(scalar.value), to: &output)
                } else {
                    appendHexEscape(Array(String(scalar).utf8), to: &output)
                }
            }
        }
    }

    private func appendEscaped(_ byte: UInt8, to output: inout [UInt8]) {
        let letter: String? = switch byte {
        case delimiters.field: "F"
        case delimiters.component: "S"
        case delimiters.subcomponent: "T"
        case delimiters.repetition: "R"
        case delimiters.escape: "E"
        case 0x0A where !dotIsDelimiter: ".br"
        default: byte == delimiters.truncation ? "P" : nil
        }
        if let letter {
            output.append(delimiters.escape)
            output.append(contentsOf: letter.utf8)
            output.append(delimiters.escape)
        } else if byte < 0x20 || byte == 0x7F {
            // Control bytes go as hex: a raw CR would end the segment, and MLLP's 0x0B and 0x1C
            // (text decoded from a sender's `\X1C\`) would cut the reply's frame short.
            appendHexEscape([byte], to: &output)
        } else {
            output.append(byte)
        }
    }

    /// `\.br\` cannot be written when `.` is itself a delimiter; line feeds then go as `\X0A\`.
    private var dotIsDelimiter: Bool {
        ([delimiters.field] + delimiters.encodingCharacters).contains(UInt8(ascii: "."))
    }

    func appendHexEscape(_ bytes: [UInt8], to output: inout [UInt8]) {
        let digits = Array("0123456789ABCDEF".utf8)
        output.append(delimiters.escape)
        output.append(UInt8(ascii: "X"))
        for byte in bytes {
            output.append(digits[Int(byte >> 4)])
            output.append(digits[Int(byte & 0x0F)])
        }
        output.append(delimiters.escape)
    }
}

extension BidirectionalCollection {
    /// Everything up to and including the last element that is not "empty".
    func droppingTrailing(where isEmpty: (Element) -> Bool) -> SubSequence {
        guard let last = lastIndex(where: { !isEmpty($0) }) else { return self[startIndex..<startIndex] }
        return self[...last]
    }
}
