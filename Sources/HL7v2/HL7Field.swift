/// A field of a parsed segment. Element counts are 0 for empty elements; indexes past the end
/// give empty elements, never a trap.
public struct HL7Field: Sendable {
    let span: TextSpan

    init(span: TextSpan) {
        self.span = span
    }

    /// Not present, or present with zero length.
    public var isEmpty: Bool { span.isEmpty }

    /// The explicit HL7 null `""`: "delete the stored value", as opposed to an empty field ("no change").
    public var isNull: Bool {
        let quote = UInt8(ascii: "\"")
        return span.end - span.start == 2 && span.rawBytes.allSatisfy { $0 == quote }
    }

    public var repetitionCount: Int { span.pieceCount(separatedBy: ByteFlags.repetition) }

    /// 0-based.
    public func repetition(_ index: Int) -> HL7Repetition {
        HL7Repetition(span: span.piece(index, separatedBy: ByteFlags.repetition))
    }

    /// 1-based component of the first repetition.
    public func component(_ number: Int) -> HL7Component {
        HL7Component(span: span.piece(number - 1, separatedBy: ByteFlags.component, endingAt: ByteFlags.repetition))
    }

    /// First repetition, first component, first subcomponent, escapes decoded: the common case.
    public var value: String {
        span.text(stoppingAt: ByteFlags.repetition | ByteFlags.component | ByteFlags.subcomponent)
    }

    /// The field as sent, escapes and all.
    public var rawBytes: ArraySlice<UInt8> { span.rawBytes }
}

public struct HL7Repetition: Sendable {
    let span: TextSpan

    init(span: TextSpan) {
        self.span = span
    }

    public var isEmpty: Bool { span.isEmpty }
    public var componentCount: Int { span.pieceCount(separatedBy: ByteFlags.component) }

    /// 1-based.
    public func component(_ number: Int) -> HL7Component {
        HL7Component(span: span.piece(number - 1, separatedBy: ByteFlags.component))
    }

    /// First component, first subcomponent.
    public var value: String {
        span.text(stoppingAt: ByteFlags.component | ByteFlags.subcomponent)
    }

    public var rawBytes: ArraySlice<UInt8> { span.rawBytes }
}

public struct HL7Component: Sendable {
    let span: TextSpan

    init(span: TextSpan) {
        self.span = span
    }

    public var isEmpty: Bool { span.isEmpty }
    public var subcomponentCount: Int { span.pieceCount(separatedBy: ByteFlags.subcomponent) }

    /// 1-based, escapes decoded; "" past the end.
    public func subcomponent(_ number: Int) -> String {
        span.piece(number - 1, separatedBy: ByteFlags.subcomponent).text(stoppingAt: ByteFlags.subcomponent)
    }

    /// First subcomponent.
    public var value: String {
        span.text(stoppingAt: ByteFlags.subcomponent)
    }

    public var rawBytes: ArraySlice<UInt8> { span.rawBytes }
}
