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

/// Keeps rejected frames in `rejected_frames` without making a source wait: a bounded queue and
/// a thread of its own (`BackgroundRecorder`). Frames over the bound are counted in
/// `rejected_frames_dropped_total`.
public final class RejectedFrameRecorder: Sendable {
    private let recorder: BackgroundRecorder<RejectedFrame>
    private let dropped = Counter(label: "rejected_frames_dropped_total")

    public init(url: String, capacity: Int = 10_000, logger: Logger) {
        recorder = BackgroundRecorder(url: url, capacity: capacity, threadName: "nc-rejected", what: "rejected frames", logger: logger) {
            frames, connection throws(PostgresError) in try RejectedFrameRecorder.insert(frames, into: connection)
        }
    }

    /// Bytes of a frame kept for the engineer reading the table: its start shows what went
    /// wrong, and a queue of 10,000 frames stays bounded in memory (an MQTT payload may be
    /// hundreds of megabytes).
    public static let keptBytes = 16_384

    /// Queues `frame` for the table, its first `keptBytes` bytes; never blocks. `kept` is called
    /// once it is in the table, or at once when the queue is full and it is dropped (counted).
    public func record(_ frame: RejectedFrame, whenKept kept: (@Sendable () -> Void)? = nil) {
        var frame = frame
        if frame.raw.count > Self.keptBytes {
            frame.detail += " (the first \(Self.keptBytes) of \(frame.raw.count) bytes kept)"
            frame.raw = Array(frame.raw.prefix(Self.keptBytes))
        }
        if !recorder.record(frame, whenKept: kept) {
            dropped.increment()
            kept?()
        }
    }

    /// Frames queued and not yet committed.
    public var pending: Int { recorder.pending }

    /// Writes what is queued (one attempt if the database is down), stops the thread and returns when it has (at most 15 s).
    public func shutdown() { recorder.shutdown() }

    private static func insert(_ frames: [RejectedFrame], into connection: PostgresConnection) throws(PostgresError) {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        _ = try connection.query("""
            INSERT INTO rejected_frames (received_at, source, origin, device, reason, detail, raw)
            SELECT * FROM unnest($1::timestamptz[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::bytea[])
            """, [
                PostgresArray.text(frames.map { formatter.string(from: $0.receivedAt) }),
                PostgresArray.text(frames.map { sanitized($0.source) }),
                PostgresArray.text(frames.map { sanitized($0.origin) }),
                PostgresArray.text(frames.map { $0.device.map(sanitized) }),
                PostgresArray.text(frames.map { sanitized($0.reason) }),
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

    /// PostgreSQL text cannot hold NUL: a decoder's message may quote raw bytes, and a topic or a
    /// payload's device id may carry one. Left in, it would fail this insert on every retry and
    /// hold up every rejection after it.
    private static func sanitized(_ text: String) -> String {
        text.replacingOccurrences(of: "\u{0}", with: "\\0")
    }
}
