import Storage
import VitalSigns

/// Clinicians' per-patient settings as stored by the CLI (and later the API): threshold
/// overrides, the population whose bands apply, the NEWS2 SpO2 scale, consciousness and
/// supplemental oxygen.
public struct PatientSettingsStore {
    public struct Snapshot: Sendable, Equatable {
        public var settings: [PatientIdentifier: PatientAlertSettings] = [:]
        /// A patient's consciousness and oxygen assessments, each at the time it was made.
        public var assessments: [PatientIdentifier: [ClinicalAssessment]] = [:]
    }

    let connection: PostgresConnection

    public init(connection: PostgresConnection) {
        self.connection = connection
    }

    public func load() throws(PostgresError) -> Snapshot {
        var snapshot = Snapshot()
        for row in try connection.execute("""
            SELECT patient_identifier, patient_authority, vital, critical_low, warning_low, warning_high, critical_high
            FROM patient_threshold_overrides
            """).rows {
            guard let id = row[0], let kind = row[2].flatMap(VitalKind.init(name:)) else { continue }
            let patient = PatientIdentifier(id: id, assigningAuthority: row[1] ?? "")
            snapshot.settings[patient, default: PatientAlertSettings()].thresholds[kind] = ThresholdBand(
                criticalLow: row[3].flatMap { Double($0) }, warningLow: row[4].flatMap { Double($0) },
                warningHigh: row[5].flatMap { Double($0) }, criticalHigh: row[6].flatMap { Double($0) }
            )
        }
        for row in try connection.execute("SELECT patient_identifier, patient_authority, population FROM patient_populations").rows {
            guard let id = row[0], let population = row[2].flatMap(Population.init(rawValue:)) else { continue }
            snapshot.settings[PatientIdentifier(id: id, assigningAuthority: row[1] ?? ""), default: PatientAlertSettings()].population = population
        }
        for row in try connection.execute("""
            SELECT patient_identifier, patient_authority, hypercapnic, on_oxygen, consciousness,
                   (EXTRACT(EPOCH FROM consciousness_at) * 1000000)::bigint, (EXTRACT(EPOCH FROM on_oxygen_at) * 1000000)::bigint
            FROM patient_news2_context
            """).rows {
            guard let id = row[0] else { continue }
            let patient = PatientIdentifier(id: id, assigningAuthority: row[1] ?? "")
            if row[2] == "t" { snapshot.settings[patient, default: PatientAlertSettings()].spo2Scale = .scale2 }
            func time(_ text: String?) -> Timestamp { Timestamp(microsecondsSinceEpoch: text.flatMap { Int64($0) } ?? 0) }
            var assessments: [ClinicalAssessment] = []
            if let consciousness = row[4].flatMap(Consciousness.init(rawValue:)) {
                assessments.append(ClinicalAssessment(time: time(row[5]), patient: patient, consciousness: consciousness))
            }
            if let oxygen = row[3].map({ $0 == "t" }) {
                assessments.append(ClinicalAssessment(time: time(row[6]), patient: patient, supplementalOxygen: oxygen))
            }
            if !assessments.isEmpty { snapshot.assessments[patient] = assessments }
        }
        return snapshot
    }

    /// Replaces one vital's bands for a patient (validated first).
    public func setThresholds(_ band: ThresholdBand, vital: VitalKind, patient: PatientIdentifier, by user: String) throws -> Void {
        try PatientAlertSettings(thresholds: [vital: band]).validate()
        _ = try connection.query("""
            INSERT INTO patient_threshold_overrides
                (patient_identifier, patient_authority, vital, critical_low, warning_low, warning_high, critical_high, set_by)
            VALUES ($1, $2, $3, $4::double precision, $5::double precision, $6::double precision, $7::double precision, $8)
            ON CONFLICT (patient_identifier, patient_authority, vital) DO UPDATE SET
                critical_low = EXCLUDED.critical_low, warning_low = EXCLUDED.warning_low, warning_high = EXCLUDED.warning_high,
                critical_high = EXCLUDED.critical_high, set_by = EXCLUDED.set_by, set_at = now()
            """, [
                patient.id, patient.assigningAuthority, vital.name, band.criticalLow.map { "\($0)" }, band.warningLow.map { "\($0)" },
                band.warningHigh.map { "\($0)" }, band.criticalHigh.map { "\($0)" }, user,
            ])
    }

    /// Back to the device profile's bands for that vital; true when there was an override.
    public func clearThresholds(vital: VitalKind, patient: PatientIdentifier) throws(PostgresError) -> Bool {
        try connection.query(
            "DELETE FROM patient_threshold_overrides WHERE patient_identifier = $1 AND patient_authority = $2 AND vital = $3",
            [patient.id, patient.assigningAuthority, vital.name]
        ).affectedRows > 0
    }

    /// The population whose bands judge the patient's vitals; nil goes back to the device
    /// profile's default. True when something changed.
    @discardableResult
    public func setPopulation(_ population: Population?, patient: PatientIdentifier, by user: String) throws(PostgresError) -> Bool {
        guard let population else {
            return try connection.query(
                "DELETE FROM patient_populations WHERE patient_identifier = $1 AND patient_authority = $2", [patient.id, patient.assigningAuthority]
            ).affectedRows > 0
        }
        _ = try connection.query("""
            INSERT INTO patient_populations (patient_identifier, patient_authority, population, set_by) VALUES ($1, $2, $3, $4)
            ON CONFLICT (patient_identifier, patient_authority) DO UPDATE SET
                population = EXCLUDED.population, set_by = EXCLUDED.set_by, set_at = now()
            """, [patient.id, patient.assigningAuthority, population.rawValue, user])
        return true
    }

    /// NEWS2 context; nil arguments keep what is recorded.
    public func setNEWS2Context(
        patient: PatientIdentifier, hypercapnic: Bool?, onOxygen: Bool?, consciousness: Consciousness?, by user: String
    ) throws(PostgresError) {
        _ = try connection.query("""
            INSERT INTO patient_news2_context
                (patient_identifier, patient_authority, hypercapnic, on_oxygen, consciousness, updated_by, on_oxygen_at, consciousness_at)
            VALUES ($1, $2, COALESCE($3::boolean, false), $4::boolean, $5, $6,
                    CASE WHEN $4::boolean IS NOT NULL THEN now() END, CASE WHEN $5::text IS NOT NULL THEN now() END)
            ON CONFLICT (patient_identifier, patient_authority) DO UPDATE SET
                hypercapnic = COALESCE($3::boolean, patient_news2_context.hypercapnic),
                on_oxygen = COALESCE($4::boolean, patient_news2_context.on_oxygen),
                consciousness = COALESCE($5, patient_news2_context.consciousness),
                -- Each assessment keeps its own time: a change of scale is no new assessment.
                on_oxygen_at = CASE WHEN $4::boolean IS NOT NULL THEN now() ELSE patient_news2_context.on_oxygen_at END,
                consciousness_at = CASE WHEN $5::text IS NOT NULL THEN now() ELSE patient_news2_context.consciousness_at END,
                updated_by = $6, updated_at = now()
            """, [
                patient.id, patient.assigningAuthority, hypercapnic.map { $0 ? "true" : "false" },
                onOxygen.map { $0 ? "true" : "false" }, consciousness?.rawValue, user,
            ])
    }
}
