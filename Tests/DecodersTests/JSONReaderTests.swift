import DeviceSimulator
import Testing
@testable import Decoders

@Suite struct JSONReaderTests {
    func parse(_ text: String) throws(JSONSyntaxError) -> JSONValue {
        try JSONReader.parse(Array(text.utf8))
    }

    // MARK: Valid documents

    @Test func readsEveryKindOfValue() throws {
        let value = try parse(#" {"a":[1,-2.5,3E2,true,false,null,"x"],"b":{},"c":[],"d":{"e":{"f":0}}} "#)
        #expect(value == .object([
            "a": .array([.number(1), .number(-2.5), .number(300), .bool(true), .bool(false), .null, .string("x")]),
            "b": .object([:]), "c": .array([]), "d": .object(["e": .object(["f": .number(0)])]),
        ]))
        #expect(try parse("\t\r\n 7 \n") == .number(7))
        #expect(try parse(#""""#) == .string(""))
        #expect(try parse("null") == .null)
    }

    @Test func readsEscapesAndUTF8() throws {
        #expect(try parse(#""\"\\\/\b\f\n\r\t\u0041\u00e9\u20AC\ud83d\ude00\u0000""#) == .string("\"\\/\u{8}\u{C}\n\r\tAé€😀\u{0}"))
        #expect(try parse("\"é € 😀 \u{10FFFF}\"") == .string("é € 😀 \u{10FFFF}"))
        #expect(try parse(#"{"clé":"a\nb"}"#) == .object(["clé": .string("a\nb")]))
    }

    /// The fast path and the standard library must agree bit for bit (sign of zero included).
    @Test(arguments: [
        "0", "-0", "0.1", "-0.000001", "1e22", "1e23", "123456789012345", "1234567890123456", "9007199254740993",
        "0.30000000000000004", "2.2250738585072014e-308", "5e-324", "1.7976931348623157e308", "1e-400", "36.85",
        "98.6", "1E+2", "1e-22", "4.35e-23", "100000000000000000000000", "0.000000000000000000000000001",
    ])
    func readsNumbersAsTheStandardLibraryDoes(_ text: String) throws {
        let value = try #require(try parse(text).number)
        let expected = try #require(Double(text))
        #expect(value.bitPattern == expected.bitPattern, "\(text): \(value) ≠ \(expected)")
    }

    @Test func randomNumbersReadAsTheStandardLibraryDoes() throws {
        var rng = SplitMix64(seed: 0x1F_0A7)
        for _ in 0..<20_000 {
            var text = Bool.random(using: &rng) ? "-" : ""
            let integerDigits = Int.random(in: 1...18, using: &rng)
            text += String(Int.random(in: 1...9, using: &rng))
            for _ in 1..<integerDigits { text += String(Int.random(in: 0...9, using: &rng)) }
            if Bool.random(using: &rng) {
                text += "." + (0..<Int.random(in: 1...18, using: &rng)).map { _ in String(Int.random(in: 0...9, using: &rng)) }.joined()
            }
            if Int.random(in: 0..<3, using: &rng) == 0 {
                text += "e" + String(Int.random(in: -40...40, using: &rng))
            }
            let value = try #require(try parse(text).number)
            let expected = try #require(Double(text))
            #expect(value.bitPattern == expected.bitPattern, "\(text): \(value) ≠ \(expected)")
        }
    }

    @Test func objectsKeepTheirOrderAndFindEveryKeyPastTheLinearLimit() throws {
        let count = JSONObject.linearLimit * 3
        let text = "{" + (0..<count).map { #""k\#($0)":\#($0)"# }.joined(separator: ",") + "}"
        let object = try #require(try parse(text).object)
        #expect(Array(object.keys) == (0..<count).map { "k\($0)" })
        for index in 0..<count { #expect(object["k\(index)"] == .number(Double(index))) }
        #expect(object["k\(count)"] == nil)
        // A repeated key is found among many members as among few.
        #expect(throws: JSONSyntaxError(problem: "duplicate key 'k\(count - 1)' in object", offset: text.count)) {
            try parse(text.dropLast() + #","k\#(count - 1)":0}"#)
        }
        #expect(try parse(#"{"a":1,"b":[2]}"#) == parse(#"{"b":[2],"a":1}"#))
        #expect(try parse(#"{"a":1}"#) != parse(#"{"a":1,"b":2}"#))
        #expect(try parse(#"{"a":1,"b":2}"#) != parse(#"{"a":1,"c":2}"#))
    }

    // MARK: Errors, each with its offset

    @Test(arguments: [
        ("", "expected a value, found the end of the input", 0),
        ("   ", "expected a value, found the end of the input", 3),
        (#"{"a" 1}"#, "expected ':' after object key, found '1'", 5),
        (#"{"a":1,}"#, "trailing comma before '}'", 7),
        ("[1,]", "trailing comma before ']'", 3),
        ("[1 2]", "expected ',' or ']' after array element, found '2'", 3),
        (#"{"a":1 "b":2}"#, "expected ',' or '}' after object member, found '\"'", 7),
        ("{a:1}", "expected a string key in object, found 'a'", 1),
        (#"{"a":1"#, "expected ',' or '}' after object member, found the end of the input", 6),
        ("[", "expected a value, found the end of the input", 1),
        ("01", "a number may not start with a leading zero", 1),
        ("-01", "a number may not start with a leading zero", 2),
        ("1.", "expected a digit after the decimal point, found the end of the input", 2),
        ("1.e5", "expected a digit after the decimal point, found 'e'", 2),
        ("-", "expected a digit after '-', found the end of the input", 1),
        ("-x", "expected a digit after '-', found 'x'", 1),
        ("1e", "expected a digit in the exponent, found the end of the input", 2),
        ("1e+", "expected a digit in the exponent, found the end of the input", 3),
        (".5", "expected a value, found '.'", 0),
        ("+1", "expected a value, found '+'", 0),
        ("[1e999]", "number 1e999 is out of the range of a 64-bit float", 1),
        ("-1e400", "number -1e400 is out of the range of a 64-bit float", 0),
        ("NaN", "expected a value, found 'N'", 0),
        ("tru", "expected 'true'", 0),
        ("[nul]", "expected 'null'", 1),
        ("True", "expected a value, found 'T'", 0),
        (#""abc"#, "unterminated string (opened at byte 0)", 4),
        ("\"a\u{1}\"", "control character byte 0x01 in a string must be escaped", 2),
        ("\"a\nb\"", "control character byte 0x0A in a string must be escaped", 2),
        (#""\x""#, "invalid escape '\\x' in string", 1),
        (#""\"#, "unterminated escape in string", 2),
        (#""\u12""#, "expected 4 hex digits after \\u, found '\"'", 5),
        (#""\ud83d""#, "lone high surrogate \\uD83D in string", 1),
        (#""\ud83dx""#, "lone high surrogate \\uD83D in string", 1),
        (#""\ude00""#, "lone low surrogate \\uDE00 in string", 1),
        (#""\ud83d\u0041""#, "high surrogate \\uD83D not followed by a low surrogate in string", 1),
        (#"{"a":1,"a":2}"#, "duplicate key 'a' in object", 7),
        ("[] x", "unexpected 'x' after the JSON value", 3),
        ("{}{}", "unexpected '{' after the JSON value", 2),
        ("1 2", "unexpected '2' after the JSON value", 2),
    ])
    func refusesWithTheProblemAndItsOffset(_ text: String, _ problem: String, _ offset: Int) {
        #expect(throws: JSONSyntaxError(problem: problem, offset: offset)) { try parse(text) }
    }

    @Test(arguments: [
        ([0x22, 0xFF, 0x22], "invalid UTF-8: byte 0xFF cannot start a character", 1),
        ([0x22, 0xC0, 0xAF, 0x22], "invalid UTF-8: byte 0xC0 cannot start a character", 1),  // overlong '/'
        ([0x22, 0xC3, 0x28, 0x22], "invalid UTF-8: '(' cannot continue the character started by byte 0xC3", 2),
        ([0x22, 0xE0, 0x80, 0xAF, 0x22], "invalid UTF-8: byte 0x80 cannot continue the character started by byte 0xE0", 2),  // overlong
        ([0x22, 0xED, 0xA0, 0x80, 0x22], "invalid UTF-8: byte 0xA0 cannot continue the character started by byte 0xED", 2),  // U+D800
        ([0x22, 0xF4, 0x90, 0x80, 0x80, 0x22], "invalid UTF-8: byte 0x90 cannot continue the character started by byte 0xF4", 2),  // > U+10FFFF
        ([0x22, 0x61, 0xE2, 0x82], "invalid UTF-8: the input ends inside a character", 2),
        ([0xEF, 0xBB, 0xBF, 0x7B, 0x7D], "expected a value, found byte 0xEF", 0),  // a byte order mark
        ([0x5B, 0x00, 0x5D], "expected a value, found byte 0x00", 1),
    ] as [([UInt8], String, Int)])
    func refusesInvalidUTF8(_ bytes: [UInt8], _ problem: String, _ offset: Int) {
        #expect(throws: JSONSyntaxError(problem: problem, offset: offset)) { try JSONReader.parse(bytes) }
    }

    @Test func nestingIsBounded() throws {
        let deepest = JSONReader.maximumDepth
        let allowed = String(repeating: "[", count: deepest) + String(repeating: "]", count: deepest)
        var value = try parse(allowed)
        var depth = 0
        while case .array(let elements) = value {
            depth += 1
            value = elements.first ?? .null
        }
        #expect(depth == deepest)
        let tooDeep = String(repeating: #"{"a":["#, count: 40)
        // The 65th bracket is the `{` opening the 33rd `{"a":[`, six bytes each.
        #expect(throws: JSONSyntaxError(problem: "nesting deeper than \(deepest) levels", offset: 32 * 6)) { try parse(tooDeep) }
        // Far deeper than any stack allows, refused at the bound all the same.
        #expect(throws: JSONSyntaxError(problem: "nesting deeper than \(deepest) levels", offset: deepest)) {
            try parse(String(repeating: "[", count: 1_000_000))
        }
    }

    @Test func theMessageSaysWhatAndWhere() {
        #expect(JSONSyntaxError(problem: "expected ':' after object key, found '1'", offset: 57).description
                == "expected ':' after object key, found '1' at byte 57")
    }

    // MARK: Fuzzing

    /// Random bytes, JSON-ish tokens and mutations of valid documents: every input gives a value
    /// or an error inside the input; nothing traps.
    @Test func anyBytesGiveAValueOrAnErrorInsideTheInput() {
        var rng = SplitMix64(seed: 0x15_0_BAD)
        let tokens = Array(#"{}[]:,"0123456789.-+eE truefalsnl\u"#.utf8) + [0xC3, 0xA9, 0xED, 0xF4, 0x90, 0xFF, 0x00, 0x0A]
        let seeds = [
            #"{"version":1,"id":"7","time":"2026-11-29T09:00:00Z","observations":[{"code":"150456","system":"MDC","value":97.5,"unit":"%"}]}"#,
            #"[{"a":"\u00e9\ud83d\ude00\n","b":[-0.5e-3,1E+2,true,false,null]},"é😀",{}]"#,
        ].map { Array($0.utf8) }
        var accepted = 0
        var refused = 0
        func check(_ bytes: [UInt8]) {
            do {
                _ = try JSONReader.parse(bytes)
                accepted += 1
            } catch {
                #expect((0...bytes.count).contains(error.offset) && !error.problem.isEmpty, "\(error) for \(bytes)")
                refused += 1
            }
        }
        for _ in 0..<5_000 {
            check((0..<Int.random(in: 0...64, using: &rng)).map { _ in
                Bool.random(using: &rng) ? tokens.randomElement(using: &rng) ?? 0 : UInt8.random(in: 0...255, using: &rng)
            })
        }
        for round in 0..<20_000 {
            var bytes = seeds[round % seeds.count]
            for _ in 0..<Int.random(in: 1...3, using: &rng) {
                let position = Int.random(in: 0..<bytes.count, using: &rng)
                switch Int.random(in: 0..<4, using: &rng) {
                case 0: bytes[position] = tokens.randomElement(using: &rng) ?? 0
                case 1: bytes.remove(at: position)
                case 2: bytes.insert(UInt8.random(in: 0...255, using: &rng), at: position)
                default: bytes[position] ^= 1 << UInt8.random(in: 0..<8, using: &rng)
                }
                if bytes.isEmpty { bytes = [0x20] }
            }
            check(bytes)
        }
        // Both outcomes must actually be exercised.
        #expect(accepted > 1_000, "accepted \(accepted)")
        #expect(refused > 1_000, "refused \(refused)")
    }
}
