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

    /// The latest value of each kind per patient and device, received within `age` of now, with
    /// when it was received: NEWS2 ages readings from when they were heard, whatever the device's
    /// clock. Latest as the evaluator judges a new reading (`NEWS2Readings.newer`): within one
    /// device by the device's clock, so a backlog it resent late does not stand for what it
    /// measured since; across devices the one heard last, which the evaluator picks from these.
    func latest(of patients: [PatientIdentifier], kinds: [VitalKind], within age: Duration) throws(PostgresError) -> [(observation: Observation, receivedAt: Timestamp)] {
        let connection = try PostgresConnection(url: url)
        defer { connection.close() }
        let cutoff = Date().timeIntervalSince1970 - Double(age.components.seconds)
        let rows = try connection.query("""
            SELECT DISTINCT ON (v.patient_id, v.vital_kind, v.device_id) p.identifier, p.assigning_authority, v.vital_kind, v.value,
                (EXTRACT(EPOCH FROM v.observation_time) * 1000000)::bigint, d.identifier, v.location,
                (EXTRACT(EPOCH FROM v.received_at) * 1000000)::bigint
            FROM unnest($1::text[], $2::text[]) AS wanted (identifier, authority)
            JOIN patients p ON p.identifier = wanted.identifier AND p.assigning_authority = wanted.authority
            JOIN vital_signs v ON v.patient_id = p.id
            JOIN devices d ON d.id = v.device_id
            WHERE v.vital_kind = ANY ($3::smallint[]) AND v.received_at > to_timestamp($4::double precision)
              AND v.observation_time > to_timestamp($5::double precision)
            ORDER BY v.patient_id, v.vital_kind, v.device_id, v.observation_time DESC, v.received_at DESC
            """, [
                PostgresArray.text(patients.map(\.id)), PostgresArray.text(patients.map(\.assigningAuthority)),
                PostgresArray.integers(kinds.map(\.rawValue)), "\(cutoff)",
                // A bound on the partitioning column the planner knows, so it reads only the
                // partitions after it (`now() - interval` is known only when the statement runs,
                // and every day's partition was opened); a day wider, for devices whose clocks run behind.
                "\(cutoff - Self.clockSlack)",
            ]).rows
        return rows.compactMap { row in
            guard row.count == 8, let id = row[0], let authority = row[1], let kind = row[2].flatMap({ Int16($0) }).flatMap(VitalKind.init(rawValue:)),
                  let value = row[3].flatMap({ Double($0) }), let micros = row[4].flatMap({ Int64($0) }), let device = row[5],
                  let received = row[7].flatMap({ Int64($0) }) else { return nil }
            let observation = Observation(
                time: Timestamp(microsecondsSinceEpoch: micros), patient: PatientIdentifier(id: id, assigningAuthority: authority),
                deviceID: device, location: row[6], kind: kind, code: ObservationCode(code: "", system: ""), value: value, unit: kind.canonicalUnit
            )
            return (observation, Timestamp(microsecondsSinceEpoch: received))
        }
    }

    /// How far behind the engine's a device's clock may run for its readings to be restored.
    static let clockSlack: Double = 24 * 3600
}
