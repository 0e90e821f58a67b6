import Foundation
import DeviceSimulator
import HL7v2
import Testing
import VitalSigns
@testable import Decoders

@Suite struct PCD01DecoderTests {
    /// A PCD-01 message in the shape of the IHE PCD Technical Framework examples: an MDS row
    /// with the EUI-64 and metric rows below it that name no device of their own.
    static let pcd01Example = hl7(
        "MSH|^~\\&|AcmeInc^ACDE48234567ABCD^EUI-64||||20261129143005+0200||ORU^R01^ORU_R01|MSGID1234|P|2.6|||NE|AL||UNICODE UTF-8|||IHE_PCD_001^IHE PCD^1.3.6.1.4.1.19376.1.6.1.1.1^ISO",
        "PID|||789567^^^Imaginary Hospital&1.2.3.4&ISO^PI~222^^^Other^MR||Doe^John^Joseph^^^^L",
        "PV1||I|3 West ICU^3002^1",
        "OBR|1|AB12345^AcmeInc^ACDE48234567ABCD^EUI-64|CD12345^AcmeInc^ACDE48234567ABCD^EUI-64|182777000^monitoring of patient^SNOMED-CT|||20261129143000+0200",
        "OBX|1||69965^MDC_DEV_MON_PHYSIO_MULTI_PARAM_MDS^MDC|1.0.0.0|||||||X|||||||0123456789ABCDEF^^0123456789ABCDEF^EUI-64",
        "OBX|2|NM|150456^MDC_PULS_OXIM_SAT_O2^MDC|1.1.1.1|98|262688^MDC_DIM_PERCENT^MDC|90-100||||R|||20261129142959+0200",
        "OBX|3|NM|149530^MDC_PULS_OXIM_PULS_RATE^MDC|1.1.1.2|72|264864^MDC_DIM_BEAT_PER_MIN^MDC|||||R",
        "OBX|4|NM|150021^MDC_PRESS_BLD_NONINV_SYS^MDC|1.2.1.1|120|266016^MDC_DIM_MMHG^MDC|||||R",
        "OBX|5|NM|150022^MDC_PRESS_BLD_NONINV_DIA^MDC|1.2.1.2|80|266016^MDC_DIM_MMHG^MDC|||||R",
        "OBX|6|NM|150023^MDC_PRESS_BLD_NONINV_MEAN^MDC|1.2.1.3|93|266016^MDC_DIM_MMHG^MDC|||||R",
        "OBX|7|NM|150364^MDC_TEMP_BODY^MDC|1.3.1.1|98.6|[degF]^[degF]^UCUM|||||R",
        "OBX|8|NM|151708^MDC_AWAY_CO2_ET^MDC|1.4.1.1|5.2|kPa^kPa^UCUM|||||R",
        "OBX|9|NM|188736^MDC_VENDOR_SPECIFIC^MDC|1.4.1.2|17|262688^MDC_DIM_PERCENT^MDC|||||R"
    )

    @Test("MSH-3 and MSH-4, the retransmission key, are read in the message's charset: two 8859/1 senders differing in one accented letter are two senders")
    func headerKeysAreReadInTheMessagesCharset() throws {
        func header(_ application: UInt8) throws -> MessageHeader {
            var bytes = Array("MSH|^~\\&|SALLE-".utf8) + [application]
            bytes += Array("|ICU||||20261129143005+0200||ORU^R01|1|P|2.6|||||8859/1\rOBX|1|NM|150456^^MDC||98".utf8)
            return PCD01Decoder.header(of: try HL7Message(parsing: bytes))
        }
        #expect(try header(0xC9).sendingApplication == "SALLE-É")
        #expect(try header(0xC8).sendingApplication == "SALLE-È")
    }

    @Test("MSH-10, in the retransmission key, is kept as sent: control ids differing after a component separator or in an escape are two messages")
    func controlIDIsKeptAsSent() throws {
        func controlID(_ sent: String) throws -> String {
            try decoder().decode(try parse(hl7("MSH|^~\\&|MON|ICU|||20261129101500+0000||ORU^R01|\(sent)|P|2.6"))).header.controlID
        }
        #expect(try controlID("17^A") == "17^A")
        #expect(try controlID("17^B") == "17^B")
        #expect(try controlID("A\\T\\B") == "A\\T\\B")
        #expect(try controlID("MSG-1") == "MSG-1")
    }

    @Test func decodesThePCD01ExampleWithInheritedDeviceAndTimes() throws {
        let decoded = try decoder().decode(try parse(Self.pcd01Example))
        #expect(decoded.header.controlID == "MSGID1234")
        #expect(decoded.header.sendingApplication == "AcmeInc^ACDE48234567ABCD^EUI-64")
        #expect(decoded.header.applicationName == "AcmeInc")
        #expect(decoded.observations.count == 8)
        let spo2 = try #require(decoded.observations.first)
        #expect(spo2.kind == .spo2)
        #expect(spo2.value == 98)
        #expect(spo2.unit == .percent)
        #expect(spo2.deviceID == "0123456789ABCDEF")
        #expect(spo2.patient == PatientIdentifier(id: "789567", assigningAuthority: "Imaginary Hospital"))
        #expect(spo2.location == "3 West ICU^3002^1")
        #expect(spo2.hierarchy == "1.1.1.1")
        #expect(spo2.status == .resultsEntered)
        #expect(spo2.time == utc(2026, 11, 29, 12, 29, 59))
        // OBX-14 empty: the time comes from OBR-7.
        #expect(decoded.observations[1].time == utc(2026, 11, 29, 12, 30, 0))
        #expect(decoded.observations[1].kind == .pulseRate)
        #expect(decoded.observations.map(\.deviceID).allSatisfy { $0 == "0123456789ABCDEF" })
        #expect(decoded.observations.map(\.kind) == [.spo2, .pulseRate, .nibpSystolic, .nibpDiastolic, .nibpMean, .temperature, .etco2, .unknown])
    }

    @Test("metric rows inherit their own MDS's device, however many MDS a message names")
    func manyMDSKeepTheirDevices() throws {
        // More MDS than the decoder's short list holds (DevicesByMDS.listLimit), in an order that
        // revisits earlier ones after the switch to a table.
        let count = PCD01Decoder.DevicesByMDS.listLimit * 3
        var lines = [
            "MSH|^~\\&|MULTI||||20261129143005+0200||ORU^R01^ORU_R01|MANY-MDS|P|2.6",
            "PID|||789567^^^HOSP^MR",
        ]
        for mds in 1...count {
            lines.append("OBX|\(mds * 2 - 1)||69965^MDC_DEV_MON_PHYSIO_MULTI_PARAM_MDS^MDC|\(mds).0.0.0|||||||X|||||||DEV-\(mds)")
        }
        for mds in (1...count).reversed() {
            lines.append("OBX|\(mds * 2)|NM|150456^MDC_PULS_OXIM_SAT_O2^MDC|\(mds).1.1.1|\(90 + mds % 10)|262688^MDC_DIM_PERCENT^MDC|||||F|||20261129143000+0200")
        }
        let decoded = try decoder().decode(try parse(hl7(lines)))
        #expect(decoded.observations.count == count)
        for observation in decoded.observations {
            let mds = try #require(observation.hierarchy?.split(separator: ".").first)
            #expect(observation.deviceID == "DEV-\(mds)")
        }
    }

    @Test func convertsUnitsToCanonical() throws {
        let decoded = try decoder().decode(try parse(Self.pcd01Example))
        let temperature = try #require(decoded.observations.first { $0.kind == .temperature })
        #expect(abs(temperature.value - 37.0) < 1e-9)
        #expect(temperature.unit == .degreeCelsius)
        let etco2 = try #require(decoded.observations.first { $0.kind == .etco2 })
        #expect(abs(etco2.value - 39.003) < 0.001)
        #expect(etco2.unit == .millimetreOfMercury)
    }

    @Test func keepsUnknownCodesWithTheirCode() throws {
        let decoded = try decoder().decode(try parse(Self.pcd01Example))
        let unknown = try #require(decoded.observations.last)
        #expect(unknown.kind == .unknown)
        #expect(unknown.code == ObservationCode(code: "188736", text: "MDC_VENDOR_SPECIFIC", system: "MDC"))
        #expect(unknown.value == 17)
        #expect(unknown.unit == .percent)
        #expect(criticalFlags([unknown], profileID: decoded.profileID) == [false])
    }

    @Test func decodesPhilipsMDILCodesThroughTheProfile() throws {
        let message = hl7(
            "MSH|^~\\&|PHILIPS|WARD7|||20261129101500||ORU^R01|PH-1|P|2.5",
            "PID|||P-42^^^KTH^MR",
            "OBX|1|NM|0002-4182^HR^MDIL|0|48|0004-0AA0^bpm^MDIL|||||F|||20261129101455||||ABCDEF0123456789",
            "OBX|2|NM|0002-4BB8^SpO2^MDIL|0|84|%^%^UCUM|||||F",
            "OBX|3|NM|0002-500A^RR^MDIL|0|14||||||F"
        )
        let decoded = try decoder().decode(try parse(message))
        #expect(decoded.observations.map(\.kind) == [.heartRate, .spo2, .respirationRate])
        #expect(decoded.observations.map(\.unit) == [.beatsPerMinute, .percent, .breathsPerMinute])
        // No offset: the facility's zone (Khartoum, UTC+2).
        #expect(decoded.observations[0].time == utc(2026, 11, 29, 8, 14, 55))
        #expect(decoded.observations[0].deviceID == "ABCDEF0123456789")
        // SpO2 84 % is below the adult critical band of the profile (90), heart rate 48 is not (40).
        #expect(decoded.profileID == "philips-intellivue")
        #expect(criticalFlags(decoded.observations, profileID: decoded.profileID) == [false, true, false])
    }

    @Test("OBR-7 and OBX-14 sent without an offset are in MSH-7's zone when it has one: a gateway on UTC in a facility on UTC+2")
    func timesWithoutAnOffsetTakeTheSendersZone() throws {
        let message = hl7(
            "MSH|^~\\&|GATEWAY|ICU|||20261129143010+0000||ORU^R01|UTC-1|P|2.6",
            "PID|||P-7^^^KTH^MR",
            "OBR|1|||VITALS|||20261129143000",
            "OBX|1|NM|150456^MDC_PULS_OXIM_SAT_O2^MDC|1.1.1.1|97|262688^MDC_DIM_PERCENT^MDC|||||F|||20261129142959||||DEV-UTC",
            "OBX|2|NM|149530^MDC_PULS_OXIM_PULS_RATE^MDC|1.1.1.2|72|264864^MDC_DIM_BEAT_PER_MIN^MDC|||||F"
        )
        let decoded = try decoder().decode(try parse(message))
        #expect(decoded.observations.map(\.time) == [utc(2026, 11, 29, 14, 29, 59), utc(2026, 11, 29, 14, 30, 0)])
    }

    @Test("a sender on the facility's clock: a row without an offset, measured before the clocks went back and sent after, is read with summer time")
    func aRowFromBeforeTheClocksChangedIsReadInTheFacilitysZone() throws {
        let message = hl7(
            "MSH|^~\\&|MON|ICU|||20261101030000-0500||ORU^R01|DST-1|P|2.6",
            "OBX|1|NM|150456^MDC_PULS_OXIM_SAT_O2^MDC|1.1.1.1|97|262688^MDC_DIM_PERCENT^MDC|||||F|||20261101005500||||DEV-DST",
            "OBX|2|NM|147842^MDC_ECG_HEART_RATE^MDC|1.1.1.2|72|264864^MDC_DIM_BEAT_PER_MIN^MDC|||||F|||20261101025900"
        )
        let newYork = try #require(TimeZone(identifier: "America/New_York"))
        let decoded = try decoder(zone: newYork).decode(try parse(message))
        #expect(decoded.observations.map(\.time) == [utc(2026, 11, 1, 4, 55, 0), utc(2026, 11, 1, 7, 59, 0)])
    }

    @Test("codes and units found from the message's bytes mean what their Strings mean")
    func codeAndUnitSpellingsResolveAlike() throws {
        let message = hl7(
            "MSH|^~\\&|PHILIPS|WARD7|||20261129101500+0000||ORU^R01|PH-2|P|2.5",
            // Found from the bytes: the profile's MDIL code and unit, a LOINC code, a UCUM alias.
            "OBX|1|NM|0002-4182^HR^MDIL|0|48|0004-0AA0^bpm^MDIL|||||F",
            "OBX|2|NM|8867-4^Heart rate^LN|0|49|/min|||||F",
            // Read as Strings: a system in lower case or spelled out, escapes, a code only its text names.
            "OBX|3|NM|0002-4182^HR^mdil|0|50|\\X2F\\min|||||F",
            "OBX|4|NM|8867\\X2D\\4^^LOINC|0|51|{beats}/min|||||F",
            "OBX|5|NM|99999^MDC_PULS_OXIM_SAT_O2^MDC|0|97|%|||||F",
            "OBX|6|NM|0002-FFFF^X^MDIL|0|3|mmHg|||||F",
            // UCUM's other spelling of per minute.
            "OBX|7|NM|8867-4^Heart rate^LN|0|52|1/min|||||F"
        )
        let observations = try decoder().decode(try parse(message)).observations
        #expect(observations.map(\.kind) == [.heartRate, .heartRate, .heartRate, .heartRate, .spo2, .unknown, .heartRate])
        #expect(observations.map(\.code.code) == ["0002-4182", "8867-4", "0002-4182", "8867-4", "99999", "0002-FFFF", "8867-4"])
        #expect(observations.map(\.code.system) == ["MDIL", "LN", "mdil", "LOINC", "MDC", "MDIL", "LN"])
        #expect(observations.map(\.unit) == [.beatsPerMinute, .beatsPerMinute, .beatsPerMinute, .beatsPerMinute, .percent, .millimetreOfMercury, .beatsPerMinute])
        #expect(observations.map(\.value) == [48, 49, 50, 51, 97, 3, 52])
    }

    @Test("OBX-6 with only CE.2's text: a known spelling is converted, an unknown one kept as sent, never read as the vital's own unit")
    func aUnitSentOnlyAsTextIsNotTakenForTheCanonicalUnit() throws {
        let message = hl7(
            "MSH|^~\\&|MON|ICU|||20261129101500+0000||ORU^R01|U-1|P|2.6",
            "OBX|1|NM|150364^MDC_TEMP_BODY^MDC|1.1.1.1|98.6|^°F|||||F|||||||DEV-U",
            "OBX|2|NM|151708^MDC_AWAY_CO2_ET^MDC|1.1.1.2|5.2|^KPA|||||F",
            "OBX|3|NM|150364^MDC_TEMP_BODY^MDC|1.1.1.3|98.6|^degrees Fahrenheit|||||F",
            "OBX|4|NM|150364^MDC_TEMP_BODY^MDC|1.1.1.4|37.1||||||F"
        )
        let observations = try decoder().decode(try parse(message)).observations
        #expect(observations.map(\.kind) == [.temperature, .etco2, .unknown, .temperature])
        #expect(abs(observations[0].value - 37.0) < 1e-9)
        #expect(abs(observations[1].value - 39.003) < 0.001)
        // Not converted, not a known vital: stored as it came, so nothing alarms on 98.6 °C.
        #expect(observations[2].value == 98.6)
        #expect(observations[2].unit == UCUMUnit(ucum: "degrees Fahrenheit"))
        // An empty OBX-6 is the code's unit.
        #expect(observations[3].unit == .degreeCelsius && observations[3].value == 37.1)
    }

    @Test("Philips MDIL units are MDC dimensions in hex, spellings in any case are known units")
    func vendorAndCaseSpellingsOfUnitsAreKnown() throws {
        let message = hl7(
            "MSH|^~\\&|PHILIPS|WARD7|||20261129101500+0000||ORU^R01|U-2|P|2.5",
            "OBX|1|NM|0002-500A^RR^MDIL|0|16|0004-0AE0^rpm^MDIL|||||F|||||||DEV-P",
            "OBX|2|NM|0002-4B5C^Temp^MDIL|0|101.3|0004-1140^°F^MDIL|||||F",
            "OBX|3|NM|150021^MDC_PRESS_BLD_NONINV_SYS^MDC|1.1.1.1|120|MMHG|||||F",
            "OBX|4|NM|147842^MDC_ECG_HEART_RATE^MDC|1.1.1.2|80|BPM|||||F",
            "OBX|5|NM|151562^MDC_RESP_RATE^MDC|1.1.1.3|18|breaths/min|||||F"
        )
        let observations = try decoder().decode(try parse(message)).observations
        #expect(observations.map(\.kind) == [.respirationRate, .temperature, .nibpSystolic, .heartRate, .respirationRate])
        #expect(observations.map(\.unit) == [.breathsPerMinute, .degreeCelsius, .millimetreOfMercury, .beatsPerMinute, .breathsPerMinute])
        #expect(abs(observations[1].value - 38.5) < 1e-9)
    }

    @Test("a value the vital cannot have (a device's no-value marker) is skipped with its reason, not stored as a critical reading")
    func implausibleValuesAreSkipped() throws {
        let message = hl7(
            "MSH|^~\\&|MON|ICU|||20261129101500+0000||ORU^R01|IMP-1|P|2.6",
            "OBX|1|NM|147842^MDC_ECG_HEART_RATE^MDC|1.1.1.1|65535|264864^MDC_DIM_BEAT_PER_MIN^MDC|||||F|||||||DEV-I",
            "OBX|2|NM|150456^MDC_PULS_OXIM_SAT_O2^MDC|1.1.1.2|-1|262688^MDC_DIM_PERCENT^MDC|||||F",
            "OBX|3|NM|147842^MDC_ECG_HEART_RATE^MDC|1.1.1.3|0|264864^MDC_DIM_BEAT_PER_MIN^MDC|||||F",
            "OBX|4|NM|188736^MDC_VENDOR_SPECIFIC^MDC|1.1.1.4|65535|262688^MDC_DIM_PERCENT^MDC|||||F"
        )
        let decoded = try decoder().decode(try parse(message))
        // Asystole's 0 is a heart rate; an unknown code keeps whatever it sent.
        #expect(decoded.observations.map(\.value) == [0, 65535])
        #expect(decoded.skipped.map(\.segmentSequence) == [1, 2])
        #expect(decoded.skipped.first?.reason == "65535.0 /min is not a plausible heart_rate (a device's no-value marker?)")
    }

    @Test("a dimensionless SpO2 above 1 is the percentage itself, at most 1 a fraction; a dimensionless perfusion index is in percent")
    func aDimensionlessPercentageIsReadByItsSize() throws {
        let message = hl7(
            "MSH|^~\\&|MON|ICU|||20261129101500+0000||ORU^R01|U-3|P|2.6",
            "OBX|1|NM|150456^MDC_PULS_OXIM_SAT_O2^MDC|1.1.1.1|85|262656^MDC_DIM_DIMLESS^MDC|||||F|||||||DEV-D",
            "OBX|2|NM|150456^MDC_PULS_OXIM_SAT_O2^MDC|1.1.1.1|0.97|1^^UCUM|||||F",
            // A perfusion index is written without its unit, already in percent.
            "OBX|3|NM|150448^MDC_PULS_OXIM_PERF_REL^MDC|1.1.1.2|0.8|262656^MDC_DIM_DIMLESS^MDC|||||F"
        )
        let decoded = try decoder().decode(try parse(message))
        #expect(decoded.observations.map(\.value) == [85, 97, 0.8])
        #expect(decoded.observations.map(\.unit) == [.percent, .percent, .percent])
        // 85 % is below the profile's critical band: the desaturation alarms.
        #expect(criticalFlags(decoded.observations, profileID: decoded.profileID) == [true, false, false])
    }

    @Test func skipsRowsWithoutAStorableValueAndSaysWhy() throws {
        let message = hl7(
            "MSH|^~\\&|MON|ICU|||20261129101500+0000||ORU^R01|S-1|P|2.6",
            "OBX|1|NM|150456^MDC_PULS_OXIM_SAT_O2^MDC|1.1.1.1|97|262688^MDC_DIM_PERCENT^MDC|||||X|||||||DEV1",
            "OBX|2|NM|150456^MDC_PULS_OXIM_SAT_O2^MDC|1.1.1.1|97|262688^MDC_DIM_PERCENT^MDC|||||D",
            "OBX|3|ST|150456^MDC_PULS_OXIM_SAT_O2^MDC|1.1.1.1|ninety|||||R",
            "OBX|4|NM|150456^MDC_PULS_OXIM_SAT_O2^MDC|1.1.1.1|9x7|262688^MDC_DIM_PERCENT^MDC|||||R",
            "OBX|5|SN|150456^MDC_PULS_OXIM_SAT_O2^MDC|1.1.1.1|<^80|262688^MDC_DIM_PERCENT^MDC|||||R",
            "OBX|6|SN|150456^MDC_PULS_OXIM_SAT_O2^MDC|1.1.1.1|^96|262688^MDC_DIM_PERCENT^MDC|||||R"
        )
        let decoded = try decoder().decode(try parse(message))
        #expect(decoded.observations.count == 1)
        #expect(decoded.observations.first?.value == 96)
        #expect(decoded.observations.first?.deviceID == "DEV1")
        #expect(decoded.skipped.map(\.segmentSequence) == [1, 2, 3, 4, 5])
        #expect(decoded.skipped.map(\.field) == [11, 11, 2, 5, 5])
        // The X row (could not obtain) is what the device says about its measurement: a condition
        // the alert rules raise a technical alarm from. The D row (deleted) says nothing of the kind.
        #expect(decoded.conditions == [DeviceCondition(
            time: utc(2026, 11, 29, 10, 15, 0), deviceID: "DEV1", kind: .spo2, status: .noValue
        )])
    }

    @Test("NM is a sign, digits and one decimal point; exponents, hex and the like are skipped")
    func numericValuesFollowTheNMGrammar() throws {
        let accepted = ["-0.5", "+5", ".5", "5.", "007", "1234567890.12345678"]
        let refused = ["1e3", "0x60", "0x1p3", "1e-400", "inf", "nan", "1.2.3", "-", ".", "+-1", " 5", "5 "]
        var lines = ["MSH|^~\\&|MON|ICU|||20261129101500+0000||ORU^R01|NM-1|P|2.6"]
        for (index, text) in (accepted + refused).enumerated() {
            // A code of no known vital: the grammar alone decides, not what a heart rate can be.
            lines.append("OBX|\(index + 1)|NM|188736^MDC_VENDOR_SPECIFIC^MDC|1.1.1.\(index + 1)|\(text)|264864^MDC_DIM_BEAT_PER_MIN^MDC|||||F|||||||DEV")
        }
        let decoded = try decoder().decode(try parse(hl7(lines)))
        #expect(decoded.observations.map(\.value) == [-0.5, 5, 0.5, 5, 7, 1234567890.12345678])
        #expect(decoded.skipped.map(\.segmentSequence) == Array(accepted.count + 1...accepted.count + refused.count))
        #expect(decoded.skipped.allSatisfy { $0.field == 5 && $0.reason.contains("is not a number") })
    }

    @Test("MDC_DIM_DIMLESS is 262656 (partition 4, term 512); 262144 is not a unit the tables know")
    func dimensionlessUnitHasItsMDCCode() throws {
        let message = hl7(
            "MSH|^~\\&|MON|ICU|||20261129101500+0000||ORU^R01|DIM-1|P|2.6",
            "OBX|1|NM|150456^MDC_PULS_OXIM_SAT_O2^MDC|1.1.1.1|0.97|262656^MDC_DIM_DIMLESS^MDC|||||F|||||||DEV",
            "OBX|2|NM|150456^MDC_PULS_OXIM_SAT_O2^MDC|1.1.1.2|0.97|262656|||||F|||||||DEV",
            "OBX|3|NM|150456^MDC_PULS_OXIM_SAT_O2^MDC|1.1.1.3|97|262144|||||F|||||||DEV"
        )
        let observations = try decoder().decode(try parse(message)).observations
        #expect(observations.map(\.kind) == [.spo2, .spo2, .unknown])
        #expect(observations.map(\.unit) == [.percent, .percent, UCUMUnit(ucum: "262144")])
        #expect(abs(observations[0].value - 97) < 1e-9 && abs(observations[1].value - 97) < 1e-9)
        #expect(observations[2].value == 97)
    }

    @Test("MDC codes sent without their reference id: perfusion index is 150448 (term 19376), airway and capnography respiration rates 151570 and 151594")
    func mdcCodesByNumberAlone() throws {
        let message = hl7(
            "MSH|^~\\&|MON|ICU|||20261129101500+0000||ORU^R01|MDC-1|P|2.6",
            "OBX|1|NM|150448^^MDC|1.1.1.1|2.3|262688^MDC_DIM_PERCENT^MDC|||||F|||||||DEV",
            "OBX|2|NM|151570^^MDC|1.2.1.1|16|264928^MDC_DIM_RESP_PER_MIN^MDC|||||F|||||||DEV",
            "OBX|3|NM|151594^^MDC|1.2.1.2|15|264928^MDC_DIM_RESP_PER_MIN^MDC|||||F|||||||DEV",
            "OBX|4|NM|150488^^MDC|1.1.1.2|5|262688^MDC_DIM_PERCENT^MDC|||||F|||||||DEV",
            "OBX|5|NM|^MDC_CO2_RESP_RATE^MDC|1.2.1.3|14|264928^MDC_DIM_RESP_PER_MIN^MDC|||||F|||||||DEV"
        )
        let observations = try decoder().decode(try parse(message)).observations
        #expect(observations.map(\.kind) == [.perfusionIndex, .respirationRate, .respirationRate, .unknown, .respirationRate])
    }

    @Test("each patient's rows keep that patient's location, order time and devices")
    func patientGroupsDoNotShareContext() throws {
        let lines = [
            "MSH|^~\\&|GATEWAY|ICU|||20261129101500+0000||ORU^R01|PG-1|P|2.6",
            "PID|||P-1^^^HOSP^MR",
            "PV1||I|ICU^1^A",
            "OBR|1|||182777000^monitoring of patient^SNOMED-CT|||20261129101400+0000",
            "OBX|1||69965^MDC_DEV_MON_PHYSIO_MULTI_PARAM_MDS^MDC|1.0.0.0|||||||X|||||||DEV-A",
            "OBX|2|NM|147842^MDC_ECG_HEART_RATE^MDC|1.1.1.1|80|264864^MDC_DIM_BEAT_PER_MIN^MDC|||||F",
            "PID|||P-2^^^HOSP^MR",
            "OBX|3|NM|147842^MDC_ECG_HEART_RATE^MDC|1.1.1.1|90|264864^MDC_DIM_BEAT_PER_MIN^MDC|||||F",
            "OBR|2|||182777000^monitoring of patient^SNOMED-CT|||2026113",
        ]
        let pcd01 = decoder()
        let error = try #require(throws: PCD01DecodeError.self) { try pcd01.decode(try parse(hl7(lines))) }
        // The second OBR is named as the second, not the first.
        #expect(error == .invalidValue(segment: "OBR", sequence: 2, field: 7, value: "2026113",
                                       reason: "not an HL7 timestamp YYYYMMDDHHMMSS[.S to .SSSSSS][+/-ZZZZ]"))

        let decoded = try pcd01.decode(try parse(hl7(Array(lines.dropLast()))))
        #expect(decoded.observations.map(\.patient?.id) == ["P-1", "P-2"])
        #expect(decoded.observations.map(\.location) == ["ICU^1^A", nil])
        #expect(decoded.observations.map(\.deviceID) == ["DEV-A", "GATEWAY"])
        #expect(decoded.observations.map(\.time) == [utc(2026, 11, 29, 10, 14, 0), utc(2026, 11, 29, 10, 15, 0)])
    }

    @Test("an MDS naming the device the MDS before it named keeps it, whatever MDS comes after")
    func repeatedEquipmentIsRecordedForEachMDS() throws {
        let message = hl7(
            "MSH|^~\\&|GATEWAY|ICU|||20261129101500+0000||ORU^R01|EQ-1|P|2.6",
            "OBX|1||69965^MDC_DEV_MON_PHYSIO_MULTI_PARAM_MDS^MDC|1.0.0.0|||||||X|||||||DEV-A",
            "OBX|2||69965^MDC_DEV_MON_PHYSIO_MULTI_PARAM_MDS^MDC|2.0.0.0|||||||X|||||||DEV-A",
            "OBX|3||69965^MDC_DEV_MON_PHYSIO_MULTI_PARAM_MDS^MDC|3.0.0.0|||||||X|||||||DEV-B",
            "OBX|4|NM|147842^MDC_ECG_HEART_RATE^MDC|2.1.1.1|80|264864^MDC_DIM_BEAT_PER_MIN^MDC|||||F",
            "OBX|5|NM|147842^MDC_ECG_HEART_RATE^MDC|3.1.1.1|81|264864^MDC_DIM_BEAT_PER_MIN^MDC|||||F",
            "OBX|6|NM|147842^MDC_ECG_HEART_RATE^MDC|1.1.1.1|82|264864^MDC_DIM_BEAT_PER_MIN^MDC|||||F"
        )
        let observations = try decoder().decode(try parse(message)).observations
        #expect(observations.map(\.deviceID) == ["DEV-A", "DEV-B", "DEV-A"])
    }

    @Test func fallsBackToTheSendingApplicationWhenNoDeviceIsNamed() throws {
        let message = hl7(
            "MSH|^~\\&|BEDSIDE7|ICU|||20261129101500+0000||ORU^R01|S-2|P|2.6",
            "OBX|1|NM|147842^MDC_ECG_HEART_RATE^MDC|1.1.1.1|80|264864^MDC_DIM_BEAT_PER_MIN^MDC|||||R"
        )
        let decoded = try decoder().decode(try parse(message))
        #expect(decoded.observations.first?.deviceID == "BEDSIDE7")
        // MSH-7 is the last fallback for the time.
        #expect(decoded.observations.first?.time == utc(2026, 11, 29, 10, 15, 0))
        #expect(decoded.observations.first?.patient == nil)
    }

    @Test func rejectsMessagesItDoesNotAccept() throws {
        let adt = hl7("MSH|^~\\&|ADT|HOSP|||20261129101500||ADT^A01|A-1|P|2.5", "PID|||1^^^H")
        #expect(throws: PCD01DecodeError.unsupportedMessage(type: "ADT", trigger: "A01")) { try decoder().decode(try parse(adt)) }
        let error = try #require(throws: PCD01DecodeError.self) { try decoder().decode(try parse(adt)) }
        #expect(error.acknowledgmentCode == .AR)
        #expect(error.errorDetail.code == .unsupportedMessageType)

        let r40 = hl7("MSH|^~\\&|MON|ICU|||20261129101500||ORU^R40|A-2|P|2.6")
        let eventError = try #require(throws: PCD01DecodeError.self) { try decoder().decode(try parse(r40)) }
        #expect(eventError.errorDetail.code == .unsupportedEventCode)
    }

    @Test func reportsMissingAndInvalidFieldsWithTheirLocation() throws {
        let noControlID = hl7("MSH|^~\\&|MON|ICU|||20261129101500||ORU^R01||P|2.6")
        #expect(throws: PCD01DecodeError.requiredFieldMissing(segment: "MSH", sequence: 1, field: 10, what: "message control id")) {
            try decoder().decode(try parse(noControlID))
        }
        // One row's unreadable OBX-14 costs that row only: the others are stored, the AA names it.
        let badTime = hl7(
            "MSH|^~\\&|MON|ICU|||20261129101500||ORU^R01|B-1|P|2.6",
            "OBX|1|NM|147842^MDC_ECG_HEART_RATE^MDC|1.1.1.1|80|264864^MDC_DIM_BEAT_PER_MIN^MDC|||||R|||20261332101500",
            "OBX|2|NM|150456^MDC_PULS_OXIM_SAT_O2^MDC|1.1.1.2|97|262688^MDC_DIM_PERCENT^MDC|||||R|||20261129101455"
        )
        let decoded = try decoder().decode(try parse(badTime))
        #expect(decoded.observations.map(\.value) == [97])
        #expect(decoded.skipped == [SkippedObservation(segmentSequence: 1, field: 14, reason: "OBX-14 '20261332101500' is not a usable time (date or time out of range)")])
        let badMessageTime = hl7(
            "MSH|^~\\&|MON|ICU|||2026-11-29||ORU^R01|B-3|P|2.6",
            "OBX|1|NM|147842^MDC_ECG_HEART_RATE^MDC|1.1.1.1|80|264864^MDC_DIM_BEAT_PER_MIN^MDC|||||R|||20261129101455"
        )
        let error = try #require(throws: PCD01DecodeError.self) { try decoder().decode(try parse(badMessageTime)) }
        #expect(error == .invalidValue(segment: "MSH", sequence: 1, field: 7, value: "2026-11-29", reason: "not an HL7 timestamp YYYYMMDDHHMMSS[.S to .SSSSSS][+/-ZZZZ]"))
        #expect(error.acknowledgmentCode == .AE)
        #expect(error.errorDetail.code == .dataTypeError)
        #expect(error.errorDetail.field == 7)
        #expect(error.errorDetail.segmentID == "MSH")

        let noTimeAnywhere = hl7(
            "MSH|^~\\&|MON|ICU|||||ORU^R01|B-2|P|2.6",
            "OBX|1|NM|147842^MDC_ECG_HEART_RATE^MDC|1.1.1.1|80|264864^MDC_DIM_BEAT_PER_MIN^MDC|||||R|||||||DEV"
        )
        let missing = try #require(throws: PCD01DecodeError.self) { try decoder().decode(try parse(noTimeAnywhere)) }
        #expect(missing.errorDetail.code == .requiredFieldMissing)
    }

    @Test func decodesEverySimulatedReportToTheValuesItCarries() throws {
        var monitor = SimulatedMonitor(index: 7)
        for step in 0..<50 {
            let time = Timestamp(microsecondsSinceEpoch: 1_800_000_000_000_000 + Int64(step) * 1_000_123)
            let report = monitor.nextReport(at: time, criticalKind: step % 10 == 0 ? .spo2 : nil)
            let decoded = try decoder().decode(try parse(report.bytes))
            #expect(decoded.header.controlID == report.controlID)
            #expect(decoded.observations.map(\.kind) == report.values.map(\.kind))
            #expect(decoded.observations.map(\.value) == report.values.map(\.value))
            #expect(decoded.observations.allSatisfy { $0.time.microsecondsSinceEpoch / 1000 == time.microsecondsSinceEpoch / 1000 })
            #expect(decoded.observations.allSatisfy { $0.deviceID == monitor.deviceID && $0.patient == monitor.patient })
            let spo2 = try #require(decoded.observations.first { $0.kind == .spo2 })
            #expect(criticalFlags([spo2], profileID: decoded.profileID) == [step % 10 == 0])
        }
    }

    @Test("a value that overflows when converted to its canonical unit is skipped, not stored as infinity")
    func aValueOverflowingInConversionIsSkipped() throws {
        let huge = "1" + String(repeating: "0", count: 308)  // 1e308: finite, but not in mmHg
        let message = try parse(hl7(
            "MSH|^~\\&|MON|ICU|||20261129101500+0000||ORU^R01|HUGE-1|P|2.6",
            "OBX|1|NM|150021^MDC_PRESS_BLD_NONINV_SYS^MDC|1.1.1.1|\(huge)|kPa^kPa^UCUM|||||R|||||||DEV-H",
            "OBX|2|NM|150022^MDC_PRESS_BLD_NONINV_DIA^MDC|1.1.1.2|10|kPa^kPa^UCUM|||||R|||||||DEV-H"
        ))
        let decoded = try decoder().decode(message)
        #expect(decoded.observations.map(\.kind) == [.nibpDiastolic])
        #expect(decoded.skipped.map(\.segmentSequence) == [1])
        #expect(decoded.skipped.first?.field == 5)
        #expect(decoded.observations.allSatisfy { $0.value.isFinite })
    }
}
