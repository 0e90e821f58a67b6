import Foundation
import Logging
import Metrics

/// A frame a source received and could not decode, as `rejected_frames` keeps it.
public struct RejectedFrame: Sendable, Equatable {
    /// `mqtt` or `serial`.
    public var source: String
    /// The topic or port the frame came from.
    public var origin: String
    public var device: String?
    /// Short and stable, for counting: `bad_checksum`, `invalid_json`, …
    public var reason: String
    /// The decoder's own words, for the engineer reading the table.
    public var detail: String
    public var raw: [UInt8]
    public var receivedAt: Date

    public init(source: String, origin: String, device: String?, reason: String, detail: String, raw: [UInt8], receivedAt: Date = Date()) {
        self.source = source
        self.origin = origin
        self.device = device
        self.reason = reason
        self.detail = detail
        self.raw = raw
        self.receivedAt = receivedAt
    }
}

/// Keeps rejected frames in `rejected_frames` without making a source wait for the database.
///
/// Frames queue in memory (bounded: a device spewing garbage must not exhaust memory; frames over
/// the bound are counted in `rejected_frames_dropped_total` and logged once) and one dedicated
/// thread inserts them in groups. A database outage is retried with backoff; frames queued
/// meanwhile are kept up to the bound.
public final class RejectedFrameRecorder: Sendable {
    private let queue: FrameQueue
    private let dropped = Counter(label: "rejected_frames_dropped_total")

    public init(url: String, capacity: Int = 10_000, logger: Logger) {
        queue = FrameQueue(capacity: capacity)
        let queue = queue
        let thread = Thread {
            RejectedFrameRecorder.run(url: url, queue: queue, logger: logger)
        }
        thread.name = "nc-rejected"
        thread.start()
    }

    deinit { shutdown() }

    /// Queues `frame` for the table; never blocks.
    public func record(_ frame: RejectedFrame) {
        if !queue.push(frame) { dropped.increment() }
    }

    /// Frames queued and not yet committed.
    public var pending: Int { queue.count }

    /// Writes what is queued (one attempt if the database is down), then stops the thread.
    public func shutdown() { queue.close() }

    private static func run(url: String, queue: FrameQueue, logger: Logger) {
        var connection: PostgresConnection?
        var retryDelay = Duration.milliseconds(100)
        while let frames = queue.peekGroup(max: 500) {
            do throws(PostgresError) {
                let open: PostgresConnection
                if let connection { open = connection } else { open = try PostgresConnection(url: url, logger: logger) }
                connection = open
                try insert(frames, into: open)
                queue.drop(frames.count)
                retryDelay = .milliseconds(100)
            } catch {
                logger.warning("rejected frames not stored yet, retrying", metadata: ["error": "\(error.redactedDescription)", "queued": "\(queue.count)"])
                if error.isConnectionFailure { connection?.close(); connection = nil }
                if queue.isClosed { return }
                queue.waitUntilClosed(for: retryDelay)
                retryDelay = min(retryDelay * 2, .seconds(5))
            }
        }
        connection?.close()
    }

    private static func insert(_ frames: [RejectedFrame], into connection: PostgresConnection) throws(PostgresError) {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        _ = try connection.query("""
            INSERT INTO rejected_frames (received_at, source, origin, device, reason, detail, raw)
            SELECT * FROM unnest($1::timestamptz[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::bytea[])
            """, [
                PostgresArray.text(frames.map { formatter.string(from: $0.receivedAt) }),
                PostgresArray.text(frames.map(\.source)),
                PostgresArray.text(frames.map(\.origin)),
                PostgresArray.text(frames.map(\.device)),
                PostgresArray.text(frames.map(\.reason)),
                PostgresArray.text(frames.map { sanitized($0.detail) }),
                PostgresArray.text(frames.map { byteaHex($0.raw) }),
            ], prepared: true)
    }

    /// `\\x0b4d53…`, bytea's hex input format.
    private static func byteaHex(_ bytes: [UInt8]) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var text: [UInt8] = [UInt8(ascii: "\\"), UInt8(ascii: "x")]
        text.reserveCapacity(2 + bytes.count * 2)
        for byte in bytes {
            text.append(digits[Int(byte >> 4)])
            text.append(digits[Int(byte & 0x0f)])
        }
        return String(decoding: text, as: UTF8.self)
    }

    /// PostgreSQL text cannot hold NUL; a decoder's message may quote raw bytes.
    private static func sanitized(_ text: String) -> String {
        text.replacingOccurrences(of: "\u{0}", with: "\\0")
    }
}

/// `@unchecked Sendable`: every stored property is used only while holding `condition`'s lock.
private final class FrameQueue: ClosableQueue, @unchecked Sendable {
    private var frames: [RejectedFrame] = []
    private let capacity: Int

    init(capacity: Int) { self.capacity = max(1, capacity) }

    var count: Int { condition.withLock { frames.count } }

    func push(_ frame: RejectedFrame) -> Bool {
        condition.withLock {
            guard !closed, frames.count < capacity else { return false }
            frames.append(frame)
            condition.signal()
            return true
        }
    }

    /// The oldest frames (left in the queue until `drop`); nil once closed and empty.
    func peekGroup(max: Int) -> [RejectedFrame]? {
        condition.withLock {
            while frames.isEmpty && !closed { condition.wait() }
            return frames.isEmpty ? nil : Array(frames.prefix(max))
        }
    }

    func drop(_ count: Int) {
        condition.withLock { frames.removeFirst(count) }
    }

}

/// The lock, wake-up and closed flag of a recorder's queue, whose thread sleeps on it between
/// retries and is woken by `close()`. Subclasses keep their own state under `condition`'s lock.
class ClosableQueue: @unchecked Sendable {
    let condition = NSCondition()
    /// Used only while holding `condition`'s lock.
    var closed = false

    var isClosed: Bool { condition.withLock { closed } }

    /// Sleeps up to `duration`, or until closed.
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
