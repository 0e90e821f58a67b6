/// The character sets this engine accepts in MSH-18 (HL7 table 0211).
public enum HL7Charset: Sendable, Hashable {
    case ascii
    case utf8
    case iso8859_1

    /// The canonical MSH-18 value.
    public var hl7Name: String {
        switch self {
        case .ascii: "ASCII"
        case .utf8: "UNICODE UTF-8"
        case .iso8859_1: "8859/1"
        }
    }

    /// Accepts the table 0211 names plus the spellings devices are known to send instead,
    /// ignoring case and surrounding spaces. An empty name is not a charset: the parser
    /// substitutes its default for it.
    public init?(hl7Name: String) {
        guard let charset = Array(hl7Name.utf8).withUnsafeBufferPointer({ Self(hl7NameBytes: $0) }) else { return nil }
        self = charset
    }

    /// Byte-level matching: this runs for every message, so it must not build strings.
    init?(hl7NameBytes name: UnsafeBufferPointer<UInt8>) {
        var start = 0
        var end = name.count
        while start < end, name[start] == UInt8(ascii: " ") { start += 1 }
        while end > start, name[end - 1] == UInt8(ascii: " ") { end -= 1 }
        let trimmed = UnsafeBufferPointer(rebasing: name[start..<end])
        func matches(_ candidate: StaticString) -> Bool {
            guard candidate.utf8CodeUnitCount == trimmed.count else { return false }
            let expected = UnsafeBufferPointer(start: candidate.utf8Start, count: candidate.utf8CodeUnitCount)
            for i in 0..<trimmed.count {
                let byte = trimmed[i]
                let upper = byte >= UInt8(ascii: "a") && byte <= UInt8(ascii: "z") ? byte - 32 : byte
                if upper != expected[i] { return false }
            }
            return true
        }
        if matches("UNICODE UTF-8") || matches("UTF-8") || matches("UTF8") {
            self = .utf8
        } else if matches("ASCII") || matches("US-ASCII") {
            self = .ascii
        } else if matches("8859/1") || matches("ISO-8859-1") || matches("ISO8859-1") || matches("ISO_8859-1") {
            self = .iso8859_1
        } else {
            return nil
        }
    }
}

extension HL7Charset {
    /// Decodes text already validated for this charset (or produced by escape decoding).
    ///
    /// ASCII text is decoded as UTF-8, its superset, so `\X..\` escapes can carry any character;
    /// ill-formed UTF-8 produced by such escapes becomes U+FFFD.
    func string(decoding bytes: UnsafeBufferPointer<UInt8>) -> String {
        guard self == .iso8859_1, bytes.contains(where: { $0 >= 0x80 }) else {
            return String(decoding: bytes, as: UTF8.self)
        }
        return Self.latin1String(bytes)
    }

    /// Every Latin-1 byte is the Unicode scalar of the same value: two UTF-8 bytes at most.
    static func latin1String(_ bytes: UnsafeBufferPointer<UInt8>) -> String {
        String(unsafeUninitializedCapacity: bytes.count * 2) { utf8 in
            var count = 0
            for byte in bytes {
                if byte < 0x80 {
                    utf8[count] = byte
                    count += 1
                } else {
                    utf8[count] = 0xC0 | (byte >> 6)
                    utf8[count + 1] = 0x80 | (byte & 0x3F)
                    count += 2
                }
            }
            return count
        }
    }

    /// The offset of the first byte this charset does not allow, if any.
    func firstInvalidByte(in bytes: UnsafeBufferPointer<UInt8>, before end: Int) -> Int? {
        switch self {
        case .iso8859_1: nil
        case .ascii: (0..<end).first { bytes[$0] >= 0x80 }
        case .utf8: UTF8Validation.firstInvalidOffset(in: bytes, before: end)
        }
    }
}

enum UTF8Validation {
    /// Checks well-formedness per Unicode table 3-7: no overlongs, no surrogates, nothing above U+10FFFF.
    static func firstInvalidOffset(in bytes: UnsafeBufferPointer<UInt8>, before end: Int) -> Int? {
        var i = 0
        while i < end {
            let lead = bytes[i]
            if lead < 0x80 {
                i += 1
                continue
            }
            let length: Int
            var secondRange: ClosedRange<UInt8> = 0x80...0xBF
            switch lead {
            case 0xC2...0xDF: length = 2
            case 0xE0: length = 3; secondRange = 0xA0...0xBF
            case 0xE1...0xEC, 0xEE...0xEF: length = 3
            case 0xED: length = 3; secondRange = 0x80...0x9F
            case 0xF0: length = 4; secondRange = 0x90...0xBF
            case 0xF1...0xF3: length = 4
            case 0xF4: length = 4; secondRange = 0x80...0x8F
            default: return i
            }
            guard i + length <= end, secondRange.contains(bytes[i + 1]) else { return i }
            for k in 2..<length where bytes[i + k] & 0xC0 != 0x80 {
                return i
            }
            i += length
        }
        return nil
    }
}

