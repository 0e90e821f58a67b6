import ArgumentParser
import Foundation
import Logging
import Storage

/// vitals-bench: figures for the NileCare Vitals engine, each printed next to a limit or peer
/// measured in the same run. See bench/README.md.
@main
struct VitalsBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "vitals-bench",
        abstract: "Benchmarks of the NileCare Vitals engine: HL7 parse/decode, MLLP and MQTT end to end against their limits, the pipeline ring, serial ports, alert latency.",
        subcommands: [Parse.self, MLLP.self, MQTTCommand.self, Ring.self, SerialBench.self, Alerts.self, All.self]
    )
}

struct Parse: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "HL7 parse + PCD-01 decode throughput on one core, against python-hl7 on the same messages.")

    @Option(help: "Timed seconds (after a warm-up), for vitals-bench and for python-hl7 each.")
    var seconds: Double = 5

    func run() async throws {
        let summary = Summary()
        try ParseBenchmark(repository: try Repository.locate(), seconds: seconds, summary: summary).run()
        summary.print(title: "summary (vitals-bench parse, \(BenchMachine.description))")
    }
}

struct Ring: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "The pipeline's ring against a Mutex-protected Deque: items/s and publish-to-consume latency with 1, 2 and 4 producers.")

    @Option(help: "Seconds of each phase (throughput at batch 1, at batch 16, latency), per queue and producer count.")
    var seconds: Double = 3

    @Option(help: "Rounds each phase is split into, the two queues alternating; figures are medians.")
    var rounds: Int = 5

    @Option(help: "Slots in both queues (a power of two).")
    var capacity: Int = 4096

    @Option(help: "Items per second offered in all during the latency phase.")
    var latencyRate: Int = 100_000

    func validate() throws {
        guard seconds > 0 && seconds <= 600 else { throw ValidationError("--seconds must be in (0, 600]") }
        guard (1...100).contains(rounds) else { throw ValidationError("--rounds must be between 1 and 100") }
        guard capacity >= 16 && capacity <= 1 << 24 && capacity & (capacity - 1) == 0 else {
            throw ValidationError("--capacity must be a power of two between 16 and 16,777,216")
        }
        guard (1_000...10_000_000).contains(latencyRate) else { throw ValidationError("--latency-rate must be between 1,000 and 10,000,000") }
    }

    func run() async throws {
        let summary = Summary()
        try RingBenchmark(seconds: seconds, rounds: rounds, capacity: capacity, latencyRate: latencyRate, summary: summary).run()
        summary.print(title: "summary (vitals-bench ring, \(BenchMachine.description))")
    }
}

struct MLLPOptions: ParsableArguments {
    @Option(help: "Seconds of each end-to-end phase (peak, then half the peak).")
    var seconds: Int = 20

    @Option(help: "Concurrent MLLP senders (one connection and one simulated monitor each).")
    var senders: Int = 64

    @Option(help: "Storage mode: auto (TimescaleDB when installed), timescaledb or native.")
    var storageMode: StorageModeChoice = .auto

    @Flag(help: "Run PostgreSQL with fsync, synchronous_commit and full_page_writes off (not durable; compare only with runs made the same way).")
    var noFsync = false

    @Option(help: "The observation writer's connections (default: the writer's own default).")
    var writerConnections: Int = ObservationWriter.Configuration().connections

    @Flag(help: "Log the engine's info messages to standard error.")
    var verbose = false

    func validate() throws {
        guard (1...16).contains(writerConnections) else { throw ValidationError("--writer-connections must be between 1 and 16") }
        guard (1...3600).contains(seconds) else { throw ValidationError("--seconds must be between 1 and 3600") }
        guard (1...1024).contains(senders) else { throw ValidationError("--senders must be between 1 and 1024") }
    }

    func benchmark(summary: Summary) throws -> MLLPBenchmark {
        var logger = Logger(label: "vitals-bench")
        logger.logLevel = verbose ? .info : .warning
        return MLLPBenchmark(repository: try Repository.locate(), seconds: seconds, senders: senders, mode: storageMode.mode,
                             durable: !noFsync, writerConnections: writerConnections, logger: logger, summary: summary)
    }
}

enum StorageModeChoice: String, ExpressibleByArgument, CaseIterable {
    case auto, timescaledb, native

    var mode: StorageMode? {
        switch self {
        case .auto: nil
        case .timescaledb: .timescaledb
        case .native: .nativePartitioning
        }
    }
}

struct MLLP: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "mllp",
        abstract: "End to end over MLLP into PostgreSQL: peak, latency at half the peak, and raw binary COPY of the same rows.")

    @OptionGroup var options: MLLPOptions

    func run() async throws {
        let summary = Summary()
        try await options.benchmark(summary: summary).run()
        summary.print(title: "summary (vitals-bench mllp, \(BenchMachine.description))")
    }
}

struct Alerts: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "alerts",
        abstract: "Critical values: frame-in to the nurses' stream and to Kafka (mock cluster) under background load at half the peak.")

    @Option(help: "Seconds of each phase (peak, then half the peak with probes).")
    var seconds: Int = 20

    @Option(help: "Concurrent MLLP senders of background load.")
    var senders: Int = 32

    @Option(help: "Critical probes sent during the half-peak phase.")
    var probes: Int = 200

    @Flag(help: "Log the engine's info messages to standard error.")
    var verbose = false

    func validate() throws {
        guard (2...3600).contains(seconds) else { throw ValidationError("--seconds must be between 2 and 3600") }
        guard (1...1024).contains(senders) else { throw ValidationError("--senders must be between 1 and 1024") }
        guard (1...100_000).contains(probes) else { throw ValidationError("--probes must be between 1 and 100000") }
    }

    func run() async throws {
        var logger = Logger(label: "vitals-bench")
        logger.logLevel = verbose ? .info : .error
        let summary = Summary()
        try await AlertLatencyBenchmark(repository: try Repository.locate(), seconds: seconds, senders: senders, probes: probes,
                                        logger: logger, summary: summary).run()
        summary.print(title: "summary (vitals-bench alerts, \(BenchMachine.description))")
    }
}

struct MQTTCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "mqtt",
        abstract: "End to end over MQTT into PostgreSQL: 500 devices at 1 Hz, then flat out, against mosquitto_sub and raw binary COPY.")

    @Option(help: "Simulated devices.")
    var devices: Int = 500

    @Option(help: "Seconds of the paced phase (one message per device per second).")
    var seconds: Int = 20

    @Option(help: "Messages per device in the flat-out phase.")
    var messagesPerDevice: Int = 200

    @Option(help: "Messages the engine reads before awaiting their commit (and the broker's in-flight window).")
    var window: Int = 2_000

    @Option(help: "Storage mode: auto (TimescaleDB when installed), timescaledb or native.")
    var storageMode: StorageModeChoice = .auto

    @Flag(help: "Run PostgreSQL with fsync, synchronous_commit and full_page_writes off.")
    var noFsync = false

    @Flag(help: "Log the engine's info messages to standard error.")
    var verbose = false

    @Flag(help: "Only measure the gateway JSON decoder on one core (no broker, no database).")
    var decodeOnly = false

    func run() async throws {
        var logger = Logger(label: "vitals-bench")
        logger.logLevel = verbose ? .info : .warning
        let summary = Summary()
        if decodeOnly {
            try MQTTBenchmark.reportDecodeCost(repository: try Repository.locate(), summary: summary)
            return summary.print(title: "summary (vitals-bench mqtt --decode-only, \(BenchMachine.description))")
        }
        try await MQTTBenchmark(repository: try Repository.locate(), devices: devices, seconds: seconds, messagesPerDevice: messagesPerDevice,
                                window: window, mode: storageMode.mode, durable: !noFsync, logger: logger, summary: summary).run()
        summary.print(title: "summary (vitals-bench mqtt, \(BenchMachine.description))")
    }
}

struct All: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "parse, then mllp.")

    @Option(help: "Timed seconds of the parse benchmark.")
    var parseSeconds: Double = 5

    @OptionGroup var options: MLLPOptions

    func run() async throws {
        let summary = Summary()
        try ParseBenchmark(repository: try Repository.locate(), seconds: parseSeconds, summary: summary).run()
        try await options.benchmark(summary: summary).run()
        summary.print(title: "summary (vitals-bench all, \(BenchMachine.description))")
    }
}

enum BenchMachine {
    /// "2 cores, Intel(R) Xeon(R) …, 23 GB, 2026-…" for the summary's title.
    static var description: String {
        let info = ProcessInfo.processInfo
        var cpu = ""
        if let text = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8),
           let line = text.split(separator: "\n").first(where: { $0.hasPrefix("model name") }),
           let name = line.split(separator: ":", maxSplits: 1).last {
            cpu = " " + name.trimmingCharacters(in: .whitespaces)
        }
        let date = ISO8601DateFormatter().string(from: Date())
        return "\(info.activeProcessorCount) cores\(cpu), \(info.physicalMemory >> 30) GB, \(date)"
    }
}
