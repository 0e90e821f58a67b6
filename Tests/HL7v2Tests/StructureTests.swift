import HL7v2
import Testing

@Suite("Fields, repetitions, components, subcomponents and segment terminators")
struct StructureTests {
    static let nested = [#"MSH|^~\&|MON"#, #"ZXY|a&b^c~d^e&f&g||""|^^|x~"#]

    @Test func nestedElements() throws {
        let segment = try parse(Self.nested).segment(at: 1)
        #expect(segment.id == "ZXY")
        #expect(segment.fieldCount == 5)
        let field = segment[1]
        #expect(field.repetitionCount == 2)
        #expect(field.value == "a")
        #expect(field.component(1).subcomponentCount == 2)
        #expect(field.component(1).subcomponent(2) == "b")
        #expect(field.component(1).subcomponent(3) == "")
        #expect(field.component(2).value == "c")
        #expect(field.component(3).isEmpty)
        let second = field.repetition(1)
        #expect(second.componentCount == 2)
        #expect(second.value == "d")
        #expect(second.component(2).subcomponentCount == 3)
        #expect(second.component(2).subcomponent(3) == "g")
        #expect(field.repetition(2).isEmpty && field.repetition(2).componentCount == 0)
        #expect(field.repetition(-1).isEmpty)
        #expect(field.component(0).isEmpty)
        #expect(field.component(1).subcomponent(0) == "")
    }

    @Test func emptyAndNull() throws {
        let segment = try parse(Self.nested).segment(at: 1)
        #expect(segment[2].isEmpty && !segment[2].isNull)
        #expect(segment[2].repetitionCount == 0)
        #expect(segment[3].isNull && !segment[3].isEmpty)
        #expect(segment[3].value == "\"\"")
        // Present but holding only delimiters: not empty, every component empty.
        #expect(!segment[4].isEmpty)
        #expect(segment[4].value == "")
        #expect(segment[4].repetition(0).componentCount == 3)
        #expect(segment[5].repetitionCount == 2)
        #expect(segment[5].repetition(1).isEmpty)
        #expect(segment[0].isEmpty && segment[99].isEmpty && segment[-3].isEmpty)
    }

    @Test func modelKeepsPositions() throws {
        let model = try parse(Self.nested).model
        #expect(model.count == 2)
        #expect(model[1].id == "ZXY")
        #expect(model[1].fields == [
            HL7FieldValue(repetitions: [[["a", "b"], ["c"]], [["d"], ["e", "f", "g"]]]),
            .empty,
            "\"\"",
            HL7FieldValue(repetitions: [[[""], [""], [""]]]),
            HL7FieldValue(repetitions: [[["x"]], [[""]]]),
        ])
        #expect(model[0].fields == ["|", #"^~\&"#, "MON"])
    }

    @Test(arguments: ["\r", "\n", "\r\n"])
    func segmentTerminators(terminator: String) throws {
        let message = try parse(Fixtures.pcd01Monitor, terminator: terminator)
        #expect(message.segmentCount == Fixtures.pcd01Monitor.count)
        #expect(message.model == (try parse(Fixtures.pcd01Monitor).model))
        #expect(message.segments(named: "OBX").last?[5].value == "36.8")
    }

    @Test func blankLinesAndMissingFinalTerminator() throws {
        let text = "\r\n\n" + Fixtures.oruR01Lab.joined(separator: "\r\n\r\n\r") + "\n\n"
        let message = try HL7Message(parsing: text)
        #expect(message.segmentCount == 4)
        #expect(message.model == (try parse(Fixtures.oruR01Lab).model))
        let unterminated = try HL7Message(parsing: Fixtures.oruR01Lab.joined(separator: "\r"))
        #expect(unterminated.segments.last?[11].value == "F")
    }

    @Test func segmentsWithoutFields() throws {
        let message = try parse([#"MSH|^~\&"#, "ZA1", "ZB2|", "MSH|^~\\&"])
        #expect(message.header.fieldCount == 2)
        #expect(message.segment(at: 1).fieldCount == 0)
        #expect(message.segment(at: 1)[1].isEmpty)
        #expect(message.segment(at: 2).fieldCount == 1)
        #expect(message.segment(at: 3)[2].value == #"^~\&"#)
        #expect(message.model.map(\.fields.count) == [2, 0, 1, 2])
    }

    @Test func segmentCollection() throws {
        let message = try parse(Fixtures.pcd01BloodPressure)
        #expect(message.segments.count == message.segmentCount)
        #expect(message.segments.indices == 0..<9)
        #expect(message.segments.filter { $0.id == "OBX" }.map(\.index) == [4, 5, 6, 7, 8])
        #expect(message.segments(named: "OBX").map(\.index) == [4, 5, 6, 7, 8])
        #expect(message.firstSegment(named: "OBX")?.index == 4)
    }

    @Test func headerOnlyParsing() throws {
        // The body has an unterminated escape: the full parse fails, the header parse still
        // yields what an acknowledgment needs.
        let bytes = hl7(Fixtures.pcd01Monitor + [#"OBX|6|ST|||broken \E"#])
        #expect(parseError(bytes)?.kind == .unterminatedEscape)
        let header = try HL7Message(parsingHeaderOf: bytes)
        #expect(header.segmentCount == 1)
        #expect(header.controlID == "MON-000042")
        #expect(header.sendingApplication == "NILECARE_MON")
        #expect(header.charset == .utf8)
    }
}

@Suite struct SegmentIDTests {
    @Test func hasIDComparesTheThreeIDBytes() throws {
        let message = try HL7Message(parsing: "MSH|^~\\&|A|B\rPID|||1\rZXY|x\rOBX|1|NM")
        #expect(message.segments.map { $0.hasID("MSH") } == [true, false, false, false])
        #expect(message.segments.map { $0.hasID("OBX") } == [false, false, false, true])
        #expect(message.segment(at: 2).hasID("ZXY"))
        #expect(!message.segment(at: 1).hasID("PI"))
        #expect(!message.segment(at: 1).hasID("PIDX"))
        #expect(message.segments.map(\.id) == ["MSH", "PID", "ZXY", "OBX"])
    }
}
