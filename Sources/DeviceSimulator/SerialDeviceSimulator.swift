import Foundation
import NamedThreads
import Synchronization

/// A simulated serial pulse oximeter writing a realistic stream into a pseudo-terminal: values
/// wander around a baseline, every `criticalEvery`-th reading is a desaturation, and now and then
/// the probe comes off. Runs on a thread of its own (writes to a pty block like a real line).
public final class SerialDeviceSimulator: Sendable {
    public enum Model: String, Sendable, CaseIterable {
        case masimoRadical7 = "masimo-radical7"
        case noninPulseOximeter = "nonin-pulse-oximeter"
        case genericLine = "generic-serial-line"
    }

    public struct Configuration: Sendable {
        public var model: Model
        /// Between two Masimo or line readings; Nonin packets always go at 3 a second.
        public var interval: Duration = .seconds(1)
        public var criticalEvery: Int? = 20
        public var serialNumber = "0000123456"
        /// Stop after this many readings (nil: until stopped).
        public var readings: Int?

        public init(model: Model) { self.model = model }
    }

    public let configuration: Configuration
    public let terminal: PseudoTerminal
    private let written = Atomic<Int>(0)
    private let stopped = Atomic<Bool>(false)

    public init(configuration: Configuration, terminal: PseudoTerminal) {
        self.configuration = configuration
        self.terminal = terminal
    }

    /// Readings written so far.
    public var readingsWritten: Int { written.load(ordering: .relaxed) }

    /// Starts the writer thread.
    public func start() {
        startThread(named: "nc-serial-sim") { [self] in run() }
    }

    public func stop() { stopped.store(true, ordering: .relaxed) }

    private func run() {
        var generator = SystemRandomNumberGenerator()
        var spo2 = 97.0
        var rate = 72.0
        var index = 0
        let interval = configuration.model == .noninPulseOximeter ? .milliseconds(333) : configuration.interval
        while !stopped.load(ordering: .relaxed) {
            if let limit = configuration.readings, index >= limit { break }
            index += 1
            spo2 = min(100, max(90, spo2 + Double.random(in: -0.6...0.6, using: &generator)))
            rate = min(110, max(55, rate + Double.random(in: -2...2, using: &generator)))
            let critical = configuration.criticalEvery.map { index % $0 == 0 } ?? false
            let probeOff = index % 97 == 0
            let saturation = probeOff ? nil : Int(critical ? 82 : spo2.rounded())
            let pulse = probeOff ? nil : Int(rate.rounded())
            let bytes: [UInt8] = switch configuration.model {
            case .masimoRadical7:
                SerialFrames.masimoLine(spo2: saturation, pulseRate: pulse, perfusionIndex: probeOff ? nil : 3.5,
                                        serialNumber: configuration.serialNumber, alarm: critical ? 0x0012 : 0, exceptions: probeOff ? 0x20 : 0)
            case .noninPulseOximeter:
                SerialFrames.noninPacket(spo2: saturation, heartRate: pulse,
                                         status: probeOff ? SerialFrames.NoninStatus.sensorDisconnect : SerialFrames.NoninStatus.greenPerfusion,
                                         plethPhase: index * 25)
            case .genericLine:
                SerialFrames.genericLine(spo2: saturation, heartRate: pulse, respirationRate: 16, temperatureFahrenheit: 98.6)
            }
            guard terminal.write(bytes) else { break }
            written.add(1, ordering: .relaxed)
            Thread.sleep(forTimeInterval: Double(interval.components.seconds) + Double(interval.components.attoseconds) / 1e18)
        }
    }
}
