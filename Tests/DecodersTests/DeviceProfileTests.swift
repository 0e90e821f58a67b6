import DeviceProfiles
import Foundation
import Testing
import VitalSigns

@Suite struct DeviceProfileTests {
    @Test("a sampling interval of .inf, 1e20 or zero is a validation error with its line, not a trap", arguments: [".inf", "1e20", "0"])
    func anUnboundedSamplingIntervalIsRefused(value: String) {
        let yaml = """
            id: odd-interval
            protocol: hl7v2-pcd01
            sampling_interval_seconds: \(value)
            """
        let error = #expect(throws: ProfileValidationErrors.self) { try DeviceProfileLoader.parse(yaml, file: "odd.yaml") }
        #expect(error?.errors.first { $0.key == "sampling_interval_seconds" }?.line == 3)
    }

    @Test func everyShippedProfileLoads() throws {
        let profiles = try DeviceProfileLoader.loadDirectory(profilesFolder)
        #expect(Set(profiles.map(\.id)).isSuperset(of: ["generic-pcd01", "philips-intellivue"]))
        let philips = try #require(profiles.first { $0.id == "philips-intellivue" })
        #expect(philips.vitalKind(for: ObservationCode(code: "0002-4182", text: "HR", system: "MDIL")) == .heartRate)
        #expect(philips.isCritical(.spo2, value: 80))
        #expect(!philips.isCritical(.spo2, value: 95))
        let catalog = DeviceProfileCatalog(profiles: profiles)
        #expect(catalog.profile(forSendingApplication: "intellivue").id == "philips-intellivue")
        #expect(catalog.profile(forSendingApplication: "SOMETHING").id == "generic-pcd01")
    }

    @Test func everyProblemNamesFileLineAndKey() {
        let yaml = """
            id: broken
            protocol: pcd-02
            colour: blue
            codes:
              - { system: MDC, code: "1", kind: heart_rte }
              - { system: MDC, kind: spo2 }
            thresholds:
              adult:
                spo2: { critical_low: 95, critical_high: 90 }
                heart_rate: { critical_low: fast }
              elderly:
                spo2: { critical_low: 85 }
            """
        let error = #expect(throws: ProfileValidationErrors.self) {
            try DeviceProfileLoader.parse(yaml, file: "broken.yaml")
        }
        let problems = error?.errors ?? []
        func problem(_ key: String) -> ProfileLoadError? { problems.first { $0.key == key } }
        #expect(problem("protocol")?.line == 2)
        #expect(problem("colour")?.line == 3)
        #expect(problem("codes[0].kind")?.line == 5)
        #expect(problem("codes[0].kind")?.reason.contains("heart_rte") == true)
        #expect(problem("codes[1].code")?.line == 6)
        #expect(problem("thresholds.adult.spo2")?.line == 9)
        #expect(problem("thresholds.adult.heart_rate.critical_low")?.line == 10)
        #expect(problem("thresholds.elderly")?.line == 11)
        #expect(problems.allSatisfy { $0.file == "broken.yaml" })
        #expect(problems.count == 7)
        #expect(error?.description.contains("broken.yaml:2: protocol: unknown protocol 'pcd-02'") == true)
    }

    @Test func shippedProfilesHaveWarningAndCriticalBandsForEveryPopulation() throws {
        for profile in try DeviceProfileLoader.loadDirectory(profilesFolder) {
            for population in Population.allCases {
                let heartRate = try #require(profile.bands.band(.heartRate, population: population), "\(profile.id) \(population)")
                #expect(heartRate.problems.isEmpty)
                #expect([heartRate.criticalLow, heartRate.warningLow, heartRate.warningHigh, heartRate.criticalHigh].allSatisfy { $0 != nil })
                #expect(profile.bands.band(.spo2, population: population)?.warningLow != nil)
            }
            #expect(profile.classify(.heartRate, value: 115) == .warning)
            #expect(profile.classify(.heartRate, value: 95, population: .neonatal) == .warning)
            #expect(profile.classify(.heartRate, value: 55, population: .paediatric) == .critical)
            #expect(profile.classify(.temperature, value: 37.8, population: .neonatal) == .warning)
        }
    }

    @Test func bandProblemsNameFileLineAndKey() {
        let yaml = """
            id: bands
            protocol: pcd-01
            thresholds:
              adult:
                heart_rate: { critical_low: 40, warning_low: 35, warning_high: 110, critical_high: 130 }
                spo2: { critical_low: 90, warning_low: 94, warning_hihg: 99 }
                temperature: { warning_low: 36.0, warning_high: 38.0, critical_high: 37.5 }
                respiration_rate: { warning_high: .nan }
                etco2: {}
              neonatal:
                heart_rate: { critical_low: 90, warning_low: 100, warning_high: 180, critical_high: 200 }
            """
        let error = #expect(throws: ProfileValidationErrors.self) {
            try DeviceProfileLoader.parse(yaml, file: "bands.yaml")
        }
        let problems = error?.errors ?? []
        func problem(_ key: String) -> ProfileLoadError? { problems.first { $0.key == key } }
        #expect(problem("thresholds.adult.heart_rate")?.line == 5)
        #expect(problem("thresholds.adult.heart_rate")?.reason == "critical_low (40.0) must be below warning_low (35.0)")
        #expect(problem("thresholds.adult.spo2.warning_hihg")?.line == 6)
        #expect(problem("thresholds.adult.temperature")?.line == 7)
        #expect(problem("thresholds.adult.temperature")?.reason == "warning_high (38.0) must be below critical_high (37.5)")
        #expect(problem("thresholds.adult.respiration_rate.warning_high")?.line == 8)
        #expect(problem("thresholds.adult.respiration_rate.warning_high")?.reason == "must be a finite decimal number")
        #expect(problem("thresholds.adult.etco2")?.line == 9)
        #expect(problem("thresholds.adult.etco2")?.reason.hasPrefix("needs at least one of critical_low") == true)
        #expect(problems.count == 5)
        #expect(error?.description.contains("bands.yaml:5: thresholds.adult.heart_rate: critical_low (40.0) must be below warning_low (35.0)") == true)
    }

    @Test func warningBandsLoad() throws {
        let profile = try DeviceProfileLoader.parse("""
            id: bands
            protocol: pcd-01
            thresholds:
              neonatal:
                heart_rate: { critical_low: 90, warning_low: 100, warning_high: 180, critical_high: 200 }
                spo2: { warning_low: 90 }
            """, file: "bands.yaml")
        #expect(profile.bands.band(.heartRate, population: .neonatal) == ThresholdBand(criticalLow: 90, warningLow: 100, warningHigh: 180, criticalHigh: 200))
        #expect(profile.classify(.spo2, value: 89, population: .neonatal) == .warning)
        #expect(profile.thresholds[.neonatal]?[.spo2] == ThresholdBand(warningLow: 90))
    }

    @Test func invalidYAMLSaysWhere() {
        let error = #expect(throws: ProfileValidationErrors.self) {
            try DeviceProfileLoader.parse("id: x\nprotocol: [pcd-01\n", file: "bad.yaml")
        }
        #expect(error?.errors.first?.line != nil)
        #expect(error?.errors.first?.reason.hasPrefix("invalid YAML") == true)
    }

    @Test("a duplicate id names the two files that hold it, also after a file that failed to load")
    func aDuplicateIdAcrossFilesIsAnError() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("profiles-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        try "id: broken\nprotocol: no-such-protocol\n".write(to: folder.appendingPathComponent("a.yaml"), atomically: true, encoding: .utf8)
        for name in ["b.yaml", "c.yaml"] {
            try "id: same\nprotocol: pcd-01\n".write(to: folder.appendingPathComponent(name), atomically: true, encoding: .utf8)
        }
        let error = #expect(throws: ProfileValidationErrors.self) { try DeviceProfileLoader.loadDirectory(folder.path) }
        let duplicate = error?.errors.first { $0.key == "id" }
        #expect(duplicate?.file == "c.yaml")
        #expect(duplicate?.reason == "duplicate profile id 'same', also in b.yaml")
        #expect(error?.errors.contains { $0.key == "protocol" && $0.file.hasSuffix("a.yaml") } == true)
    }

    @Test("a bound YAML reads as base 60 (40:0), or one in another unit than the kind's (°F), is refused, not a silenced alarm")
    func implausibleBoundsAreRefused() {
        let yaml = """
            id: typo
            protocol: pcd-01
            thresholds:
              adult:
                temperature: { critical_low: 95, critical_high: 40:0 }
                heart_rate: { critical_low: 1:30 }
                spo2: { critical_low: 90 }
            """
        let error = #expect(throws: ProfileValidationErrors.self) { try DeviceProfileLoader.parse(yaml, file: "typo.yaml") }
        func problem(_ key: String) -> ProfileLoadError? { error?.errors.first { $0.key == key } }
        #expect(problem("thresholds.adult.temperature.critical_low")?.reason.contains("not a plausible temperature in Cel") == true)
        #expect(problem("thresholds.adult.temperature.critical_high")?.line == 5)
        #expect(problem("thresholds.adult.heart_rate.critical_low")?.reason == "must be a finite decimal number")
        #expect(error?.errors.count == 3)
    }

    @Test("a unit alias must name a unit the engine knows, and a code may be mapped once (systems compared as the tables key them)")
    func unknownUnitAliasesAndRepeatedCodesAreRefused() {
        let yaml = """
            id: philips-copy
            protocol: pcd-01
            codes:
              - { system: MDIL, code: "0002-4BB8", kind: spo2 }
              - { system: mdil, code: "0002-4BB8", kind: perfusion_index }
            units:
              "0004-17A0": "Celsius"
              "0004-0220": "%"
            thresholds:
              adult:
                spo2: { critical_low: 90 }
            """
        let error = #expect(throws: ProfileValidationErrors.self) { try DeviceProfileLoader.parse(yaml, file: "copy.yaml") }
        #expect(error?.errors.map(\.key).sorted() == ["codes[1]", "units.0004-17A0"])
        #expect(error?.errors.first { $0.key == "codes[1]" }?.reason == "code mdil 0002-4BB8 is already mapped at codes[0]")
        #expect(error?.errors.first { $0.key == "units.0004-17A0" }?.reason.hasPrefix("'Celsius' is not a unit the engine knows") == true)
    }

    @Test("as the engine's set, a folder needs the generic profile, bands for each profile's default population, and one profile per sender")
    func aFolderOfProfilesIsCheckedAsAWhole() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("profiles-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        func write(_ name: String, _ text: String) throws {
            try text.write(to: folder.appendingPathComponent(name), atomically: true, encoding: .utf8)
        }
        // Empty: nothing would ever be flagged.
        var error = #expect(throws: ProfileValidationErrors.self) { try DeviceProfileLoader.loadDirectory(folder.path) }
        #expect(error?.errors.first?.reason.hasPrefix("no 'generic-pcd01' profile") == true)

        let bands = "thresholds:\n  adult:\n    spo2: { critical_low: 90 }\n"
        try write("generic-pcd01.YAML", "id: generic-pcd01\nprotocol: pcd-01\n" + bands)
        try write("a.yaml", "id: a\nprotocol: pcd-01\nmatch:\n  sending_application: [IntelliVue]\n" + bands)
        try write("b.yaml", "id: b\nprotocol: pcd-01\nmatch:\n  sending_application: [INTELLIVUE]\n" + bands)
        try write("c.yaml", "id: c\nprotocol: pcd-01\ndefault_population: neonatal\n" + bands)
        error = #expect(throws: ProfileValidationErrors.self) { try DeviceProfileLoader.loadDirectory(folder.path) }
        let problems = error?.errors ?? []
        #expect(problems.count == 2)
        #expect(problems.contains { $0.file == "b.yaml" && $0.key == "match.sending_application" && $0.reason == "'INTELLIVUE' is claimed by a.yaml too (case and padding spaces are ignored)" })
        #expect(problems.contains { $0.file == "c.yaml" && $0.key == "thresholds.neonatal" })

        try FileManager.default.removeItem(at: folder.appendingPathComponent("b.yaml"))
        try write("c.yaml", "id: c\nprotocol: pcd-01\n" + bands)
        #expect(try DeviceProfileLoader.loadDirectory(folder.path).map(\.id) == ["a", "c", "generic-pcd01"])
    }

    @Test("a code's unit must be one its vital kind can be converted from")
    func aCodeUnitOfAnotherQuantityIsRefused() {
        let yaml = """
            id: acme
            protocol: pcd-01
            codes:
              - { system: ACME, code: T, kind: temperature, unit: C }
              - { system: ACME, code: TF, kind: temperature, unit: "[degF]" }
            """
        let error = #expect(throws: ProfileValidationErrors.self) { try DeviceProfileLoader.parse(yaml, file: "acme.yaml") }
        #expect(error?.errors.count == 1)
        #expect(error?.errors.first?.key == "codes[0].unit")
        #expect(error?.errors.first?.line == 4)
        #expect(error?.errors.first?.reason == "'C' is not a unit of temperature (stored in Cel)")
    }

    @Test("a sender's profile is found whatever the case of its MSH-3, non-ASCII letters included, and whatever spaces pad it")
    func sendingApplicationsMatchWithoutRegardToCase() throws {
        let profile = try DeviceProfileLoader.parse("""
            id: ecg-e
            protocol: pcd-01
            match:
              sending_application: [MONITOR-é]
            codes:
              - { system: vendor, code: HR, kind: heart_rate }
            """, file: "ecg.yaml")
        let catalog = DeviceProfileCatalog(profiles: [DeviceProfile(id: "generic-pcd01"), profile])
        for application in ["MONITOR-é", "monitor-é", "MONITOR-É", "Monitor-É", "MONITOR-é ", "  monitor-é  "] {
            #expect(catalog.profile(forSendingApplication: application).id == "ecg-e", "\(application)")
        }
        #expect(catalog.profile(forSendingApplication: "MONITOR-e").id != "ecg-e")
        #expect(catalog.profile(forSendingApplication: "MONITOR -é").id != "ecg-e")
        #expect(catalog.profile(forSendingApplication: " ").id == "generic-pcd01")
        #expect(profile.vitalKind(for: ObservationCode(code: "HR", system: "VENDOR")) == .heartRate)
    }
}
