import Foundation

/// Byte-exact frames of the serial devices the engine reads, for simulators, tests and benchmarks.
public enum SerialFrames {
    /// A Masimo Radical-7 "ASCII 1" line, CR LF included. Nil values are sent as dashes.
    public static func masimoLine(spo2: Int?, pulseRate: Int?, perfusionIndex: Double?, serialNumber: String? = "0000123456",
                                  date: Date = Date(), alarm: UInt16 = 0, exceptions: UInt32 = 0) -> [UInt8] {
        var parts = [deviceClock(date)]
        if let serialNumber { parts.append("SN=\(serialNumber)") }
        parts.append("SPO2=" + (spo2.map { pad($0, 3) } ?? "---") + "%")
        parts.append("BPM=" + (pulseRate.map { pad($0, 3) } ?? "---"))
        parts.append("PI=" + (perfusionIndex.map { String(format: "%05.2f", $0) } ?? "--.--"))
        parts += ["SPCO=--.-%", "SPMET=--.-%", "DESAT=--", "PIDELTA=+--", "PVI=---"]
        parts.append(String(format: "ALARM=%04X", alarm))
        parts.append(String(format: "EXC=%06X", exceptions))
        return Array((parts.joined(separator: " ") + "\r\n").utf8)
    }

    /// Nonin status byte bits (data format #2).
    public enum NoninStatus {
        public static let sensorDisconnect: UInt8 = 0x40
        public static let artifact: UInt8 = 0x20
        public static let outOfTrack: UInt8 = 0x10
        public static let sensorAlarm: UInt8 = 0x08
        public static let greenPerfusion: UInt8 = 0x02
    }

    /// One 25-frame Nonin data format #2 packet (125 bytes). Nil values are sent as the module's
    /// "no reading" values (HR 511, SpO2 127).
    public static func noninPacket(spo2: Int?, heartRate: Int?, status: UInt8 = NoninStatus.greenPerfusion, plethPhase: Int = 0) -> [UInt8] {
        let rate = heartRate.map { min(max($0, 0), 510) } ?? 511
        var packet: [UInt8] = []
        packet.reserveCapacity(125)
        for index in 0..<25 {
            let frameStatus = 0x80 | status | (index == 0 ? 0x01 : 0x00)
            let pleth = UInt8(truncatingIfNeeded: 128 + Int(60 * sin(Double(plethPhase + index) / 4)))
            let data: UInt8 = switch index {
            case 0: UInt8((rate >> 7) & 0x03)
            case 1: UInt8(rate & 0x7F)
            case 2: UInt8(spo2.map { min(max($0, 0), 100) } ?? 127)
            case 3: 0x2A  // firmware revision
            default: 0
            }
            packet += frame(status: frameStatus, pleth: pleth, data: data)
        }
        return packet
    }

    /// One 5-byte frame with its checksum.
    public static func frame(status: UInt8, pleth: UInt8, data: UInt8) -> [UInt8] {
        [0x01, status, pleth, data, 0x01 &+ status &+ pleth &+ data]
    }

    /// A `generic-serial-line` line: `SPO2=97,HR=72,RR=16,TEMP=98.6` CR LF.
    public static func genericLine(spo2: Int?, heartRate: Int?, respirationRate: Int?, temperatureFahrenheit: Double?) -> [UInt8] {
        let fields = [
            "SPO2=" + (spo2.map(String.init) ?? "---"),
            "HR=" + (heartRate.map(String.init) ?? "---"),
            "RR=" + (respirationRate.map(String.init) ?? "---"),
            "TEMP=" + (temperatureFahrenheit.map { String(format: "%.1f", $0) } ?? "---"),
        ]
        return Array((fields.joined(separator: ",") + "\r\n").utf8)
    }

    /// `MM/DD/YY HH:MM:SS` in UTC, as a device clock prints it.
    static func deviceClock(_ date: Date) -> String {
        var seconds = time_t(date.timeIntervalSince1970)
        var parts = tm()
        gmtime_r(&seconds, &parts)
        return String(format: "%02d/%02d/%02d %02d:%02d:%02d", Int(parts.tm_mon) + 1, Int(parts.tm_mday), Int(parts.tm_year) % 100,
                      Int(parts.tm_hour), Int(parts.tm_min), Int(parts.tm_sec))
    }

    private static func pad(_ value: Int, _ width: Int) -> String {
        let text = String(value)
        return String(repeating: "0", count: max(0, width - text.count)) + text
    }
}
