/// A segment as plain values: what the encoder writes and what `HL7Message.model` produces.
public struct HL7SegmentValue: Sendable, Hashable {
    public var id: String
    /// `fields[0]` is field 1. For MSH, `fields[0]` (MSH-1) and `fields[1]` (MSH-2) hold the delimiters;
    /// the encoder ignores them and writes its own.
    public var fields: [HL7FieldValue]

    public init(id: String, fields: [HL7FieldValue]) {
        self.id = id
        self.fields = fields
    }

    /// HL7 numbering (1-based); reading past the end gives an empty field, writing past it pads.
    public subscript(field number: Int) -> HL7FieldValue {
        get { number >= 1 && number <= fields.count ? fields[number - 1] : .empty }
        set {
            precondition(number >= 1, "HL7 field numbers start at 1")
            while fields.count < number { fields.append(.empty) }
            fields[number - 1] = newValue
        }
    }
}

/// A field as plain, unescaped text.
///
/// Canonical form (what parsing an encoded field gives back): an empty field has no repetitions;
/// otherwise each repetition has at least one component and each component at least one
/// subcomponent, and positions are kept by empty strings.
public struct HL7FieldValue: Sendable, Hashable, ExpressibleByStringLiteral {
    /// repetition → component → subcomponent.
    public var repetitions: [[[String]]]

    /// One repetition, one component, one subcomponent ("" is the empty field).
    public init(_ text: String) {
        repetitions = text.isEmpty ? [] : [[[text]]]
    }

    /// One repetition; all-empty components make the empty field.
    public init(components: [String]) {
        repetitions = components.allSatisfy(\.isEmpty) ? [] : [components.map { [$0] }]
    }

    public init(repetitions: [[[String]]]) {
        self.repetitions = repetitions
    }

    public init(stringLiteral text: String) {
        self.init(text)
    }

    public static let empty = HL7FieldValue(repetitions: [])

    /// No text anywhere: encodes to nothing.
    public var isEmpty: Bool {
        repetitions.allSatisfy { $0.allSatisfy { $0.allSatisfy(\.isEmpty) } }
    }

    /// First repetition, first component, first subcomponent, like `HL7Field.value`.
    public var text: String { component(1) }

    /// 1-based component of a repetition, first subcomponent; "" when absent.
    public func component(_ number: Int, repetition: Int = 0) -> String {
        guard repetitions.indices.contains(repetition) else { return "" }
        let components = repetitions[repetition]
        guard number >= 1, number <= components.count else { return "" }
        return components[number - 1].first ?? ""
    }
}

// MARK: - Materialising a parsed message

extension HL7Message {
    /// Every segment as values, escapes decoded.
    public var model: [HL7SegmentValue] { segments.map(\.model) }
}

extension HL7Segment {
    public var model: HL7SegmentValue {
        HL7SegmentValue(id: id, fields: (0..<fieldCount).map { self[$0 + 1].model })
    }
}

extension HL7Field {
    public var model: HL7FieldValue {
        guard !span.isEmpty else { return .empty }
        return HL7FieldValue(repetitions: span.pieces(separatedBy: ByteFlags.repetition).map { repetition in
            repetition.pieces(separatedBy: ByteFlags.component).map { component in
                component.pieces(separatedBy: ByteFlags.subcomponent).map { subcomponent in
                    subcomponent.text(stoppingAt: ByteFlags.subcomponent)
                }
            }
        })
    }
}
