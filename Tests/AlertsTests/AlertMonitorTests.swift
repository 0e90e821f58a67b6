import Alerts
import DeviceProfiles
import Foundation
import Storage
import TestSupport
import Testing
import VitalSigns

@Suite(.timeLimit(.minutes(2))) struct AlertMonitorTests {
    /// The repository's device profiles, as the daemon loads them.
    static func repositoryProfiles() throws -> DeviceProfileCatalog {
        DeviceProfileCatalog(profiles: try DeviceProfileLoader.loadDirectory(RepositoryPaths.root + "/device-profiles"))
    }

    /// A hub of facility KTH on the database at `url`.
    static func hub(_ url: String) throws -> AlertHub {
        try AlertHub(url: url, configuration: .init(facility: "KTH"), logger: TestPostgres.logger)
    }

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

        let hub = try Self.hub(url)
        defer { hub.shutdown() }
        let profiles = try Self.repositoryProfiles()
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

    @Test("a patient recorded as a neonate is judged by the neonatal bands: a heart rate of 85 is critical for them, not for an adult")
    func aNeonateIsJudgedByTheNeonatalBands() async throws {
        let url = try TestPostgres.migratedDatabase()
        let connection = try PostgresConnection(url: url)
        defer { connection.close() }
        let store = PatientSettingsStore(connection: connection)
        let neonate = PatientIdentifier(id: "BABY-1", assigningAuthority: "KTH")
        try store.setPopulation(.neonatal, patient: neonate, by: "dr.test")
        #expect(try store.load().settings[neonate]?.population == .neonatal)

        let hub = try Self.hub(url)
        defer { hub.shutdown() }
        let monitor = AlertMonitor(hub: hub, profiles: try Self.repositoryProfiles(), settingsURL: url, logger: TestPostgres.logger)
        let now = Timestamp(secondsSinceEpoch: Date().timeIntervalSince1970)
        monitor.consume(observations: [], profileID: nil, conditions: [], tick: now)
        func heartRate(_ patient: String) -> Observation {
            Observation(
                time: now, patient: PatientIdentifier(id: patient, assigningAuthority: "KTH"), deviceID: "DEV-\(patient)", location: "NICU^1^A",
                kind: .heartRate, code: ObservationCode(code: "147842", system: "MDC"), value: 85, unit: VitalKind.heartRate.canonicalUnit
            )
        }
        monitor.consume(observations: [heartRate("ADULT-1"), heartRate("BABY-1")], profileID: "generic-pcd01", conditions: [], tick: nil)
        let scope = AlertScope(facility: "KTH")
        try await waitUntil(timeout: .seconds(10), "the neonate's alert") { !hub.openAlerts(in: scope).isEmpty }
        let alerts = hub.openAlerts(in: scope)
        #expect(alerts.map { $0.patient?.id } == ["BABY-1"])
        #expect(alerts.first?.severity == .critical)
        // Back to the profile's default (adult) for that patient.
        #expect(try store.setPopulation(nil, patient: neonate, by: "dr.test"))
        #expect(try store.load().settings[neonate]?.population == nil)
    }

    @Test("each NEWS2 assessment keeps the time it was made: recording the SpO2 scale does not make an old consciousness level fresh")
    func assessmentsKeepTheirOwnTimes() throws {
        let url = try TestPostgres.migratedDatabase()
        let connection = try PostgresConnection(url: url)
        defer { connection.close() }
        let store = PatientSettingsStore(connection: connection)
        let patient = PatientIdentifier(id: "NEWS-1", assigningAuthority: "KTH")
        try store.setNEWS2Context(patient: patient, hypercapnic: nil, onOxygen: true, consciousness: .voice, by: "nurse.a")
        // Both recorded six hours ago, then the SpO2 scale alone, now.
        try connection.execute("""
            UPDATE patient_news2_context SET consciousness_at = now() - interval '6 hours', on_oxygen_at = now() - interval '6 hours'
            """)
        let sixHoursAgo = try #require(try store.load().assessments[patient]?.map(\.time))
        try store.setNEWS2Context(patient: patient, hypercapnic: true, onOxygen: nil, consciousness: nil, by: "dr.b")
        let loaded = try store.load()
        #expect(loaded.settings[patient]?.spo2Scale == .scale2)
        let assessments = try #require(loaded.assessments[patient])
        #expect(assessments.map(\.time) == sixHoursAgo)
        #expect(assessments.compactMap(\.consciousness) == [.voice] && assessments.compactMap(\.supplementalOxygen) == [true])
        // A new consciousness level is stamped now; oxygen keeps its time.
        try store.setNEWS2Context(patient: patient, hypercapnic: nil, onOxygen: nil, consciousness: .alert, by: "nurse.a")
        let again = try #require(try store.load().assessments[patient])
        #expect(again.first { $0.consciousness != nil }.map { $0.time > sixHoursAgo[0] } == true)
        #expect(again.first { $0.supplementalOxygen != nil }?.time == sixHoursAgo[1])
    }

    /// "é" as one scalar and as "e" with a combining accent: Swift's `==` calls them equal, the
    /// database's keys (and the devices) do not.
    @Test("two devices whose ids differ only in how an accent is encoded each get their own alert, and clear only their own")
    func devicesAreToldApartByTheirBytes() async throws {
        let url = try TestPostgres.migratedDatabase()
        let hub = try Self.hub(url)
        defer { hub.shutdown() }
        let monitor = AlertMonitor(hub: hub, profiles: try Self.repositoryProfiles(), settingsURL: nil, logger: TestPostgres.logger)
        let composed = "monitor-\u{E9}", decomposed = "monitor-e\u{301}"
        #expect(composed == decomposed && Array(composed.utf8) != Array(decomposed.utf8), "the test needs two spellings Swift calls equal")
        let now = Timestamp(secondsSinceEpoch: Date().timeIntervalSince1970)
        func spo2(_ value: Double, device: String, after seconds: Int64) -> Observation {
            Observation(
                time: Timestamp(microsecondsSinceEpoch: now.microsecondsSinceEpoch + seconds * 1_000_000), patient: nil, deviceID: device,
                location: "ICU^1^A", kind: .spo2, code: ObservationCode(code: "150456", system: "MDC"), value: value, unit: .percent
            )
        }
        monitor.consume(observations: [spo2(80, device: composed, after: 0)], profileID: "generic-pcd01", conditions: [], tick: nil)
        monitor.consume(observations: [spo2(80, device: decomposed, after: 1)], profileID: "generic-pcd01", conditions: [], tick: nil)
        let scope = AlertScope(facility: "KTH")
        try await waitUntil(timeout: .seconds(10), "an alert for each device") { hub.openAlerts(in: scope).count == 2 }
        #expect(Set(hub.openAlerts(in: scope).map { Array($0.device.utf8) }) == [Array(composed.utf8), Array(decomposed.utf8)])

        // Back in range on one device for long enough to clear: only that device's alert goes.
        for second in Int64(2)...Int64(40) {
            monitor.consume(observations: [spo2(97, device: decomposed, after: second)], profileID: "generic-pcd01", conditions: [], tick: nil)
        }
        try await waitUntil(timeout: .seconds(10), "the cleared device's alert resolved") { hub.openAlerts(in: scope).count == 1 }
        #expect(hub.openAlerts(in: scope).map { Array($0.device.utf8) } == [Array(composed.utf8)])
        let reader = try PostgresConnection(url: url)
        defer { reader.close() }
        #expect(try reader.execute("SELECT count(*) FROM critical_events").scalar == "2")
    }

    @Test("a condition that persists after a clinician resolved its alert raises a new one")
    func aResolvedAlertWhoseConditionPersistsIsRaisedAgain() async throws {
        let url = try TestPostgres.migratedDatabase()
        let hub = try Self.hub(url)
        defer { hub.shutdown() }
        let profiles = try Self.repositoryProfiles()
        let monitor = AlertMonitor(hub: hub, profiles: profiles, settingsURL: nil, logger: TestPostgres.logger)
        defer { monitor.stop() }
        let scope = AlertScope(facility: "KTH")
        let start = Timestamp(secondsSinceEpoch: Date().timeIntervalSince1970)
        func at(_ seconds: Int64) -> Timestamp { Timestamp(microsecondsSinceEpoch: start.microsecondsSinceEpoch + seconds * 1_000_000) }

        monitor.consume(observations: [spo2(80, patient: "PERSIST-1", at: at(0))], profileID: "generic-pcd01", conditions: [], tick: nil)
        try await waitUntil(timeout: .seconds(10), "the first alert") { hub.openAlerts(in: scope).first?.id ?? 0 != 0 }
        let first = try #require(hub.openAlerts(in: scope).first)
        _ = try await hub.resolve(id: first.id, by: "nurse.a", in: scope)
        #expect(hub.openAlerts(in: scope).isEmpty)

        // Still 80 %: the rules start over and raise again.
        monitor.consume(observations: [spo2(80, patient: "PERSIST-1", at: at(5))], profileID: "generic-pcd01", conditions: [], tick: nil)
        try await waitUntil(timeout: .seconds(10), "a new alert") { hub.openAlerts(in: scope).contains { $0.id != 0 && $0.id != first.id } }
        #expect(hub.openAlerts(in: scope).first?.severity == first.severity)
    }

    @Test("an alert left open by a previous run is cleared when the values come back to normal, and a silent device's alarm when it is heard")
    func alertsOpenBeforeARestartClear() async throws {
        let url = try TestPostgres.migratedDatabase()
        let profiles = try Self.repositoryProfiles()
        let scope = AlertScope(facility: "KTH")
        let start = Timestamp(secondsSinceEpoch: Date().timeIntervalSince1970)
        func at(_ seconds: Int64) -> Timestamp { Timestamp(microsecondsSinceEpoch: start.microsecondsSinceEpoch + seconds * 1_000_000) }

        let before = try Self.hub(url)
        let first = AlertMonitor(hub: before, profiles: profiles, settingsURL: nil, logger: TestPostgres.logger)
        first.consume(observations: [spo2(80, patient: "RESTART-1", at: at(0))], profileID: "generic-pcd01", conditions: [], tick: nil)
        try await waitUntil(timeout: .seconds(10), "the alert before the restart") { before.openAlerts(in: scope).first?.id ?? 0 != 0 }
        // The engine stops; the device's silence alarm is raised by hand, as a tick would have:
        // keyed by the device, and naming the patient it was attached to.
        before.submit([AlertTrigger(
            action: .raise(.warning), key: "d:DEV-SILENT|-|device.silent", rule: "device.silent", vital: "device", value: nil, unit: nil,
            patient: PatientIdentifier(id: "RESTART-1", assigningAuthority: "KTH"), device: "DEV-SILENT", location: "ICU^1^A",
            observedAt: at(1), escalateAfter: nil
        )])
        try await waitUntil(timeout: .seconds(10), "the silence alarm") { before.openAlerts(in: scope).count == 2 }
        first.stop()
        before.shutdown()

        let after = try Self.hub(url)
        defer { after.shutdown() }
        let second = AlertMonitor(hub: after, profiles: profiles, settingsURL: nil, logger: TestPostgres.logger)
        defer { second.stop() }
        #expect(after.openAlerts(in: scope).count == 2)
        // Back to normal while the engine was down: two minutes of normal values clear it.
        for step in Int64(0)..<25 {
            var normal = spo2(97, patient: "RESTART-1", at: at(10 + step * 5))
            if step == 0 { normal.deviceID = "DEV-SILENT" }  // the silent device is heard from
            second.consume(observations: [normal], profileID: "generic-pcd01", conditions: [], tick: nil)
        }
        try await waitUntil(timeout: .seconds(10), "both alerts resolved") { after.openAlerts(in: scope).isEmpty }
    }

    @Test("a device watched before a restart and not heard after it is found silent once its allowed silence has passed since the start; one heard again is not")
    func devicesWatchedBeforeARestartAreFoundSilent() async throws {
        let url = try TestPostgres.migratedDatabase()
        let connection = try PostgresConnection(url: url)
        defer { connection.close() }
        let profiles = try Self.repositoryProfiles()
        let scope = AlertScope(facility: "KTH")
        let now = Timestamp(secondsSinceEpoch: Date().timeIntervalSince1970)

        try await runBeforeARestart(url, [spo2(97, patient: "GONE", at: now), spo2(97, patient: "BACK", at: now)])
        try await waitUntil(timeout: .seconds(10), "the watched devices stored") {
            try connection.query("SELECT count(*) FROM watched_devices WHERE facility = 'KTH' AND NOT is_silent").rows == [["2"]]
        }
        let allowed = try #require(try connection.query(
            "SELECT EXTRACT(EPOCH FROM allowed_silence)::float8 FROM watched_devices WHERE device_identifier = 'DEV-GONE'"
        ).rows.first?.first?.flatMap { Double($0) })

        let after = try Self.hub(url)
        defer { after.shutdown() }
        let second = AlertMonitor(hub: after, profiles: profiles, settingsURL: url, logger: TestPostgres.logger)
        let started = Timestamp(secondsSinceEpoch: Date().timeIntervalSince1970)
        func tick(_ seconds: Double) -> Timestamp { started.advanced(by: .microseconds(Int64(seconds * 1_000_000))) }
        // Just inside the allowed silence, DEV-BACK is heard again; just past it, only DEV-GONE is silent.
        second.consume(observations: [spo2(97, patient: "BACK", at: tick(allowed - 1))], profileID: "generic-pcd01", conditions: [], tick: tick(allowed - 1))
        second.consume(observations: [], profileID: nil, conditions: [], tick: tick(allowed + 2))
        try await waitUntil(timeout: .seconds(10), "the silence alarm of the device not heard since the restart") {
            after.openAlerts(in: scope).contains { $0.rule == "device.silent" && $0.device == "DEV-GONE" && $0.patient?.id == "GONE" }
        }
        #expect(!after.openAlerts(in: scope).contains { $0.device == "DEV-BACK" })
        second.stop()
        try await waitUntil(timeout: .seconds(10), "the silence stored") {
            try connection.query("SELECT device_identifier, is_silent FROM watched_devices ORDER BY 1").rows == [["DEV-BACK", "f"], ["DEV-GONE", "t"]]
        }
    }

    @Test("after a restart, a device's values that name no patient are still those of the patient its values named just before: no alert on the device repeats the patient's")
    func theNamedPatientIsFollowedAcrossARestart() async throws {
        let url = try TestPostgres.migratedDatabase()
        let scope = AlertScope(facility: "KTH")
        let now = Timestamp(secondsSinceEpoch: Date().timeIntervalSince1970)
        // The monitor's stop writes the watched devices.
        try await runBeforeARestart(url, [spo2(85, patient: "NAMED-1", at: now)]) { hub in
            hub.openAlerts(in: scope).contains { $0.patient?.id == "NAMED-1" }
        }

        let after = try Self.hub(url)
        defer { after.shutdown() }
        let second = AlertMonitor(hub: after, profiles: try Self.repositoryProfiles(), settingsURL: url, logger: TestPostgres.logger)
        defer { second.stop() }
        // The gateway's next message carries no PID.
        var unnamed = spo2(84, patient: "NAMED-1", at: now.advanced(by: .seconds(5)))
        unnamed.patient = nil
        second.consume(observations: [unnamed], profileID: "generic-pcd01", conditions: [], tick: nil)
        second.consume(observations: [spo2(20, patient: "OTHER-4", at: now.advanced(by: .seconds(5)))], profileID: "generic-pcd01", conditions: [], tick: nil)
        try await waitUntil(timeout: .seconds(10), "the other patient's alert") { after.openAlerts(in: scope).contains { $0.patient?.id == "OTHER-4" } }
        let devicesAlerts = after.openAlerts(in: scope).filter { $0.device == "DEV-NAMED-1" }
        #expect(devicesAlerts.map(\.patient?.id) == ["NAMED-1"])
    }

    /// The run before a restart: a hub and a monitor on `url` (which keeps its settings and
    /// watched devices) take in `observations`, and stop once `settled` holds on the hub.
    func runBeforeARestart(_ url: String, _ observations: [Observation], settled: @escaping @Sendable (AlertHub) -> Bool = { _ in true }) async throws {
        let hub = try Self.hub(url)
        let monitor = AlertMonitor(hub: hub, profiles: try Self.repositoryProfiles(), settingsURL: url, logger: TestPostgres.logger)
        monitor.consume(observations: observations, profileID: "generic-pcd01", conditions: [], tick: nil)
        try await waitUntil(timeout: .seconds(10), "the run before the restart settled") { settled(hub) }
        monitor.stop()
        hub.shutdown()
    }

    /// An SpO2 alert raised at `value`, escalated `escalations` times by the timer (its rule's
    /// time to acknowledge made 300 ms) and acknowledged; then hub and monitor restart. Returns
    /// the new ones, the acknowledged alert, and a time after the raise.
    func acknowledgedAfterEscalation(
        value: Double, severity: Severity, escalations: Int, patient: String
    ) async throws -> (hub: AlertHub, monitor: AlertMonitor, alert: Alert, later: Timestamp) {
        let url = try TestPostgres.migratedDatabase()
        let profiles = try Self.repositoryProfiles()
        let scope = AlertScope(facility: "KTH")
        var rules = AlertRuleSet.standard
        var spo2Rule = rules.threshold(for: .spo2)
        let fast = Trigger(raiseAfter: .immediate, escalationAfter: .milliseconds(300))
        if severity == .critical { spo2Rule.critical = fast } else { spo2Rule.warning = fast }
        rules.thresholds[.spo2] = spo2Rule
        let start = Timestamp(secondsSinceEpoch: Date().timeIntervalSince1970)

        let before = try Self.hub(url)
        let first = AlertMonitor(hub: before, profiles: profiles, rules: rules, settingsURL: nil, logger: TestPostgres.logger)
        first.consume(observations: [spo2(value, patient: patient, at: start)], profileID: "generic-pcd01", conditions: [], tick: nil)
        try await waitUntil(timeout: .seconds(20), "escalated by the timer") { before.openAlerts(in: scope).first?.escalationCount ?? 0 >= escalations }
        let escalated = try #require(before.openAlerts(in: scope).first)
        let acknowledged = try await before.acknowledge(id: escalated.id, by: "nurse.amina", in: scope)
        first.stop()
        before.shutdown()

        let after = try Self.hub(url)
        let second = AlertMonitor(hub: after, profiles: profiles, rules: rules, settingsURL: nil, logger: TestPostgres.logger)
        return (after, second, acknowledged, Timestamp(microsecondsSinceEpoch: start.microsecondsSinceEpoch + 1_000_000))
    }

    @Test("after a restart, a real worsening of an acknowledged alert that the timer had escalated is announced again")
    func aWorseningAfterARestartIsAnnouncedOverTheTimersSeverity() async throws {
        // A warning the timer took up two steps, to critical.
        let (hub, monitor, alert, later) = try await acknowledgedAfterEscalation(value: 92, severity: .warning, escalations: 2, patient: "WORSE-1")
        defer { hub.shutdown(); monitor.stop() }
        #expect(alert.severity >= .critical)
        // The patient's SpO2 falls into the critical band: worse than what the nurse acknowledged.
        monitor.consume(observations: [spo2(85, patient: "WORSE-1", at: later)], profileID: "generic-pcd01", conditions: [], tick: nil)
        try await waitUntil(timeout: .seconds(10), "the worsening announced") {
            hub.openAlerts(in: AlertScope(facility: "KTH")).first.map { $0.state == .open && $0.value == 85 } ?? false
        }
    }

    @Test("after a restart, the same critical value of an acknowledged alert that the timer had escalated is not announced again")
    func anUnchangedConditionAfterARestartIsNotAnnouncedAgain() async throws {
        let (hub, monitor, alert, later) = try await acknowledgedAfterEscalation(value: 85, severity: .critical, escalations: 1, patient: "SAME-1")
        defer { hub.shutdown(); monitor.stop() }
        let scope = AlertScope(facility: "KTH")
        monitor.consume(observations: [spo2(85, patient: "SAME-1", at: later)], profileID: "generic-pcd01", conditions: [], tick: nil)
        // A value that does raise shows the monitor has taken both in, in order.
        monitor.consume(observations: [spo2(20, patient: "OTHER-1", at: later)], profileID: "generic-pcd01", conditions: [], tick: nil)
        try await waitUntil(timeout: .seconds(10), "the other patient's alert") { hub.openAlerts(in: scope).count == 2 }
        #expect(hub.openAlerts(in: scope).first { $0.id == alert.id }?.state == .acknowledged)
    }

    /// `deviceClockBehind`: how far the monitor's clock runs behind the engine's; its readings
    /// still count after the restart, aged from when they were stored.
    @Test("an open NEWS2 emergency survives a restart: the blood pressure and temperature measured before it still count, also from a monitor whose clock runs behind",
          arguments: [Int64(0), 7_200])
    func news2InputsMeasuredBeforeARestartStillCount(deviceClockBehind: Int64) async throws {
        let url = try TestPostgres.migratedDatabase()
        let profiles = try Self.repositoryProfiles()
        let scope = AlertScope(facility: "KTH")
        // The engine's clock: its ticks come after each monitor's start-up tick (now).
        let start = Timestamp(secondsSinceEpoch: Date().timeIntervalSince1970 + 1)
        func at(_ seconds: Int64) -> Timestamp { Timestamp(microsecondsSinceEpoch: start.microsecondsSinceEpoch + seconds * 1_000_000) }
        func reading(_ kind: VitalKind, _ value: Double, at seconds: Int64) -> Observation {
            Observation(time: at(seconds - deviceClockBehind), patient: PatientIdentifier(id: "NEWS-1", assigningAuthority: "KTH"), deviceID: "DEV-NEWS-1",
                        location: "ICU^1^A", kind: kind, code: ObservationCode(code: "x", system: "MDC"), value: value, unit: kind.canonicalUnit)
        }
        // Systolic 88 (3), temperature 39.2 (2), heart rate 115 (2): NEWS2 7, an emergency.
        let measured = [reading(.nibpSystolic, 88, at: 0), reading(.temperature, 39.2, at: 0), reading(.heartRate, 115, at: 0),
                        reading(.spo2, 97, at: 0), reading(.respirationRate, 18, at: 0)]
        let writer = try ObservationWriter(url: url, logger: TestPostgres.logger)
        _ = try await writer.write(IngestBatch(observations: measured))
        writer.shutdown()
        let before = try Self.hub(url)
        let first = AlertMonitor(hub: before, profiles: profiles, settingsURL: nil, logger: TestPostgres.logger)
        first.consume(observations: measured, profileID: "generic-pcd01", conditions: [], tick: nil)
        try await waitUntil(timeout: .seconds(10), "the NEWS2 emergency") { before.openAlerts(in: scope).contains { $0.rule == "news2" } }
        first.stop()
        before.shutdown()

        let after = try Self.hub(url)
        defer { after.shutdown() }
        let second = AlertMonitor(hub: after, profiles: profiles, settingsURL: url, logger: TestPostgres.logger)
        defer { second.stop() }
        // After the restart only the continuous vitals arrive, for longer than NEWS2 takes to clear.
        for step in Int64(1)...40 {
            second.consume(observations: [reading(.heartRate, 115, at: 10 * step), reading(.spo2, 97, at: 10 * step), reading(.respirationRate, 18, at: 10 * step)],
                           profileID: "generic-pcd01", conditions: [], tick: at(10 * step))
        }
        // Another patient's critical value: once its alert is open, every earlier decision is too.
        second.consume(observations: [spo2(20, patient: "OTHER-2", at: at(401))], profileID: "generic-pcd01", conditions: [], tick: nil)
        try await waitUntil(timeout: .seconds(10), "the other patient's alert") { after.openAlerts(in: scope).contains { $0.patient?.id == "OTHER-2" } }
        #expect(after.openAlerts(in: scope).contains { $0.rule == "news2" && $0.patient?.id == "NEWS-1" })
    }

    @Test("a device heard before the stage's first tick, its clock an hour behind, is not found silent at that tick")
    func aDeviceHeardBeforeTheFirstTickIsNotSilent() async throws {
        let url = try TestPostgres.migratedDatabase()
        let hub = try Self.hub(url)
        defer { hub.shutdown() }
        let profiles = try Self.repositoryProfiles()
        let monitor = AlertMonitor(hub: hub, profiles: profiles, settingsURL: nil, logger: TestPostgres.logger)
        defer { monitor.stop() }
        let now = Date().timeIntervalSince1970
        monitor.consume(observations: [spo2(97, patient: "LAGGING-1", at: Timestamp(secondsSinceEpoch: now - 3_600))],
                        profileID: "generic-pcd01", conditions: [], tick: nil)
        monitor.consume(observations: [], profileID: nil, conditions: [], tick: Timestamp(secondsSinceEpoch: now + 2))
        monitor.consume(observations: [spo2(20, patient: "OTHER-3", at: Timestamp(secondsSinceEpoch: now + 2))], profileID: "generic-pcd01", conditions: [], tick: nil)
        let scope = AlertScope(facility: "KTH")
        try await waitUntil(timeout: .seconds(10), "the other patient's alert") { hub.openAlerts(in: scope).contains { $0.patient?.id == "OTHER-3" } }
        #expect(!hub.openAlerts(in: scope).contains { $0.rule == "device.silent" })
    }

    @Test("a threshold set while the monitor runs takes effect on a clock tick after the next background read")
    func overrideSetWhileRunning() async throws {
        let url = try TestPostgres.migratedDatabase()
        let hub = try Self.hub(url)
        defer { hub.shutdown() }
        let profiles = try Self.repositoryProfiles()
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
