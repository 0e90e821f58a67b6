import Alerts
import DeviceProfiles
import Foundation
import Storage
import TestSupport
import Testing
import VitalSigns

@Suite(.timeLimit(.minutes(2))) struct AlertMonitorTests {
    func spo2(_ value: Double, patient: String, at time: Timestamp) -> Observation {
        Observation(
            time: time, patient: PatientIdentifier(id: patient, assigningAuthority: "KTH"), deviceID: "DEV-\(patient)", location: "ICU^1^A",
            kind: .spo2, code: ObservationCode(code: "150456", system: "MDC"), value: value, unit: .percent
        )
    }

    @Test("a clinician's threshold override for one patient changes that patient's alerting only, once the monitor has read it")
    func perPatientOverride() async throws {
        let url = try TestPostgres.migratedDatabase()
        let connection = try PostgresConnection(url: url)
        defer { connection.close() }
        // A COPD patient who lives at 84–88 %: critical only below 80.
        try PatientSettingsStore(connection: connection).setThresholds(
            ThresholdBand(criticalLow: 80, warningLow: 85), vital: .spo2, patient: PatientIdentifier(id: "COPD-1", assigningAuthority: "KTH"), by: "dr.test")
        #expect(throws: (any Error).self) {
            try PatientSettingsStore(connection: connection).setThresholds(
                ThresholdBand(criticalLow: 90, warningLow: 85), vital: .spo2, patient: PatientIdentifier(id: "X", assigningAuthority: ""), by: "dr.test")
        }

        let hub = try AlertHub(url: url, configuration: .init(facility: "KTH"), logger: TestPostgres.logger)
        defer { hub.shutdown() }
        let profiles = DeviceProfileCatalog(profiles: try DeviceProfileLoader.loadDirectory(RepositoryPaths.root + "/device-profiles"))
        let monitor = AlertMonitor(hub: hub, profiles: profiles, settingsURL: url, logger: TestPostgres.logger)
        let now = Timestamp(secondsSinceEpoch: Date().timeIntervalSince1970)
        monitor.consume(observations: [], profileID: nil, conditions: [], tick: now)
        monitor.consume(observations: [spo2(84, patient: "COPD-1", at: now), spo2(84, patient: "OTHER-2", at: now)],
                        profileID: "generic-pcd01", conditions: [], tick: nil)

        let scope = AlertScope(facility: "KTH")
        try await waitUntil(timeout: .seconds(10), "the other patient's critical alert") { !hub.openAlerts(in: scope).isEmpty }
        monitor.consume(observations: [spo2(79, patient: "COPD-1", at: Timestamp(microsecondsSinceEpoch: now.microsecondsSinceEpoch + 1_000_000))],
                        profileID: "generic-pcd01", conditions: [], tick: nil)
        try await waitUntil(timeout: .seconds(10), "the COPD patient's alert below the override") { hub.openAlerts(in: scope).count == 2 }
        let alerts = hub.openAlerts(in: scope)
        #expect(Set(alerts.compactMap { $0.patient?.id }) == ["OTHER-2", "COPD-1"])
        #expect(alerts.first { $0.patient?.id == "COPD-1" }?.value == 79)
    }

    @Test("a threshold set while the monitor runs takes effect on a clock tick after the next background read")
    func overrideSetWhileRunning() async throws {
        let url = try TestPostgres.migratedDatabase()
        let hub = try AlertHub(url: url, configuration: .init(facility: "KTH"), logger: TestPostgres.logger)
        defer { hub.shutdown() }
        let profiles = DeviceProfileCatalog(profiles: try DeviceProfileLoader.loadDirectory(RepositoryPaths.root + "/device-profiles"))
        let monitor = AlertMonitor(hub: hub, profiles: profiles, settingsURL: url, settingsRefresh: .milliseconds(50), logger: TestPostgres.logger)
        let start = Timestamp(secondsSinceEpoch: Date().timeIntervalSince1970)
        var second: Int64 = 0
        func tickAndObserve(_ value: Double) {
            second += 1
            let time = Timestamp(microsecondsSinceEpoch: start.microsecondsSinceEpoch + second * 1_000_000)
            monitor.consume(observations: [], profileID: nil, conditions: [], tick: time)
            monitor.consume(observations: [spo2(value, patient: "TIGHT-3", at: time)], profileID: "generic-pcd01", conditions: [], tick: nil)
        }
        // 96 % is normal for an adult on the profile's bands.
        tickAndObserve(96)
        let connection = try PostgresConnection(url: url)
        defer { connection.close() }
        try PatientSettingsStore(connection: connection).setThresholds(
            ThresholdBand(criticalLow: 97, warningLow: 98), vital: .spo2, patient: PatientIdentifier(id: "TIGHT-3", assigningAuthority: "KTH"), by: "dr.test")

        let scope = AlertScope(facility: "KTH")
        try await waitUntil(timeout: .seconds(10), "the override read in the background and applied on a tick") {
            tickAndObserve(96)
            return hub.openAlerts(in: scope).contains { $0.patient?.id == "TIGHT-3" && $0.severity == .critical }
        }
    }
}
