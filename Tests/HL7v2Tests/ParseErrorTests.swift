import HL7v2
import Testing

@Suite("Parse errors: kind and location")
struct ParseErrorTests {
    static let header = #"MSH|^~\&|MON|WARD|||20261129101500||ORU^R01|CTRL-1|P|2.6"#

    func expectError(
        _ bytes: [UInt8], _ kind: HL7ParseError.Kind, segment: Int?, id: String?, field: Int?, at offset: Int?,
        sourceLocation: SourceLocation = #_sourceLocation
    ) {
        guard let error = parseError(bytes) else {
            Issue.record("parsed without error", sourceLocation: sourceLocation)
            return
        }
        #expect(error.kind == kind, sourceLocation: sourceLocation)
        #expect(error.segmentIndex == segment, sourceLocation: sourceLocation)
        #expect(error.segmentID == id, sourceLocation: sourceLocation)
        #expect(error.field == field, sourceLocation: sourceLocation)
        #expect(error.byteOffset == offset, sourceLocation: sourceLocation)
    }

    @Test func empty() {
        expectError([], .empty, segment: nil, id: nil, field: nil, at: 0)
        expectError(Array("\r\n\r\n".utf8), .empty, segment: nil, id: nil, field: nil, at: 4)
    }

    @Test func missingMSH() {
        expectError(hl7(["PID|||1", Self.header]), .missingMSH, segment: 0, id: nil, field: nil, at: 0)
        expectError(Array("\r\nEVN|A01".utf8), .missingMSH, segment: 0, id: nil, field: nil, at: 2)
        expectError(Array("MS".utf8), .missingMSH, segment: 0, id: nil, field: nil, at: 0)
        expectError(Array("msh|^~\\&".utf8), .missingMSH, segment: 0, id: nil, field: nil, at: 0)
    }

    @Test func headerTooShort() {
        expectError(Array("MSH".utf8), .headerTooShort, segment: 0, id: "MSH", field: 1, at: 3)
        expectError(Array("MSH\rPID|1".utf8), .headerTooShort, segment: 0, id: "MSH", field: 1, at: 3)
        expectError(Array("MSH|^~".utf8), .headerTooShort, segment: 0, id: "MSH", field: 2, at: 6)
        expectError(Array("MSH|^~\\\rPID".utf8), .headerTooShort, segment: 0, id: "MSH", field: 2, at: 7)
    }

    @Test func invalidDelimiters() {
        // Repeated, alphanumeric, too few before the next field, too many, not printable ASCII.
        expectError(Array("MSH|^~^&|A".utf8), .invalidDelimiters, segment: 0, id: "MSH", field: 2, at: 6)
        expectError(Array("MSH|^~|&|A".utf8), .invalidDelimiters, segment: 0, id: "MSH", field: 2, at: 6)
        expectError(Array("MSH|^~\\A|A".utf8), .invalidDelimiters, segment: 0, id: "MSH", field: 2, at: 7)
        expectError(Array("MSH|^~\\&#!|A".utf8), .invalidDelimiters, segment: 0, id: "MSH", field: 2, at: 9)
        expectError(Array("MSHX^~\\&X".utf8), .invalidDelimiters, segment: 0, id: "MSH", field: 1, at: 3)
        expectError(Array("MSH ^~\\& ".utf8), .invalidDelimiters, segment: 0, id: "MSH", field: 1, at: 3)
        expectError([0x4D, 0x53, 0x48, 0x7C, 0x5E, 0x7E, 0xE9, 0x26, 0x7C], .invalidDelimiters, segment: 0, id: "MSH", field: 2, at: 6)
    }

    @Test func invalidSegmentID() {
        let segments = [Self.header, "PID|||1", "obx|1|NM"]
        expectError(hl7(segments), .invalidSegmentID, segment: 2, id: nil, field: nil, at: offset(of: "obx", in: segments))
        let long = [Self.header, "OBXX|1"]
        expectError(hl7(long), .invalidSegmentID, segment: 1, id: nil, field: nil, at: offset(of: "X|1", in: long))
        let short = [Self.header, "OB|1"]
        expectError(hl7(short), .invalidSegmentID, segment: 1, id: nil, field: nil, at: offset(of: "|1", in: short))
        let truncated = hl7([Self.header]) + Array("OB".utf8)
        expectError(truncated, .invalidSegmentID, segment: 1, id: nil, field: nil, at: truncated.count)
        let spaced = [Self.header, " PID|1"]
        expectError(hl7(spaced), .invalidSegmentID, segment: 1, id: nil, field: nil, at: offset(of: " PID", in: spaced))
    }

    @Test func unterminatedEscape() throws {
        let atEnd = [Self.header, "PID|||1", "OBX|1|ST|||note \\F"]
        expectError(hl7(atEnd), .unterminatedEscape, segment: 2, id: "OBX", field: 5, at: offset(of: "\\F", in: atEnd))
        let byDelimiter = [Self.header, "OBX|1|ST|||a\\F^b\\"]
        expectError(hl7(byDelimiter), .unterminatedEscape, segment: 1, id: "OBX", field: 5, at: offset(of: "\\F^", in: byDelimiter))
        let inHeader = [#"MSH|^~\&|MON\T"#]
        expectError(hl7(inHeader), .unterminatedEscape, segment: 0, id: "MSH", field: 3, at: 12)
    }

    @Test func invalidEscape() {
        for sequence in [#"\\"#, #"\X\"#, #"\X4\"#, #"\XZZ\"#, #"\X41G\"#] {
            let segments = [Self.header, "NTE|1||before " + sequence + " after"]
            expectError(hl7(segments), .invalidEscape, segment: 1, id: "NTE", field: 3, at: offset(of: sequence, in: segments))
        }
    }

    @Test func theFirstProblemInTheInputIsReported() throws {
        // An invalid UTF-8 byte in PID comes before an unterminated escape in OBX.
        let bytes = hl7([Self.header]) + [0x50, 0x49, 0x44, 0x7C, 0xFF, 0x0D] + hl7(["OBX|1|ST|||\\F"])
        let error = try #require(parseError(bytes))
        #expect(error.kind == .invalidCharacter(byte: 0xFF, charset: .utf8))
        #expect(error.segmentIndex == 1)
        #expect(error.field == 1)
    }

    @Test func description() throws {
        var segments = [Self.header, "PID|||1", "OBR|1", "OBX|1|NM|x||1", "OBX|2|NM|y||2"]
        segments.append("OBX|3|ST|z||\\E")
        let error = try #require(parseError(hl7(segments)))
        let at = try #require(offset(of: "\\E", in: segments))
        #expect(error.description == "unterminated escape sequence in OBX segment 5, field 5, at byte \(at)")
        #expect(parseError([])?.description == "empty message at byte 0")
        let unsupported = [Self.header + "||||||UTF-16"]
        let charset = try #require(parseError(hl7(unsupported)))
        let nameAt = try #require(offset(of: "UTF-16", in: unsupported))
        #expect(charset.description == #"unsupported character set "UTF-16" in MSH segment 0, field 18, at byte "# + "\(nameAt)")
    }
}
