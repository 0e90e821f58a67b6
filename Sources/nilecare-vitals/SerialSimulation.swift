import ArgumentParser
import DeviceSimulator
import Foundation

/// `simulate --transport serial`: one serial device writing a realistic stream into a
/// pseudo-terminal, whose slave end the daemon reads like a USB serial adapter.
struct SerialSimulationOptions: ParsableArguments {
    @Option(help: "Serial device to simulate: \(SerialDeviceSimulator.Model.allCases.map(\.rawValue).joined(separator: ", ")).")
    var profile: SerialDeviceSimulator.Model = .masimoRadical7

    @Option(help: "Also make this symlink point at the pseudo-terminal (like a /dev/serial/by-id link).")
    var link: String?

    @Option(help: "Serial number the simulated Masimo reports (SN=).")
    var serialNumber: String = "0000123456"

    func run(intervalSeconds: Double, count: Int?, criticalEvery: Int) async throws {
        let terminal = try PseudoTerminal()
        if let link { try terminal.link(link) }
        defer { if let link { unlink(link) } }
        var configuration = SerialDeviceSimulator.Configuration(model: profile)
        configuration.interval = .milliseconds(Int64(intervalSeconds * 1000))
        configuration.readings = count
        configuration.criticalEvery = criticalEvery > 0 ? criticalEvery : nil
        configuration.serialNumber = serialNumber
        let simulator = SerialDeviceSimulator(configuration: configuration, terminal: terminal)
        say("simulated \(profile.rawValue) on \(terminal.slavePath)\(link.map { " (linked as \($0))" } ?? "")")
        say("read it with: nilecare-vitals serve --serial \(link ?? terminal.slavePath)=\(profile.rawValue)@BED")
        simulator.start()
        while count.map({ simulator.readingsWritten < $0 }) ?? true {
            try await Task.sleep(for: .seconds(5))
            say("wrote \(simulator.readingsWritten) readings")
        }
        simulator.stop()
    }
}

extension SerialDeviceSimulator.Model: ExpressibleByArgument {}
