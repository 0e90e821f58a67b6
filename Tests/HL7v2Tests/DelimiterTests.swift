import HL7v2
import Testing

@Suite("Delimiters declared by MSH-1 and MSH-2")
struct DelimiterTests {
    /// field `$`, component `%`, repetition `*`, escape `!`, subcomponent `@`
    static let custom = [
        "MSH$%*!@$MON$WARD$VITALS$NILECARE$20261129101500$$ORU%R01%ORU_R01$CTRL-7$P$2.6",
        "PID$$$12345%%%HOSP@2.16.840.1.113883.19@ISO%MR*999%%%OTHER$$Doe%Jane",
        "OBX$1$NM$150456%MDC_PULS_OXIM_SAT_O2%MDC$1.2.1.3$98$262688%MDC_DIM_PERCENT%MDC$$$$$R",
        "NTE$1$$pipes | carets ^ tildes ~ backslashes \\ ampersands & are text here; !F!!S!!R!!T!!E! are not",
    ]

    @Test func readFromTheHeader() throws {
        let message = try parse(Self.custom)
        let expected = HL7Delimiters(
            field: UInt8(ascii: "$"), component: UInt8(ascii: "%"), repetition: UInt8(ascii: "*"),
            escape: UInt8(ascii: "!"), subcomponent: UInt8(ascii: "@")
        )
        #expect(message.delimiters == expected)
        #expect(message.delimiters.truncation == nil)
        #expect(message.header[1].value == "$")
        #expect(message.header[2].value == "%*!@")
        #expect(message.messageType == "ORU")
        #expect(message.triggerEvent == "R01")
        #expect(message.controlID == "CTRL-7")
        #expect(message.versionID == "2.6")
    }

    @Test func structureUsesThem() throws {
        let message = try parse(Self.custom)
        let pid = try #require(message.firstSegment(named: "PID"))
        #expect(pid[3].repetitionCount == 2)
        #expect(pid[3].component(4).subcomponent(1) == "HOSP")
        #expect(pid[3].component(4).subcomponent(2) == "2.16.840.1.113883.19")
        #expect(pid[3].component(4).subcomponentCount == 3)
        #expect(pid[3].repetition(1).component(4).value == "OTHER")
        #expect(pid[5].component(2).value == "Jane")
        let obx = try #require(message.firstSegment(named: "OBX"))
        #expect(obx[3].component(2).value == "MDC_PULS_OXIM_SAT_O2")
        #expect(obx[5].value == "98")
        #expect(obx[11].value == "R")
    }

    @Test func standardCharactersAreText() throws {
        let note = try #require(try parse(Self.custom).firstSegment(named: "NTE"))
        #expect(note[3].value == #"pipes | carets ^ tildes ~ backslashes \ ampersands & are text here; $%*@! are not"#)
    }

    @Test func encodingWithThemRoundTrips() throws {
        let message = try parse(Self.custom)
        #expect(HL7Encoder(delimiters: message.delimiters).encode(message.model) == hl7(Self.custom))
    }

    @Test func truncationCharacter() throws {
        let message = try parse([#"MSH|^~\&#|MON|WARD|||||ORU^R01|1|P|2.7"#, #"NTE|1||cut short# and \P\"#])
        #expect(message.delimiters.truncation == UInt8(ascii: "#"))
        #expect(message.header[2].value == #"^~\&#"#)
        #expect(message.firstSegment(named: "NTE")?[3].value == "cut short# and #")
        // Without a declared truncation character `\P\` means nothing and stays as sent.
        let older = try parse([#"MSH|^~\&|MON"#, #"NTE|1||\P\"#])
        #expect(older.firstSegment(named: "NTE")?[3].value == #"\P\"#)
    }

    @Test func batchHeadersAreNumberedLikeMSH() throws {
        let message = try parse([#"MSH|^~\&|MON"#, #"BHS|^~\&|BATCHAPP|FAC"#, #"FHS|^~\&|FILEAPP"#, "BTS|1"])
        let batch = message.segment(at: 1)
        #expect(batch[1].value == "|")
        #expect(batch[2].value == #"^~\&"#)
        #expect(batch[3].value == "BATCHAPP")
        #expect(batch.fieldCount == 4)
        #expect(message.segment(at: 2)[3].value == "FILEAPP")
        #expect(message.segment(at: 3)[1].value == "1")
    }

    @Test func validity() {
        #expect(HL7Delimiters.standard.isValid)
        #expect(HL7Delimiters.standard.encodingCharacters == Array(#"^~\&"#.utf8))
        #expect(!HL7Delimiters(component: UInt8(ascii: "|")).isValid)
        #expect(!HL7Delimiters(escape: UInt8(ascii: "E")).isValid)
        #expect(!HL7Delimiters(subcomponent: UInt8(ascii: "7")).isValid)
        #expect(!HL7Delimiters(field: 0x0D).isValid)
        #expect(!HL7Delimiters(repetition: 0xE9).isValid)
        #expect(HL7Delimiters(truncation: UInt8(ascii: "#")).isValid)
    }
}
