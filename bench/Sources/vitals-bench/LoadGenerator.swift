import Foundation
import MLLP
import NIOCore
import NIOPosix
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
///
/// The senders live on an event loop of their own (`SenderLoop`): each sends its next message from
/// the handler that reads the ACK, so the load costs a write and a read a message rather
/// than hops between threads, and its CPU is reported apart from the engine's.
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
        var channels: [Channel] = []
        for (index, reports) in templates.enumerated() {
            do {
                channels.append(try await connect(reports, SenderSchedule(index: index, senders: senders, pacing: pacing)))
            } catch {
                for channel in channels { try? await channel.close() }  // those already connected
                throw error
            }
        }
        let start = ContinuousClock.now
        let deadline = start + duration
        var total = PhaseResult()
        let results = channels.map { channel in
            channel.eventLoop.flatSubmit {
                do {
                    return try channel.pipeline.syncOperations.handler(type: MonitorSender.self).run(from: start, until: deadline)
                } catch {
                    return channel.eventLoop.makeFailedFuture(error)
                }
            }
        }
        for result in results {
            do {
                total.merge(try await result.get())
            } catch {
                total.failures.append("sender: \(error)")
            }
        }
        total.elapsed = BenchTime.seconds(start.duration(to: .now))
        for channel in channels { try? await channel.close() }
        return total
    }

    private func connect(_ reports: ReportTemplates, _ schedule: SenderSchedule) async throws -> Channel {
        try await ClientBootstrap(group: SenderLoop.group)
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandlers([
                        ByteToMessageHandler(MLLPFrameDecoder(maximumFrameBytes: 1 << 20)),
                        MonitorSender(reports: reports, schedule: schedule),
                    ])
                }
            }
            .connect(host: "127.0.0.1", port: port)
            .get()
    }

    /// Whether the reply's MSA-1 is `AA`, read from its bytes: the senders check every reply, and
    /// a full parse of each cost the load generator CPU that the engine shares.
    static func isPositive(_ reply: ByteBuffer) -> Bool {
        reply.withUnsafeReadableBytes { $0.withMemoryRebound(to: UInt8.self, isPositive) }
    }

    /// `MSA` at a segment's start, its field separator (MSH-1's byte), then `AA` ending the field.
    static func isPositive(_ bytes: UnsafeBufferPointer<UInt8>) -> Bool {
        guard bytes.count > 4, bytes[0] == UInt8(ascii: "M"), bytes[1] == UInt8(ascii: "S"), bytes[2] == UInt8(ascii: "H") else { return false }
        let separator = bytes[3]
        func isEnd(_ offset: Int) -> Bool {
            offset == bytes.count || bytes[offset] == separator || bytes[offset] == 0x0D || bytes[offset] == 0x0A
        }
        var start = 0
        while start + 6 <= bytes.count {
            if bytes[start] == UInt8(ascii: "M"), bytes[start + 1] == UInt8(ascii: "S"), bytes[start + 2] == UInt8(ascii: "A"),
               bytes[start + 3] == separator {
                return bytes[start + 4] == UInt8(ascii: "A") && bytes[start + 5] == UInt8(ascii: "A") && isEnd(start + 6)
            }
            guard let terminator = bytes[start...].firstIndex(where: { $0 == 0x0D || $0 == 0x0A }) else { return false }
            start = terminator + 1
        }
        return false
    }
}

/// One event-loop thread for all the senders, so that they cost what a separate sending machine
/// would spend on one core at most, and show in the CPU report under their own name.
enum SenderLoop {
    static let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
}

/// When a sender's messages are due.
struct SenderSchedule: Sendable {
    let index: Int
    let senders: Int
    let pacing: LoadGenerator.Pacing

    /// When message `sequence` (0-based) is due, the previous one having been acknowledged `now`.
    func due(_ sequence: Int, start: ContinuousClock.Instant, now: ContinuousClock.Instant) -> ContinuousClock.Instant {
        switch pacing {
        case .closedLoop:
            return now
        case .openLoop(let rate):
            // Senders are spread evenly over one interval so they do not fire together.
            let interval = Double(senders) / rate
            return start + .nanoseconds(Int64((Double(sequence) + Double(index) / Double(senders)) * interval * 1e9))
        }
    }
}

/// A simulated monitor on its connection's event loop: sends a report, and the frame that comes
/// back is its acknowledgement; only then is the next report sent (when due).
private final class MonitorSender: ChannelInboundHandler {
    typealias InboundIn = MLLPInbound

    /// As `MLLPClient`: a sender whose ACK does not come within this gives up, so a phase ends.
    private static let acknowledgementTimeout = Duration.seconds(30)

    private let reports: ReportTemplates
    private let schedule: SenderSchedule
    private var context: ChannelHandlerContext?
    private var finished: EventLoopPromise<PhaseResult>?
    private var result = PhaseResult()
    private var start = ContinuousClock.now
    private var deadline = ContinuousClock.now
    private var sequence = 0
    private var lastMillisecond: Int64 = 0
    private var outstanding: (sent: ContinuousClock.Instant, due: ContinuousClock.Instant, observations: Int)?
    /// Why the connection ended before `run`, if it did.
    private var lostBeforeRun: String?

    init(reports: ReportTemplates, schedule: SenderSchedule) {
        self.reports = reports
        self.schedule = schedule
        result.latencies.reserveCapacity(4096)
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
    }

    func run(from start: ContinuousClock.Instant, until deadline: ContinuousClock.Instant) -> EventLoopFuture<PhaseResult> {
        guard let context else { return SenderLoop.group.next().makeFailedFuture(ChannelError.ioOnClosedChannel) }
        self.start = start
        self.deadline = deadline
        let finished = context.eventLoop.makePromise(of: PhaseResult.self)
        self.finished = finished
        if lostBeforeRun != nil || !context.channel.isActive {
            fail(lostBeforeRun ?? "sender \(schedule.index): the connection closed before the phase began")
            return finished.futureResult
        }
        watchTimeout()
        sendNext()
        return finished.futureResult
    }

    private func sendNext() {
        guard let context, finished != nil else { return }
        let now = ContinuousClock.now
        let due = schedule.due(sequence, start: start, now: now)
        guard due < deadline else { return finish() }
        sequence += 1
        if now < due {
            context.eventLoop.assumeIsolated().scheduleTask(in: .nanoseconds(Int64(BenchTime.seconds(now.duration(to: due)) * 1e9))) {
                self.send(due: due)
            }
        } else {
            send(due: due)
        }
    }

    private func send(due: ContinuousClock.Instant) {
        guard let context, finished != nil else { return }
        // Report times in milliseconds, strictly increasing per monitor.
        let millisecond = max(Int64(Date().timeIntervalSince1970 * 1000), lastMillisecond + 1)
        lastMillisecond = millisecond
        var frame = context.channel.allocator.buffer(capacity: 4096)
        frame.writeInteger(MLLPFraming.startBlock)
        let observations = reports.render(sequence: sequence, time: Timestamp(microsecondsSinceEpoch: millisecond * 1000), into: &frame)
        frame.writeInteger(MLLPFraming.endBlock)
        frame.writeInteger(MLLPFraming.carriageReturn)
        outstanding = (ContinuousClock.now, due, observations)
        context.writeAndFlush(NIOAny(frame), promise: nil)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard case .frame(let reply) = unwrapInboundIn(data), let sent = outstanding else { return }
        outstanding = nil
        let acknowledged = ContinuousClock.now
        let from = if case .openLoop = schedule.pacing { sent.due } else { sent.sent }
        result.latencies.append(UInt64(max(0, BenchTime.seconds(from.duration(to: acknowledged))) * 1e9))
        if LoadGenerator.isPositive(reply) {
            result.messages += 1
            result.observations += sent.observations
        } else {
            result.negativeAcknowledgements += 1
        }
        sendNext()
    }

    /// Checked once a second rather than a timer per message.
    private func watchTimeout() {
        guard let context, finished != nil else { return }
        if let sent = outstanding?.sent, sent.duration(to: .now) > Self.acknowledgementTimeout {
            fail("sender \(schedule.index): no acknowledgement within \(Self.acknowledgementTimeout)")
            context.close(promise: nil)  // replies can no longer be matched to messages
            return
        }
        context.eventLoop.assumeIsolated().scheduleTask(in: .seconds(1)) { self.watchTimeout() }
    }

    func channelInactive(context: ChannelHandlerContext) {
        fail("sender \(schedule.index): the server closed the connection")
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        fail("sender \(schedule.index): \(error)")
        context.close(promise: nil)
    }

    private func fail(_ reason: String) {
        guard finished != nil else {
            lostBeforeRun = lostBeforeRun ?? reason
            return
        }
        result.failures.append(reason)
        finish()
    }

    private func finish() {
        let finished = finished
        self.finished = nil
        finished?.succeed(result)
    }
}
