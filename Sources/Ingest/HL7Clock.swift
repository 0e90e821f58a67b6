import Foundation

/// The current time as an HL7 `DTM` in UTC (`YYYYMMDDHHMMSS.SSS+0000`), for ACK headers.
enum HL7Clock {
    static func now() -> String {
        var time = timespec()
        clock_gettime(CLOCK_REALTIME, &time)
        var seconds = time_t(time.tv_sec)
        var parts = tm()
        gmtime_r(&seconds, &parts)
        let millis = Int(time.tv_nsec) / 1_000_000
        return String(
            format: "%04d%02d%02d%02d%02d%02d.%03d+0000",
            Int(parts.tm_year) + 1900, Int(parts.tm_mon) + 1, Int(parts.tm_mday),
            Int(parts.tm_hour), Int(parts.tm_min), Int(parts.tm_sec), millis
        )
    }
}
