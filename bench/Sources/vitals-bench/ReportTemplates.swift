import DeviceSimulator
import HL7v2
import NIOCore
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
        var buffer = ByteBufferAllocator().buffer(capacity: 4096)
        let observations = render(sequence: sequence, time: time, into: &buffer)
        return (Array(buffer.readableBytesView), "\(monitorIndex)-\(sequence)", observations)
    }

    /// The same message appended to `buffer` (a sender's frame), with no String or array built
    /// on the way; returns its observation count.
    func render(sequence: Int, time: Timestamp, into buffer: inout ByteBuffer) -> Int {
        let template = templates[sequence % templates.count]
        let stamp = SimulatedMonitor.hl7TimeBytes(time)
        for (index, chunk) in template.chunks.enumerated() {
            buffer.writeBytes(chunk)
            guard index < template.holes.count else { continue }
            switch template.holes[index] {
            case .controlID:
                buffer.writeDecimal(monitorIndex)
                buffer.writeInteger(UInt8(ascii: "-"))
                buffer.writeDecimal(sequence)
            case .time:
                buffer.writeBytes(stamp)
            }
        }
        return template.observations
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

extension ByteBuffer {
    /// A non-negative integer in decimal digits.
    fileprivate mutating func writeDecimal(_ value: Int) {
        var divisor = 1
        while value / divisor >= 10 { divisor *= 10 }
        while divisor > 0 {
            writeInteger(UInt8(ascii: "0") + UInt8(value / divisor % 10))
            divisor /= 10
        }
    }
}
