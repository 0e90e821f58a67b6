import Foundation
import Testing
import VitalSigns
@testable import Decoders

@Suite struct GatewayJSONDecoderTests {
    static let profile = shippedProfile("generic-mqtt-gateway", else: .gatewayJSON)
    static let decoder = GatewayJSONDecoder(profile: profile)
    static let context = FrameContext(deviceID: "0012A1FFFE000001", receivedAt: Timestamp(microsecondsSinceEpoch: 0))

    /// The example of docs/formats/mqtt-gateway-json.md.
    static let example = """
        {
          "version": 1,
          "id": "0012A1FFFE000001-000000042",
          "device": "0012A1FFFE000001",
          "patient": { "id": "MRN-1", "authority": "KTH" },
          "location": "ICU^1^A",
          "time": "2026-11-29T09:00:00.250+02:00",
          "observations": [
            { "code": "150456", "system": "MDC", "value": 97, "unit": "%" },
            { "code": "8867-4", "system": "LN", "value": 72, "unit": "/min", "time": "2026-11-29T09:00:00Z", "status": "F" }
          ]
        }
        """

    func decode(_ text: String, device: String? = "0012A1FFFE000001") throws(FrameDecodeError) -> DecodedFrame {
        try Self.decoder.decode(Array(text.utf8), context: FrameContext(deviceID: device, receivedAt: Timestamp(microsecondsSinceEpoch: 0)))
    }

    func payload(_ observations: String, extra: String = #""time":"2026-11-29T07:00:00Z""#) -> String {
        #"{\#(extra),"observations":[\#(observations)]}"#
    }

    @Test func decodesTheDocumentedExample() throws {
        #expect(Self.profile.protocolFamily == .gatewayJSON)
        let frame = try decode(Self.example)
        #expect(frame.messageID == "0012A1FFFE000001-000000042")
        #expect(frame.observations.count == 2)
        let spo2 = try #require(frame.observations.first)
        #expect(spo2.kind == .spo2)
        #expect(spo2.value == 97)
        #expect(spo2.unit == .percent)
        #expect(spo2.deviceID == "0012A1FFFE000001")
        #expect(spo2.patient == PatientIdentifier(id: "MRN-1", assigningAuthority: "KTH"))
        #expect(spo2.location == "ICU^1^A")
        // 09:00:00.250+02:00 is 07:00:00.250Z.
        #expect(spo2.time == Timestamp(microsecondsSinceEpoch: 1_795_935_600_250_000))
        let heartRate = frame.observations[1]
        #expect(heartRate.kind == .heartRate)
        #expect(heartRate.time == Timestamp(microsecondsSinceEpoch: 1_795_942_800_000_000))
    }

    @Test func convertsUnitsAndFlagsCriticalValues() throws {
        let frame = try decode(payload("""
            {"code":"150364","system":"MDC","value":104,"unit":"[degF]"},
            {"code":"150021","system":"MDC","value":12,"unit":"kPa"},
            {"code":"150456","system":"MDC","value":80,"unit":"MDC_DIM_PERCENT"}
            """))
        #expect(frame.observations.map(\.unit) == [.degreeCelsius, .millimetreOfMercury, .percent])
        #expect(abs(frame.observations[0].value - 40) < 1e-9)
        #expect(abs(frame.observations[1].value - 90.007_389) < 1e-5)
        #expect(criticalFlags(frame.observations, profileID: Self.profile.id) == [false, false, true])
    }

    @Test("a value the vital cannot have (a device's no-value marker) is refused as implausible_value, not stored as a critical reading")
    func implausibleValuesAreRefused() throws {
        for (code, value, unit) in [("147842", "65535", "/min"), ("150456", "-1", "%"), ("150456", "250", "%")] {
            let error = #expect(throws: FrameDecodeError.self) {
                try decode(payload(#"{"code":"\#(code)","system":"MDC","value":\#(value),"unit":"\#(unit)"}"#))
            }
            #expect(error?.reason == "implausible_value", "\(code) \(value)")
        }
        // Zero is a heart rate (asystole), and is stored.
        #expect(try decode(payload(#"{"code":"147842","system":"MDC","value":0,"unit":"/min"}"#)).observations.first?.value == 0)
    }

    @Test func theTopicsDeviceWinsAndThePayloadsServesWithoutOne() throws {
        let text = payload(#"{"code":"150456","system":"MDC","value":97,"unit":"%"}"#, extra: #""device":"FROM-PAYLOAD","time":"2026-11-29T07:00:00Z""#)
        #expect(try decode(text, device: "FROM-TOPIC").observations.first?.deviceID == "FROM-TOPIC")
        #expect(try decode(text, device: nil).observations.first?.deviceID == "FROM-PAYLOAD")
    }

    @Test func keepsUnknownCodesAndSkipsValuelessStatuses() throws {
        let frame = try decode(payload("""
            {"code":"999999","system":"MDC","value":5,"unit":"mL"},
            {"code":"150456","system":"MDC","value":0,"unit":"%","status":"X"}
            """))
        #expect(frame.observations.count == 1)
        #expect(frame.observations[0].kind == .unknown)
        #expect(frame.observations[0].unit == UCUMUnit(ucum: "mL"))
    }

    @Test func messagesWithoutAnIDAreIdentifiedByTheirContent() throws {
        let text = payload(#"{"code":"150456","system":"MDC","value":97,"unit":"%"}"#)
        let first = try decode(text).messageID
        #expect(first?.hasPrefix("h:") == true)
        #expect(first?.count == 18)
        #expect(try decode(text).messageID == first)
        #expect(try decode(text.replacingOccurrences(of: "97", with: "98")).messageID != first)
    }

    @Test(arguments: [
        ("not json at all", "invalid_json", ""),
        ("[1,2,3]", "invalid_json", "not an object (found a list)"),
        (#"{"version":2,"observations":[]}"#, "unsupported_version", "version: 2"),
        (#"{"time":"2026-11-29T07:00:00Z"}"#, "missing_field", "observations: required"),
        (#"{"observations":[{"code":"150456","system":"MDC","value":97,"unit":"%"}]}"#, "missing_field", "observations[0].time"),
        (#"{"time":"2026-11-29T07:00:00Z","observations":[{"system":"MDC","value":97,"unit":"%"}]}"#, "missing_field", "observations[0].code"),
        (#"{"time":"2026-11-29T07:00:00Z","observations":[{"code":"150456","system":"MDC","value":"97","unit":"%"}]}"#, "invalid_value", "observations[0].value: expected a number"),
        (#"{"time":"2026-11-29T07:00:00Z","observations":[{"code":"150456","system":"MDC","value":null,"unit":"%"}]}"#, "missing_field", "observations[0].value"),
        (#"{"time":"2026-11-29T07:00:00Z","observations":[{"code":"150456","system":"MDC","value":97,"unit":"%","status":"Q"}]}"#, "invalid_value", "observations[0].status"),
        (#"{"time":"2026-11-29 07:00:00","observations":[]}"#, "invalid_time", "time:"),
        (#"{"time":"2026-02-30T07:00:00Z","observations":[]}"#, "invalid_time", "out of range"),
        (#"{"time":"2026-11-29T07:00:00Z","observations":[{"code":"150456","system":"MDC","value":97,"unit":"mm[Hg]"}]}"#, "unknown_unit", "observations[0]: unit 'mm[Hg]' is not a unit of spo2"),
        (#"{"time":"2026-11-29T07:00:00Z","observations":[{"code":"150456","system":"MDC","value":97}]}"#, "missing_unit", "observations[0]: a spo2 value needs a unit"),
        (#"{"time":"2026-11-29T07:00:00Z","patient":{"authority":"KTH"},"observations":[]}"#, "missing_field", "patient.id"),
        (#"{"version":1 "observations":[]}"#, "invalid_json", "expected ',' or '}' after object member, found '\"' at byte 13"),
        (#"{"time":"2026-11-29T07:00:00Z","observations":[{"code":"150456","system":"MDC","value":97,"value":98,"unit":"%"}]}"#,
         "invalid_json", "duplicate key 'value' in object"),
        (#"{"time":"2026-11-29T07:00:00Z","observations":[{"code":"150456","system":"MDC","value":1e999,"unit":"%"}]}"#,
         "invalid_json", "number 1e999 is out of the range of a 64-bit float"),
        (#"{"version":"1","observations":[]}"#, "invalid_value", "version: expected a number, found a text"),
        (#"{"version":1.5,"observations":[]}"#, "unsupported_version", "version: 1.5"),
        (#"{"time":"2026-11-29T07:00:00Z","observations":{}}"#, "invalid_value", "observations: expected a list, found an object"),
        (#"{"time":"2026-11-29T07:00:00Z","observations":[97]}"#, "invalid_value", "observations[0]: expected an object, found a number"),
        (#"{"time":"2026-11-29T07:00:00Z","patient":"MRN-1","observations":[]}"#, "invalid_value", "patient: expected an object, found a text"),
        (#"{"time":"2026-11-29T07:00:00Z","observations":[{"code":"150456","system":"MDC","value":97,"unit":"%"},"#
            + #"{"code":"150456","system":"MDC","value":98,"unit":"%"},{"code":"150456","system":"MDC","value":true,"unit":"%"}]}"#,
         "invalid_value", "observations[2].value: expected a number, found a boolean"),
        (#"{"time":"2026-11-29T07:00:00Z","observations":[{"code":150456,"system":"MDC","value":97,"unit":"%"}]}"#,
         "invalid_value", "observations[0].code: expected a string, found a number"),
    ])
    func rejectsWithAReasonAndTheField(_ text: String, _ reason: String, _ detail: String) {
        #expect {
            try decode(text)
        } throws: { error in
            guard let error = error as? FrameDecodeError else { return false }
            return error.reason == reason && (detail.isEmpty || error.detail.contains(detail))
        }
    }

    @Test func optionalFieldsSentAsNullAreAbsent() throws {
        let text = payload(#"{"code":"150456","system":"MDC","value":97,"unit":"%","status":null,"time":null}"#,
                           extra: #""version":null,"id":null,"patient":null,"location":null,"time":"2026-11-29T07:00:00Z""#)
        let frame = try decode(text)
        #expect(frame.messageID?.hasPrefix("h:") == true)
        let observation = try #require(frame.observations.first)
        #expect(observation.patient == nil && observation.location == nil && observation.status == .final)
        #expect(observation.unit == .percent && observation.time == Timestamp(microsecondsSinceEpoch: 1_795_935_600_000_000))
    }

    @Test("a patient with an empty id names no patient, so the device's or bed's association applies")
    func anEmptyPatientIDNamesNoPatient() throws {
        let frame = try decode(payload(#"{"code":"150456","system":"MDC","value":97,"unit":"%"}"#,
                                       extra: #""time":"2026-11-29T07:00:00Z","patient":{"id":"","authority":"KTH"}"#))
        #expect(frame.observations.count == 1)
        #expect(frame.observations.first?.patient == nil)
    }

    @Test func aPayloadWithoutADeviceAnywhereIsRefused() {
        #expect(throws: FrameDecodeError(reason: "missing_field", detail: "device: required when the topic names no device")) {
            try decode(#"{"time":"2026-11-29T07:00:00Z","observations":[]}"#, device: nil)
        }
    }

    @Test(arguments: [
        ("2026-11-29T07:00:00Z", 1_795_935_600_000_000),
        ("2026-11-29t07:00:00.5z", 1_795_935_600_500_000),
        ("2026-11-29T09:30:00.1234567+02:30", 1_795_935_600_123_456),
        ("2026-11-29T04:00:00-03:00", 1_795_935_600_000_000),
    ] as [(String, Int64)])
    func readsRFC3339Times(_ text: String, _ microseconds: Int64) throws {
        #expect(try RFC3339Time.parse(text) == Timestamp(microsecondsSinceEpoch: microseconds))
    }

    /// Random mutations of valid payloads: every one decodes or is refused with a reason; none traps.
    @Test func fuzzedPayloadsNeverTrap() {
        var generator = SystemRandomNumberGenerator()
        let seeds = [Array(Self.example.utf8), Array(payload(#"{"code":"150364","system":"MDC","value":98.6,"unit":"[degF]"}"#).utf8)]
        let interesting = Array(#"{}[]",:"0123456789.eE+-tfn\ "#.utf8) + [0, 0xff, 0xc3]
        var refused = 0
        for round in 0..<20_000 {
            var bytes = seeds[round % seeds.count]
            for _ in 0..<Int.random(in: 1...6, using: &generator) {
                let position = Int.random(in: 0..<max(1, bytes.count), using: &generator)
                switch Int.random(in: 0..<4, using: &generator) {
                case 0 where !bytes.isEmpty: bytes[position] = interesting.randomElement(using: &generator) ?? 0
                case 1 where !bytes.isEmpty: bytes.remove(at: position)
                case 2: bytes.insert(interesting.randomElement(using: &generator) ?? 0, at: min(position, bytes.count))
                default: bytes = Array(bytes.prefix(position))
                }
            }
            do {
                _ = try Self.decoder.decode(bytes, context: Self.context)
            } catch {
                #expect(!error.reason.isEmpty && !error.detail.isEmpty)
                refused += 1
            }
        }
        #expect(refused > 0)
    }
}
