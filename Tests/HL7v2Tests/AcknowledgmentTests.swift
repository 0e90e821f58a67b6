import HL7v2
import Testing

@Suite("Acknowledgments")
struct AcknowledgmentTests {
    let original = [
        #"MSH|^~\&|MON^0123456789ABCDEF^EUI-64|ICU_WARD_3|VITALS^NC^L|NILECARE|20261129101500+0200||ORU^R01^ORU_R01|MON-42|P|2.6|||NE|AL||UNICODE UTF-8"#,
        #"OBX|1|NM|150456^MDC_PULS_OXIM_SAT_O2^MDC|1.2.1.3|98|262688^MDC_DIM_PERCENT^MDC|||||R"#,
    ]

    @Test func acceptExactBytes() throws {
        let message = try parse([#"MSH|^~\&|MON|WARD|VITALS|NILECARE|20261129101500||ORU^R01|CTRL-1|P|2.6"#])
        let ack = HL7Acknowledgment.build(for: message, code: .AA, controlID: "ACK-1", timestamp: "20261129101501")
        #expect(String(decoding: ack, as: UTF8.self) == #"MSH|^~\&|VITALS|NILECARE|MON|WARD|20261129101501||ACK^R01^ACK|ACK-1|P|2.6"# + "\rMSA|AA|CTRL-1\r")
    }

    @Test("the header alone, kept instead of a large message, acknowledges it byte for byte as the whole message does")
    func headerAloneAcknowledgesAsTheMessage() throws {
        let latin1 = [#"MSH|^~\&|MON\T\1|WARD|VITALS|NILECARE|20261129101500||ORU^R01|C-1|P|2.3|||NE|AL||8859/1"#,
                      "NTE|1||" + String(repeating: "x", count: 20_000)]
        for lines in [original, latin1] {
            let message = try parse(lines)
            let header = message.headerAlone
            #expect(header.bytes == Array(lines[0].utf8))
            let detail = HL7ErrorDetail(code: .applicationInternalError, text: "refused")
            #expect(HL7Acknowledgment.build(for: header, code: .AE, errors: [detail], controlID: "A-1", timestamp: "20261129101501")
                == HL7Acknowledgment.build(for: message, code: .AE, errors: [detail], controlID: "A-1", timestamp: "20261129101501"))
        }
    }

    @Test("copied header fields go back byte for byte as the sender wrote them, escapes included")
    func copiesFieldsAsSent() throws {
        let message = try parse([#"MSH|^~\&|MON\T\1^EUI|WARD\S\3|VITALS|NILECARE|20261129101500||ORU^R01|C\F\1|P|2.6"#])
        let ack = HL7Acknowledgment.build(for: message, code: .AA, controlID: "ACK-2", timestamp: "20261129101501")
        #expect(String(decoding: ack, as: UTF8.self)
            == #"MSH|^~\&|VITALS|NILECARE|MON\T\1^EUI|WARD\S\3|20261129101501||ACK^R01^ACK|ACK-2|P|2.6"# + "\r" + #"MSA|AA|C\F\1"# + "\r")
        let parsed = try HL7Message(parsing: ack)
        #expect(parsed.firstSegment(named: "MSA")?[2].value == "C|1")
        #expect(parsed.header[5].component(1).value == "MON&1")
    }

    @Test("MSA-2 is the sender's MSH-10 whole, components and trailing separators as sent")
    func controlIDGoesBackWhole() throws {
        let message = try parse([#"MSH|^~\&|MON^^|WARD|VITALS|NILECARE|20261129101500||ORU^R01|CTRL^7^|P|2.6"#])
        let ack = HL7Acknowledgment.build(for: message, code: .AA, controlID: "ACK-3", timestamp: "20261129101501")
        #expect(String(decoding: ack, as: UTF8.self)
            == #"MSH|^~\&|VITALS|NILECARE|MON^^|WARD|20261129101501||ACK^R01^ACK|ACK-3|P|2.6"# + "\r" + #"MSA|AA|CTRL^7^"# + "\r")
    }

    @Test func acceptSwapsApplicationsAndCopiesHeader() throws {
        let message = try parse(original)
        let ack = try HL7Message(parsing: HL7Acknowledgment.build(
            for: message, code: .AA, controlID: "ACK-42", timestamp: "20261129101501+0200"
        ))
        let msh = ack.header
        #expect(msh[3].component(1).value == "VITALS")
        #expect(msh[3].component(3).value == "L")
        #expect(msh[4].value == "NILECARE")
        #expect(msh[5].component(2).value == "0123456789ABCDEF")
        #expect(msh[5].component(3).value == "EUI-64")
        #expect(msh[6].value == "ICU_WARD_3")
        #expect(ack.timestamp == "20261129101501+0200")
        #expect(ack.messageType == "ACK")
        #expect(ack.triggerEvent == "R01")
        #expect(ack.messageStructure == "ACK")
        #expect(ack.controlID == "ACK-42")
        #expect(ack.processingID == "P")
        #expect(ack.versionID == "2.6")
        #expect(msh[18].value == "UNICODE UTF-8")
        // An ACK asks for no acknowledgment of its own.
        #expect(msh[15].isEmpty && msh[16].isEmpty)
        let msa = try #require(ack.firstSegment(named: "MSA"))
        #expect(msa[1].value == "AA")
        #expect(msa[2].value == "MON-42")
        #expect(ack.firstSegment(named: "ERR") == nil)
        #expect(ack.segmentCount == 2)
    }

    @Test func applicationErrorCarriesERR() throws {
        let message = try parse(original)
        let detail = HL7ErrorDetail(
            code: .applicationInternalError, segmentID: "OBX", segmentSequence: 1, field: 5,
            text: "store unavailable | retry later ^ with backoff"
        )
        let ack = try HL7Message(parsing: HL7Acknowledgment.build(
            for: message, code: .AE, errors: [detail], controlID: "ACK-43", timestamp: "20261129101502"
        ))
        #expect(ack.firstSegment(named: "MSA")?[1].value == "AE")
        let err = try #require(ack.firstSegment(named: "ERR"))
        #expect(err[1].isEmpty)
        #expect(err[2].component(1).value == "OBX")
        #expect(err[2].component(2).value == "1")
        #expect(err[2].component(3).value == "5")
        #expect(err[3].component(1).value == "207")
        #expect(err[3].component(2).value == "Application internal error")
        #expect(err[3].component(3).value == "HL70357")
        #expect(err[4].value == "E")
        #expect(err[8].value == "store unavailable | retry later ^ with backoff")
        #expect(err.fieldCount == 8)
    }

    @Test("a sender before v2.5 reads ERR-1 and MSA-3, not ERR-2 and ERR-3: its AE says why there too")
    func olderVersionsGetERR1AndMSA3() throws {
        let detail = HL7ErrorDetail(code: .dataTypeError, segmentID: "OBX", segmentSequence: 2, field: 14, text: "OBX-14 is not a timestamp")
        for (version, legacy) in [("2.3.1", true), ("2.4", true), ("2.5", false), ("2.6", false)] {
            let message = try parse([#"MSH|^~\&|MON|WARD|VITALS|NILECARE|20261129101500||ORU^R01|OLD-1|P|"# + version])
            let ack = try HL7Message(parsing: HL7Acknowledgment.build(for: message, code: .AE, errors: [detail], controlID: "A", timestamp: "20261129101501"))
            let msa = try #require(ack.firstSegment(named: "MSA"))
            let err = try #require(ack.firstSegment(named: "ERR"))
            #expect(msa[3].value == (legacy ? "OBX-14 is not a timestamp" : ""), "\(version)")
            #expect(err[1].component(1).value == (legacy ? "OBX" : ""), "\(version)")
            #expect(err[1].component(3).value == (legacy ? "14" : ""), "\(version)")
            #expect(err[1].component(4).subcomponent(1) == (legacy ? "102" : ""), "\(version)")
            #expect(err[3].component(1).value == "102")
        }
    }

    @Test("before v2.5 an ACK has one ERR at most: several errors are ERR-1's repetitions; from v2.5 one ERR each")
    func olderVersionsGetOneERR() throws {
        let errors = [14, 5, 6].enumerated().map { index, field in
            HL7ErrorDetail(code: .dataTypeError, severity: .warning, segmentID: "OBX", segmentSequence: index + 1, field: field, text: "row \(index + 1)")
        }
        for (version, segments) in [("2.4", 1), ("2.5", 3)] {
            let message = try parse([#"MSH|^~\&|MON|WARD|VITALS|NILECARE|20261129101500||ORU^R01|OLD-2|P|"# + version])
            let ack = try HL7Message(parsing: HL7Acknowledgment.build(for: message, code: .AA, errors: errors, controlID: "A", timestamp: "20261129101501"))
            let err = ack.segments.filter { $0.id == "ERR" }
            #expect(err.count == segments, "\(version)")
            if version == "2.4" {
                #expect(err[0][1].repetitionCount == 3)
                #expect((0..<3).map { err[0][1].repetition($0).component(3).value } == ["14", "5", "6"])
            }
        }
    }

    @Test("an acknowledgement is sent unless both MSH-15 and MSH-16 rule it out for the outcome; an empty field alone asks for it")
    func acknowledgmentRequests() throws {
        func wants(_ accept: String, _ application: String) throws -> [Bool] {
            let message = try parse(["MSH|^~\\&|MON|WARD|||20261129101500||ORU^R01|R-1|P|2.6|||\(accept)|\(application)"])
            let request = AcknowledgmentRequest(message)
            return [AcknowledgmentRequest.Outcome.success, .error, .rejection].map(request.wantsAcknowledgment(of:))
        }
        #expect(try wants("", "") == [true, true, true])        // original mode
        #expect(try wants("NE", "AL") == [true, true, true])    // PCD-01
        #expect(try wants("AL", "NE") == [true, true, true])
        #expect(try wants("NE", "") == [true, true, true])      // the empty field asks
        #expect(try wants("NE", "NE") == [false, false, false])
        #expect(try wants("NE", "ER") == [false, true, true])
        #expect(try wants("SU", "NE") == [true, false, false])
        #expect(try wants("ER", "SU") == [true, true, true])
        #expect(AcknowledgmentRequest(nil).wantsAcknowledgment(of: .error))
    }

    @Test("MSH-3 of the ACK names the receiver when the sender left MSH-5 empty")
    func anEmptyReceivingApplicationIsFilledIn() throws {
        let message = try parse([#"MSH|^~\&|MON|WARD|||20261129101500||ORU^R01|E-1|P|2.6"#])
        let ack = try HL7Message(parsing: HL7Acknowledgment.build(for: message, code: .AA, controlID: "A", timestamp: "20261129101501", receiver: "NILECARE"))
        #expect(ack.header[3].value == "NILECARE")
        #expect(ack.header[5].value == "MON")
    }

    @Test("control bytes in a reply's text, such as MLLP's frame bytes decoded from a sender's \\X1C\\, go as hex escapes")
    func controlBytesAreEscaped() throws {
        let message = try parse(original)
        let text = "NM value '\u{0B}9\u{1C}\u{0D}\u{00}\t' is not a number"
        let detail = HL7ErrorDetail(code: .dataTypeError, severity: .warning, segmentID: "OBX", segmentSequence: 1, field: 5, text: text)
        let bytes = HL7Acknowledgment.build(for: message, code: .AA, errors: [detail], controlID: "ACK-46", timestamp: "20261129101505")
        #expect(!bytes.contains(0x0B) && !bytes.contains(0x1C) && !bytes.contains(0x00) && !bytes.contains(0x09))
        #expect(bytes.filter { $0 == 0x0D }.count == 3, "one CR after each of MSH, MSA and ERR")
        let ack = try HL7Message(parsing: bytes)
        #expect(ack.firstSegment(named: "ERR")?[8].value == text)
    }

    @Test func rejectWithoutLocation() throws {
        let message = try parse(original)
        let detail = HL7ErrorDetail(code: .unsupportedMessageType, severity: .warning, text: "ADT not handled")
        let ack = try HL7Message(parsing: HL7Acknowledgment.build(
            for: message, code: .AR, errors: [detail], controlID: "ACK-44", timestamp: "20261129101503"
        ))
        let err = try #require(ack.firstSegment(named: "ERR"))
        #expect(err[2].isEmpty)
        #expect(err[3].value == "200")
        #expect(err[4].value == "W")
        #expect(ack.firstSegment(named: "MSA")?[1].value == "AR")
    }

    @Test func unparseableMessage() throws {
        let bytes = Array("PID|||garbage".utf8)
        let failure = try #require(parseError(bytes))
        let ack = try HL7Message(parsing: HL7Acknowledgment.build(
            for: nil, code: .AR, errors: [HL7ErrorDetail(failure)], controlID: "ACK-45", timestamp: "20261129101504"
        ))
        #expect(ack.delimiters == .standard)
        #expect((3...6).allSatisfy { ack.header[$0].isEmpty })
        #expect(ack.header[9].component(1).value == "ACK")
        #expect(ack.header[9].component(2).isEmpty)
        #expect(ack.header[9].component(3).value == "ACK")
        #expect(ack.controlID == "ACK-45")
        #expect(ack.versionID == "")
        let msa = try #require(ack.firstSegment(named: "MSA"))
        #expect(msa[1].value == "AR")
        #expect(msa[2].isEmpty)
        let err = try #require(ack.firstSegment(named: "ERR"))
        #expect(err[3].value == "100")
        #expect(err[8].value == failure.description)
    }

    @Test func bodyErrorAcknowledgedFromTheHeader() throws {
        let bytes = hl7(original + [#"OBX|2|ST|||\X4"#])
        let failure = try #require(parseError(bytes))
        #expect(failure.kind == .unterminatedEscape)
        let header = try HL7Message(parsingHeaderOf: bytes)
        let ack = try HL7Message(parsing: HL7Acknowledgment.build(
            for: header, code: .AE, errors: [HL7ErrorDetail(failure)], controlID: "ACK-46", timestamp: "20261129101505"
        ))
        #expect(ack.firstSegment(named: "MSA")?[2].value == "MON-42")
        let err = try #require(ack.firstSegment(named: "ERR"))
        #expect(err[2].component(1).value == "OBX")
        #expect(err[2].component(2).value == "2")  // the second OBX, not the third segment
        #expect(err[2].component(3).value == "5")
        #expect(err[3].value == "102")
    }

    @Test("a message refused for its charset is still answered by name: the header is read with the default charset")
    func charsetErrorAcknowledgedFromTheHeader() throws {
        let header = #"MSH|^~\&|MON^0123456789ABCDEF^EUI-64|ICU_WARD_3|VITALS^NC^L|NILECARE|20261129101500+0200||ORU^R01^ORU_R01|MON-42|P|2.6"#
        let unsupported = hl7([header + "|||NE|AL||BOGUS"])
        #expect(parseError(unsupported)?.kind == .unsupportedCharset("BOGUS"))
        // Latin-1 bytes in a message that declares no charset: invalid as the default UTF-8.
        let undeclared: [UInt8] = Array((header + "\rOBX|1|ST|||M").utf8) + [0xFC] + Array("ller".utf8)
        let failure = try #require(parseError(undeclared))
        #expect(failure.segmentSequence == 1 && failure.segmentID == "OBX")
        // Latin-1 in the header itself, under a charset the engine does not support.
        let latinHeader = Array("MSH|^~\\&|MON|ST".utf8) + [0xDC] + Array("CK|VITALS|NILECARE|20261129101500||ORU^R01|MON-42|P|2.6|||NE|AL||8859/15".utf8)
        for bytes in [unsupported, undeclared, latinHeader] {
            let header = try HL7Message(parsingHeaderOf: bytes)
            #expect(header.controlID == "MON-42")
            // The ACK is valid in the charset it names: the copied byte goes as a hex escape.
            let ack = try HL7Message(parsing: HL7Acknowledgment.build(
                for: header, code: .AE, errors: [HL7ErrorDetail(try #require(parseError(bytes)))], controlID: "ACK-47",
                timestamp: "20261129101505"
            ))
            #expect(ack.firstSegment(named: "MSA")?[2].value == "MON-42")
            #expect(ack.header[5].component(1).value == "MON")
        }
        let answer = HL7Acknowledgment.build(for: try HL7Message(parsingHeaderOf: latinHeader), code: .AE, controlID: "ACK-48", timestamp: "20261129101505")
        #expect(String(decoding: try HL7Message(parsing: answer).header[6].rawBytes, as: UTF8.self) == "ST\\XDC\\CK")
    }

    @Test("ERR-8 is capped: an error text quoting what the sender sent (an MSH-18 of any length) does not make the answer as long")
    func errorTextIsCapped() throws {
        let message = try parse([#"MSH|^~\&|MON|WARD|VITALS|NILECARE|20261129101500||ORU^R01|LONG-1|P|2.6"#])
        let detail = HL7ErrorDetail(code: .tableValueNotFound, text: "unsupported character set " + String(repeating: "X", count: 5_000))
        let ack = try HL7Message(parsing: HL7Acknowledgment.build(for: message, code: .AE, errors: [detail], controlID: "A", timestamp: "2026"))
        let text = try #require(ack.firstSegment(named: "ERR"))[8].value
        #expect(text.count == 256 && text.hasPrefix("unsupported character set XXX") && text.hasSuffix("…"))
    }

    @Test func keepsTheSendersDelimitersAndCharset() throws {
        let bytes = latin1(["MSH$%*!@$MON$WARD$VITALS$NILECARE$$$ORU%R01$C1$P$2.5$$$$$$8859/1"])
        let message = try HL7Message(parsing: bytes)
        let detail = HL7ErrorDetail(code: .applicationRecordLocked, text: "Müller$%")
        let ackBytes = HL7Acknowledgment.build(for: message, code: .CE, errors: [detail], controlID: "A1", timestamp: "2026")
        #expect(ackBytes.starts(with: Array("MSH$%*!@$VITALS$NILECARE$MON$WARD$2026".utf8)))
        #expect(ackBytes.contains(0xFC))
        let ack = try HL7Message(parsing: ackBytes)
        #expect(ack.charset == .iso8859_1)
        #expect(ack.firstSegment(named: "MSA")?[1].value == "CE")
        #expect(ack.firstSegment(named: "ERR")?[8].value == "Müller$%")
        #expect(ack.firstSegment(named: "ERR")?[3].value == "206")
    }

    @Test func errorCodes() {
        #expect(HL7ErrorCode.allCases.map(\.rawValue) == [0, 100, 101, 102, 103, 200, 201, 202, 203, 204, 205, 206, 207])
        #expect(HL7ErrorCode.allCases.allSatisfy { !$0.text.isEmpty })
        #expect(HL7AcknowledgmentCode.allCases.map(\.rawValue) == ["AA", "AE", "AR", "CA", "CE", "CR"])
        #expect(HL7ErrorDetail(HL7ParseError(kind: .unsupportedCharset("X"), byteOffset: 0)).code == .tableValueNotFound)
        #expect(HL7ErrorDetail(HL7ParseError(kind: .headerTooShort, byteOffset: 0)).code == .requiredFieldMissing)
    }
}

@Suite struct AcknowledgmentWarningTests {
    @Test func everyDetailBecomesAnERRSegmentInOrder() throws {
        let message = try HL7Message(parsing: "MSH|^~\\&|MON|ICU|NC|HOSP|20261129101500||ORU^R01|W-1|P|2.6\rOBX|1|ST|x")
        let warnings = [
            HL7ErrorDetail(code: .dataTypeError, severity: .warning, segmentID: "OBX", segmentSequence: 3, field: 5, text: "not a number"),
            HL7ErrorDetail(code: .dataTypeError, severity: .warning, segmentID: "OBX", segmentSequence: 7, field: 11, text: "status X"),
        ]
        let ack = try HL7Message(parsing: HL7Acknowledgment.build(for: message, code: .AA, errors: warnings, controlID: "A-9", timestamp: "20261129"))
        let errs = ack.segments(named: "ERR")
        #expect(errs.count == 2)
        #expect(errs.map { $0[2].component(2).value } == ["3", "7"])
        #expect(errs.map { $0[2].component(3).value } == ["5", "11"])
        #expect(errs.map { $0[4].value } == ["W", "W"])
        #expect(ack.firstSegment(named: "MSA")?[1].value == "AA")
    }
}
