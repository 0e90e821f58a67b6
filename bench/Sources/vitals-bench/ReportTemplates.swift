import DeviceSimulator
import HL7v2
import VitalSigns

/// SimulatedMonitor reports at a load generator's pace without its cost: rendering a report
/// takes tens of microseconds, as much CPU as the engine spends parsing it, and the senders share
/// the machine with the engine. So each monitor renders a few real reports once; every message
/// sent is one of them with a fresh control id (MSH-10, OBR-2, OBR-3) and observation time
/// (MSH-7, OBR-7, OBX-14) spliced in.
struct ReportTemplates: Sendable {
    private struct Template: Sendable {
        /// The report's bytes cut at each control id and time; a hole between consecutive chunks.
        var chunks: [[UInt8]]
        var holes: [Hole]
        var observations: Int
    }

    private enum Hole: Sendable { case controlID, time }

    private let templates: [Template]
    let monitorIndex: Int

    init(monitorIndex: Int, variants: Int = 8) {
        self.monitorIndex = monitorIndex
        var monitor = SimulatedMonitor(index: monitorIndex)
        templates = (0..<variants).map { variant in
            // An odd millisecond count, so the time string cannot occur by accident elsewhere.
            let time = Timestamp(microsecondsSinceEpoch: 1_700_000_000_123_000 + Int64(variant) * 1_000_000)
            let report = monitor.nextReport(at: time)
            return Self.cut(report.bytes, controlID: Array(report.controlID.utf8),
                            time: Array(SimulatedMonitor.hl7Time(time).utf8), observations: report.values.count)
        }
    }

    /// The `sequence`-th message of this monitor, at `time`; control id `<monitor>-<sequence>`.
    func render(sequence: Int, time: Timestamp) -> (bytes: [UInt8], controlID: String, observations: Int) {
        let template = templates[sequence % templates.count]
        let controlID = "\(monitorIndex)-\(sequence)"
        let id = Array(controlID.utf8), stamp = Array(SimulatedMonitor.hl7Time(time).utf8)
        var bytes: [UInt8] = []
        bytes.reserveCapacity(template.chunks.reduce(0) { $0 + $1.count } + template.holes.count * 24)
        for (index, chunk) in template.chunks.enumerated() {
            bytes += chunk
            if index < template.holes.count { bytes += template.holes[index] == .controlID ? id : stamp }
        }
        return (bytes, controlID, template.observations)
    }

    private static func cut(_ bytes: [UInt8], controlID: [UInt8], time: [UInt8], observations: Int) -> Template {
        let delimiters: Set<UInt8> = [UInt8(ascii: "|"), UInt8(ascii: "^"), 0x0D]
        func matches(_ needle: [UInt8], at offset: Int) -> Bool {
            guard offset + needle.count <= bytes.count, offset > 0, delimiters.contains(bytes[offset - 1]) else { return false }
            let end = offset + needle.count
            return bytes[offset..<end].elementsEqual(needle) && (end == bytes.count || delimiters.contains(bytes[end]))
        }
        var chunks: [[UInt8]] = [], holes: [Hole] = []
        var chunkStart = 0, offset = 0
        while offset < bytes.count {
            let hole: (Hole, Int)? = matches(controlID, at: offset) ? (.controlID, controlID.count)
                : matches(time, at: offset) ? (.time, time.count) : nil
            if let (kind, length) = hole {
                chunks.append(Array(bytes[chunkStart..<offset]))
                holes.append(kind)
                offset += length
                chunkStart = offset
            } else {
                offset += 1
            }
        }
        chunks.append(Array(bytes[chunkStart...]))
        return Template(chunks: chunks, holes: holes, observations: observations)
    }

    /// True when a rendered message parses with the control id and time it was given.
    func check() -> Bool {
        let time = Timestamp(microsecondsSinceEpoch: 1_800_000_000_456_000)
        let rendered = render(sequence: 7, time: time)
        guard let message = try? HL7Message(parsing: rendered.bytes) else { return false }
        let obx = message.segments(named: "OBX")
        return message.controlID == rendered.controlID && message.timestamp == SimulatedMonitor.hl7Time(time)
            && obx.count == rendered.observations + 1 && obx.last?[14].value == SimulatedMonitor.hl7Time(time)
    }
}
