import Foundation
import Logging
import VitalSigns

/// What a device last said about itself (`online`/`offline`), as `device_presence` keeps it.
public struct DevicePresence: Sendable, Equatable {
    public enum Status: String, Sendable {
        case online, offline
    }

    public var device: String
    public var status: Status
    /// The topic or port it came from.
    public var source: String
    public var changedAt: Date

    public init(device: String, status: Status, source: String, changedAt: Date = Date()) {
        self.device = device
        self.status = status
        self.source = source
        self.changedAt = changedAt
    }
}

/// Upserts device presence into `device_presence` without making a source wait: a bounded queue
/// and a thread of its own (`BackgroundRecorder`). Presence changes are rare (a device's
/// connect or last will), so the bound is never the limit in practice.
public final class DevicePresenceRecorder: Sendable {
    private let recorder: BackgroundRecorder<DevicePresence>

    public init(url: String, capacity: Int = 10_000, logger: Logger) {
        recorder = BackgroundRecorder(url: url, capacity: capacity, threadName: "nc-presence", what: "device presence", logger: logger) {
            states, connection throws(PostgresError) in try DevicePresenceRecorder.upsert(states, into: connection)
        }
    }

    /// Queues `presence`; never blocks. False when the queue is full.
    @discardableResult
    public func record(_ presence: DevicePresence) -> Bool { recorder.record(presence) }

    /// States queued and not yet committed.
    public var backlog: Int { recorder.pending }

    /// Writes what is queued (one attempt if the database is down), stops the thread and returns when it has (at most 15 s).
    public func shutdown() { recorder.shutdown() }

    private static func upsert(_ states: [DevicePresence], into connection: PostgresConnection) throws(PostgresError) {
        // One row per device and statement (ON CONFLICT may touch a row once): the latest state.
        // Devices by their bytes, as the key compares them.
        var latest: [ExactText: DevicePresence] = [:]
        for state in states where latest[ExactText(state.device)].map({ $0.changedAt <= state.changedAt }) ?? true {
            latest[ExactText(state.device)] = state
        }
        let rows = Array(latest.values)
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        // An older state (a retained message replayed late) never overwrites a newer one.
        _ = try connection.query("""
            INSERT INTO device_presence (device_identifier, status, source, changed_at)
            SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::timestamptz[])
            ON CONFLICT (device_identifier) DO UPDATE
                SET status = EXCLUDED.status, source = EXCLUDED.source, changed_at = EXCLUDED.changed_at
                WHERE device_presence.changed_at <= EXCLUDED.changed_at
            """, [
                PostgresArray.text(rows.map(\.device)),
                PostgresArray.text(rows.map(\.status.rawValue)),
                PostgresArray.text(rows.map(\.source)),
                PostgresArray.text(rows.map { formatter.string(from: $0.changedAt) }),
            ], prepared: true)
    }
}
