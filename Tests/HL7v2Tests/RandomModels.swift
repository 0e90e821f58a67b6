import HL7v2

/// SplitMix64: tiny, fast and seedable, so every property-test case can be replayed.
struct SplitMix64: RandomNumberGenerator {
    private var state: UInt64

    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// Random messages in canonical form: what parsing their encoding must give back exactly.
struct RandomModels {
    var rng: SplitMix64
    let delimiters: HL7Delimiters
    let charset: HL7Charset
    let segmentTerminator: UInt8

    /// A random delimiter set (often the standard one), charset and segment terminator.
    init(seed: UInt64) {
        rng = SplitMix64(seed: seed)
        let pool = Array(#"|^~\&$%*!@#/:;,.?+=<>{}[]()-_'`"#.utf8)
        if Bool.random(using: &rng) {
            delimiters = .standard
        } else {
            let picked = Array(pool.shuffled(using: &rng).prefix(6))
            delimiters = HL7Delimiters(
                field: picked[0], component: picked[1], repetition: picked[2], escape: picked[3],
                subcomponent: picked[4], truncation: Int.random(in: 0..<4, using: &rng) == 0 ? picked[5] : nil
            )
        }
        charset = [HL7Charset.utf8, .utf8, .iso8859_1, .ascii].randomElement(using: &rng) ?? .utf8
        segmentTerminator = Bool.random(using: &rng) ? 0x0D : 0x0A
    }

    var encoder: HL7Encoder {
        HL7Encoder(delimiters: delimiters, segmentTerminator: segmentTerminator, charset: charset)
    }

    mutating func message() -> [HL7SegmentValue] {
        var segments = [header()]
        for _ in 0..<Int.random(in: 0...6, using: &rng) {
            segments.append(HL7SegmentValue(id: segmentID(), fields: fields(upTo: 12)))
        }
        return segments
    }

    /// MSH-1/MSH-2 as the encoder writes them, MSH-18 naming the charset the encoder uses.
    private mutating func header() -> HL7SegmentValue {
        var header = HL7SegmentValue(id: "MSH", fields: fields(upTo: 20))
        header[field: 1] = HL7FieldValue(String(decoding: [delimiters.field], as: UTF8.self))
        header[field: 2] = HL7FieldValue(String(decoding: delimiters.encodingCharacters, as: UTF8.self))
        header[field: 18] = HL7FieldValue(charset.hl7Name)
        return header
    }

    private mutating func segmentID() -> String {
        let characters = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")
        while true {
            let id = String((0..<3).map { _ in characters.randomElement(using: &rng) ?? "Z" })
            if !["MSH", "BHS", "FHS"].contains(id) { return id }
        }
    }

    private mutating func fields(upTo limit: Int) -> [HL7FieldValue] {
        let fields = (0..<Int.random(in: 0...limit, using: &rng)).map { _ in field() }
        return Array(fields.droppingTrailingEmpty())
    }

    private mutating func field() -> HL7FieldValue {
        guard Int.random(in: 0..<10, using: &rng) >= 3 else { return .empty }
        let repetitions = (0..<Int.random(in: 1...3, using: &rng)).map { _ in
            (0..<Int.random(in: 1...4, using: &rng)).map { _ in
                (0..<Int.random(in: 1...3, using: &rng)).map { _ in text() }
            }
        }
        return HL7FieldValue(repetitions: repetitions).canonical
    }

    /// Short text full of characters that need escaping, plus non-ASCII the charset can hold.
    private mutating func text() -> String {
        guard Int.random(in: 0..<4, using: &rng) > 0 else { return "" }
        var alphabet = Array("AZaz09 .-+\"#\r\n") + delimiters.encodingCharacters.map { Character(UnicodeScalar($0)) }
        alphabet.append(Character(UnicodeScalar(delimiters.field)))
        switch charset {
        case .utf8, .ascii: alphabet += ["é", "ü", "°", "中", "🚑", "\u{7F}", "\u{01}"]
        case .iso8859_1: alphabet += ["é", "ü", "°", "ÿ", "\u{A0}"]
        }
        return String((0..<Int.random(in: 1...8, using: &rng)).map { _ in alphabet.randomElement(using: &rng) ?? "x" })
    }
}

extension HL7FieldValue {
    /// Trailing empty repetitions, components and subcomponents dropped (as the encoder does),
    /// keeping one empty element where a position must survive; the empty field has no repetitions.
    var canonical: HL7FieldValue {
        let repetitions = repetitions.map { repetition in
            let components = repetition.map { component in
                let kept = Array(component.droppingTrailing(where: \.isEmpty))
                return kept.isEmpty ? [""] : kept
            }
            let kept = Array(components.droppingTrailing { $0 == [""] })
            return kept.isEmpty ? [[""]] : kept
        }
        let kept = Array(repetitions.droppingTrailing { $0 == [[""]] })
        return HL7FieldValue(repetitions: kept)
    }
}

extension BidirectionalCollection where Element == HL7FieldValue {
    func droppingTrailingEmpty() -> SubSequence { droppingTrailing(where: \.isEmpty) }
}

extension BidirectionalCollection {
    func droppingTrailing(where isEmpty: (Element) -> Bool) -> SubSequence {
        guard let last = lastIndex(where: { !isEmpty($0) }) else { return self[startIndex..<startIndex] }
        return self[...last]
    }
}

extension HL7SegmentValue {
    /// What the encoder's output parses back to: canonical fields, header delimiters as written.
    func canonical(delimiters: HL7Delimiters) -> HL7SegmentValue {
        var fields = fields.map(\.canonical)
        if ["MSH", "BHS", "FHS"].contains(id) {
            var header = HL7SegmentValue(id: id, fields: fields)
            header[field: 1] = HL7FieldValue(String(decoding: [delimiters.field], as: UTF8.self))
            header[field: 2] = HL7FieldValue(String(decoding: delimiters.encodingCharacters, as: UTF8.self))
            fields = header.fields
            return HL7SegmentValue(id: id, fields: Array(fields[..<2]) + Array(fields[2...].droppingTrailingEmpty()))
        }
        return HL7SegmentValue(id: id, fields: Array(fields.droppingTrailingEmpty()))
    }
}
