/// An instant, as microseconds since the Unix epoch (UTC).
///
/// Microseconds are what PostgreSQL stores for `timestamptz`, so values reach the database
/// without rounding, and an integer keeps the hot path free of `Date` arithmetic.
public struct Timestamp: Sendable, Hashable, Comparable, Codable, CustomStringConvertible {
    public var microsecondsSinceEpoch: Int64

    public init(microsecondsSinceEpoch: Int64) {
        self.microsecondsSinceEpoch = microsecondsSinceEpoch
    }

    public init(secondsSinceEpoch: Double) {
        self.microsecondsSinceEpoch = Int64((secondsSinceEpoch * 1_000_000).rounded())
    }

    public var secondsSinceEpoch: Double { Double(microsecondsSinceEpoch) / 1_000_000 }

    public static func < (lhs: Timestamp, rhs: Timestamp) -> Bool {
        lhs.microsecondsSinceEpoch < rhs.microsecondsSinceEpoch
    }

    public var description: String { "Timestamp(\(microsecondsSinceEpoch)µs)" }
}

extension Timestamp {
    /// The instant `duration` later (earlier when negative).
    public func advanced(by duration: Duration) -> Timestamp {
        Timestamp(microsecondsSinceEpoch: microsecondsSinceEpoch + duration.wholeMicroseconds)
    }

    /// The time from `earlier` to this instant.
    public func duration(since earlier: Timestamp) -> Duration {
        .microseconds(microsecondsSinceEpoch - earlier.microsecondsSinceEpoch)
    }
}

extension Duration {
    /// Whole microseconds, the resolution of `Timestamp`.
    public var wholeMicroseconds: Int64 {
        let (seconds, attoseconds) = components
        return seconds * 1_000_000 + attoseconds / 1_000_000_000_000
    }
}
