import HL7v2
import Testing

@Suite("Escape sequences")
struct EscapeSequenceTests {
    /// OBX-5 of a one-OBX message whose OBX-5 is `raw`.
    func observationValue(_ raw: String, charset: String = "") throws -> HL7Field {
        let message = try parse([#"MSH|^~\&|MON|||||||1|P|2.6||||||"# + charset, "OBX|1|ST|||" + raw])
        return try #require(message.firstSegment(named: "OBX"))[5]
    }

    @Test(arguments: [
        (#"a\F\b"#, "a|b"), (#"a\S\b"#, "a^b"), (#"a\T\b"#, "a&b"), (#"a\R\b"#, "a~b"), (#"a\E\b"#, #"a\b"#),
        (#"\F\\S\\T\\R\\E\"#, #"|^&~\"#),
    ])
    func delimiterEscapes(raw: String, decoded: String) throws {
        let field = try observationValue(raw)
        #expect(field.value == decoded)
        #expect(field.repetition(0).componentCount == 1)
    }

    /// The scanner reads 16 bytes at a time and finishes byte by byte: an escape, a separator and
    /// a segment's end must read the same wherever they fall against those chunks.
    @Test func escapesSeparatorsAndEndsAtEveryOffset() throws {
        for padding in 0..<40 {
            let text = String(repeating: "a", count: padding)
            let field = try observationValue(text + #"\F\b|next"#)
            #expect(field.value == text + "|b", "padding \(padding)")
            let message = try parse([#"MSH|^~\&|MON|||||||1|P|2.6"#, "OBX|1|ST|||" + text + #"\E\|x"#, "NTE|1"])
            #expect(message.firstSegment(named: "OBX")?[6].value == "x", "padding \(padding)")
            #expect(message.firstSegment(named: "NTE")?[1].value == "1", "padding \(padding)")
            let unterminated = hl7([#"MSH|^~\&|MON|||||||1|P|2.6"#, "OBX|1|ST|||" + text + #"\F"#])
            #expect(parseError(unterminated)?.byteOffset == unterminated.lastIndex(of: UInt8(ascii: "\\")), "padding \(padding)")
        }
    }

    @Test func escapedDelimitersDoNotSplit() throws {
        let field = try observationValue(#"x\S\y^z\T\w&v~u\R\t"#)
        #expect(field.repetitionCount == 2)
        #expect(field.component(1).value == "x^y")
        #expect(field.component(2).subcomponent(1) == "z&w")
        #expect(field.component(2).subcomponent(2) == "v")
        #expect(field.repetition(1).value == "u~t")
    }

    @Test(arguments: [
        (#"\X41\"#, "A"), (#"\X0D0A\"#, "\r\n"), (#"\XC3A9\"#, "é"), (#"\Xc3a9\"#, "é"),
        (#"caf\XC3A9\ au lait"#, "café au lait"), (#"\XF09F9A91\"#, "🚑"),
    ])
    func hexEscapesUTF8(raw: String, decoded: String) throws {
        #expect(try observationValue(raw).value == decoded)
    }

    @Test func hexEscapesAreDecodedInTheMessageCharset() throws {
        #expect(try observationValue(#"caf\XE9\"#, charset: "8859/1").value == "café")
        // A lone 0xE9 is not UTF-8: the decoded value carries U+FFFD rather than failing.
        #expect(try observationValue(#"caf\XE9\"#).value == "caf\u{FFFD}")
        // ASCII is read as its superset UTF-8, so escaped non-ASCII characters survive.
        #expect(try observationValue(#"caf\XC3A9\"#, charset: "ASCII").value == "café")
    }

    @Test(arguments: [
        (#"line one\.br\line two"#, "line one\nline two"),
        (#"a\.sp\b"#, "a\nb"), (#"a\.sp3\b"#, "a\nb"),
    ])
    func lineBreaks(raw: String, decoded: String) throws {
        #expect(try observationValue(raw).value == decoded)
    }

    @Test(arguments: [#"\H\alarm\N\ high"#, #"\.in+4\alarm\.ti-2\ high"#, #"\.fi\alarm\.nf\ \.ce\high"#, #"alarm\.sk2\ high"#,
                      #"\.in -4\alarm\.sk 1\ high"#])
    func formattingCommandsAreDropped(raw: String) throws {
        let value = try observationValue(raw).value
        #expect(value == "alarm high")
    }

    @Test(arguments: [#"\Zlocal\"#, #"\C2842\"#, #"\M2442\"#, #"\Q\"#, #"\xC3A9\"#, #"\P\"#,
                      // A dot that starts no formatting command is data: a path, a dose, a command's
                      // name followed by text.
                      #"\.config\"#, #"\.5mg\"#, #"\.brx\"#, #"\.sp two\"#, #"\.\"#])
    func otherSequencesPassThroughVerbatim(raw: String) throws {
        #expect(try observationValue("<" + raw + ">").value == "<" + raw + ">")
    }

    @Test func escapesInComponentsSubcomponentsAndHeaderFields() throws {
        let message = try parse([#"MSH|^~\&|MON\T\1|WARD"#, #"OBX|1|CWE|code^A\S\B text&sub\F\part"#])
        #expect(message.sendingApplication == "MON&1")
        let code = try #require(message.firstSegment(named: "OBX"))[3]
        #expect(code.component(2).subcomponent(1) == "A^B text")
        #expect(code.component(2).subcomponent(2) == "sub|part")
        #expect(code.component(2).value == "A^B text")
        #expect(code.rawBytes.count == #"code^A\S\B text&sub\F\part"#.utf8.count)
    }

    @Test func theModelHoldsDecodedText() throws {
        let message = try parse([#"MSH|^~\&|MON"#, #"NTE|1||a\F\b^c\.br\d~\XC3A9\"#])
        let note = message.model[1]
        #expect(note.fields[2] == HL7FieldValue(repetitions: [[["a|b"], ["c\nd"]], [["é"]]]))
    }
}
