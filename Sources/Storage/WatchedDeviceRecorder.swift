import Logging
import VitalSigns

/// Keeps the devices the silence rule watches in `watched_devices`, one row per facility and
/// device, without making the alert stage wait (a queue and a thread of its own,
/// `BackgroundRecorder`), and reads them back when an engine starts.
public final class WatchedDeviceRecorder: Sendable {
    private let recorder: BackgroundRecorder<WatchedDevice>

    public init(url: String, facility: String, capacity: Int = 100_000, logger: Logger) {
        recorder = BackgroundRecorder(url: url, capacity: capacity, threadName: "nc-watched", what: "watched devices", logger: logger) {
            devices, connection throws(PostgresError) in try WatchedDeviceRecorder.upsert(devices, facility: facility, into: connection)
        }
    }

    /// Queues `device`'s state; never blocks. False when the queue is full.
    @discardableResult
    public func record(_ device: WatchedDevice) -> Bool { recorder.record(device) }

    /// Writes what is queued (one attempt if the database is down), stops the thread and returns when it has (at most 15 s).
    public func shutdown() { recorder.shutdown() }

    /// The devices `facility`'s engine watched that were heard within `age` of now.
    public static func load(url: String, facility: String, heardWithin age: Duration) throws(PostgresError) -> [WatchedDevice] {
        let connection = try PostgresConnection(url: url)
        defer { connection.close() }
        let rows = try connection.query("""
            SELECT device_identifier, (EXTRACT(EPOCH FROM last_heard) * 1000000)::bigint,
                (EXTRACT(EPOCH FROM allowed_silence) * 1000000)::bigint, patient_identifier, assigning_authority, location, is_silent,
                (EXTRACT(EPOCH FROM patient_named_at) * 1000000)::bigint
            FROM watched_devices
            WHERE facility = $1 AND last_heard > now() - $2::interval
            ORDER BY device_identifier
            """, [facility, "\(age.components.seconds) seconds"]).rows
        return rows.compactMap { row in
            guard row.count == 8, let device = row[0], let heard = row[1].flatMap({ Int64($0) }),
                  let allowed = row[2].flatMap({ Int64($0) }), let silent = row[6] else { return nil }
            return WatchedDevice(
                deviceID: device, lastHeard: Timestamp(microsecondsSinceEpoch: heard), allowedSilence: .microseconds(allowed),
                patient: row[3].map { PatientIdentifier(id: $0, assigningAuthority: row[4] ?? "") }, location: row[5], isSilent: silent == "t",
                patientNamedAt: row[7].flatMap { Int64($0) }.map(Timestamp.init(microsecondsSinceEpoch:))
            )
        }
    }

    private static func upsert(_ devices: [WatchedDevice], facility: String, into connection: PostgresConnection) throws(PostgresError) {
        // One row per device and statement (ON CONFLICT may touch a row once): the latest state.
        // Devices by their bytes, as the key compares them.
        var latest: [ExactText: WatchedDevice] = [:]
        for device in devices { latest[ExactText(device.deviceID)] = device }
        let rows = latest.values.sorted { ExactText($0.deviceID) < ExactText($1.deviceID) }
        _ = try connection.query("""
            INSERT INTO watched_devices
                (facility, device_identifier, last_heard, allowed_silence, patient_identifier, assigning_authority, location, is_silent, patient_named_at)
            SELECT $1, d, to_timestamp(0) + h * interval '1 microsecond', a * interval '1 microsecond', p, pa, l, s,
                to_timestamp(0) + n * interval '1 microsecond'
            FROM unnest($2::text[], $3::bigint[], $4::bigint[], $5::text[], $6::text[], $7::text[], $8::boolean[], $9::bigint[])
                AS t (d, h, a, p, pa, l, s, n)
            ON CONFLICT (facility, device_identifier) DO UPDATE SET
                last_heard = EXCLUDED.last_heard, allowed_silence = EXCLUDED.allowed_silence,
                patient_identifier = EXCLUDED.patient_identifier, assigning_authority = EXCLUDED.assigning_authority,
                location = EXCLUDED.location, is_silent = EXCLUDED.is_silent, patient_named_at = EXCLUDED.patient_named_at
            """, [
                facility,
                PostgresArray.text(rows.map(\.deviceID)),
                PostgresArray.integers(rows.map(\.lastHeard.microsecondsSinceEpoch)),
                PostgresArray.integers(rows.map { $0.allowedSilence.wholeMicroseconds }),
                PostgresArray.text(rows.map { $0.patient?.id }),
                PostgresArray.text(rows.map { $0.patient?.assigningAuthority }),
                PostgresArray.text(rows.map(\.location)),
                PostgresArray.text(rows.map { $0.isSilent ? "t" : "f" }),
                PostgresArray.integers(rows.map { $0.patientNamedAt?.microsecondsSinceEpoch }),
            ], prepared: true)
    }
}
