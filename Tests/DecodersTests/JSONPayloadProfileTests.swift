import DeviceProfiles
import Testing
import VitalSigns

@Suite struct JSONPayloadProfileTests {
    @Test func theShippedMQTTProfilesLoad() throws {
        let profiles = try DeviceProfileLoader.loadDirectory(profilesFolder)
        let byID = Dictionary(uniqueKeysWithValues: profiles.map { ($0.id, $0) })
        #expect(byID["fhir-observation"]?.protocolFamily == .fhirR4)
        #expect(byID["generic-mqtt-gateway"]?.protocolFamily == .gatewayJSON)
        #expect(byID["generic-mqtt-gateway"]?.isCritical(.spo2, value: 85, population: .adult) == true)
        #expect(byID["generic-mqtt-gateway"]?.isCritical(.heartRate, value: 190, population: .neonatal) == false)
        let vendor = try #require(byID["example-vendor-gateway"])
        #expect(vendor.protocolFamily == .mappedJSON)
        let mapping = try #require(vendor.jsonPayload)
        #expect(mapping.timeFormat == .epochMilliseconds)
        #expect(mapping.fields.first { $0.path == "temp_f" }?.unit == .degreeFahrenheit)
        #expect(mapping.fields.first { $0.path == "nibp.sys" }?.kind == .nibpSystolic)
        // The MDC URN of FHIR codings resolves like MDC.
        #expect(vendor.vitalKind(for: ObservationCode(code: "150456", system: "urn:iso:std:iso:11073:10101")) == .spo2)
    }

    @Test func everyPayloadProblemNamesFileLineAndKey() {
        let yaml = """
            id: vendor
            protocol: mapped-json
            payload:
              device_field: ""
              time_format: epoch_minutes
              colour: red
              fields:
                hr: { kind: heart_rte, unit: /min }
                spo2: { kind: spo2, unit: furlongs }
                temp: { kind: temperature, unit: kPa }
                rr: { unit: /min }
                etco2: { kind: etco2, unit: "mm[Hg]", code: "151708" }
                pi: 3
            """
        let error = #expect(throws: ProfileValidationErrors.self) {
            try DeviceProfileLoader.parse(yaml, file: "vendor.yaml")
        }
        let all = error?.errors ?? []
        func problems(_ key: String) -> [ProfileLoadError] { all.filter { $0.key == key } }
        #expect(problems("payload.device_field").map(\.line) == [4])
        #expect(problems("payload.time_format").map(\.line) == [5, 5])
        #expect(problems("payload.time_format").first?.reason.contains("unknown time format 'epoch_minutes'") == true)
        #expect(problems("payload.time_format").last?.reason == "needs payload.time_field")
        #expect(problems("payload.colour").map(\.line) == [6])
        #expect(problems("payload.fields.hr.kind").first?.line == 8)
        #expect(problems("payload.fields.hr.kind").first?.reason.contains("unknown vital kind 'heart_rte'") == true)
        #expect(problems("payload.fields.spo2.unit").first?.line == 9)
        #expect(problems("payload.fields.spo2.unit").first?.reason.contains("unknown unit 'furlongs'") == true)
        #expect(problems("payload.fields.temp.unit").first?.line == 10)
        #expect(problems("payload.fields.temp.unit").first?.reason == "'kPa' is not a unit of temperature (stored in Cel)")
        #expect(problems("payload.fields.rr.kind").first?.reason == "is required")
        #expect(problems("payload.fields.rr.kind").first?.line == 11)
        #expect(problems("payload.fields.etco2").first?.reason == "code and system go together")
        #expect(problems("payload.fields.etco2").first?.line == 12)
        #expect(problems("payload.fields.pi").first?.line == 13)
        #expect(all.count == 10)
        #expect(all.allSatisfy { $0.file == "vendor.yaml" })
        #expect(error?.description.contains("vendor.yaml:9: payload.fields.spo2.unit: unknown unit 'furlongs'") == true)
    }

    @Test func theSectionBelongsToMappedJSONAndMappedJSONNeedsIt() {
        let missing = #expect(throws: ProfileValidationErrors.self) {
            try DeviceProfileLoader.parse("id: v\nprotocol: mapped-json\n", file: "v.yaml")
        }
        #expect(missing?.errors.map(\.key) == ["payload"])
        #expect(missing?.errors.first?.line == 2)
        #expect(missing?.errors.first?.reason == "is required for protocol mapped-json")

        let misplaced = #expect(throws: ProfileValidationErrors.self) {
            try DeviceProfileLoader.parse("id: v\nprotocol: fhir-r4\npayload:\n  fields: {}\n", file: "v.yaml")
        }
        #expect(misplaced?.errors.map(\.key) == ["payload"])
        #expect(misplaced?.errors.first?.line == 4)
        #expect(misplaced?.errors.first?.reason.contains("only for protocol mapped-json (this profile is fhir-r4)") == true)

        let empty = #expect(throws: ProfileValidationErrors.self) {
            try DeviceProfileLoader.parse("id: v\nprotocol: mapped-json\npayload:\n  device_field: dev\n", file: "v.yaml")
        }
        #expect(empty?.errors.map(\.key) == ["payload.fields"])
        #expect(empty?.errors.first?.reason == "is required")

        let unitAlias = Result { try DeviceProfileLoader.parse("""
            id: v
            protocol: mapped-json
            units: { "deg F": "[degF]" }
            payload:
              fields:
                t: { kind: temperature, unit: deg F }
            """, file: "v.yaml") }
        #expect((try? unitAlias.get())?.jsonPayload?.fields.first?.unit == .degreeFahrenheit)
    }
}
