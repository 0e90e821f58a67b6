import HL7v2
import Testing

@Suite("The borrowed view reads what HL7Segment and HL7Field read")
struct BorrowedViewTests {
    static let messages: [[String]] = [
        Fixtures.adtA01, Fixtures.oruR01Lab, Fixtures.pcd01BloodPressure, Fixtures.pcd01Monitor, StructureTests.nested,
        [#"MSH|^~\&#|MON|ICU|||20261129||ORU^R01|1|P|2.7"#, #"OBX|1|ST|c\S\d^text\T\x&sub\F\y~r2^\.br\z||\X41\B"#],
    ]

    @Test(arguments: messages) func everyElementMatches(_ segments: [String]) throws {
        let message = try parse(segments)
        var compared = 0, plain = 0
        message.withBorrowedView { view in
            #expect(view.segmentCount == message.segmentCount)
            for index in 0..<message.segmentCount {
                let segment = message.segment(at: index), borrowed = view.segment(at: index)
                #expect(borrowed.hasID("MSH") == (segment.id == "MSH"))
                #expect(borrowed.hasID("OBX") == (segment.id == "OBX"))
                for number in 0...(segment.fieldCount + 1) {
                    let field = segment[number], text = borrowed[number]
                    #expect(text.isEmpty == field.isEmpty)
                    #expect(text.value == field.value)
                    #expect(Array(text.bytes) == Array(field.rawBytes))
                    for position in 0...3 {
                        let component = field.component(position), part = text.component(position)
                        #expect(part.isEmpty == component.isEmpty && part.value == component.value)
                        #expect(Array(part.bytes) == Array(component.rawBytes))
                        // Text read straight from the bytes must be what the value reads.
                        if let bytes = part.plainASCII {
                            #expect(String(decoding: bytes, as: UTF8.self) == component.value)
                            plain += 1
                        }
                        for sub in 0...3 {
                            #expect(part.subcomponent(sub).value == component.subcomponent(sub))
                        }
                    }
                    // One pass over the first three components reads what three `component` calls read.
                    let coded = text.codedElement
                    for (part, position) in [(coded.identifier, 1), (coded.text, 2), (coded.codingSystem, 3)] {
                        let expected = text.component(position)
                        #expect(Array(part.bytes) == Array(expected.bytes) && part.isEmpty == expected.isEmpty)
                        #expect(part.value == expected.value && part.plainASCII.map(Array.init) == expected.plainASCII.map(Array.init))
                        #expect(part.subcomponent(2).value == expected.subcomponent(2).value)
                    }
                    for repetition in -1...2 {
                        let expected = field.repetition(repetition), read = text.repetition(repetition)
                        #expect(read.isEmpty == expected.isEmpty && read.value == expected.value)
                        #expect(read.component(2).value == expected.component(2).value)
                    }
                    compared += 1
                }
            }
        }
        #expect(compared > 10)
        #expect(plain > 0)
    }

    @Test func plainASCIIOnlyForTextThatReadsAsItself() throws {
        let message = try parse([#"MSH|^~\&|MON|ICU|||20261129||ORU^R01|1|P|2.7"#, #"OBX|1|ST|c\S\d^text&sub^0002-4182^caf\#u{E9}||"#])
        message.withBorrowedView { view in
            let field = view.segment(at: 1)[3]
            #expect(field.component(1).plainASCII == nil)  // an escape: the value is `c^d`
            #expect(field.component(2).plainASCII == nil)  // a subcomponent: the value is `text`
            #expect(field.component(3).plainASCII.map { Array($0) } == Array("0002-4182".utf8))
            #expect(field.component(4).plainASCII == nil)  // not ASCII: read in the message's charset
            #expect(field.component(4).value == "caf\u{E9}")
            #expect(field.plainASCII == nil)  // a whole field with components
        }
    }

    @Test func comparesBytesAsSent() throws {
        let message = try parse(StructureTests.nested)
        message.withBorrowedView { view in
            let field = view.segment(at: 1)[1]
            #expect(field.equals("a&b^c~d^e&f&g"))
            #expect(!field.equals("a&b^c"))
            #expect(field.component(2).equals("c"))
            #expect(view.segment(at: 1)[9].equals(""))
            // MSH-1 and MSH-2 read as their literal delimiters.
            #expect(view.segment(at: 0)[1].equals("|") && view.segment(at: 0)[2].value == #"^~\&"#)
        }
    }

    @Test func passesTypedErrorsThrough() throws {
        struct Stop: Error, Equatable {}
        let message = try parse(StructureTests.nested)
        #expect(throws: Stop()) {
            try message.withBorrowedView { (_) throws(Stop) in throw Stop() }
        }
    }
}
