import ArgumentParser
import DeviceSimulator
import Foundation

struct Simulate: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Simulated bedside monitors sending IHE PCD-01 ORU^R01 over MLLP, or a serial pulse oximeter on a pseudo-terminal.")

    enum Transport: String, ExpressibleByArgument, CaseIterable { case mllp, serial }

    @Option(help: "mllp (bedside monitors) or serial (one device on a pseudo-terminal).")
    var transport: Transport = .mllp

    @OptionGroup var serial: SerialSimulationOptions

    @Option(help: "Host of the MLLP listener.")
    var host: String = "127.0.0.1"

    @Option(help: "Port of the MLLP listener.")
    var port: Int = 2575

    @Option(help: "How many monitors, each on its own connection.")
    var monitors: Int = 8

    @Option(help: "Seconds between two reports of one monitor.")
    var intervalSeconds: Double = 1

    @Option(help: "Stop each monitor after this many acknowledged reports (default: run until Ctrl-C).")
    var count: Int?

    @Option(help: "Every n-th report of a monitor carries a critical SpO2 (0: never).")
    var criticalEvery: Int = 30

    func validate() throws {
        guard monitors > 0 else { throw ValidationError("--monitors must be positive") }
        guard intervalSeconds >= 0 else { throw ValidationError("--interval-seconds must not be negative") }
    }

    func run() async throws {
        if transport == .serial {
            try await serial.run(intervalSeconds: intervalSeconds, count: count, criticalEvery: criticalEvery)
            return
        }
        var configuration = WardSimulator.Configuration()
        configuration.host = host
        configuration.port = port
        configuration.monitors = monitors
        configuration.interval = .milliseconds(Int64(intervalSeconds * 1000))
        configuration.reportsPerMonitor = count
        configuration.criticalEvery = criticalEvery > 0 ? criticalEvery : nil
        let ward = WardSimulator(configuration: configuration)
        let started = ContinuousClock.now
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await ward.run() }
            group.addTask {
                while true {
                    try await Task.sleep(for: .seconds(5))
                    print(Self.summary(ward.statistics.counts, since: started))
                }
            }
            try await group.next()
            group.cancelAll()
        }
        print(Self.summary(ward.statistics.counts, since: started))
    }

    static func summary(_ counts: WardStatistics.Counts, since started: ContinuousClock.Instant) -> String {
        let seconds = (ContinuousClock.now - started) / .seconds(1)
        return "acknowledged \(counts.messagesAcknowledged) messages (\(counts.observationsAcknowledged) observations) in \(String(format: "%.1f", seconds)) s; "
            + "negative acks \(counts.negativeAcknowledgements), resent \(counts.resends), reconnects \(counts.reconnects)"
    }
}
