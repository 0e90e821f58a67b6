/// Why a byte sequence is not an acceptable HL7 v2 message, and where.
public struct HL7ParseError: Error, Sendable, Hashable, CustomStringConvertible {
    public enum Kind: Sendable, Hashable {
        /// No bytes, or only blank lines.
        case empty
        /// Offsets are indexed as Int32; anything over 2 GiB is refused.
        case tooLarge
        /// The first segment is not MSH.
        case missingMSH
        /// The input ends before MSH-1 and the four MSH-2 encoding characters.
        case headerTooShort
        /// MSH-1/MSH-2 are not distinct printable ASCII non-alphanumerics, or MSH-2 is not 4–5 characters.
        case invalidDelimiters
        /// A segment does not start with 3 uppercase letters or digits followed by the field separator.
        case invalidSegmentID
        /// An escape character without its closing escape before the next delimiter or segment end.
        case unterminatedEscape
        /// An escape sequence that can never be decoded: `\\` or a `\X..\` without an even number of hex digits.
        case invalidEscape
        /// MSH-18 names a character set this engine does not handle.
        case unsupportedCharset(String)
        /// A byte (the first of an ill-formed sequence for UTF-8) not allowed by the message's charset.
        case invalidCharacter(byte: UInt8, charset: HL7Charset)
    }

    public var kind: Kind
    /// 0-based position of the segment in the message (MSH is segment 0).
    public var segmentIndex: Int?
    public var segmentID: String?
    /// 1-based occurrence of `segmentID` in the message (the third OBX is 3), for ERR-2.2.
    public var segmentSequence: Int?
    /// HL7 field number: MSH-1 is the field separator itself.
    public var field: Int?
    /// Offset of the offending byte in the input.
    public var byteOffset: Int

    public init(
        kind: Kind, segmentIndex: Int? = nil, segmentID: String? = nil, segmentSequence: Int? = nil, field: Int? = nil,
        byteOffset: Int
    ) {
        self.kind = kind
        self.segmentIndex = segmentIndex
        self.segmentID = segmentID
        self.segmentSequence = segmentSequence
        self.field = field
        self.byteOffset = byteOffset
    }

    /// e.g. "unterminated escape sequence in OBX segment 5, field 5, at byte 812"
    public var description: String {
        var location: [String] = []
        switch (segmentID, segmentIndex) {
        case let (id?, index?): location.append("in \(id) segment \(index)")
        case let (nil, index?): location.append("in segment \(index)")
        case let (id?, nil): location.append("in \(id) segment")
        case (nil, nil): break
        }
        if let field { location.append("field \(field)") }
        location.append("at byte \(byteOffset)")
        return "\(kind.summary) " + location.joined(separator: ", ")
    }
}

extension HL7ParseError.Kind {
    var summary: String {
        switch self {
        case .empty: "empty message"
        case .tooLarge: "message too large (over 2 GiB)"
        case .missingMSH: "message does not start with an MSH segment"
        case .headerTooShort: "MSH segment ends before the field separator and encoding characters"
        case .invalidDelimiters: "invalid delimiters (need 4 or 5 distinct printable ASCII non-alphanumeric encoding characters)"
        case .invalidSegmentID: "invalid segment ID (need 3 uppercase letters or digits)"
        case .unterminatedEscape: "unterminated escape sequence"
        case .invalidEscape: "malformed escape sequence"
        case .unsupportedCharset(let name): "unsupported character set \"\(name)\""
        case .invalidCharacter(let byte, let charset):
            "byte 0x\(String(byte, radix: 16, uppercase: true)) is not valid \(charset.hl7Name)"
        }
    }
}
