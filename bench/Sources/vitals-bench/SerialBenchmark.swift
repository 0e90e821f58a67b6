import ArgumentParser
import Decoders
import DeviceProfiles
import DeviceSimulator
import Foundation
import Ingest
import Logging
import Storage
import Synchronization
import VitalSigns

struct SerialBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serial",
        abstract: "Serial decode throughput per protocol (decode only, and through a pty into the serial source) and CPU of 100 ports at 1 Hz.")

    @Option(help: "Timed seconds of each throughput phase.")
    var seconds: Double = 3

    @Option(help: "Ports of the CPU phase (one pty and one simulated Masimo at 1 Hz each).")
    var ports: Int = 100

    @Option(help: "Timed seconds of the CPU phase.")
    var portSeconds: Double = 20

    func validate() throws {
        guard seconds > 0, portSeconds > 0 else { throw ValidationError("--seconds and --port-seconds must be positive") }
        guard (1...500).contains(ports) else { throw ValidationError("--ports must be between 1 and 500") }
    }

    func run() async throws {
        let summary = Summary()
        try SerialBenchmark(repository: try Repository.locate(), seconds: seconds, ports: ports, portSeconds: portSeconds, summary: summary).run()
        summary.print(title: "summary (vitals-bench serial, \(BenchMachine.description))")
    }
}

/// Counts what the serial source submits and completes it at once: the benchmark measures the
/// source (read, frame, decode, associate), not the database, which `mllp` measures.
final class CountingSink: ObservationSink {
    let observations = Atomic<Int>(0)

    func submit(_ batch: IngestBatch, completion: @escaping @Sendable (Result<WriteOutcome, PostgresError>) -> Void) {
        observations.add(batch.observations.count, ordering: .relaxed)
        completion(.success(.stored(observations: batch.observations.count)))
    }
}

struct SerialBenchmark {
    let repository: Repository
    let seconds: Double
    let ports: Int
    let portSeconds: Double
    let summary: Summary

    private var logger: Logger {
        var logger = Logger(label: "vitals-bench.serial")
        logger.logLevel = .error
        return logger
    }

    func run() throws {
        let profiles = try DeviceProfileLoader.loadDirectory(repository.deviceProfiles)
        for id in ["masimo-radical7", "nonin-pulse-oximeter", "generic-serial-line"] {
            guard let profile = profiles.first(where: { $0.id == id }) else { continue }
            let stream = Self.stream(for: profile)
            // What the framer hands the decoder: a line, or a Nonin packet of 25 five-byte frames.
            let unit = profile.protocolFamily == .noninBinary ? "packets" : "lines"
            heading("serial \(id): decode only, one core")
            let decodeOnly = decodeOnly(profile: profile, stream: stream)
            say("  \(decodeOnly.frames.rounded0) \(unit)/s, \(decodeOnly.observations.rounded0) observations/s")
            heading("serial \(id): through a pty into the serial source")
            let overPTY = try throughPTY(profile: profile, stream: stream)
            say("  \(overPTY.frames.rounded0) \(unit)/s, \(overPTY.observations.rounded0) observations/s (\(percent(overPTY.frames / decodeOnly.frames)) of decode only)")
            summary.add(SummaryRow(figure: "\(id) decode only", measured: "\(decodeOnly.frames.rounded0) \(unit)/s",
                                   comparedWith: "\(decodeOnly.observations.rounded0) obs/s"))
            summary.add(SummaryRow(figure: "\(id) over a pty", measured: "\(overPTY.frames.rounded0) \(unit)/s",
                                   comparedWith: "decode only", ratio: percent(overPTY.frames / decodeOnly.frames)))
        }
        if let masimo = profiles.first(where: { $0.id == "masimo-radical7" }) {
            try cpuAtOneHertz(profile: masimo)
        }
    }

    /// 1,000 frames of the profile's protocol with varying values, as one byte stream.
    static func stream(for profile: DeviceProfile) -> [UInt8] {
        (0..<1000).flatMap { index -> [UInt8] in
            let spo2 = 90 + index % 10
            let rate = 60 + index % 40
            switch profile.protocolFamily {
            case .noninBinary: return SerialFrames.noninPacket(spo2: spo2, heartRate: rate, plethPhase: index)
            case .lineProtocol: return SerialFrames.genericLine(spo2: spo2, heartRate: rate, respirationRate: 14, temperatureFahrenheit: 98.6)
            default: return SerialFrames.masimoLine(spo2: spo2, pulseRate: rate, perfusionIndex: 2.5)
            }
        }
    }

    /// Framer and decoder over the stream in 4 KB reads, repeated for `seconds`.
    private func decodeOnly(profile: DeviceProfile, stream: [UInt8]) -> (frames: Double, observations: Double) {
        guard let decoder = SerialProtocol.decoder(for: profile), var framer = SerialProtocol.framer(for: profile) else { return (0, 0) }
        let context = FrameContext(deviceID: "bench", receivedAt: Timestamp(microsecondsSinceEpoch: 1_790_000_000_000_000), location: "ICU^1^A")
        var frames = 0
        var observations = 0
        let clock = ContinuousClock()
        let start = clock.now
        let deadline = start + .milliseconds(Int64(seconds * 1000))
        while clock.now < deadline {
            var offset = 0
            while offset < stream.count {
                framer.push(stream[offset..<min(offset + 4096, stream.count)]) { output in
                    guard case .frame(let frame) = output, let decoded = try? decoder.decode(frame, context: context) else { return }
                    frames += 1
                    observations += decoded.observations.count
                }
                offset += 4096
            }
        }
        let elapsed = BenchTime.seconds(clock.now - start)
        return (Double(frames) / elapsed, Double(observations) / elapsed)
    }

    /// One port of the serial source reading a pty that a thread fills as fast as it can.
    private func throughPTY(profile: DeviceProfile, stream: [UInt8]) throws -> (frames: Double, observations: Double) {
        let terminal = try PseudoTerminal()
        let sink = CountingSink()
        let source = try SerialSource(ports: [SerialPortConfiguration(path: terminal.slavePath, profile: profile, bed: "ICU^1^A", deviceID: "bench")],
                                      sink: sink, associations: nil, rejections: RejectionReporter(recorder: nil, logger: logger),
                                      presence: nil, logger: logger)
        source.start()
        let stop = StopFlag()
        let writerDone = DispatchSemaphore(value: 0)
        let writer = Thread {
            while !stop.isSet { if !terminal.write(stream) { break } }
            writerDone.signal()
        }
        writer.start()
        Thread.sleep(forTimeInterval: 0.5)  // warm-up
        let before = source.statistics(port: terminal.slavePath) ?? SerialPortStatistics()
        let observationsBefore = sink.observations.load(ordering: .relaxed)
        let clock = ContinuousClock()
        let start = clock.now
        Thread.sleep(forTimeInterval: seconds)
        let after = source.statistics(port: terminal.slavePath) ?? SerialPortStatistics()
        let observations = sink.observations.load(ordering: .relaxed) - observationsBefore
        let elapsed = BenchTime.seconds(clock.now - start)
        stop.set()
        _ = writerDone.wait(timeout: .now() + 10)  // the source still reads, so the last write completes
        source.stop()
        terminal.close()
        if after.totalRejected > before.totalRejected { say("  note: \(after.totalRejected - before.totalRejected) frames rejected (pty reads split nothing: should be 0)") }
        return (Double(after.framesDecoded - before.framesDecoded) / elapsed, Double(observations) / elapsed)
    }

    /// `ports` ptys, each with a simulated Masimo writing one line a second, read by the source.
    private func cpuAtOneHertz(profile: DeviceProfile) throws {
        heading("serial CPU: \(ports) ports at 1 Hz for \(format(portSeconds, decimals: 0)) s")
        let terminals = try (0..<ports).map { _ in try PseudoTerminal() }
        let sink = CountingSink()
        let source = try SerialSource(
            ports: terminals.enumerated().map { index, terminal in
                SerialPortConfiguration(path: terminal.slavePath, profile: profile, bed: "BENCH^\(index)^A", deviceID: "bench-\(index)")
            },
            sink: sink, associations: nil, rejections: RejectionReporter(recorder: nil, logger: logger), presence: nil, logger: logger)
        let simulators = terminals.map { terminal in
            var configuration = SerialDeviceSimulator.Configuration(model: .masimoRadical7)
            configuration.criticalEvery = nil
            return SerialDeviceSimulator(configuration: configuration, terminal: terminal)
        }
        source.start()
        Thread.sleep(forTimeInterval: 1)  // every port open

        // Baseline: the same ports open and silent, their readers waking in poll.
        let idleSeconds = max(2, portSeconds / 4)
        let idleBefore = Self.processCPUSeconds()
        Thread.sleep(forTimeInterval: idleSeconds)
        let idle = (Self.processCPUSeconds() - idleBefore) / idleSeconds

        for simulator in simulators { simulator.start() }
        Thread.sleep(forTimeInterval: 2)  // first lines through
        let observationsBefore = sink.observations.load(ordering: .relaxed)
        let usageBefore = Self.processCPUSeconds()
        let machineBefore = CPUSnapshot.take(postmasterPID: nil)
        let clock = ContinuousClock()
        let start = clock.now
        Thread.sleep(forTimeInterval: portSeconds)
        let elapsed = BenchTime.seconds(clock.now - start)
        let busy = (Self.processCPUSeconds() - usageBefore) / elapsed
        let machine = CPUSnapshot.take(postmasterPID: nil)
        let observations = sink.observations.load(ordering: .relaxed) - observationsBefore
        for simulator in simulators { simulator.stop() }
        source.stop()
        for terminal in terminals { terminal.close() }

        func share(_ fraction: Double) -> String { format(fraction * 100, decimals: 2) + "% of one core" }
        say("  observations: \(observations.grouped) (\(format(Double(observations) / elapsed, decimals: 0))/s, expected \(ports * 3)/s)")
        say("  process CPU (getrusage), ports open and silent: \(share(idle))")
        say("  process CPU (getrusage), \(ports) devices writing and read at 1 Hz: \(share(busy)) (the simulated devices' threads included)")
        for line in machine.report(since: machineBefore, wall: elapsed) where line.contains("machine") || line.contains("WARNING") { say("  " + line) }
        summary.add(SummaryRow(figure: "\(ports) ports at 1 Hz: process CPU", measured: share(busy),
                               comparedWith: "silent ports \(share(idle))"))
        summary.add(SummaryRow(figure: "\(ports) ports at 1 Hz: per port", measured: share(busy / Double(ports)),
                               comparedWith: "\(format(Double(observations) / elapsed, decimals: 0)) obs/s"))
    }

    /// User + system CPU seconds of the whole process.
    static func processCPUSeconds() -> Double {
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        func seconds(_ time: timeval) -> Double { Double(time.tv_sec) + Double(time.tv_usec) / 1e6 }
        return seconds(usage.ru_utime) + seconds(usage.ru_stime)
    }
}

final class StopFlag: Sendable {
    private let value = Atomic<Bool>(false)
    var isSet: Bool { value.load(ordering: .relaxed) }
    func set() { value.store(true, ordering: .relaxed) }
}
