import Foundation
import VitalSigns

/// HL7 v2 `TS`/`DTM` values: `YYYY[MM[DD[HH[MM[SS[.S[S[S[S]]]]]]]]][+/-ZZZZ]`.
///
/// Missing parts take their lowest value (HL7 precision semantics); a value without an offset
/// is in the facility's zone.
enum HL7Timestamp {
    enum Problem: Error, Equatable {
        case malformed
        case outOfRange
    }

    static func parse(_ text: String, facilityZone: TimeZone) throws(Problem) -> Timestamp {
        var digits = text.utf8[...]
        var offsetSeconds: Int?
        if let signIndex = digits.firstIndex(where: { $0 == UInt8(ascii: "+") || $0 == UInt8(ascii: "-") }) {
            let zone = digits[digits.index(after: signIndex)...]
            guard zone.count == 4, let value = Int(decimal: zone) else { throw .malformed }
            let hours = value / 100, minutes = value % 100
            guard hours <= 14, minutes < 60 else { throw .outOfRange }
            let sign = digits[signIndex] == UInt8(ascii: "-") ? -1 : 1
            offsetSeconds = sign * (hours * 3600 + minutes * 60)
            digits = digits[..<signIndex]
        }
        var fraction = 0.0
        if let dot = digits.firstIndex(of: UInt8(ascii: ".")) {
            let fractionDigits = digits[digits.index(after: dot)...]
            guard (1...4).contains(fractionDigits.count), let value = Int(decimal: fractionDigits) else { throw .malformed }
            fraction = Double(value) / pow(10, Double(fractionDigits.count))
            digits = digits[..<dot]
            guard digits.count == 14 else { throw .malformed }
        }
        guard [4, 6, 8, 10, 12, 14].contains(digits.count) else { throw .malformed }
        func field(_ offset: Int, _ length: Int, default value: Int) throws(Problem) -> Int {
            guard offset + length <= digits.count else { return value }
            let start = digits.index(digits.startIndex, offsetBy: offset)
            guard let number = Int(decimal: digits[start..<digits.index(start, offsetBy: length)]) else { throw .malformed }
            return number
        }
        let year = try field(0, 4, default: 0), month = try field(4, 2, default: 1), day = try field(6, 2, default: 1)
        let hour = try field(8, 2, default: 0), minute = try field(10, 2, default: 0), second = try field(12, 2, default: 0)
        guard (1...12).contains(month), (1...daysIn(month: month, year: year)).contains(day),
              hour < 24, minute < 60, second < 60, year >= 1900
        else { throw .outOfRange }
        let localSeconds = daysFromCivil(year: year, month: month, day: day) * 86_400 + hour * 3600 + minute * 60 + second
        let offset = offsetSeconds ?? zoneOffset(facilityZone, localSeconds: localSeconds)
        let utcSeconds = localSeconds - offset
        return Timestamp(microsecondsSinceEpoch: Int64(utcSeconds) * 1_000_000 + Int64((fraction * 1_000_000).rounded()))
    }

    /// The zone's offset at a local wall-clock time (ambiguous times take the earlier offset).
    private static func zoneOffset(_ zone: TimeZone, localSeconds: Int) -> Int {
        let guess = zone.secondsFromGMT(for: Date(timeIntervalSince1970: TimeInterval(localSeconds)))
        return zone.secondsFromGMT(for: Date(timeIntervalSince1970: TimeInterval(localSeconds - guess)))
    }

    private static func daysIn(month: Int, year: Int) -> Int {
        switch month {
        case 2: (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 ? 29 : 28
        case 4, 6, 9, 11: 30
        default: 31
        }
    }

    /// Days since 1970-01-01 in the proleptic Gregorian calendar (H. Hinnant's algorithm).
    private static func daysFromCivil(year: Int, month: Int, day: Int) -> Int {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yearOfEra = y - era * 400
        let dayOfYear = (153 * (month + (month > 2 ? -3 : 9)) + 2) / 5 + day - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        return era * 146_097 + dayOfEra - 719_468
    }
}

private extension Int {
    /// Only ASCII digits, no sign: HL7 timestamps allow nothing else.
    init?(decimal digits: Substring.UTF8View.SubSequence) {
        guard !digits.isEmpty else { return nil }
        var value = 0
        for byte in digits {
            guard byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") else { return nil }
            value = value * 10 + Int(byte - UInt8(ascii: "0"))
        }
        self = value
    }
}
