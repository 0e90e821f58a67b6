import HL7v2
import Testing

@Suite("Encoder")
struct EncoderTests {
    func text(_ bytes: [UInt8]) -> String { String(decoding: bytes, as: UTF8.self) }

    let header = HL7SegmentValue(id: "MSH", fields: ["|", #"^~\&"#, "MON", "WARD"])

    @Test func escapesDelimitersInText() {
        let note = HL7SegmentValue(id: "NTE", fields: ["1", "", #"a|b^c~d\e&f"#])
        #expect(text(HL7Encoder().encode([note])) == #"NTE|1||a\F\b\S\c\R\d\E\e\T\f"# + "\r")
    }

    @Test func escapesLineBreaks() {
        let note = HL7SegmentValue(id: "NTE", fields: ["1", "", "line 1\nline 2\r\nline 3\r"])
        #expect(text(HL7Encoder().encode([note])) == #"NTE|1||line 1\.br\line 2\X0D\\.br\line 3\X0D\"# + "\r")
    }

    @Test func writesStructure() {
        let pid = HL7SegmentValue(id: "PID", fields: [
            "", "", HL7FieldValue(repetitions: [[["12345"], [""], [""], ["HOSP", "2.16.840.1.113883.19", "ISO"], ["MR"]], [["999"]]]),
            "", HL7FieldValue(components: ["Doe", "Jane"]),
        ])
        #expect(text(HL7Encoder().encode([header, pid])) == #"MSH|^~\&|MON|WARD"# + "\r" + "PID|||12345^^^HOSP&2.16.840.1.113883.19&ISO^MR~999||Doe^Jane\r")
    }

    @Test func trimsTrailingEmptyElements() {
        let segment = HL7SegmentValue(id: "OBX", fields: [
            "1",
            HL7FieldValue(repetitions: [[["a", "", ""], ["", ""]], [[""]], []]),
            HL7FieldValue(repetitions: [[[""], ["b"], [""]]]),
            .empty, "", HL7FieldValue(components: ["", ""]), HL7FieldValue(repetitions: [[[""]]]),
        ])
        #expect(text(HL7Encoder().encode([segment])) == "OBX|1|a|^b\r")
        #expect(text(HL7Encoder().encode([HL7SegmentValue(id: "ZZZ", fields: [.empty, ""])])) == "ZZZ\r")
    }

    @Test func headerDelimitersComeFromTheEncoder() {
        let custom = HL7Delimiters(
            field: UInt8(ascii: "$"), component: UInt8(ascii: "%"), repetition: UInt8(ascii: "*"),
            escape: UInt8(ascii: "!"), subcomponent: UInt8(ascii: "@"), truncation: UInt8(ascii: "#")
        )
        let encoder = HL7Encoder(delimiters: custom, segmentTerminator: 0x0A)
        let note = HL7SegmentValue(id: "NTE", fields: ["1", "", "$%*!@#|^"])
        #expect(text(encoder.encode([header, note])) == "MSH$%*!@#$MON$WARD\nNTE$1$$!F!!S!!R!!E!!T!!P!|^\n")
        #expect(text(HL7Encoder().encode([HL7SegmentValue(id: "MSH", fields: [])])) == #"MSH|^~\&"# + "\r")
    }

    @Test func charsets() throws {
        let note = HL7SegmentValue(id: "NTE", fields: ["1", "", "José 36.8 °C 体温"])
        #expect(HL7Encoder().encode([note]) == hl7(["NTE|1||José 36.8 °C 体温"]))
        #expect(HL7Encoder(charset: .iso8859_1).encode([note]) == latin1(["NTE|1||José 36.8 °C ??"]))
        let ascii = HL7Encoder(charset: .ascii).encode([note])
        #expect(text(ascii) == #"NTE|1||Jos\XC3A9\ 36.8 \XC2B0\C \XE4BD93\\XE6B8A9\"# + "\r")
        let reparsed = try HL7Message(parsing: hl7([#"MSH|^~\&||||||||||||||||ASCII"#]) + ascii)
        #expect(reparsed.charset == .ascii)
        #expect(reparsed.segment(at: 1)[3].value == "José 36.8 °C 体温")
    }

    @Test func fieldValues() {
        #expect(HL7FieldValue("") == .empty)
        #expect(HL7FieldValue(components: ["", ""]) == .empty)
        #expect(HL7FieldValue(components: ["a", "b"]).repetitions == [[["a"], ["b"]]])
        let value: HL7FieldValue = "text"
        #expect(value.repetitions == [[["text"]]])
        #expect(value.text == "text")
        let nested = HL7FieldValue(repetitions: [[["a", "x"], ["b"]], [["c"]]])
        #expect(nested.component(1) == "a")
        #expect(nested.component(2) == "b")
        #expect(nested.component(1, repetition: 1) == "c")
        #expect(nested.component(3) == "" && nested.component(1, repetition: 5) == "" && nested.component(0) == "")
        #expect(HL7FieldValue(repetitions: [[[""], [""]], [[""]]]).isEmpty)
        #expect(!nested.isEmpty)
    }

    @Test func segmentValueSubscript() {
        var segment = HL7SegmentValue(id: "OBX", fields: [])
        segment[field: 5] = "98"
        #expect(segment.fields == [.empty, .empty, .empty, .empty, "98"])
        #expect(segment[field: 5] == "98")
        #expect(segment[field: 6] == .empty)
        #expect(segment[field: 0] == .empty)
    }
}
