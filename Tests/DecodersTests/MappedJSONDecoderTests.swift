import DeviceProfiles
import Testing
import VitalSigns
@testable import Decoders

@Suite struct MappedJSONDecoderTests {
    /// The example from the shipped example-vendor-gateway.yaml's header.
    static let vendorPayload = """
        { "deviceId": "HUB-0042", "ts": 1796029200250, "msgId": 42,
          "patient": { "mrn": "MRN-1" }, "bed": "ICU^1^A",
          "hr": 72, "spo2": 97, "rr": 16, "temp_f": 98.6,
          "nibp": { "sys": 120, "dia": 80, "map": 93 } }
        """

    static func vendorDecoder() throws -> MappedJSONDecoder {
        try #require(MappedJSONDecoder(profile: shippedProfile("example-vendor-gateway")))
    }

    /// A decoder for a profile written here, to exercise the other time formats and options.
    static func decoder(_ payloadSection: String) throws -> MappedJSONDecoder {
        let profile = try DeviceProfileLoader.parse("id: test-vendor\nprotocol: mapped-json\n" + payloadSection, file: "test.yaml")
        return try #require(MappedJSONDecoder(profile: profile))
    }

    @Test func theVendorExampleDecodes() throws {
        let frame = try Self.vendorDecoder().decode(bytes(Self.vendorPayload), context: frameContext(device: "topic-device", location: nil))
        #expect(frame.messageID == "42")
        #expect(frame.observations.map(\.kind) == [.heartRate, .spo2, .respirationRate, .temperature, .nibpSystolic, .nibpDiastolic, .nibpMean])
        let values = frame.observations.map(\.value)
        #expect(values[0...2] == [72, 97, 16])
        #expect(abs(values[3] - 37.0) < 1e-9)
        #expect(values[4...] == [120, 80, 93])
        #expect(frame.observations[3].unit == .degreeCelsius)
        let expectedTime = utc(2026, 11, 30, 9, 0, 0).adding(milliseconds: 250)
        for observation in frame.observations {
            #expect(observation.deviceID == "HUB-0042")
            #expect(observation.time == expectedTime)
            #expect(observation.patient == PatientIdentifier(id: "MRN-1", assigningAuthority: "EXAMPLE-HOSPITAL"))
            #expect(observation.location == "ICU^1^A")
            #expect(observation.code.system == "example-vendor-gateway")
        }
        #expect(!criticalFlags(frame.observations, profileID: try Self.vendorDecoder().profile.id).contains(true))
        #expect(frame.observations.map(\.code.code) == ["hr", "spo2", "rr", "temp_f", "nibp.sys", "nibp.dia", "nibp.map"])
    }

    @Test func absentKeysAreSkippedNullsReportedAndCriticalValuesFlagged() throws {
        let payload = #"{ "deviceId": 12345, "ts": 1796029200000, "spo2": 81, "hr": null }"#
        let frame = try Self.vendorDecoder().decode(bytes(payload), context: frameContext(device: nil))
        #expect(frame.observations.map(\.kind) == [.spo2])
        #expect(criticalFlags(frame.observations, profileID: try Self.vendorDecoder().profile.id) == [true])
        #expect(frame.observations.first?.deviceID == "12345")
        #expect(frame.observations.first?.location == "ICU^1^A")  // the context's bed
        #expect(frame.observations.first?.patient == nil)
        #expect(frame.statusReports == [DeviceStatusReport(condition: .noValue, deviceID: "12345", time: utc(2026, 11, 30, 9, 0, 0), detail: "hr is null", location: "ICU^1^A")])
        // A payload that names its patient and bed: the report carries them, as the readings would.
        let named = #"{ "deviceId": "HUB-1", "ts": 1796029200000, "patient": { "mrn": "MRN-7" }, "bed": "ICU^2^B", "hr": null }"#
        let report = try #require(try Self.vendorDecoder().decode(bytes(named), context: frameContext(device: nil)).statusReports.first)
        #expect(report.patient == PatientIdentifier(id: "MRN-7", assigningAuthority: "EXAMPLE-HOSPITAL"))
        #expect(report.location == "ICU^2^B")
    }

    @Test func rfc3339AndEpochSecondsTimesAndOwnCodes() throws {
        let rfc = try Self.decoder("""
            payload:
              time_field: meta.at
              fields:
                pulse: { kind: pulse_rate, unit: bpm, code: "149530", system: MDC }
            """)
        let frame = try rfc.decode(bytes(#"{ "meta": { "at": "2026-11-29T11:00:00+02:00" }, "pulse": 61 }"#), context: frameContext())
        #expect(frame.observations.first?.time == utc(2026, 11, 29, 9, 0, 0))
        #expect(frame.observations.first?.code == ObservationCode(code: "149530", system: "MDC"))
        #expect(frame.observations.first?.deviceID == "topic-device")

        let seconds = try Self.decoder("""
            payload:
              time_field: t
              time_format: epoch_seconds
              fields:
                co2_kpa: { kind: etco2, unit: kPa }
            """)
        let co2 = try #require(try seconds.decode(bytes(#"{ "t": 1796029200.5, "co2_kpa": 5.0 }"#), context: frameContext()).observations.first)
        #expect(co2.time == utc(2026, 11, 30, 9, 0, 0).adding(milliseconds: 500))
        #expect(abs(co2.value - 37.503) < 0.001)
        #expect(co2.unit == .millimetreOfMercury)
    }

    @Test func noTimeFieldMeansTheArrivalTime() throws {
        let decoder = try Self.decoder("payload:\n  fields:\n    hr: { kind: heart_rate, unit: /min }\n")
        let frame = try decoder.decode(bytes(#"{"hr": 70}"#), context: frameContext())
        #expect(frame.observations.first?.time == arrival)
    }

    static let rejections: [(payload: String, reason: String, detail: String)] = [
        ("hr=72", "invalid_json", "the payload is not JSON"),
        (#""hr""#, "invalid_json", "not an object (found a text)"),
        (#"{ "deviceId": "D", "ts": 1796029200000, "hr": "72" }"#, "invalid_value", "'hr' must be a number, found a text"),
        (#"{ "deviceId": "D", "ts": 1796029200000, "nibp": { "sys": true } }"#, "invalid_value", "'nibp.sys' must be a number, found a boolean"),
        (#"{ "deviceId": "D", "ts": 1796029200000, "battery": 80 }"#, "missing_value", "none of the mapped readings is present (expected one of: hr, spo2"),
        (#"{ "deviceId": "D", "hr": 72 }"#, "missing_field", "'ts' (time) is missing"),
        (#"{ "deviceId": "D", "ts": "2026-11-29T09:00:00Z", "hr": 72 }"#, "invalid_time", "'ts' must be a number (epoch_milliseconds), found a text"),
        (#"{ "deviceId": "D", "ts": -5000, "hr": 72 }"#, "invalid_time", "outside 1970–2200 as epoch_milliseconds"),
        (#"{ "deviceId": ["D"], "ts": 1796029200000, "hr": 72 }"#, "invalid_field", "'deviceId' (device id) must be a non-empty text or a whole number, found a list"),
        (#"{ "deviceId": "D", "ts": 1796029200000, "msgId": 4.5, "hr": 72 }"#, "invalid_field", "'msgId' (message id)"),
        (#"{ "ts": 1796029200000, "hr": 72 }"#, "missing_device", "'deviceId' is absent and the topic names none"),
    ]

    @Test(arguments: rejections)
    func everyRejectionSaysWhy(_ payload: String, _ reason: String, _ detail: String) throws {
        let error = rejection(try Self.vendorDecoder(), payload, context: frameContext(device: nil))
        #expect(error?.reason == reason)
        #expect(error?.detail.contains(detail) == true, "\(error?.detail ?? "accepted")")
    }

    @Test func anRFC3339TimeMustBeAnInstant() throws {
        let decoder = try Self.decoder("payload:\n  time_field: at\n  fields:\n    hr: { kind: heart_rate, unit: /min }\n")
        let error = rejection(decoder, #"{ "at": "2026-11-29", "hr": 70 }"#)
        #expect(error?.reason == "invalid_time")
        #expect(error?.detail.contains("'at' '2026-11-29' is a date without a time of day") == true)
    }

    @Test func aProfileWithoutPayloadSectionMakesNoDecoder() {
        #expect(MappedJSONDecoder(profile: shippedProfile("generic-mqtt-gateway")) == nil)
    }
}
