@testable import Alerts
import Foundation
import Storage
import TestSupport
import Testing
import VitalSigns

/// An alert's key names its subject, vital and rule; one subject's key is never another's.
@Suite struct AlertKeyTests {
    let time = Timestamp(microsecondsSinceEpoch: 1_790_000_000_000_000)
    /// Two patients whose authority and id differ only in where a colon falls.
    let patients = [PatientIdentifier(id: "1", assigningAuthority: "KTH:MRN"), PatientIdentifier(id: "MRN:1", assigningAuthority: "KTH")]

    func signal(_ action: AlertSignal.Action, for patient: PatientIdentifier) -> AlertSignal {
        AlertSignal(
            action: action, key: AlertKey(subject: .patient(patient), kind: .spo2, rule: .threshold), severity: .critical, value: 82,
            patient: patient, deviceID: "DEV-\(patient.id)", location: "ICU^1^A", time: time, escalationAfter: .seconds(120)
        )
    }

    @Test("two patients whose authority and id differ only in where a colon falls get an alert each, and one's clear leaves the other's open")
    func aColonDoesNotMergeTwoPatients() throws {
        var lifecycle = AlertLifecycle(facility: "KTH", unresolved: [])
        let raised = patients.flatMap { lifecycle.handle(AlertTrigger(signal(.raise, for: $0)), at: time) }
        #expect(raised.map(\.event) == [.raised, .raised])
        #expect(raised.map(\.alert.patient) == patients)
        let cleared = lifecycle.handle(AlertTrigger(signal(.clear, for: patients[0])), at: time)
        #expect(cleared.map(\.event) == [.resolved])
        #expect(cleared.map(\.alert.patient) == [patients[0]])
    }

    @Test("keys of ids without a colon or backslash are as earlier builds made them, so open alerts still match")
    func ordinaryKeysAreUnchanged() {
        let key = AlertKey(subject: .patient(PatientIdentifier(id: "MRN-1", assigningAuthority: "urn:oid:1.2")), kind: .spo2, rule: .threshold)
        #expect(AlertTrigger.key(key) == "p:urn:oid:1.2:MRN-1|spo2|threshold")
        #expect(AlertTrigger.key(AlertKey(subject: .device("00:1B:44"), kind: nil, rule: .deviceSilent)) == "d:00:1B:44|-|device.silent")
    }

    @Test("upgrading rewrites the keys of open alerts whose patient ids hold a colon or backslash to the keys the engine now gives them")
    func theUpgradeRewritesOpenKeys() throws {
        let migrations = try MigrationsBefore(version: "0017")
        defer { migrations.remove() }
        let connection = try PostgresConnection(url: try TestPostgres.database())
        defer { connection.close() }
        let migrator = Migrator(directory: migrations.folder, logger: TestPostgres.logger)
        _ = try migrator.migrate(connection)

        // As the build before keyed them: (authority, id, state). The last two: the first's new
        // key is the second's old one.
        let rows: [(String, String, String)] = [
            ("KTH", "MRN:1", "open"), ("KTH", #"A\B"#, "acknowledged"), ("urn:oid:1.2", "MRN-2", "open"), ("KTH", "MRN:3", "resolved"),
            ("KTH", "a:b", "open"), ("KTH", #"a\cb"#, "open"),
        ]
        for (authority, id, state) in rows {
            try connection.query("""
                INSERT INTO critical_events (alert_key, facility, patient_identifier, patient_authority, device_identifier, vital, rule, severity, state, observed_at)
                VALUES ($1, 'KTH', $2, $3, 'DEV', 'spo2', 'threshold.spo2', 'critical', $4, now())
                """, ["p:\(authority):\(id)|spo2|threshold", id, authority, state])
        }
        try migrations.letLaterIn()
        #expect(try migrator.migrate(connection).applied == migrations.later.filter { !$0.contains(".timescaledb.") && !$0.contains(".native.") })

        let keys = try connection.execute("SELECT patient_authority, patient_identifier, alert_key FROM critical_events ORDER BY id").rows
        for (row, (authority, id, state)) in zip(keys, rows) {
            let engines = AlertTrigger.key(AlertKey(subject: .patient(PatientIdentifier(id: id, assigningAuthority: authority)), kind: .spo2, rule: .threshold))
            let expected = state == "resolved" ? "p:\(authority):\(id)|spo2|threshold" : engines
            #expect(row[2] == expected, "\(authority) \(id) \(state)")
        }
        #expect(keys.map { $0[2] ?? "" }.contains(#"p:KTH:A\\B|spo2|threshold"#))
        #expect(keys.map { $0[2] ?? "" }.contains(#"p:KTH:MRN\c1|spo2|threshold"#))
    }
}
