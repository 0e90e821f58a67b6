import ArgumentParser
import DeviceSimulator
import Foundation
import MQTT

struct Simulate: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Simulated devices: bedside monitors sending IHE PCD-01 over MLLP, MQTT gateways publishing gateway JSON, or a serial pulse oximeter on a pseudo-terminal.")

    enum Transport: String, ExpressibleByArgument, CaseIterable { case mllp, mqtt, serial }

    @Option(help: "mllp (bedside monitors), mqtt (device gateways) or serial (one device on a pseudo-terminal).")
    var transport: Transport = .mllp

    @OptionGroup var serial: SerialSimulationOptions

    @Option(help: "MQTT broker URL, mqtt://[user@]host[:port] (password from $NILECARE_MQTT_PASSWORD).")
    var broker: String = "mqtt://127.0.0.1:1883"

    @Option(help: "MQTT: how many simulated devices.")
    var devices: Int = 10

    @Option(help: "MQTT: messages per device per second (0: as fast as the broker acknowledges).")
    var rate: Double = 1

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
        guard devices > 0 else { throw ValidationError("--devices must be positive") }
        guard rate.isFinite, rate >= 0 else { throw ValidationError("--rate must be a finite number, not negative") }
        guard monitors > 0 else { throw ValidationError("--monitors must be positive") }
        try validateSeconds(intervalSeconds, "interval-seconds", mayBeZero: true)
    }

    func run() async throws {
        if transport == .mqtt { return try await runGateways() }
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

    private func runGateways() async throws {
        var options = MQTTConnectionOptions(broker: try MQTTBrokerURL(parsing: broker), clientID: "nilecare-sim-\(getpid())")
        options.password = ProcessInfo.processInfo.environment["NILECARE_MQTT_PASSWORD"]
        options.cleanSession = true
        var configuration = MQTTGatewaySimulator.Configuration()
        configuration.devices = devices
        configuration.rate = rate
        configuration.messagesPerDevice = count
        let simulator = try MQTTGatewaySimulator(configuration: configuration, options: options)
        defer { simulator.publisher.stop() }
        let started = ContinuousClock.now
        func summary() -> String {
            let seconds = (ContinuousClock.now - started) / .seconds(1)
            return "published \(simulator.published) messages, \(simulator.publisher.acknowledgedCount) acknowledged by the broker, in \(String(format: "%.1f", seconds)) s"
        }
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await withTaskCancellationHandler { try await simulator.run() } onCancel: { simulator.stop() } }
            group.addTask {
                while true {
                    try await Task.sleep(for: .seconds(5))
                    print(summary())
                }
            }
            try await group.next()
            group.cancelAll()
        }
        print(summary())
    }
}
