import Testing
import VitalSigns
@testable import Decoders

@Suite struct FHIRObservationDecoderTests {
    /// Modelled on the R4 vital-signs heart-rate example, with a full date-time and a device.
    static let heartRate = """
        {
          "resourceType": "Observation",
          "id": "heart-rate",
          "meta": { "profile": ["http://hl7.org/fhir/StructureDefinition/vitalsigns"] },
          "identifier": [{ "system": "urn:ietf:rfc:3986", "value": "urn:uuid:187e0c12-8dd2-67e2-99b2-bf273c878281" }],
          "status": "final",
          "category": [{ "coding": [{ "system": "http://terminology.hl7.org/CodeSystem/observation-category", "code": "vital-signs", "display": "Vital Signs" }] }],
          "code": { "coding": [{ "system": "http://loinc.org", "code": "8867-4", "display": "Heart rate" }], "text": "Heart rate" },
          "subject": { "identifier": { "system": "urn:oid:2.16.840.1.113883.2.1.4.1", "value": "MRN-1" } },
          "effectiveDateTime": "2026-11-29T09:00:00.250+02:00",
          "device": { "identifier": { "system": "urn:ietf:rfc:3986", "value": "0012A1FFFE000001" } },
          "valueQuantity": { "value": 44, "unit": "beats/minute", "system": "http://unitsofmeasure.org", "code": "/min" }
        }
        """

    @Test func aHeartRateObservation() throws {
        let frame = try fhirDecoder.decode(bytes(Self.heartRate), context: frameContext())
        let observation = try #require(frame.observations.first)
        #expect(frame.observations.count == 1)
        #expect(frame.statusReports.isEmpty)
        #expect(frame.messageID == "urn:uuid:187e0c12-8dd2-67e2-99b2-bf273c878281")
        #expect(observation.kind == .heartRate)
        #expect(observation.value == 44)
        #expect(observation.unit == .beatsPerMinute)
        #expect(observation.code == ObservationCode(code: "8867-4", text: "Heart rate", system: "LN"))
        #expect(observation.time == utc(2026, 11, 29, 7, 0, 0).adding(milliseconds: 250))
        #expect(observation.patient == PatientIdentifier(id: "MRN-1", assigningAuthority: "2.16.840.1.113883.2.1.4.1"))
        #expect(observation.deviceID == "0012A1FFFE000001")
        #expect(observation.location == "ICU^1^A")
        #expect(observation.status == .final)
        #expect(criticalFlags([observation], profileID: "fhir-observation") == [false])  // the adult band starts at 40/min
    }

    @Test("a correction of a result keeps its identifier but is another message: its status or version is part of the id")
    func aCorrectionIsNotARedeliveryOfTheOriginal() throws {
        let preliminary = Self.heartRate.replacingOccurrences(of: #""status": "final""#, with: #""status": "preliminary""#)
        let preliminaryID = try fhirDecoder.decode(bytes(preliminary), context: frameContext()).messageID
        #expect(preliminaryID?.hasPrefix("urn:uuid:187e0c12-8dd2-67e2-99b2-bf273c878281#preliminary#") == true)
        let amended = Self.heartRate.replacingOccurrences(of: #""status": "final""#, with: #""status": "amended""#)
        let amendedID = try fhirDecoder.decode(bytes(amended), context: frameContext()).messageID
        #expect(amendedID?.hasPrefix("urn:uuid:187e0c12-8dd2-67e2-99b2-bf273c878281#amended#") == true)
        // A second amendment (another value) is another message; a redelivery of the first is not.
        let amendedAgain = amended.replacingOccurrences(of: #""value": 44"#, with: #""value": 46"#)
        #expect(amendedAgain != amended)
        #expect(try fhirDecoder.decode(bytes(amendedAgain), context: frameContext()).messageID != amendedID)
        #expect(try fhirDecoder.decode(bytes(amended), context: frameContext()).messageID == amendedID)
        let versioned = amended.replacingOccurrences(of: #""meta": {"#, with: #""meta": { "versionId": "3","#)
        #expect(try fhirDecoder.decode(bytes(versioned), context: frameContext()).messageID == "urn:uuid:187e0c12-8dd2-67e2-99b2-bf273c878281/_history/3")
    }

    @Test func aBloodPressurePanelGivesOneObservationPerComponent() throws {
        let panel = """
            {
              "resourceType": "Observation", "id": "blood-pressure", "status": "final",
              "code": { "coding": [{ "system": "http://loinc.org", "code": "85354-9", "display": "Blood pressure panel with all children optional" }] },
              "subject": { "reference": "Patient/example" },
              "effectiveDateTime": "2026-11-29T08:45:00Z",
              "device": { "reference": "Device/nibp-7" },
              "component": [
                { "code": { "coding": [{ "system": "http://loinc.org", "code": "8480-6", "display": "Systolic blood pressure" }] },
                  "valueQuantity": { "value": 230, "unit": "mmHg", "system": "http://unitsofmeasure.org", "code": "mm[Hg]" } },
                { "code": { "coding": [{ "system": "http://loinc.org", "code": "8462-4", "display": "Diastolic blood pressure" }] },
                  "valueQuantity": { "value": 95, "unit": "mmHg", "system": "http://unitsofmeasure.org", "code": "mm[Hg]" } },
                { "code": { "coding": [{ "system": "http://loinc.org", "code": "8478-0", "display": "Mean blood pressure" }] },
                  "valueQuantity": { "value": 140, "unit": "mmHg", "system": "http://unitsofmeasure.org", "code": "mm[Hg]" } }
              ]
            }
            """
        let frame = try fhirDecoder.decode(bytes(panel), context: frameContext())
        #expect(frame.observations.map(\.kind) == [.nibpSystolic, .nibpDiastolic, .nibpMean])
        #expect(frame.observations.map(\.value) == [230, 95, 140])
        #expect(criticalFlags(frame.observations, profileID: "fhir-observation") == [true, false, false])
        #expect(frame.observations.allSatisfy { $0.deviceID == "nibp-7" && $0.patient == PatientIdentifier(id: "example") })
        #expect(frame.observations.allSatisfy { $0.time == utc(2026, 11, 29, 8, 45, 0) && $0.unit == .millimetreOfMercury })
        #expect(frame.messageID == "blood-pressure")
    }

    @Test func fahrenheitAndKilopascalAreConvertedToCanonicalUnits() throws {
        let temperature = observation(code: "8310-5", value: "101.3", unit: #""unit": "degF", "code": "[degF]""#)
        let frame = try fhirDecoder.decode(bytes(temperature), context: frameContext())
        let celsius = try #require(frame.observations.first)
        #expect(celsius.kind == .temperature)
        #expect(celsius.unit == .degreeCelsius)
        #expect(abs(celsius.value - 38.5) < 1e-9)

        let systolic = observation(code: "8480-6", value: "16", unit: #""unit": "kPa", "code": "kPa""#)
        let pressure = try #require(try fhirDecoder.decode(bytes(systolic), context: frameContext()).observations.first)
        #expect(pressure.unit == .millimetreOfMercury)
        #expect(abs(pressure.value - 120.01) < 0.01)
    }

    @Test func mdcCodingsAndFractionsOfOne() throws {
        let spo2 = """
            { "resourceType": "Observation", "status": "final",
              "code": { "coding": [
                { "system": "http://example.org/vendor", "code": "SAT" },
                { "system": "urn:iso:std:iso:11073:10101", "code": "150456", "display": "MDC_PULS_OXIM_SAT_O2" } ] },
              "effectiveInstant": "2026-11-29T09:00:01.5Z",
              "valueQuantity": { "value": 0.97, "unit": "ratio", "system": "http://unitsofmeasure.org", "code": "1" } }
            """
        let frame = try fhirDecoder.decode(bytes(spo2), context: frameContext())
        let observation = try #require(frame.observations.first)
        #expect(observation.kind == .spo2)
        #expect(observation.code == ObservationCode(code: "150456", text: "MDC_PULS_OXIM_SAT_O2", system: "MDC"))
        #expect(abs(observation.value - 97) < 1e-9)
        #expect(observation.time == utc(2026, 11, 29, 9, 0, 1).adding(milliseconds: 500))
        // No device in the payload: the topic's.
        #expect(observation.deviceID == "topic-device")
        #expect(observation.patient == nil)
        #expect(frame.messageID == nil)
    }

    @Test func aBundleOfSeveralWithItsPatientAndDevice() throws {
        let bundle = """
            {
              "resourceType": "Bundle", "id": "b-1",
              "identifier": { "system": "urn:ietf:rfc:3986", "value": "urn:uuid:0c3151bd-1cbf-4d64-b04d-cd9187a4c6e0" },
              "type": "message",
              "entry": [
                { "fullUrl": "urn:uuid:msg", "resource": { "resourceType": "MessageHeader", "eventCoding": { "code": "vitals" } } },
                { "fullUrl": "urn:uuid:patient-1", "resource": { "resourceType": "Patient",
                    "identifier": [{ "system": "http://hospital.example.sd/mrn", "value": "KTH-77" }] } },
                { "fullUrl": "urn:uuid:device-1", "resource": { "resourceType": "Device", "id": "mon-3",
                    "identifier": [{ "value": "0012A1FFFE000003" }] } },
                { "resource": \(observation(code: "8867-4", value: "72", unit: #""code": "/min""#, references: true)) },
                { "resource": \(observation(code: "59408-5", value: "97", unit: #""code": "%""#, references: true)) },
                { "resource": \(observation(code: "9279-1", value: "18", unit: #""code": "/min""#, references: true)) },
                { "resource": \(observation(code: "8867-4", value: "300", unit: #""code": "/min""#, status: "entered-in-error")) }
              ]
            }
            """
        let frame = try fhirDecoder.decode(bytes(bundle), context: frameContext())
        #expect(frame.messageID == "urn:uuid:0c3151bd-1cbf-4d64-b04d-cd9187a4c6e0")
        #expect(frame.observations.map(\.kind) == [.heartRate, .spo2, .respirationRate])
        #expect(frame.observations.map(\.value) == [72, 97, 18])
        #expect(frame.observations.allSatisfy {
            $0.patient == PatientIdentifier(id: "KTH-77", assigningAuthority: "http://hospital.example.sd/mrn")
                && $0.deviceID == "0012A1FFFE000003"
        })
    }

    @Test(arguments: [("final", ObservationStatus.final), ("amended", .corrected), ("corrected", .corrected), ("preliminary", .preliminary)])
    func storedStatuses(_ status: String, _ expected: ObservationStatus) throws {
        let payload = observation(code: "8867-4", value: "80", unit: #""code": "/min""#, status: status)
        let frame = try fhirDecoder.decode(bytes(payload), context: frameContext())
        #expect(frame.observations.map(\.status) == [expected])
    }

    @Test(arguments: ["registered", "cancelled", "entered-in-error", "unknown"])
    func statusesWithoutAValueToStore(_ status: String) throws {
        let payload = observation(code: "8867-4", value: "80", unit: #""code": "/min""#, status: status)
        let frame = try fhirDecoder.decode(bytes(payload), context: frameContext())
        #expect(frame.observations.isEmpty)
        #expect(frame.statusReports.isEmpty)
    }

    @Test func aDataAbsentReasonIsANoValueReport() throws {
        let payload = """
            { "resourceType": "Observation", "status": "final",
              "code": { "coding": [{ "system": "http://loinc.org", "code": "59408-5" }] },
              "effectiveDateTime": "2026-11-29T10:00:00+02:00",
              "device": { "identifier": { "value": "OXI-1" } },
              "dataAbsentReason": { "coding": [{ "system": "http://terminology.hl7.org/CodeSystem/data-absent-reason", "code": "error" }] } }
            """
        let frame = try fhirDecoder.decode(bytes(payload), context: frameContext())
        #expect(frame.observations.isEmpty)
        #expect(frame.statusReports == [DeviceStatusReport(condition: .noValue, deviceID: "OXI-1", time: utc(2026, 11, 29, 8, 0, 0), detail: "59408-5: error", location: "ICU^1^A")])
    }

    @Test func aPanelComponentWithoutValueIsReportedBesideTheOthers() throws {
        let payload = """
            { "resourceType": "Observation", "status": "final",
              "code": { "coding": [{ "system": "http://loinc.org", "code": "85354-9" }] },
              "component": [
                { "code": { "coding": [{ "system": "http://loinc.org", "code": "8480-6" }] }, "valueQuantity": { "value": 118, "code": "mm[Hg]" } },
                { "code": { "coding": [{ "system": "http://loinc.org", "code": "8462-4" }] }, "dataAbsentReason": { "text": "cuff leak" } } ] }
            """
        let frame = try fhirDecoder.decode(bytes(payload), context: frameContext())
        #expect(frame.observations.map(\.kind) == [.nibpSystolic])
        #expect(frame.statusReports.map(\.detail) == ["8462-4: cuff leak"])
        // No effective time: the arrival time.
        #expect(frame.observations.first?.time == arrival)
    }

    @Test func aPeriodStartsItsTimeAndAnUnknownCodeIsKeptWithKindZero() throws {
        let payload = """
            { "resourceType": "Observation", "status": "final",
              "code": { "coding": [{ "system": "http://loinc.org", "code": "8302-2", "display": "Body height" }] },
              "effectivePeriod": { "start": "2026-11-29T06:30:00-01:00", "end": "2026-11-29T06:31:00-01:00" },
              "valueQuantity": { "value": 172, "unit": "cm", "system": "http://unitsofmeasure.org", "code": "cm" } }
            """
        let observation = try #require(try fhirDecoder.decode(bytes(payload), context: frameContext()).observations.first)
        #expect(observation.kind == .unknown)
        #expect(observation.code == ObservationCode(code: "8302-2", text: "Body height", system: "LN"))
        #expect(observation.value == 172)
        #expect(observation.unit == UCUMUnit(ucum: "cm"))
        #expect(observation.time == utc(2026, 11, 29, 7, 30, 0))
        #expect(criticalFlags([observation], profileID: "fhir-observation") == [false])
    }

    // MARK: Rejections

    static let rejections: [(payload: String, reason: String, detail: String)] = [
        ("HR=72", "invalid_json", "the payload is not JSON"),
        ("[1, 2]", "invalid_json", "not an object (found a list)"),
        (#"{"resourceType": "Patient", "id": "p"}"#, "unsupported_resource", "resourceType 'Patient' is not accepted"),
        (#"{"status": "final"}"#, "missing_field", "resourceType is missing"),
        (#"{"resourceType": 7}"#, "invalid_field", "resourceType must be a text, found a number"),
        (#"{"resourceType": "Bundle", "type": "searchset", "entry": []}"#, "unsupported_bundle_type", "Bundle.type 'searchset' is not accepted"),
        (#"{"resourceType": "Bundle", "entry": []}"#, "missing_field", "Bundle.type is missing"),
        (#"{"resourceType": "Bundle", "type": "collection", "entry": {}}"#, "invalid_field", "Bundle.entry must be a list"),
        (observation(code: "8867-4", value: nil, unit: ""), "missing_value", "Observation: no valueQuantity, component or dataAbsentReason"),
        (observation(code: "8867-4", value: #""72""#, unit: #""code": "/min""#), "invalid_value", "Observation.valueQuantity.value must be a number, found a text"),
        (observation(code: "8867-4", value: "72", unit: #""code": "mm[Hg]""#), "unknown_unit", "unit 'mm[Hg]' is not a unit of heart_rate (stored in /min)"),
        (observation(code: "8867-4", value: "72", unit: #""unit": "beats per fortnight""#), "unknown_unit", "'beats per fortnight' is not a known unit of heart_rate"),
        (observation(code: "8867-4", value: "72", unit: ""), "missing_unit", "a heart_rate value needs a unit"),
        (observation(code: "8480-6", value: "1e308", unit: #""code": "kPa""#), "invalid_value", "1e+308 kPa is out of range in mm[Hg]"),
        (observation(code: "8867-4", value: "72", unit: #""code": "/min""#, time: "1999-07-02"), "invalid_time", "effectiveDateTime '1999-07-02' is a date without a time of day"),
        (observation(code: "8867-4", value: "72", unit: #""code": "/min""#, time: "2026-11"), "invalid_time", "a date without a time of day"),
        (observation(code: "8867-4", value: "72", unit: #""code": "/min""#, time: "2026-11-29T09:00:00"), "invalid_time", "without an offset"),
        (observation(code: "8867-4", value: "72", unit: #""code": "/min""#, time: "2026-02-30T09:00:00Z"), "invalid_time", "out of range"),
        (observation(code: "8867-4", value: "72", unit: #""code": "/min""#, time: "29/11/2026 09:00"), "invalid_time", "not an RFC 3339 date-time"),
        (#"{"resourceType": "Observation", "status": "final", "valueQuantity": {"value": 1, "code": "/min"}}"#, "missing_field", "Observation.code: no coding with a code"),
        (#"{"resourceType": "Observation", "code": {"coding": [{"code": "8867-4"}]}}"#, "missing_field", "Observation.status is missing"),
        (observation(code: "8867-4", value: "72", unit: #""code": "/min""#, status: "done"), "invalid_field", "Observation.status 'done' is not an observation status"),
        (observation(code: "8867-4", value: "72", unit: #""code": "/min", "comparator": "<""#), "invalid_value", "comparator '<' is a bound"),
        (#"{"resourceType": "Observation", "status": "final", "code": {"coding": [{"code": "8867-4", "system": "http://loinc.org"}]}, "valueString": "fast"}"#,
         "invalid_value", "Observation.valueString: only valueQuantity carries a vital sign"),
        (#"{"resourceType": "Observation", "status": "final", "code": {"coding": [{"code": "85354-9", "system": "http://loinc.org"}]}, "component": [{"code": {"coding": [{"code": "8480-6", "system": "http://loinc.org"}]}}]}"#,
         "missing_value", "Observation.component[0]: no valueQuantity and no dataAbsentReason"),
        (#"{"resourceType": "Observation", "status": "final", "code": {"coding": [{"code": "8867-4", "system": "http://loinc.org"}]}, "subject": {"reference": "urn:uuid:nobody"}, "valueQuantity": {"value": 1, "code": "/min"}}"#,
         "invalid_field", "Observation.subject.reference names no Patient (Patient/<id> or a Patient in the bundle)"),
    ]

    @Test(arguments: rejections)
    func everyRejectionSaysWhy(_ payload: String, _ reason: String, _ detail: String) {
        let error = rejection(fhirDecoder, payload)
        #expect(error?.reason == reason)
        #expect(error?.detail.contains(detail) == true, "\(error?.detail ?? "accepted")")
    }

    @Test func oneBadObservationRejectsTheBundleAndNamesItsEntry() {
        let bundle = """
            { "resourceType": "Bundle", "type": "collection", "entry": [
                { "resource": \(observation(code: "8867-4", value: "72", unit: #""code": "/min""#)) },
                { "resource": { "resourceType": "Patient", "id": "p" } },
                { "resource": \(observation(code: "8310-5", value: "38", unit: #""code": "kPa""#)) } ] }
            """
        let error = rejection(fhirDecoder, bundle)
        #expect(error?.reason == "unknown_unit")
        #expect(error?.detail.hasPrefix("Bundle.entry[2] (Observation).valueQuantity: unit 'kPa' is not a unit of temperature") == true, "\(error?.detail ?? "accepted")")
    }

    @Test func patientReferencesStayOutOfErrorDetails() {
        let bundle = """
            { "resourceType": "Bundle", "type": "collection", "entry": [
                { "fullUrl": "urn:uuid:KTH-SECRET-77", "resource": { "resourceType": "Device", "id": "d" } },
                { "resource": { "resourceType": "Observation", "status": "final",
                    "code": { "coding": [{ "system": "http://loinc.org", "code": "8867-4" }] },
                    "subject": { "reference": "urn:uuid:KTH-SECRET-77" }, "valueQuantity": { "value": 1, "code": "/min" } } } ] }
            """
        let error = rejection(fhirDecoder, bundle)
        #expect(error?.detail == "Bundle.entry[1] (Observation).subject.reference names a Device, not a Patient")
        #expect(error?.detail.contains("SECRET") == false)
    }

    @Test func aDeviceIsNeeded() {
        let payload = observation(code: "8867-4", value: "72", unit: #""code": "/min""#)
        let error = rejection(fhirDecoder, payload, context: frameContext(device: nil))
        #expect(error?.reason == "missing_device")
    }
}

/// A vital-signs Observation with `value` (JSON text, nil for none) and the valueQuantity's
/// unit members; `references` points subject and device at the bundle's Patient and Device.
func observation(
    code: String, value: String?, unit: String, status: String = "final",
    time: String = "2026-11-29T09:00:00Z", references: Bool = false
) -> String {
    let quantity = value.map { #", "valueQuantity": { "value": \#($0)\#(unit.isEmpty ? "" : ", " + unit) }"# } ?? ""
    let links = references ? #", "subject": { "reference": "urn:uuid:patient-1" }, "device": { "reference": "urn:uuid:device-1" }"# : ""
    return """
        { "resourceType": "Observation", "status": "\(status)",
          "code": { "coding": [{ "system": "http://loinc.org", "code": "\(code)" }] },
          "effectiveDateTime": "\(time)"\(links)\(quantity) }
        """
}

@Suite struct RFC3339TimeTests {
    @Test(arguments: [
        ("2026-11-29T09:00:00Z", 0),
        ("2026-11-29t09:00:00z", 0),
        ("2026-11-29 11:00:00+02:00", 0),
        ("2026-11-29T08:30:00-00:30", 0),
        ("2026-11-29T09:00:00.1234567Z", 123_456),
        ("2026-11-29T09:00:00.5+00:00", 500_000),
    ])
    func instants(_ text: String, _ micros: Int64) throws {
        let time = try RFC3339Time.parse(text)
        #expect(time.microsecondsSinceEpoch == utc(2026, 11, 29, 9, 0, 0).microsecondsSinceEpoch + micros)
    }

    @Test func aLeapDay() throws {
        #expect(try RFC3339Time.parse("2028-02-29T00:00:00Z") == utc(2028, 2, 29, 0, 0, 0))
        #expect(throws: RFC3339Time.Problem.outOfRange) { try RFC3339Time.parse("2027-02-29T00:00:00Z") }
    }

    @Test(arguments: [
        ("2026", RFC3339Time.Problem.dateOnly), ("2026-11", .dateOnly), ("2026-11-29", .dateOnly),
        ("2026-11-29T09:00:00", .missingOffset), ("2026-11-29T09:00:00.25", .missingOffset),
        ("2026-11-29T09:00Z", .malformed), ("2026-11-29T09:00:00+0200", .malformed), ("2026-11-29T09:00:00Z ", .malformed),
        ("2026-11-29T09:00:00.Z", .malformed), ("26-11-29T09:00:00Z", .malformed), ("", .malformed),
        ("2026-11-29T24:00:00Z", .outOfRange), ("2026-11-29T09:00:00+15:00", .outOfRange), ("1899-12-31T23:59:59Z", .outOfRange),
    ])
    func problems(_ text: String, _ problem: RFC3339Time.Problem) {
        #expect(throws: problem) { try RFC3339Time.parse(text) }
    }
}
