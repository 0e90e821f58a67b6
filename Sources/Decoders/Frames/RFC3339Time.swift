import VitalSigns

/// RFC 3339 date-times as JSON payloads write them (`2026-11-29T09:00:00.250+02:00`), which is
/// also FHIR's `dateTime`/`instant` with a time of day. A measurement needs an instant, so the
/// offset is required and a date without a time is refused.
enum RFC3339Time {
    enum Problem: Error, Equatable {
        /// `2026`, `2026-11` or `2026-11-29`: a day, not an instant.
        case dateOnly
        /// A time of day without `Z` or `±hh:mm`.
        case missingOffset
        case malformed
        case outOfRange
    }

    static func parse(_ text: String) throws(Problem) -> Timestamp {
        let bytes = Array(text.utf8)
        var index = 0
        func digits(_ width: Int) throws(Problem) -> Int {
            guard index + width <= bytes.count else { throw .malformed }
            var value = 0
            for byte in bytes[index..<(index + width)] {
                let digit = byte &- UInt8(ascii: "0")
                guard digit < 10 else { throw .malformed }
                value = value * 10 + Int(digit)
            }
            index += width
            return value
        }
        func expect(_ character: Character) throws(Problem) {
            guard index < bytes.count, bytes[index] == character.asciiValue else { throw .malformed }
            index += 1
        }
        // FHIR's partial dates (year, year-month, date) are days, not instants.
        let year = try digits(4)
        if index == bytes.count { throw .dateOnly }
        try expect("-")
        let month = try digits(2)
        if index == bytes.count { throw .dateOnly }
        try expect("-")
        let day = try digits(2)
        if index == bytes.count { throw .dateOnly }
        guard index < bytes.count, [UInt8(ascii: "T"), UInt8(ascii: "t"), UInt8(ascii: " ")].contains(bytes[index]) else {
            throw .malformed
        }
        index += 1
        let hour = try digits(2)
        try expect(":")
        let minute = try digits(2)
        try expect(":")
        let second = try digits(2)
        var micros = 0
        if index < bytes.count, bytes[index] == UInt8(ascii: ".") {
            index += 1
            let start = index
            while index < bytes.count, bytes[index] &- UInt8(ascii: "0") < 10 {
                // Digits past the microsecond are dropped: storage keeps microseconds.
                if index - start < 6 { micros = micros * 10 + Int(bytes[index] - UInt8(ascii: "0")) }
                index += 1
            }
            guard index > start else { throw .malformed }
            for _ in min(index - start, 6)..<6 { micros *= 10 }
        }
        guard index < bytes.count else { throw .missingOffset }
        let offsetSeconds: Int
        switch bytes[index] {
        case UInt8(ascii: "Z"), UInt8(ascii: "z"):
            index += 1
            offsetSeconds = 0
        case UInt8(ascii: "+"), UInt8(ascii: "-"):
            let sign = bytes[index] == UInt8(ascii: "-") ? -1 : 1
            index += 1
            let hours = try digits(2)
            try expect(":")
            let minutes = try digits(2)
            guard hours <= 14, minutes < 60 else { throw .outOfRange }
            offsetSeconds = sign * (hours * 3600 + minutes * 60)
        default:
            throw .malformed
        }
        guard index == bytes.count else { throw .malformed }
        guard (1...12).contains(month), (1...HL7Timestamp.daysIn(month: month, year: year)).contains(day),
              hour < 24, minute < 60, second < 60, year >= 1900
        else { throw .outOfRange }
        let localSeconds = HL7Timestamp.daysFromCivil(year: year, month: month, day: day) * 86_400
            + hour * 3600 + minute * 60 + second
        return Timestamp(microsecondsSinceEpoch: Int64(localSeconds - offsetSeconds) * 1_000_000 + Int64(micros))
    }

    /// Why a text is not an instant, for a decode error's detail.
    static func explain(_ problem: Problem) -> String {
        switch problem {
        case .dateOnly: "a date without a time of day; a measurement needs a full date-time with an offset"
        case .missingOffset: "a time of day without an offset (Z or ±hh:mm)"
        case .malformed: "not an RFC 3339 date-time such as 2026-11-29T09:00:00+02:00"
        case .outOfRange: "a date or time out of range"
        }
    }
}
