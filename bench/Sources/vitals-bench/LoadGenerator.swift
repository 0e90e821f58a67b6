import DeviceSimulator
import Foundation
import HL7v2
import VitalSigns

/// What the senders of one phase saw.
struct PhaseResult: Sendable {
    var messages = 0
    var observations = 0
    var negativeAcknowledgements = 0
    var failures: [String] = []
    /// Send → ACK per acknowledged message (open loop: intended send time → ACK), nanoseconds.
    var latencies: [UInt64] = []
    var elapsed: Double = 0

    mutating func merge(_ other: PhaseResult) {
        messages += other.messages
        observations += other.observations
        negativeAcknowledgements += other.negativeAcknowledgements
        failures += other.failures
        latencies += other.latencies
    }
}

/// `senders` simulated monitors, each on its own MLLP connection, each waiting for its ACK before
/// sending its next message, as real senders do. Monitors `firstMonitor ..< firstMonitor + senders`
/// (distinct devices, patients and control ids from any other phase); see ReportTemplates.
struct LoadGenerator: Sendable {
    let port: Int
    let senders: Int
    let firstMonitor: Int

    enum Pacing: Sendable {
        /// Each sender sends its next message as soon as the previous one is acknowledged.
        case closedLoop
        /// Messages are due on a fixed schedule (`rate` per second over all senders); a sender that
        /// falls behind sends at once, and latency counts from when the message was due, so a slow
        /// ACK is not hidden by the messages it delayed (no coordinated omission).
        case openLoop(rate: Double)
    }

    func run(_ pacing: Pacing, for duration: Duration) async throws -> PhaseResult {
        // Render the reports and connect everyone before the clock starts.
        let templates = (0..<senders).map { ReportTemplates(monitorIndex: firstMonitor + $0) }
        guard templates.allSatisfy({ $0.check() }) else { throw BenchError("report templates do not render valid messages") }
        let clients = try await withThrowingTaskGroup(of: (Int, MLLPClient).self) { group in
            for index in 0..<senders {
                group.addTask { (index, try await MLLPClient.connect(host: "127.0.0.1", port: port)) }
            }
            var clients = [MLLPClient?](repeating: nil, count: senders)
            for try await (index, client) in group { clients[index] = client }
            return clients.compactMap { $0 }
        }
        let clock = ContinuousClock()
        let start = clock.now
        let deadline = start + duration
        var total = PhaseResult()
        await withTaskGroup(of: PhaseResult.self) { group in
            for (index, client) in clients.enumerated() {
                let reports = templates[index]
                group.addTask {
                    await sender(index: index, client: client, reports: reports, pacing: pacing, start: start, deadline: deadline)
                }
            }
            for await result in group { total.merge(result) }
        }
        total.elapsed = BenchTime.seconds(start.duration(to: clock.now))
        for client in clients { await client.close() }
        return total
    }

    private func sender(index: Int, client: MLLPClient, reports: ReportTemplates, pacing: Pacing,
                        start: ContinuousClock.Instant, deadline: ContinuousClock.Instant) async -> PhaseResult {
        var result = PhaseResult()
        result.latencies.reserveCapacity(4096)
        var lastMillisecond: Int64 = 0
        let clock = ContinuousClock()
        var sequence = 0
        while true {
            let due: ContinuousClock.Instant
            switch pacing {
            case .closedLoop:
                due = clock.now
            case .openLoop(let rate):
                // Senders are spread evenly over one interval so they do not fire together.
                let interval = Double(senders) / rate
                due = start + .nanoseconds(Int64((Double(sequence) + Double(index) / Double(senders)) * interval * 1e9))
            }
            if due >= deadline { break }
            sequence += 1

            // Report times in milliseconds, strictly increasing per monitor.
            let millisecond = max(Int64(Date().timeIntervalSince1970 * 1000), lastMillisecond + 1)
            lastMillisecond = millisecond
            let report = reports.render(sequence: sequence, time: Timestamp(microsecondsSinceEpoch: millisecond * 1000))
            if clock.now < due { try? await Task.sleep(until: due, tolerance: .microseconds(50), clock: clock) }

            let sent = clock.now
            do {
                // An ACK that never comes fails the send after the client's timeout (30 s), so a
                // phase always ends.
                let reply = try await client.send(report.bytes)
                let acknowledged = clock.now
                let from = if case .openLoop = pacing { due } else { sent }
                result.latencies.append(UInt64(max(0, BenchTime.seconds(from.duration(to: acknowledged))) * 1e9))
                if Self.isPositive(reply) {
                    result.messages += 1
                    result.observations += report.observations
                } else {
                    result.negativeAcknowledgements += 1
                }
            } catch {
                result.failures.append("sender \(index): \(error)")
                break
            }
        }
        return result
    }

    static func isPositive(_ reply: [UInt8]) -> Bool {
        guard let ack = try? HL7Message(parsing: reply), let msa = ack.firstSegment(named: "MSA") else { return false }
        return msa[1].value == "AA"
    }
}
