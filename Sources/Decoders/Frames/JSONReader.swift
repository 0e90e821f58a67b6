/// Why bytes are not a JSON document: what is wrong and the byte offset (from 0) where it is.
struct JSONSyntaxError: Error, Sendable, Equatable, CustomStringConvertible {
    var problem: String
    var offset: Int

    var description: String { "\(problem) at byte \(offset)" }
}

/// A strict RFC 8259 reader: one JSON value, optionally surrounded by whitespace, to `JSONValue`.
///
/// Strings must be valid UTF-8 (no overlong forms, no encoded surrogates) and their `\u`
/// escapes must pair surrogates; numbers follow the grammar exactly and must fit a `Double`
/// (so a `.number` is always finite). Nesting is bounded by `maximumDepth`, which also bounds
/// the reader's recursion. An object naming the same key twice is refused: which of the two
/// values a sender meant is not knowable, and for vital signs a guess is worse than a refusal.
/// Hand-written because it is on every MQTT message's path: on a gateway payload it takes about
/// a tenth of the time of Foundation's `JSONSerialization` (`vitals-bench mqtt --decode-only`).
/// Works on an unsafe buffer; every index is checked against `bytes.count` before it is read.
struct JSONReader {
    static let maximumDepth = 64

    static func parse(_ bytes: [UInt8]) throws(JSONSyntaxError) -> JSONValue {
        try bytes.withUnsafeBufferPointer { buffer throws(JSONSyntaxError) in
            var reader = JSONReader(buffer)
            return try reader.document()
        }
    }

    private let bytes: UnsafeBufferPointer<UInt8>
    private var position = 0
    private var depth = 0

    private init(_ bytes: UnsafeBufferPointer<UInt8>) {
        self.bytes = bytes
    }

    private mutating func document() throws(JSONSyntaxError) -> JSONValue {
        skipWhitespace()
        let value = try self.value()
        skipWhitespace()
        guard position == bytes.count else {
            throw failure("unexpected \(describe(bytes[position])) after the JSON value")
        }
        return value
    }

    private mutating func value() throws(JSONSyntaxError) -> JSONValue {
        guard position < bytes.count else { throw failure("expected a value, found the end of the input") }
        switch bytes[position] {
        case UInt8(ascii: "{"): return try object()
        case UInt8(ascii: "["): return try array()
        case UInt8(ascii: "\""): return .string(try string())
        case UInt8(ascii: "t"): try literal("true"); return .bool(true)
        case UInt8(ascii: "f"): try literal("false"); return .bool(false)
        case UInt8(ascii: "n"): try literal("null"); return .null
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return .number(try number())
        case let byte: throw failure("expected a value, found \(describe(byte))")
        }
    }

    // MARK: Containers

    private mutating func object() throws(JSONSyntaxError) -> JSONValue {
        var members = JSONObject()
        guard try enter(closing: UInt8(ascii: "}")) else { return .object(members) }
        repeat {
            guard peek() == UInt8(ascii: "\"") else { throw failure("expected a string key in object, found \(describeNext())") }
            let keyOffset = position
            let key = try string()
            skipWhitespace()
            guard peek() == UInt8(ascii: ":") else { throw failure("expected ':' after object key, found \(describeNext())") }
            position += 1
            skipWhitespace()
            let value = try self.value()
            guard members.append(key, value) else {
                throw JSONSyntaxError(problem: "duplicate key '\(key.prefix(40))' in object", offset: keyOffset)
            }
        } while try continues(after: "object member", closing: UInt8(ascii: "}"))
        return .object(members)
    }

    private mutating func array() throws(JSONSyntaxError) -> JSONValue {
        var elements: [JSONValue] = []
        guard try enter(closing: UInt8(ascii: "]")) else { return .array(elements) }
        elements.reserveCapacity(4)
        repeat {
            elements.append(try value())
        } while try continues(after: "array element", closing: UInt8(ascii: "]"))
        return .array(elements)
    }

    /// Steps over an opening bracket, refusing to nest deeper than the bound; false when the
    /// container closes at once (`{}`, `[]`).
    private mutating func enter(closing: UInt8) throws(JSONSyntaxError) -> Bool {
        guard depth < Self.maximumDepth else { throw failure("nesting deeper than \(Self.maximumDepth) levels") }
        depth += 1
        position += 1
        skipWhitespace()
        guard peek() == closing else { return true }
        position += 1
        depth -= 1
        return false
    }

    /// After a member or element: true at a comma (another must follow), false at the closing bracket.
    private mutating func continues(after item: String, closing: UInt8) throws(JSONSyntaxError) -> Bool {
        skipWhitespace()
        switch peek() {
        case UInt8(ascii: ","):
            position += 1
            skipWhitespace()
            if peek() == closing { throw failure("trailing comma before \(describe(closing))") }
            return true
        case closing:
            position += 1
            depth -= 1
            return false
        default:
            throw failure("expected ',' or \(describe(closing)) after \(item), found \(describeNext())")
        }
    }

    // MARK: Strings

    /// A string from its opening quote. Runs without escapes are taken straight from the input;
    /// only a string with escapes is assembled in a buffer.
    private mutating func string() throws(JSONSyntaxError) -> String {
        let opening = position
        position += 1
        var assembled: [UInt8] = []
        var escaped = false
        var runStart = position
        while true {
            skipPlainASCII()
            guard position < bytes.count else { break }
            let byte = bytes[position]
            switch byte {
            case UInt8(ascii: "\""):
                let run = UnsafeBufferPointer(rebasing: bytes[runStart..<position])
                position += 1
                guard escaped else { return String(decoding: run, as: UTF8.self) }
                assembled.append(contentsOf: run)
                return String(decoding: assembled, as: UTF8.self)
            case UInt8(ascii: "\\"):
                escaped = true
                assembled.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[runStart..<position]))
                try escape(into: &assembled)
                runStart = position
            case 0..<0x20:
                throw failure("control character \(describe(byte)) in a string must be escaped")
            default:
                position += try utf8SequenceLength()
            }
        }
        throw JSONSyntaxError(problem: "unterminated string (opened at byte \(opening))", offset: position)
    }

    /// Steps over printable ASCII other than `"` and `\`: most of any string, in a tight loop.
    private mutating func skipPlainASCII() {
        var index = position
        while index < bytes.count {
            let byte = bytes[index]
            guard byte >= 0x20, byte < 0x80, byte != UInt8(ascii: "\""), byte != UInt8(ascii: "\\") else { break }
            index += 1
        }
        position = index
    }

    /// An escape from its backslash, appended as UTF-8.
    private mutating func escape(into buffer: inout [UInt8]) throws(JSONSyntaxError) {
        let start = position
        position += 1
        guard position < bytes.count else { throw failure("unterminated escape in string") }
        let letter = bytes[position]
        position += 1
        let simple: UInt8
        switch letter {
        case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): simple = letter
        case UInt8(ascii: "b"): simple = 0x08
        case UInt8(ascii: "f"): simple = 0x0C
        case UInt8(ascii: "n"): simple = 0x0A
        case UInt8(ascii: "r"): simple = 0x0D
        case UInt8(ascii: "t"): simple = 0x09
        case UInt8(ascii: "u"):
            let scalar = try unicodeEscape(start: start)
            UTF8.encode(scalar) { buffer.append($0) }
            return
        default:
            throw JSONSyntaxError(problem: "invalid escape '\\\(describeEscaped(letter))' in string", offset: start)
        }
        buffer.append(simple)
    }

    /// `\uXXXX` after its `u`, or a surrogate pair `\uD83D\uDE00`; lone surrogates are refused.
    private mutating func unicodeEscape(start: Int) throws(JSONSyntaxError) -> Unicode.Scalar {
        let unit = try hexQuad()
        switch unit {
        case 0xD800...0xDBFF:
            guard position + 1 < bytes.count, bytes[position] == UInt8(ascii: "\\"), bytes[position + 1] == UInt8(ascii: "u") else {
                throw JSONSyntaxError(problem: "lone high surrogate \\u\(hex(unit)) in string", offset: start)
            }
            position += 2
            let low = try hexQuad()
            guard (0xDC00...0xDFFF).contains(low) else {
                throw JSONSyntaxError(problem: "high surrogate \\u\(hex(unit)) not followed by a low surrogate in string", offset: start)
            }
            let value = 0x10000 + ((UInt32(unit) - 0xD800) << 10) + (UInt32(low) - 0xDC00)
            return Unicode.Scalar(value) ?? "\u{FFFD}"  // always a scalar: 0x10000...0x10FFFF
        case 0xDC00...0xDFFF:
            throw JSONSyntaxError(problem: "lone low surrogate \\u\(hex(unit)) in string", offset: start)
        default:
            return Unicode.Scalar(unit) ?? "\u{FFFD}"  // always a scalar: surrogates are excluded above
        }
    }

    private mutating func hexQuad() throws(JSONSyntaxError) -> UInt16 {
        var unit: UInt16 = 0
        for _ in 0..<4 {
            guard position < bytes.count else { throw failure("expected 4 hex digits after \\u, found the end of the input") }
            let byte = bytes[position]
            let digit: UInt8
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = byte - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = byte - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = byte - UInt8(ascii: "A") + 10
            default: throw failure("expected 4 hex digits after \\u, found \(describe(byte))")
            }
            unit = unit << 4 | UInt16(digit)
            position += 1
        }
        return unit
    }

    /// The length of the well-formed UTF-8 sequence at `position` (Unicode 15, table 3-7).
    private func utf8SequenceLength() throws(JSONSyntaxError) -> Int {
        let lead = bytes[position]
        let length: Int
        var second: ClosedRange<UInt8> = 0x80...0xBF
        switch lead {
        case 0xC2...0xDF: length = 2
        case 0xE0: length = 3; second = 0xA0...0xBF
        case 0xED: length = 3; second = 0x80...0x9F  // not UTF-16 surrogates
        case 0xE1...0xEF: length = 3
        case 0xF0: length = 4; second = 0x90...0xBF
        case 0xF1...0xF3: length = 4
        case 0xF4: length = 4; second = 0x80...0x8F  // not beyond U+10FFFF
        default: throw failure("invalid UTF-8: \(describe(lead)) cannot start a character")
        }
        for index in 1..<length {
            let at = position + index
            guard at < bytes.count else { throw failure("invalid UTF-8: the input ends inside a character") }
            guard (index == 1 ? second : 0x80...0xBF).contains(bytes[at]) else {
                throw JSONSyntaxError(problem: "invalid UTF-8: \(describe(bytes[at])) cannot continue the character started by \(describe(lead))", offset: at)
            }
        }
        return length
    }

    // MARK: Numbers and literals

    /// `-? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?` as the nearest `Double`.
    private mutating func number() throws(JSONSyntaxError) -> Double {
        let start = position
        let negative = peek() == UInt8(ascii: "-")
        if negative { position += 1 }
        // Significant digits go into `mantissa` while they fit `DecimalText.exactValue`.
        var mantissa: UInt64 = 0
        var significantDigits = 0
        var decimalExponent = 0

        guard let first = digit() else { throw failure("expected a digit after '-', found \(describeNext())") }
        if first == 0 {
            if digit() != nil { throw JSONSyntaxError(problem: "a number may not start with a leading zero", offset: position - 1) }
        } else {
            mantissa = UInt64(first)
            significantDigits = 1
            while let next = digit() {
                Self.accumulate(next, into: &mantissa, digits: &significantDigits, scale: &decimalExponent, fractional: false)
            }
        }
        if peek() == UInt8(ascii: ".") {
            position += 1
            guard let next = digit() else { throw failure("expected a digit after the decimal point, found \(describeNext())") }
            Self.accumulate(next, into: &mantissa, digits: &significantDigits, scale: &decimalExponent, fractional: true)
            while let next = digit() {
                Self.accumulate(next, into: &mantissa, digits: &significantDigits, scale: &decimalExponent, fractional: true)
            }
        }
        if peek() == UInt8(ascii: "e") || peek() == UInt8(ascii: "E") {
            position += 1
            var exponentSign = 1
            if peek() == UInt8(ascii: "+") || peek() == UInt8(ascii: "-") {
                if peek() == UInt8(ascii: "-") { exponentSign = -1 }
                position += 1
            }
            guard var exponent = digit() else { throw failure("expected a digit in the exponent, found \(describeNext())") }
            while let next = digit() { exponent = min(exponent * 10 + next, 100_000) }
            decimalExponent += exponentSign * exponent
        }

        if let magnitude = DecimalText.exactValue(mantissa: mantissa, significantDigits: significantDigits, exponent: decimalExponent) {
            return negative ? -magnitude : magnitude
        }
        let text = String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<position]), as: UTF8.self)
        guard let value = Double(text), value.isFinite else {
            throw JSONSyntaxError(problem: "number \(text.prefix(40)) is out of the range of a 64-bit float", offset: start)
        }
        return value
    }

    /// One more digit of the number: kept exactly while 15 significant digits have not been
    /// seen (leading fractional zeros only move the scale); beyond, only counted, which sends
    /// the number to the standard library.
    private static func accumulate(_ digit: Int, into mantissa: inout UInt64, digits: inout Int, scale: inout Int, fractional: Bool) {
        if digits == 0 && digit == 0 {
            if fractional { scale -= 1 }
            return
        }
        digits += 1
        if digits <= 15 {
            mantissa = mantissa * 10 + UInt64(digit)
            if fractional { scale -= 1 }
        }
    }

    private mutating func digit() -> Int? {
        guard position < bytes.count, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(bytes[position]) else { return nil }
        position += 1
        return Int(bytes[position - 1] - UInt8(ascii: "0"))
    }

    private mutating func literal(_ word: StaticString) throws(JSONSyntaxError) {
        let start = position
        for expected in UnsafeBufferPointer(start: word.utf8Start, count: word.utf8CodeUnitCount) {
            guard position < bytes.count, bytes[position] == expected else {
                throw JSONSyntaxError(problem: "expected '\(word)'", offset: start)
            }
            position += 1
        }
    }

    // MARK: Helpers

    private mutating func skipWhitespace() {
        while position < bytes.count {
            switch bytes[position] {
            case UInt8(ascii: " "), UInt8(ascii: "\n"), UInt8(ascii: "\r"), UInt8(ascii: "\t"): position += 1
            default: return
            }
        }
    }

    private func peek() -> UInt8? {
        position < bytes.count ? bytes[position] : nil
    }

    private func failure(_ problem: String) -> JSONSyntaxError {
        JSONSyntaxError(problem: problem, offset: position)
    }

    private func describeNext() -> String {
        peek().map(describe) ?? "the end of the input"
    }

    /// `'x'` for printable ASCII, `byte 0x0A` otherwise (never raw bytes in an error text).
    private func describe(_ byte: UInt8) -> String {
        (0x21...0x7E).contains(byte) ? "'\(Character(Unicode.Scalar(byte)))'" : "byte 0x\(hex(UInt16(byte), width: 2))"
    }

    private func describeEscaped(_ byte: UInt8) -> String {
        (0x21...0x7E).contains(byte) ? String(Character(Unicode.Scalar(byte))) : "<0x\(hex(UInt16(byte), width: 2))>"
    }

    private func hex(_ value: UInt16, width: Int = 4) -> String {
        let digits = String(value, radix: 16, uppercase: true)
        return String(repeating: "0", count: max(0, width - digits.count)) + digits
    }
}
