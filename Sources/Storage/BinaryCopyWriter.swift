import VitalSigns

/// Builds a PostgreSQL binary COPY stream (`COPY ... FROM STDIN (FORMAT binary)`).
///
/// Layout: the 11-byte signature `PGCOPY\n\xff\r\n\0`, a 32-bit flags field (0), a 32-bit
/// header-extension length (0), then per row a 16-bit field count followed by each field as a
/// 32-bit length (-1 for NULL) and its bytes in the type's binary send format (network byte
/// order), and finally the trailer: a 16-bit -1.
///
/// Each field's binary format must match the column's type exactly (`int2`, `int4`, `int8`,
/// `float8`, `bool`, `text`, `"char"`, `timestamptz`, `bytea`): the server does not convert.
public struct BinaryCopyWriter: Sendable {
    public static let signature: [UInt8] = [0x50, 0x47, 0x43, 0x4F, 0x50, 0x59, 0x0A, 0xFF, 0x0D, 0x0A, 0x00]
    /// Signature, flags and header-extension length: where the first row starts.
    public static let headerLength = 19
    /// Microseconds between the Unix epoch and PostgreSQL's epoch, 2000-01-01 00:00:00 UTC.
    public static let postgresEpochOffsetMicroseconds: Int64 = 946_684_800_000_000

    private var buffer: [UInt8]
    /// Rows begun so far.
    public private(set) var rowCount = 0

    public init() {
        self.init(reservingCapacity: 0)
    }

    /// Starts a stream with room for about `capacity` bytes (roughly rows × bytes per row).
    public init(reservingCapacity capacity: Int) {
        buffer = []
        buffer.reserveCapacity(max(capacity, 0) + 21)
        buffer.append(contentsOf: Self.signature)
        appendRaw(Int32(0))  // flags: no OIDs
        appendRaw(Int32(0))  // header extension length
    }

    public mutating func reserveCapacity(_ bytes: Int) {
        buffer.reserveCapacity(bytes)
    }

    /// Bytes written so far, without the trailer.
    public var byteCount: Int { buffer.count }

    /// Starts a row of `fieldCount` fields; exactly that many `append` calls must follow.
    public mutating func beginRow(fieldCount: Int16) {
        rowCount += 1
        appendRaw(fieldCount)
    }

    public mutating func appendNull() {
        appendRaw(Int32(-1))
    }

    /// `smallint`
    public mutating func append(_ value: Int16) {
        appendRaw(Int32(2))
        appendRaw(value)
    }

    /// `integer`
    public mutating func append(_ value: Int32) {
        appendRaw(Int32(4))
        appendRaw(value)
    }

    /// `bigint`
    public mutating func append(_ value: Int64) {
        appendRaw(Int32(8))
        appendRaw(value)
    }

    /// `double precision`
    public mutating func append(_ value: Double) {
        appendRaw(Int32(8))
        appendRaw(value.bitPattern)
    }

    /// `real`
    public mutating func append(_ value: Float) {
        appendRaw(Int32(4))
        appendRaw(value.bitPattern)
    }

    /// `boolean`
    public mutating func append(_ value: Bool) {
        appendRaw(Int32(1))
        buffer.append(value ? 1 : 0)
    }

    /// `text` / `varchar` (UTF-8). PostgreSQL text cannot hold NUL characters; the server
    /// rejects a field that contains one.
    public mutating func append(_ value: String) {
        // Native Strings lend their bytes in place; only others (bridged, lazily decoded) are copied.
        let appended: Void? = value.utf8.withContiguousStorageIfAvailable { bytes in
            appendRaw(Int32(bytes.count))
            buffer.append(contentsOf: bytes)
        }
        if appended == nil {
            var copy = value
            copy.withUTF8 { bytes in
                appendRaw(Int32(bytes.count))
                buffer.append(contentsOf: bytes)
            }
        }
    }

    /// `"char"`: one byte, e.g. an ASCII status code.
    public mutating func append(char value: UInt8) {
        appendRaw(Int32(1))
        buffer.append(value)
    }

    /// `bytea`
    public mutating func append(bytes: some Collection<UInt8>) {
        appendRaw(Int32(bytes.count))
        buffer.append(contentsOf: bytes)
    }

    /// `timestamptz` (or `timestamp`): microseconds since 2000-01-01 on the wire.
    public mutating func append(timestamp: Timestamp) {
        appendRaw(Int32(8))
        appendRaw(timestamp.microsecondsSinceEpoch &- Self.postgresEpochOffsetMicroseconds)
    }

    // Optional conveniences: nil writes NULL.
    public mutating func append(_ value: Int16?) { if let value { append(value) } else { appendNull() } }
    public mutating func append(_ value: Int32?) { if let value { append(value) } else { appendNull() } }
    public mutating func append(_ value: Int64?) { if let value { append(value) } else { appendNull() } }
    public mutating func append(_ value: Double?) { if let value { append(value) } else { appendNull() } }
    public mutating func append(_ value: Bool?) { if let value { append(value) } else { appendNull() } }
    public mutating func append(_ value: String?) { if let value { append(value) } else { appendNull() } }
    public mutating func append(timestamp: Timestamp?) { if let timestamp { append(timestamp: timestamp) } else { appendNull() } }

    /// The complete stream, with the trailer. Consuming, so finishing the last copy of a writer
    /// does not copy its buffer.
    public consuming func finish() -> [UInt8] {
        var bytes = buffer
        buffer = []
        bytes.append(0xFF)
        bytes.append(0xFF)
        return bytes
    }

    /// Byte by byte, most significant first: appending a raw buffer per value cost more than
    /// the value's few bytes.
    @inline(__always)
    private mutating func appendRaw<T: FixedWidthInteger>(_ value: T) {
        var shift = T.bitWidth - 8
        while shift >= 0 {
            buffer.append(UInt8(truncatingIfNeeded: value >> shift))
            shift -= 8
        }
    }
}
