import Foundation
import Storage
import VitalSigns

/// Reads back stored observations the rules need at start: the latest NEWS2 inputs of the
/// patients whose NEWS2 alert is open.
struct StoredReadings {
    private let url: String

    init(url: String) {
        self.url = url
    }

    /// The latest value of each kind per patient, measured within `age` of now.
    func latest(of patients: [PatientIdentifier], kinds: [VitalKind], within age: Duration) throws(PostgresError) -> [Observation] {
        let connection = try PostgresConnection(url: url)
        defer { connection.close() }
        let rows = try connection.query("""
            SELECT DISTINCT ON (v.patient_id, v.vital_kind) p.identifier, p.assigning_authority, v.vital_kind, v.value,
                (EXTRACT(EPOCH FROM v.observation_time) * 1000000)::bigint, d.identifier, v.location
            FROM unnest($1::text[], $2::text[]) AS wanted (identifier, authority)
            JOIN patients p ON p.identifier = wanted.identifier AND p.assigning_authority = wanted.authority
            JOIN vital_signs v ON v.patient_id = p.id
            JOIN devices d ON d.id = v.device_id
            WHERE v.vital_kind = ANY ($3::smallint[]) AND v.observation_time > to_timestamp($4::double precision)
            ORDER BY v.patient_id, v.vital_kind, v.observation_time DESC
            """, [
                PostgresArray.text(patients.map(\.id)), PostgresArray.text(patients.map(\.assigningAuthority)),
                // A bound the planner knows: it reads only the partitions after it (`now() - interval`
                // is known only when the statement runs, so every day's partition was opened).
                PostgresArray.integers(kinds.map(\.rawValue)), "\(Date().timeIntervalSince1970 - Double(age.components.seconds))",
            ]).rows
        return rows.compactMap { row in
            guard row.count == 7, let id = row[0], let authority = row[1], let kind = row[2].flatMap({ Int16($0) }).flatMap(VitalKind.init(rawValue:)),
                  let value = row[3].flatMap({ Double($0) }), let micros = row[4].flatMap({ Int64($0) }), let device = row[5] else { return nil }
            return Observation(
                time: Timestamp(microsecondsSinceEpoch: micros), patient: PatientIdentifier(id: id, assigningAuthority: authority),
                deviceID: device, location: row[6], kind: kind, code: ObservationCode(code: "", system: ""), value: value, unit: kind.canonicalUnit
            )
        }
    }
}
