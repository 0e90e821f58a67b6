/// The characters that structure a message, as declared by MSH-1 and MSH-2.
public struct HL7Delimiters: Sendable, Hashable {
    public var field: UInt8
    public var component: UInt8
    public var repetition: UInt8
    public var escape: UInt8
    public var subcomponent: UInt8
    /// The v2.7 truncation character (usually `#`); only set when MSH-2 declares it.
    public var truncation: UInt8?

    public init(
        field: UInt8 = UInt8(ascii: "|"),
        component: UInt8 = UInt8(ascii: "^"),
        repetition: UInt8 = UInt8(ascii: "~"),
        escape: UInt8 = UInt8(ascii: "\\"),
        subcomponent: UInt8 = UInt8(ascii: "&"),
        truncation: UInt8? = nil
    ) {
        self.field = field
        self.component = component
        self.repetition = repetition
        self.escape = escape
        self.subcomponent = subcomponent
        self.truncation = truncation
    }

    /// `| ^ ~ \ &`
    public static let standard = HL7Delimiters()

    /// MSH-2 as written: component, repetition, escape, subcomponent, then the truncation character if any.
    public var encodingCharacters: [UInt8] {
        var characters = [component, repetition, escape, subcomponent]
        if let truncation { characters.append(truncation) }
        return characters
    }

    /// Distinct printable ASCII characters that are neither letters nor digits.
    ///
    /// Printable ASCII also rules out CR and LF (segment terminators) and bytes that could
    /// be part of a multi-byte UTF-8 sequence.
    public var isValid: Bool {
        let all = [field] + encodingCharacters
        return all.allSatisfy(Self.isAllowed) && Set(all).count == all.count
    }

    static func isAllowed(_ byte: UInt8) -> Bool {
        guard byte > 0x20, byte < 0x7F else { return false }
        let isDigit = byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9")
        let isLetter = (byte | 0x20) >= UInt8(ascii: "a") && (byte | 0x20) <= UInt8(ascii: "z")
        return !isDigit && !isLetter
    }
}
