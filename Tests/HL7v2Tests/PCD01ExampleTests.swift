import HL7v2
import Testing

@Suite("IHE PCD-01 device observation reports")
struct PCD01ExampleTests {
    @Test func bloodPressureReport() throws {
        let message = try parse(Fixtures.pcd01BloodPressure)
        #expect(message.messageType == "ORU")
        #expect(message.triggerEvent == "R01")
        #expect(message.messageStructure == "ORU_R01")
        #expect(message.versionID == "2.6")
        #expect(message.charset == .utf8)
        #expect(message.header[3].component(2).value == "ACDE48234567ABCD")
        #expect(message.header[3].component(3).value == "EUI-64")
        #expect(message.header[21].component(3).value == "1.3.6.1.4.1.19376.1.6.1.1.1")

        let rows = message.segments(named: "OBX")
        #expect(rows.count == 5)
        #expect(rows.map { $0[5].value } == ["", "120", "80", "93", "72"])
        #expect(rows.map { $0[3].component(2).value } == [
            "MDC_DEV_SPEC_PROFILE_BPM", "MDC_PRESS_BLD_NONINV_SYS", "MDC_PRESS_BLD_NONINV_DIA",
            "MDC_PRESS_BLD_NONINV_MEAN", "MDC_PULS_RATE_NON_INV",
        ])
        #expect(rows[1][6].component(1).value == "266016")
        #expect(rows[1][6].component(2).value == "MDC_DIM_MMHG")
        #expect(rows[1][6].component(3).value == "MDC")
        #expect(rows[0][11].value == "X")
        #expect(rows[0][18].component(4).value == "EUI-64")
    }

    @Test func monitorReport() throws {
        let message = try parse(Fixtures.pcd01Monitor)
        let pid = try #require(message.firstSegment(named: "PID"))
        #expect(pid[3].component(1).value == "12345")
        #expect(pid[3].component(4).value == "HOSP")
        #expect(pid[3].component(5).value == "MR")

        let spo2 = message.segments(named: "OBX")[1]
        #expect(spo2[1].value == "2")
        #expect(spo2[2].value == "NM")
        #expect(spo2[3].component(1).value == "150456")
        #expect(spo2[3].component(2).value == "MDC_PULS_OXIM_SAT_O2")
        #expect(spo2[4].value == "1.2.1.3")
        #expect(spo2[5].value == "98")
        #expect(spo2[6].component(2).value == "MDC_DIM_PERCENT")
        #expect(spo2[11].value == "R")
        #expect(spo2[14].value == "20261129101500+0200")
        #expect(spo2[18].component(1).value == "0123456789ABCDEF")
        #expect(spo2[18].component(2).isEmpty)
        #expect(spo2[18].component(4).value == "EUI-64")
        #expect(spo2.fieldCount == 18)
        #expect(spo2[19].isEmpty)
    }

    @Test func everyRowRoundTrips() throws {
        for example in [Fixtures.pcd01BloodPressure, Fixtures.pcd01Monitor] {
            let message = try parse(example)
            #expect(HL7Encoder().encode(message.model) == hl7(example))
        }
    }
}
