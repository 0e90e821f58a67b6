import VitalSigns

/// RFC 3339 date-times with an offset (`2026-11-29T09:00:00.250+02:00`, `…Z`), as JSON payloads
/// carry them. A time without an offset is refused: it would silently depend on a zone.
enum RFC3339Timestamp {
    enum Problem: Error, Equatable {
        case malformed
        case outOfRange
    }

    static func parse(_ text: String) throws(Problem) -> Timestamp {
        let bytes = Array(text.utf8)
        // YYYY-MM-DDTHH:MM:SS is 19 bytes; the offset adds at least one.
        guard bytes.count >= 20, bytes.count <= 64 else { throw .malformed }
        func number(_ start: Int, _ width: Int) throws(Problem) -> Int {
            var value = 0
            for byte in bytes[start..<start + width] {
                let digit = byte &- UInt8(ascii: "0")
                guard digit < 10 else { throw .malformed }
                value = value * 10 + Int(digit)
            }
            return value
        }
        func expect(_ index: Int, _ characters: String) throws(Problem) {
            guard index < bytes.count, characters.utf8.contains(bytes[index]) else { throw .malformed }
        }
        try expect(4, "-"); try expect(7, "-"); try expect(10, "Tt "); try expect(13, ":"); try expect(16, ":")
        let year = try number(0, 4), month = try number(5, 2), day = try number(8, 2)
        let hour = try number(11, 2), minute = try number(14, 2), second = try number(17, 2)
        guard (1...12).contains(month), (1...HL7Timestamp.daysIn(month: month, year: year)).contains(day),
              hour < 24, minute < 60, second < 60 else { throw .outOfRange }

        var index = 19
        var microseconds = 0
        if bytes[index] == UInt8(ascii: ".") {
            index += 1
            var digits = 0
            while index < bytes.count, bytes[index] &- UInt8(ascii: "0") < 10 {
                // Beyond microseconds, digits are read and dropped.
                if digits < 6 { microseconds = microseconds * 10 + Int(bytes[index] &- UInt8(ascii: "0")) }
                digits += 1
                index += 1
            }
            guard digits > 0 else { throw .malformed }
            for _ in min(digits, 6)..<6 { microseconds *= 10 }
        }
        guard index < bytes.count else { throw .malformed }
        let offsetSeconds: Int
        switch bytes[index] {
        case UInt8(ascii: "Z"), UInt8(ascii: "z"):
            guard index + 1 == bytes.count else { throw .malformed }
            offsetSeconds = 0
        case UInt8(ascii: "+"), UInt8(ascii: "-"):
            guard index + 6 == bytes.count else { throw .malformed }
            try expect(index + 3, ":")
            let hours = try number(index + 1, 2), minutes = try number(index + 4, 2)
            guard hours < 24, minutes < 60 else { throw .outOfRange }
            offsetSeconds = (hours * 3600 + minutes * 60) * (bytes[index] == UInt8(ascii: "-") ? -1 : 1)
        default:
            throw .malformed
        }
        let days = HL7Timestamp.daysFromCivil(year: year, month: month, day: day)
        let seconds = days * 86_400 + hour * 3600 + minute * 60 + second - offsetSeconds
        return Timestamp(microsecondsSinceEpoch: Int64(seconds) * 1_000_000 + Int64(microseconds))
    }
}
