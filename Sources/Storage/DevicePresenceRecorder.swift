import Foundation
import Logging

/// Keeps `device_presence` up to date without making a source wait for the database: the latest
/// status per device is queued (a device flapping faster than the database answers is written
/// with its last state only) and one dedicated thread upserts it, retrying with backoff while the
/// database is down.
public final class DevicePresenceRecorder: Sendable {
    public enum Status: String, Sendable { case online, offline }

    private let state: PresenceQueue

    public init(url: String, logger: Logger) {
        state = PresenceQueue()
        let state = state
        let thread = Thread { DevicePresenceRecorder.run(url: url, state: state, logger: logger) }
        thread.name = "nc-presence"
        thread.start()
    }

    deinit { shutdown() }

    /// Queues `device`'s new status, seen on `source` (a port path or topic); never blocks.
    public func record(device: String, status: Status, source: String) {
        state.put(device, (status, source))
    }

    /// Devices whose status is queued and not yet committed.
    public var pending: Int { state.count }

    /// Writes what is queued (one attempt), then stops the thread.
    public func shutdown() { state.close() }

    private static func run(url: String, state: PresenceQueue, logger: Logger) {
        var connection: PostgresConnection?
        var retryDelay = Duration.milliseconds(100)
        while let changes = state.waitForChanges() {
            do throws(PostgresError) {
                let open: PostgresConnection
                if let connection { open = connection } else { open = try PostgresConnection(url: url, logger: logger) }
                connection = open
                let devices = changes.keys.sorted()
                try open.query("""
                    INSERT INTO device_presence (device_identifier, status, source, changed_at)
                    SELECT device, status, source, now() FROM unnest($1::text[], $2::text[], $3::text[]) AS c (device, status, source)
                    ON CONFLICT (device_identifier) DO UPDATE
                    SET status = EXCLUDED.status, source = EXCLUDED.source, changed_at = EXCLUDED.changed_at
                    """, [
                        PostgresArray.text(devices),
                        PostgresArray.text(devices.map { changes[$0]?.0.rawValue ?? "offline" }),
                        PostgresArray.text(devices.map { changes[$0]?.1 ?? "" }),
                    ])
                state.committed(changes)
                retryDelay = .milliseconds(100)
            } catch {
                logger.warning("device presence not stored yet, retrying", metadata: ["error": "\(error.redactedDescription)"])
                if error.isConnectionFailure { connection?.close(); connection = nil }
                if state.isClosed { return }
                state.waitUntilClosed(for: retryDelay)
                retryDelay = min(retryDelay * 2, .seconds(5))
            }
        }
        connection?.close()
    }
}

/// `@unchecked Sendable`: every stored property is used only while holding `condition`'s lock.
private final class PresenceQueue: ClosableQueue, @unchecked Sendable {
    typealias Change = (DevicePresenceRecorder.Status, String)
    private var changes: [String: Change] = [:]

    var count: Int { condition.withLock { changes.count } }

    func put(_ device: String, _ change: Change) {
        condition.withLock {
            changes[device] = change
            condition.signal()
        }
    }

    /// The queued changes (left queued until `committed`); nil once closed and empty.
    func waitForChanges() -> [String: Change]? {
        condition.withLock {
            while changes.isEmpty && !closed { condition.wait() }
            return changes.isEmpty ? nil : changes
        }
    }

    /// Forgets the written changes, unless a newer one for the device arrived meanwhile.
    func committed(_ written: [String: Change]) {
        condition.withLock {
            for (device, change) in written where changes[device].map({ $0 == change }) ?? false {
                changes[device] = nil
            }
        }
    }
}
