import Foundation
import Logging

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

/// Upserts device presence into `device_presence` from a thread of its own, so a source never
/// waits for the database. Only the latest state per device is kept while waiting, so memory is
/// bounded by the number of devices; a database outage is retried with backoff.
public final class DevicePresenceRecorder: Sendable {
    private let pending = PresenceQueue()

    public init(url: String, logger: Logger) {
        let pending = pending
        let thread = Thread { DevicePresenceRecorder.run(url: url, pending: pending, logger: logger) }
        thread.name = "nc-presence"
        thread.start()
    }

    deinit { shutdown() }

    /// Queues `presence` (replacing an older, unwritten state of the same device); never blocks.
    public func record(_ presence: DevicePresence) { pending.put(presence) }

    /// States queued and not yet committed.
    public var backlog: Int { pending.count }

    /// Writes what is queued (one attempt if the database is down), then stops the thread.
    public func shutdown() { pending.close() }

    private static func run(url: String, pending: PresenceQueue, logger: Logger) {
        var connection: PostgresConnection?
        var retryDelay = Duration.milliseconds(100)
        while let states = pending.take() {
            do throws(PostgresError) {
                let open: PostgresConnection
                if let connection { open = connection } else { open = try PostgresConnection(url: url, logger: logger) }
                connection = open
                try upsert(states, into: open)
                retryDelay = .milliseconds(100)
            } catch {
                logger.warning("device presence not stored yet, retrying", metadata: ["error": "\(error.redactedDescription)"])
                if error.isConnectionFailure { connection?.close(); connection = nil }
                pending.putBack(states)
                if pending.isClosed { return }
                pending.waitUntilClosed(for: retryDelay)
                retryDelay = min(retryDelay * 2, .seconds(5))
            }
        }
        connection?.close()
    }

    private static func upsert(_ states: [DevicePresence], into connection: PostgresConnection) throws(PostgresError) {
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
                PostgresArray.text(states.map(\.device)),
                PostgresArray.text(states.map(\.status.rawValue)),
                PostgresArray.text(states.map(\.source)),
                PostgresArray.text(states.map { formatter.string(from: $0.changedAt) }),
            ], prepared: true)
    }
}

/// `@unchecked Sendable`: every stored property is used only while holding `condition`'s lock.
private final class PresenceQueue: @unchecked Sendable {
    private let condition = NSCondition()
    private var latest: [String: DevicePresence] = [:]
    private var closed = false

    var count: Int { condition.withLock { latest.count } }
    var isClosed: Bool { condition.withLock { closed } }

    func put(_ presence: DevicePresence) {
        condition.withLock {
            guard !closed else { return }
            latest[presence.device] = presence
            condition.signal()
        }
    }

    /// States taken out by a failed write, unless a newer one arrived meanwhile.
    func putBack(_ states: [DevicePresence]) {
        condition.withLock {
            for state in states where latest[state.device] == nil { latest[state.device] = state }
        }
    }

    /// Everything queued; nil once closed and empty.
    func take() -> [DevicePresence]? {
        condition.withLock {
            while latest.isEmpty && !closed { condition.wait() }
            guard !latest.isEmpty else { return nil }
            defer { latest.removeAll(keepingCapacity: true) }
            return Array(latest.values)
        }
    }

    func waitUntilClosed(for duration: Duration) {
        condition.withLock {
            if !closed { _ = condition.wait(until: Date(timeIntervalSinceNow: duration.seconds)) }
        }
    }

    func close() {
        condition.withLock {
            closed = true
            condition.broadcast()
        }
    }
}
