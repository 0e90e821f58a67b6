import Foundation

/// The current time as an HL7 `DTM` in UTC (`YYYYMMDDHHMMSS.SSS+0000`), for ACK headers.
/// Formatted by hand: it runs once per acknowledged message.
enum HL7Clock {
    static func now() -> String {
        var time = timespec()
        clock_gettime(CLOCK_REALTIME, &time)
        var seconds = time_t(time.tv_sec)
        var parts = tm()
        gmtime_r(&seconds, &parts)
        var text = [UInt8]()
        text.reserveCapacity(23)
        func append(_ value: Int, digits: Int) {
            var divisor = 1
            for _ in 1..<digits { divisor *= 10 }
            var rest = value
            while divisor > 0 {
                text.append(UInt8(ascii: "0") + UInt8(rest / divisor % 10))
                rest %= divisor
                divisor /= 10
            }
        }
        append(Int(parts.tm_year) + 1900, digits: 4)
        append(Int(parts.tm_mon) + 1, digits: 2)
        append(Int(parts.tm_mday), digits: 2)
        append(Int(parts.tm_hour), digits: 2)
        append(Int(parts.tm_min), digits: 2)
        append(Int(parts.tm_sec), digits: 2)
        text.append(UInt8(ascii: "."))
        append(Int(time.tv_nsec) / 1_000_000, digits: 3)
        text.append(contentsOf: "+0000".utf8)
        return String(decoding: text, as: UTF8.self)
    }
}
