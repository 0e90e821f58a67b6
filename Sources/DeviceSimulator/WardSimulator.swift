import Foundation
import HL7v2
import NIOCore
import NIOPosix
import Synchronization
import VitalSigns

/// Counts of what a simulated ward sent and what came back.
public final class WardStatistics: Sendable {
    private let counters = Mutex(Counts())

    public struct Counts: Sendable, Equatable {
        public var messagesAcknowledged = 0
        public var observationsAcknowledged = 0
        public var negativeAcknowledgements = 0
        public var resends = 0
        public var reconnects = 0
    }

    public init() {}

    public var counts: Counts { counters.withLock { $0 } }

    func record(_ update: (inout Counts) -> Void) {
        counters.withLock { update(&$0) }
    }
}

/// Many monitors, each on its own MLLP connection, each sending a report every interval and
/// waiting for its ACK as real senders do. A message that was not acknowledged (the connection
/// dropped, the server restarted) is sent again, unchanged, after reconnecting.
public struct WardSimulator: Sendable {
    public struct Configuration: Sendable {
        public var host = "127.0.0.1"
        public var port = 2575
        public var monitors = 8
        public var firstMonitorIndex = 0
        public var interval: Duration = .seconds(1)
        /// Stop each monitor after this many acknowledged reports; nil runs until cancelled.
        public var reportsPerMonitor: Int?
        /// Every n-th report of a monitor carries a critical value.
        public var criticalEvery: Int?
        public var seed: UInt64 = 0x5EED

        public init() {}
    }

    public let configuration: Configuration
    public let statistics: WardStatistics

    public init(configuration: Configuration, statistics: WardStatistics = WardStatistics()) {
        self.configuration = configuration
        self.statistics = statistics
    }

    public func run() async throws {
        try await withThrowingTaskGroup(of: Void.self) { group in
            for index in 0..<configuration.monitors {
                group.addTask { try await runMonitor(index: configuration.firstMonitorIndex + index) }
            }
            try await group.waitForAll()
        }
    }

    private func runMonitor(index: Int) async throws {
        var monitor = SimulatedMonitor(index: index, seed: configuration.seed)
        var client: MLLPClient?
        var sent = 0
        var backoff: Duration = .milliseconds(50)
        var lastTime = Timestamp(microsecondsSinceEpoch: 0)
        defer { if let client { Task { await client.close() } } }
        while !Task.isCancelled, configuration.reportsPerMonitor.map({ sent < $0 }) ?? true {
            let critical = configuration.criticalEvery.flatMap { (sent + 1) % $0 == 0 ? VitalKind.spo2 : nil }
            // Reports carry millisecond times; two reports of one monitor never share one.
            let time = max(Self.now(), Timestamp(microsecondsSinceEpoch: (lastTime.microsecondsSinceEpoch / 1000 + 1) * 1000))
            lastTime = time
            let report = monitor.nextReport(at: time, criticalKind: critical)
            var attempt = 0
            while true {
                try Task.checkCancellation()
                do {
                    if client == nil {
                        client = try await MLLPClient.connect(host: configuration.host, port: configuration.port)
                        backoff = .milliseconds(50)
                    }
                    let reply = try await client!.send(report.bytes)
                    let code = Self.acknowledgmentCode(reply)
                    statistics.record {
                        if code == "AA" {
                            $0.messagesAcknowledged += 1
                            $0.observationsAcknowledged += report.values.count
                        } else {
                            $0.negativeAcknowledgements += 1
                        }
                        if attempt > 0 { $0.resends += 1 }
                    }
                    break
                } catch is CancellationError {
                    throw CancellationError()
                } catch {
                    // Keep the report: it goes again, same control id, once we are back.
                    if let stale = client { await stale.close() }
                    client = nil
                    attempt += 1
                    statistics.record { $0.reconnects += 1 }
                    try await Task.sleep(for: backoff)
                    backoff = min(backoff * 2, .seconds(2))
                }
            }
            sent += 1
            if configuration.interval > .zero { try await Task.sleep(for: configuration.interval) }
        }
    }

    static func acknowledgmentCode(_ reply: [UInt8]) -> String {
        guard let ack = try? HL7Message(parsing: reply), let msa = ack.firstSegment(named: "MSA") else { return "" }
        return msa[1].value
    }

    static func now() -> Timestamp {
        Timestamp(secondsSinceEpoch: Date().timeIntervalSince1970)
    }
}
