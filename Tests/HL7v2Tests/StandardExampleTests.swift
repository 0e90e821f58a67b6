import HL7v2
import Testing

@Suite("Examples from the HL7 v2.x standard")
struct StandardExampleTests {
    @Test func adtA01Header() throws {
        let message = try parse(Fixtures.adtA01)
        #expect(message.segmentCount == 5)
        #expect(message.segments.map(\.id) == ["MSH", "EVN", "PID", "NK1", "PV1"])
        #expect(message.delimiters == .standard)
        #expect(message.messageType == "ADT")
        #expect(message.triggerEvent == "A01")
        #expect(message.messageStructure == "ADT_A01")
        #expect(message.controlID == "MSG00001")
        #expect(message.sendingApplication == "ADT1")
        #expect(message.sendingFacility == "GOOD HEALTH HOSPITAL")
        #expect(message.receivingApplication == "GHH LAB, INC.")
        #expect(message.timestamp == "198808181126")
        #expect(message.processingID == "P")
        #expect(message.versionID == "2.8")
        #expect(message.header[8].value == "SECURITY")
    }

    @Test func mshNumbering() throws {
        let msh = try parse(Fixtures.adtA01).header
        #expect(msh[1].value == "|")
        #expect(msh[2].value == #"^~\&"#)
        // MSH-2 is literal: no components, no escapes.
        #expect(msh[2].component(1).value == #"^~\&"#)
        #expect(msh[2].component(2).isEmpty)
        #expect(msh[3].value == "ADT1")
        // "…|2.8||" ends with two delimiters: MSH-13 and MSH-14 are present but empty.
        #expect(msh.fieldCount == 14)
        #expect(msh[13].isEmpty && msh[14].isEmpty)
    }

    @Test func adtA01PatientIdentifiers() throws {
        let pid = try #require(try parse(Fixtures.adtA01).firstSegment(named: "PID"))
        let identifiers = pid[3]
        #expect(identifiers.repetitionCount == 2)
        #expect(identifiers.value == "PATID1234")
        #expect(identifiers.component(4).value == "GOOD HEALTH HOSPITAL")
        #expect(identifiers.component(5).value == "MR")
        let ssn = identifiers.repetition(1)
        #expect(ssn.component(1).value == "123456789")
        #expect(ssn.component(4).value == "USSSA")
        #expect(ssn.component(5).value == "SS")
        #expect(ssn.componentCount == 5)

        #expect(pid[5].component(1).value == "EVERYMAN")
        #expect(pid[5].component(4).value == "III")
        #expect(pid[7].value == "19610615")
        #expect(pid[11].component(3).value == "GREENSBORO")
        #expect(pid[11].component(5).value == "27401-1020")
        #expect(pid[13].value == "(555) 555-2004")
        #expect(pid[19].value == "444333333")
        #expect(pid[20].component(2).value == "NC")
        // The line ends with a delimiter: PID-21 is present but empty.
        #expect(pid.fieldCount == 21)
        #expect(pid[21].isEmpty)
        #expect(pid[40].isEmpty && pid[40].value == "")
    }

    @Test func adtA01Visit() throws {
        let message = try parse(Fixtures.adtA01)
        let pv1 = try #require(message.firstSegment(named: "PV1"))
        #expect(pv1[3].component(1).value == "2000")
        #expect(pv1[3].component(3).value == "01")
        #expect(pv1[7].component(2).value == "ATTEND")
        #expect(pv1[10].value == "SUR")
        let nk1 = try #require(message.firstSegment(named: "NK1"))
        #expect(nk1[3].component(2).value == "SPOUSE")
        #expect(nk1[7].component(2).value == "NEXT OF KIN")
    }

    @Test func oruR01Observation() throws {
        let message = try parse(Fixtures.oruR01Lab)
        #expect(message.messageType == "ORU" && message.triggerEvent == "R01")
        #expect(message.messageStructure == "")
        #expect(message.versionID == "2.4")
        let observations = message.segments(named: "OBX")
        #expect(observations.count == 1)
        let obx = try #require(observations.first)
        #expect(obx.index == 3)
        #expect(obx[2].value == "SN")
        #expect(obx[3].component(2).value == "GLUCOSE")
        #expect(obx[3].component(3).value == "POST 12H CFST:MCNC:PT:SER/PLAS:QN")
        // Structured numeric "^182": empty comparator, value in component 2.
        #expect(obx[5].component(1).isEmpty)
        #expect(obx[5].component(2).value == "182")
        #expect(obx[6].value == "mg/dl")
        #expect(obx[8].value == "H")
        #expect(obx[11].value == "F")
        let obr = try #require(message.firstSegment(named: "OBR"))
        #expect(obr[16].component(3).value == "PATRICIA P")
        #expect(obr[16].component(7).value == "MD")
        #expect(obr[25].value == "F")
        #expect(obr[31].component(2).value == "HIPPOCRATES")
    }

    @Test func lookupByName() throws {
        let message = try parse(Fixtures.adtA01)
        #expect(message.segments(named: "ZZZ").isEmpty)
        #expect(message.segments(named: "TOO LONG").isEmpty)
        #expect(message.firstSegment(named: "OBX") == nil)
        #expect(message.segments(named: "MSH").count == 1)
        #expect(message.segments[2].id == "PID")
        #expect(message.segment(at: 4).id == "PV1")
    }

    @Test func rawBytesAreTheInput() throws {
        let message = try parse(Fixtures.oruR01Lab)
        let obx = try #require(message.firstSegment(named: "OBX"))
        #expect(String(decoding: obx[3].rawBytes, as: UTF8.self) == "1554-5^GLUCOSE^POST 12H CFST:MCNC:PT:SER/PLAS:QN")
        #expect(String(decoding: obx.rawBytes, as: UTF8.self) == Fixtures.oruR01Lab[3])
        #expect(message.bytes == hl7(Fixtures.oruR01Lab))
    }
}
