import HL7v2
import Testing

@Suite("Character sets (MSH-18)")
struct CharsetTests {
    func header(charset: String) -> String { #"MSH|^~\&|MON|WARD|||||ORU^R01|1|P|2.6||||||"# + charset }

    @Test(arguments: [
        ("", HL7Charset.utf8), ("UNICODE UTF-8", .utf8), ("UTF-8", .utf8), (" utf-8 ", .utf8),
        ("ASCII", .ascii), ("8859/1", .iso8859_1), ("ISO-8859-1", .iso8859_1), ("UNICODE UTF-8~8859/1", .utf8),
    ])
    func declaredCharset(name: String, expected: HL7Charset) throws {
        #expect(try parse([header(charset: name)]).charset == expected)
    }

    @Test func names() {
        #expect(HL7Charset(hl7Name: "unicode utf-8") == .utf8)
        #expect(HL7Charset(hl7Name: "UNICODE") == nil)
        #expect(HL7Charset(hl7Name: "") == nil)
        #expect([HL7Charset.ascii, .utf8, .iso8859_1].map(\.hl7Name) == ["ASCII", "UNICODE UTF-8", "8859/1"])
    }

    @Test func utf8Text() throws {
        let message = try parse([header(charset: "UNICODE UTF-8"), "PID|||1||Ngũgĩ^Wanjirũ~Müller^Jürgen", "NTE|1||体温 🌡 36.8 °C"])
        let pid = try #require(message.firstSegment(named: "PID"))
        #expect(pid[5].value == "Ngũgĩ")
        #expect(pid[5].repetition(1).component(2).value == "Jürgen")
        #expect(message.firstSegment(named: "NTE")?[3].value == "体温 🌡 36.8 °C")
    }

    @Test func latin1Bytes() throws {
        // 0xE9 é, 0xFC ü, 0xB0 °: single bytes in 8859/1.
        let bytes = latin1([header(charset: "8859/1"), "PID|||1||Müller^José", "NTE|1||36.8 °C"])
        #expect(bytes.contains(0xE9) && !bytes.contains(0xC3))
        let message = try HL7Message(parsing: bytes)
        #expect(message.charset == .iso8859_1)
        #expect(message.firstSegment(named: "PID")?[5].component(2).value == "José")
        #expect(message.firstSegment(named: "NTE")?[3].value == "36.8 °C")
        #expect(message.model[1].fields[4] == HL7FieldValue(components: ["Müller", "José"]))
    }

    @Test func defaultCharsetAppliesWhenMSH18IsEmpty() throws {
        let bytes = latin1([header(charset: ""), "PID|||1||Müller"])
        let message = try HL7Message(parsing: bytes, defaultCharset: .iso8859_1)
        #expect(message.charset == .iso8859_1)
        #expect(message.firstSegment(named: "PID")?[5].value == "Müller")
        // The same bytes are not UTF-8.
        #expect(parseError(bytes)?.kind == .invalidCharacter(byte: 0xFC, charset: .utf8))
    }

    @Test func asciiRejectsHighBytes() throws {
        let segments = [header(charset: "ASCII"), "PID|||1||Müller"]
        let error = try #require(parseError(hl7(segments)))
        #expect(error.kind == .invalidCharacter(byte: 0xC3, charset: .ascii))
        #expect(error.segmentIndex == 1)
        #expect(error.segmentID == "PID")
        #expect(error.field == 5)
        #expect(error.byteOffset == offset(of: "ü", in: segments))
    }

    @Test(arguments: [
        ([0xC3, 0x28], 0), ([0x41, 0xC0, 0xAF], 1), ([0xED, 0xA0, 0x80], 0), ([0xF4, 0x90, 0x80, 0x80], 0),
        ([0xE2, 0x82], 0), ([0x80], 0), ([0xFF], 0), ([0x41, 0xF0, 0x9F, 0x9A], 1),
    ] as [([UInt8], Int)])
    func invalidUTF8(sequence: [UInt8], invalidAt index: Int) throws {
        let prefix = hl7([header(charset: "UNICODE UTF-8")]) + Array("OBX|1|ST|||".utf8)
        let bytes = prefix + sequence + Array("|F\r".utf8)
        let error = try #require(parseError(bytes))
        #expect(error.kind == .invalidCharacter(byte: sequence[index], charset: .utf8))
        #expect(error.byteOffset == prefix.count + index)
        #expect(error.segmentIndex == 1)
        #expect(error.segmentID == "OBX")
        #expect(error.field == 5)
    }

    @Test func validUTF8EdgeCases() throws {
        // U+0080, U+07FF, U+0800, U+FFFF, U+10000, U+10FFFF: the boundaries of each length.
        let text = "\u{80}\u{7FF}\u{800}\u{FFFF}\u{10000}\u{10FFFF}"
        let message = try parse([header(charset: "UNICODE UTF-8"), "NTE|1||" + text])
        #expect(message.firstSegment(named: "NTE")?[3].value == text)
    }

    @Test func unsupportedCharset() throws {
        let segments = [header(charset: "UNICODE"), "PID|||1"]
        let error = try #require(parseError(hl7(segments)))
        #expect(error.kind == .unsupportedCharset("UNICODE"))
        #expect(error.segmentIndex == 0)
        #expect(error.segmentID == "MSH")
        #expect(error.field == 18)
        #expect(error.byteOffset == offset(of: "UNICODE", in: segments))
    }
}
