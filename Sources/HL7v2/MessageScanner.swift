/// The single pass over the input: validates segment IDs and escape sequences, records where
/// every field starts, reads MSH-18 and checks bytes against the charset it names.
struct MessageScanner {
    private let input: UnsafeBufferPointer<UInt8>
    private let flags: UnsafeBufferPointer<UInt8>
    private let delimiters: HL7Delimiters
    /// The parser's default until MSH-18 has been read.
    private(set) var charset: HL7Charset
    private var charsetIsKnown = false
    private let hasHighBytes: Bool
    /// Off only to answer a message whose full parse failed: its fields are copied as sent.
    private var checksEscapes = true
    private(set) var fieldStarts: IndexWriter
    private(set) var segmentBases: IndexWriter

    init(
        input: UnsafeBufferPointer<UInt8>, flags: UnsafeBufferPointer<UInt8>, delimiters: HL7Delimiters,
        charset: HL7Charset, hasHighBytes: Bool, fieldStarts: IndexWriter, segmentBases: IndexWriter
    ) {
        self.input = input
        self.flags = flags
        self.delimiters = delimiters
        self.charset = charset
        self.hasHighBytes = hasHighBytes
        self.fieldStarts = fieldStarts
        self.segmentBases = segmentBases
    }

    mutating func scan(from start: Int, headerOnly: Bool) throws(HL7ParseError) {
        if headerOnly { return try scanHeaderToAnswer(from: start) }
        do {
            var p = try scanSegment(at: start) + 1
            try readCharset()
            while p < input.count {
                if flags[Int(input[p])] == ByteFlags.terminator {
                    p += 1  // blank line, or the LF of CRLF
                } else {
                    p = try scanSegment(at: p) + 1
                }
            }
        } catch {
            // Report whichever problem comes first in the input.
            try checkCharset(before: error.byteOffset)
            throw error
        }
        try checkCharset(before: input.count)
        segmentBases.append(fieldStarts.count)
    }

    /// MSH alone, to answer a message whose full parse failed, perhaps on MSH-18 (a charset not
    /// supported), on bytes its charset does not allow or on a stray escape character (a
    /// `DOMAIN\HOST` in MSH-4). The answer must still name the message (MSA-2), so none is
    /// checked here: an unsupported charset leaves the parser's default, and an escape character
    /// is an ordinary byte (the answer copies the fields as sent; reading one as text is total).
    private mutating func scanHeaderToAnswer(from start: Int) throws(HL7ParseError) {
        checksEscapes = false
        _ = try scanSegment(at: start)
        segmentBases.append(fieldStarts.count)
        do { try readCharset() } catch { /* an unsupported MSH-18: the default stands */ }
    }

    /// Indexes one segment; returns the offset of its terminator (or the input's end).
    private mutating func scanSegment(at start: Int) throws(HL7ParseError) -> Int {
        let n = input.count
        segmentBases.append(fieldStarts.count)
        fieldStarts.append(start)
        for offset in start..<min(start + 3, n) where !Self.isIDByte(input[offset]) {
            throw failure(.invalidSegmentID, at: offset, identified: false)
        }
        guard start + 3 <= n else { throw failure(.invalidSegmentID, at: n, identified: false) }

        var p = start + 3
        if p < n {
            let byteFlags = flags[Int(input[p])]
            guard byteFlags == ByteFlags.fieldSeparator || byteFlags == ByteFlags.terminator else {
                throw failure(.invalidSegmentID, at: p, identified: false)
            }
            let isHeader = HeaderSegment.isHeaderID(input[start], input[start + 1], input[start + 2])
            if byteFlags == ByteFlags.fieldSeparator, isHeader {
                p = skipEncodingCharacters(after: p)
            }
        }
        let input = self.input
        let flags = self.flags
        // The hot loop, 16 bytes at a time: a field is a few bytes long, so most chunks hold a
        // separator or two and nothing else that matters here.
        if let base = input.baseAddress {
            let raw = UnsafeRawPointer(base)
            let finder = StructuralBytes(delimiters)
            chunks: while p + 16 <= n {
                var hits = finder.positions(in: raw.loadUnaligned(fromByteOffset: p, as: SIMD16<UInt8>.self))
                while hits != 0 {
                    let q = p + hits.trailingZeroBitCount
                    hits &= hits &- 1
                    let byteFlags = flags[Int(input[q])]
                    if byteFlags == ByteFlags.fieldSeparator {
                        fieldStarts.append(q + 1)
                    } else if byteFlags == ByteFlags.escape {
                        guard checksEscapes else { continue }
                        p = try endOfEscape(at: q)
                        continue chunks
                    } else {
                        fieldStarts.append(q + 1)
                        return q
                    }
                }
                p += 16
            }
        }
        // The last bytes: one table lookup per byte.
        let structural = ByteFlags.fieldSeparator | ByteFlags.escape | ByteFlags.terminator
        while p < n {
            let byteFlags = flags[Int(input[p])]
            if byteFlags & structural == 0 {
                p += 1
            } else if byteFlags == ByteFlags.fieldSeparator {
                p += 1
                fieldStarts.append(p)
            } else if byteFlags == ByteFlags.escape {
                p = checksEscapes ? try endOfEscape(at: p) : p + 1
            } else {
                break
            }
        }
        fieldStarts.append(p + 1)
        return p
    }

    /// MSH-2 holds the escape character itself, so it is indexed as one literal field.
    private mutating func skipEncodingCharacters(after separator: Int) -> Int {
        var p = separator + 1
        fieldStarts.append(p)
        while p < input.count {
            if flags[Int(input[p])] & (ByteFlags.fieldSeparator | ByteFlags.terminator) != 0 { break }
            p += 1
        }
        return p
    }

    /// Validates the escape sequence opening at `start`; returns the offset just past its closing escape.
    private mutating func endOfEscape(at start: Int) throws(HL7ParseError) -> Int {
        guard let close = EscapeSequence.closingEscape(of: start, in: input, flags: flags) else {
            throw failure(.unterminatedEscape, at: start)
        }
        guard EscapeSequence.isWellFormed(UnsafeBufferPointer(rebasing: input[(start + 1)..<close])) else {
            throw failure(.invalidEscape, at: start)
        }
        return close + 1
    }

    /// MSH-18, first repetition; blank keeps the parser's default. Until it is known, bytes
    /// cannot be checked against a charset.
    private mutating func readCharset() throws(HL7ParseError) {
        let part = 17  // MSH-18: MSH-1 has no part of its own
        if fieldStarts.count > part + 1 {
            let start = fieldStarts[part]
            var end = start
            let fieldEnd = fieldStarts[part + 1] - 1
            while end < fieldEnd, input[end] != delimiters.repetition, input[end] != delimiters.component { end += 1 }
            let name = UnsafeBufferPointer(rebasing: input[start..<end])
            if name.contains(where: { $0 != UInt8(ascii: " ") }) {
                guard let declared = Self.charset(named: name, delimiters: delimiters) else {
                    let text = String(decoding: name, as: UTF8.self)
                    throw HL7ParseError(
                        kind: .unsupportedCharset(text), segmentIndex: 0, segmentID: "MSH", segmentSequence: 1, field: 18, byteOffset: start
                    )
                }
                charset = declared
            }
        }
        charsetIsKnown = true
    }

    /// The name is compared as bytes; only a name with escapes (a delimiter such as `-` or `/`
    /// written as `\F\`…) is decoded first.
    private static func charset(named name: UnsafeBufferPointer<UInt8>, delimiters: HL7Delimiters) -> HL7Charset? {
        guard name.contains(delimiters.escape) else { return HL7Charset(hl7NameBytes: name) }
        return HL7Charset(hl7Name: EscapeDecoder.decode(name, delimiters: delimiters, charset: .utf8))
    }

    private func checkCharset(before end: Int) throws(HL7ParseError) {
        guard charsetIsKnown, hasHighBytes,
              let offset = charset.firstInvalidByte(in: input, before: min(end, input.count))
        else { return }
        let (segment, part) = locate(offset)
        throw HL7ParseError(
            kind: .invalidCharacter(byte: input[offset], charset: charset),
            segmentIndex: segment, segmentID: segmentID(segment), segmentSequence: occurrence(of: segment),
            field: fieldNumber(segment: segment, part: part), byteOffset: offset
        )
    }

    /// The segment and part holding `offset`, from the index built so far.
    private func locate(_ offset: Int) -> (segment: Int, part: Int) {
        var segment = 0
        for s in 0..<segmentBases.count where fieldStarts[segmentBases[s]] <= offset { segment = s }
        let base = segmentBases[segment]
        let limit = segment + 1 < segmentBases.count ? segmentBases[segment + 1] : fieldStarts.count
        var part = 0
        for entry in base..<limit where fieldStarts[entry] <= offset { part = entry - base }
        return (segment, part)
    }

    private func failure(_ kind: HL7ParseError.Kind, at offset: Int, identified: Bool = true) -> HL7ParseError {
        let segment = segmentBases.count - 1
        let part = fieldStarts.count - 1 - segmentBases[segment]
        return HL7ParseError(
            kind: kind, segmentIndex: segment, segmentID: identified ? segmentID(segment) : nil,
            segmentSequence: identified ? occurrence(of: segment) : nil,
            field: identified ? fieldNumber(segment: segment, part: part) : nil, byteOffset: offset
        )
    }

    /// How many segments up to and including `segment` have its ID (error paths only).
    private func occurrence(of segment: Int) -> Int? {
        let start = fieldStarts[segmentBases[segment]]
        guard start + 3 <= input.count else { return nil }
        return (0...segment).count { earlier in
            let other = fieldStarts[segmentBases[earlier]]
            return other + 3 <= input.count && input[other] == input[start] && input[other + 1] == input[start + 1]
                && input[other + 2] == input[start + 2]
        }
    }

    /// Only called for segments whose ID was validated; checked anyway since it runs on error paths.
    private func segmentID(_ segment: Int) -> String? {
        let start = fieldStarts[segmentBases[segment]]
        guard start + 3 <= input.count else { return nil }
        return String(decoding: UnsafeBufferPointer(rebasing: input[start..<start + 3]), as: UTF8.self)
    }

    private func fieldNumber(segment: Int, part: Int) -> Int? {
        let start = fieldStarts[segmentBases[segment]]
        guard part > 0, start + 3 <= input.count else { return nil }
        let isHeader = HeaderSegment.isHeaderID(input[start], input[start + 1], input[start + 2])
            && start + 3 < input.count && input[start + 3] == delimiters.field
        return isHeader ? part + 1 : part
    }

    private static func isIDByte(_ byte: UInt8) -> Bool {
        (byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z")) || (byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9"))
    }
}

/// The bytes that end or interrupt a field (the field separator, the escape character, CR and LF),
/// found 16 at a time.
struct StructuralBytes {
    private let field: SIMD16<UInt8>
    private let escape: SIMD16<UInt8>
    private static let carriageReturn = SIMD16<UInt8>(repeating: 0x0D)
    private static let lineFeed = SIMD16<UInt8>(repeating: 0x0A)
    /// Lane i's bit within its half, so that two byte sums give the lanes' bitmask.
    private static let laneBits = SIMD16<UInt8>(1, 2, 4, 8, 16, 32, 64, 128, 1, 2, 4, 8, 16, 32, 64, 128)

    init(_ delimiters: HL7Delimiters) {
        field = SIMD16(repeating: delimiters.field)
        escape = SIMD16(repeating: delimiters.escape)
    }

    /// Bit i set when byte i of `chunk` is structural.
    @inline(__always)
    func positions(in chunk: SIMD16<UInt8>) -> UInt16 {
        let hits = (chunk .== field) .| (chunk .== escape) .| (chunk .== Self.carriageReturn) .| (chunk .== Self.lineFeed)
        let bits = SIMD16<UInt8>().replacing(with: Self.laneBits, where: hits)
        return UInt16(bits.lowHalf.wrappedSum()) | UInt16(bits.highHalf.wrappedSum()) << 8
    }
}
