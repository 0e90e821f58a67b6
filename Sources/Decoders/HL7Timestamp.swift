import Foundation
import VitalSigns

/// HL7 v2 `TS`/`DTM` values: `YYYY[MM[DD[HH[MM[SS[.S[S[S[S]]]]]]]]][+/-ZZZZ]` (up to six
/// fraction digits are read, as some gateways send microseconds).
///
/// Missing parts take their lowest value (HL7 precision semantics). A value without an offset
/// is in the sender's zone (`UnzonedTimes`). Parsed straight from the message bytes: it runs
/// once per OBX.
enum HL7Timestamp {
    enum Problem: Error, Equatable {
        case malformed
        case outOfRange
    }

    /// How times sent without an offset are read: in the facility's zone, summer time included,
    /// or at the fixed offset of a sender whose clock runs on another zone.
    enum UnzonedTimes: Equatable {
        case facilityZone
        case fixedOffset(Int)
    }

    /// What a message's MSH-7 says of its sender's clock: the offset it was at, at that time.
    struct SenderClock: Equatable {
        var offset: Int
        var time: Timestamp

        /// MSH-7's offset shows the sender's zone at one instant only. When it is the facility's
        /// offset then, the sender keeps the facility's clock, and its times are read in the
        /// facility's zone (a row measured before the clocks went back, sent after, is an hour
        /// off at MSH-7's offset). Otherwise its clock runs on another zone (a gateway on UTC),
        /// whose offset is taken as fixed.
        func unzonedTimes(facilityZone: TimeZone) -> UnzonedTimes {
            let facilityOffset = facilityZone.secondsFromGMT(for: Date(timeIntervalSince1970: TimeInterval(time.microsecondsSinceEpoch / 1_000_000)))
            return facilityOffset == offset ? .facilityZone : .fixedOffset(offset)
        }
    }

    /// Whether a TS/DTM value carries its own `+/-ZZZZ` offset.
    static func hasOffset(_ bytes: UnsafeBufferPointer<UInt8>) -> Bool {
        offsetSign(in: bytes) != nil
    }

    /// Where the `+/-ZZZZ` offset starts, if the value has one.
    private static func offsetSign(in bytes: UnsafeBufferPointer<UInt8>) -> Int? {
        bytes.firstIndex { $0 == UInt8(ascii: "+") || $0 == UInt8(ascii: "-") }
    }

    static func parse(_ text: String, facilityZone: TimeZone, unzoned: UnzonedTimes = .facilityZone) throws(Problem) -> Timestamp {
        try Array(text.utf8).withUnsafeBufferPointer { (bytes) throws(Problem) in
            try parse(bytes, facilityZone: facilityZone, unzoned: unzoned).time
        }
    }

    /// The instant, and the offset the value carried (nil without one).
    static func parse(
        _ bytes: UnsafeBufferPointer<UInt8>, facilityZone: TimeZone, unzoned: UnzonedTimes = .facilityZone
    ) throws(Problem) -> (time: Timestamp, offset: Int?) {
        var end = bytes.endIndex
        var offsetSeconds: Int?
        if let sign = offsetSign(in: bytes) {
            guard bytes.endIndex - sign == 5, let value = number(bytes, sign + 1, 4) else { throw .malformed }
            let hours = value / 100, minutes = value % 100
            guard hours <= 14, minutes < 60 else { throw .outOfRange }
            offsetSeconds = (bytes[sign] == UInt8(ascii: "-") ? -1 : 1) * (hours * 3600 + minutes * 60)
            end = sign
        }
        var fractionMicros = 0
        if let dot = bytes[..<end].firstIndex(of: UInt8(ascii: ".")) {
            let digits = end - dot - 1
            guard (1...6).contains(digits), let value = number(bytes, dot + 1, digits) else { throw .malformed }
            fractionMicros = value
            for _ in digits..<6 { fractionMicros *= 10 }
            end = dot
            guard end - bytes.startIndex == 14 else { throw .malformed }
        }
        let length = end - bytes.startIndex
        guard (4...14).contains(length), length % 2 == 0 else { throw .malformed }
        func part(_ offset: Int, _ width: Int, default value: Int) throws(Problem) -> Int {
            guard offset + width <= length else { return value }
            guard let number = number(bytes, bytes.startIndex + offset, width) else { throw .malformed }
            return number
        }
        let year = try part(0, 4, default: 0), month = try part(4, 2, default: 1), day = try part(6, 2, default: 1)
        let hour = try part(8, 2, default: 0), minute = try part(10, 2, default: 0), second = try part(12, 2, default: 0)
        guard (1...12).contains(month), (1...daysIn(month: month, year: year)).contains(day),
              hour < 24, minute < 60, second < 60, year >= 1900
        else { throw .outOfRange }
        let localSeconds = daysFromCivil(year: year, month: month, day: day) * 86_400 + hour * 3600 + minute * 60 + second
        let offset: Int
        switch (offsetSeconds, unzoned) {
        case (let sent?, _): offset = sent
        case (nil, .fixedOffset(let fixed)): offset = fixed
        case (nil, .facilityZone): offset = zoneOffset(facilityZone, localSeconds: localSeconds)
        }
        return (Timestamp(microsecondsSinceEpoch: Int64(localSeconds - offset) * 1_000_000 + Int64(fractionMicros)), offsetSeconds)
    }

    /// `width` ASCII digits from `start`, nothing else (no sign, no space).
    private static func number(_ bytes: UnsafeBufferPointer<UInt8>, _ start: Int, _ width: Int) -> Int? {
        guard start >= bytes.startIndex, start + width <= bytes.endIndex else { return nil }
        var value = 0
        for index in start..<(start + width) {
            let digit = bytes[index] &- UInt8(ascii: "0")
            guard digit < 10 else { return nil }
            value = value * 10 + Int(digit)
        }
        return value
    }

    /// The zone's offset at a local wall-clock time, the same way east and west of Greenwich: a
    /// time that occurs twice (clocks going back) is the first of the two; a time that never
    /// occurs (clocks going forward) is read with the offset from before the change, so it lands
    /// as much later as the clocks jumped (as java.time does).
    private static func zoneOffset(_ zone: TimeZone, localSeconds: Int) -> Int {
        func offset(at seconds: Int) -> Int { zone.secondsFromGMT(for: Date(timeIntervalSince1970: TimeInterval(seconds))) }
        let before = offset(at: localSeconds - 86_400), after = offset(at: localSeconds + 86_400)
        if before == after { return before }  // no change within a day: the usual case
        // Near a change, an offset is right when the instant it gives has that offset.
        switch (offset(at: localSeconds - before) == before, offset(at: localSeconds - after) == after) {
        case (true, true): return max(before, after)  // twice: the larger offset is the earlier instant
        case (false, true): return after
        default: return before
        }
    }

    static func daysIn(month: Int, year: Int) -> Int {
        switch month {
        case 2: (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 ? 29 : 28
        case 4, 6, 9, 11: 30
        default: 31
        }
    }

    /// Days since 1970-01-01 in the proleptic Gregorian calendar (H. Hinnant's algorithm).
    static func daysFromCivil(year: Int, month: Int, day: Int) -> Int {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yearOfEra = y - era * 400
        let dayOfYear = (153 * (month + (month > 2 ? -3 : 9)) + 2) / 5 + day - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        return era * 146_097 + dayOfEra - 719_468
    }
}
