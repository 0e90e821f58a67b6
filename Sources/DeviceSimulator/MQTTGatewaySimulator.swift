import Foundation
import MQTT
import NamedThreads
import Synchronization

/// Device gateways publishing MQTT gateway JSON (docs/formats/mqtt-gateway-json.md) for many
/// simulated devices over one connection: each device announces itself `online` (retained) on
/// `devices/<id>/status`, then publishes a reading of four vitals to `devices/<id>/vitals`.
public final class MQTTGatewaySimulator: Sendable {
    public struct Configuration: Sendable {
        public var devices = 10
        public var firstDeviceIndex = 0
        /// Messages per device per second; nil or 0 publishes as fast as the broker acknowledges.
        public var rate: Double? = 1
        /// Stop after this many messages per device; nil runs until `stop()`.
        public var messagesPerDevice: Int?
        /// QoS 1 messages awaiting the broker's PUBACK. Kept modest: libmosquitto walks its whole
        /// in-flight list on every PUBACK, and with 1,000 in flight that walk alone took about a
        /// tenth of a core at 25,000 messages/s; 250 keep a loopback broker just as busy.
        public var maxInFlight = 250
        /// Topics are `<prefix>/<device>/vitals` and `<prefix>/<device>/status`.
        public var topicPrefix = "devices"
        /// A prefix making message ids unique across runs (defaults to the start time).
        public var runID = String(Int(Date().timeIntervalSince1970 * 1000), radix: 36)

        public init() {}
    }

    public let configuration: Configuration
    public let publisher: MQTTPublisher
    private let stopping = Atomic<Bool>(false)
    private let sent = Atomic<Int>(0)

    public init(configuration: Configuration, options: MQTTConnectionOptions) throws(MQTTError) {
        self.configuration = configuration
        publisher = try MQTTPublisher(options: options, maxInFlight: configuration.maxInFlight)
    }

    /// Messages handed to the publisher so far.
    public var published: Int { sent.load(ordering: .relaxed) }

    public static func deviceID(_ index: Int) -> String {
        "GW" + String(repeating: "0", count: max(0, 6 - String(index).count)) + String(index)
    }

    /// Publishes until done or stopped, on a thread of its own; waits for every PUBACK at the end.
    public func run() async throws {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
            startThread(named: "nc-mqtt-sim") {
                do {
                    try self.publishAll()
                    continuation.resume()
                } catch {
                    continuation.resume(throwing: error)
                }
            }
        }
    }

    /// Ends `run`: also wakes a publish waiting for the broker (which may be gone).
    public func stop() {
        stopping.store(true, ordering: .relaxed)
        publisher.stop()
    }

    private func publishAll() throws(MQTTError) {
        let devices = (0..<configuration.devices).map { Self.deviceID(configuration.firstDeviceIndex + $0) }
        for device in devices {
            try publisher.publish(topic: "\(configuration.topicPrefix)/\(device)/status", payload: Array("online".utf8), retain: true)
        }
        let interval = configuration.rate.flatMap { $0 > 0 ? 1 / $0 : nil }
        let started = Date()
        var round = 0
        while !stopping.load(ordering: .relaxed), configuration.messagesPerDevice.map({ round < $0 }) ?? true {
            if let interval {
                let due = started.addingTimeInterval(Double(round) * interval)
                let wait = due.timeIntervalSinceNow
                if wait > 0 { Thread.sleep(forTimeInterval: wait) }
            }
            for (index, device) in devices.enumerated() {
                let payload = Self.payload(device: device, id: "\(configuration.runID)-\(round)", sequence: round + index)
                try publisher.publish(topic: "\(configuration.topicPrefix)/\(device)/vitals", payload: payload)
                sent.add(1, ordering: .relaxed)
            }
            round += 1
        }
        _ = publisher.flush()
    }

    /// One reading: heart rate, SpO2, respiration rate and temperature, timed now.
    public static func payload(device: String, id: String, sequence: Int, time: Date = Date()) -> [UInt8] {
        let wave = Double(sequence % 20)
        let text = """
            {"version":1,"id":"\(id)","device":"\(device)","time":"\(rfc3339(time))","observations":[\
            {"code":"147842","system":"MDC","value":\(70 + Int(wave)),"unit":"/min"},\
            {"code":"150456","system":"MDC","value":\(95 + sequence % 5),"unit":"%"},\
            {"code":"151562","system":"MDC","value":\(14 + sequence % 6),"unit":"/min"},\
            {"code":"150364","system":"MDC","value":\(36.5 + wave / 20),"unit":"Cel"}]}
            """
        return Array(text.utf8)
    }

    /// UTC with microseconds: `2026-11-29T09:00:00.250123Z`.
    static func rfc3339(_ date: Date) -> String {
        let microseconds = Int64((date.timeIntervalSince1970 * 1_000_000).rounded())
        let seconds = microseconds / 1_000_000
        var time = time_t(seconds)
        var parts = tm()
        gmtime_r(&time, &parts)
        let fraction = String(microseconds % 1_000_000)
        return String(format: "%04d-%02d-%02dT%02d:%02d:%02d.", Int(parts.tm_year) + 1900, Int(parts.tm_mon) + 1, Int(parts.tm_mday),
                      Int(parts.tm_hour), Int(parts.tm_min), Int(parts.tm_sec))
            + String(repeating: "0", count: 6 - fraction.count) + fraction + "Z"
    }
}
