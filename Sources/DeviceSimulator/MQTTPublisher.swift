import Foundation
import MQTT
import NamedThreads

/// Publishes QoS 1 messages and knows which the broker acknowledged. A thread of its own runs
/// libmosquitto's loop and reconnects; `publish` blocks while `maxInFlight` messages await their
/// PUBACK, so a slow broker slows the caller instead of filling memory. Messages in flight when
/// the connection drops are sent again by libmosquitto after it reconnects.
public final class MQTTPublisher: @unchecked Sendable {
    // @unchecked: `inFlight`, `acknowledged`, `connected` and `stopped` are used only under `condition`.
    private let client: MosquittoClient
    private let condition = NSCondition()
    private var inFlight: Set<Int32> = []
    private var acknowledged = 0
    private var connected = false
    private var stopped = false
    private let maxInFlight: Int
    private let done = DispatchSemaphore(value: 0)

    /// Connects in the background; `publish` waits for the first connection.
    public init(options: MQTTConnectionOptions, maxInFlight: Int = 1_000) throws(MQTTError) {
        var options = options
        options.sendMaximum = Int32(min(max(maxInFlight, 1), 65_535))
        self.maxInFlight = max(1, maxInFlight)
        client = try MosquittoClient(options: options)
        client.onPublish = { [unowned self] mid in
            condition.withLock {
                if inFlight.remove(mid) != nil { acknowledged += 1 }
                condition.broadcast()
            }
        }
        client.onConnect = { [unowned self] code, _ in
            condition.withLock {
                connected = code == 0
                condition.broadcast()
            }
        }
        client.onDisconnect = { [unowned self] _ in condition.withLock { connected = false } }
        startThread(named: "nc-mqtt-pub") { [self] in runLoop() }
    }

    /// Messages the broker has acknowledged so far.
    public var acknowledgedCount: Int { condition.withLock { acknowledged } }

    /// Queues a QoS 1 message, blocking while too many await their PUBACK.
    public func publish(topic: String, payload: [UInt8], retain: Bool = false) throws(MQTTError) {
        condition.lock()
        while (inFlight.count >= maxInFlight || !connected) && !stopped { condition.wait() }
        let isStopped = stopped
        condition.unlock()
        guard !isStopped else { throw MQTTError(.client, "publisher stopped") }
        // The PUBACK may arrive before `publish` returns: hold the lock so the id is known first.
        condition.lock()
        defer { condition.unlock() }
        let mid = try client.publish(topic: topic, payload: payload, retain: retain)
        inFlight.insert(mid)
    }

    /// Waits until every published message is acknowledged, or `timeout` passes. True when all are.
    public func flush(timeout: Duration = .seconds(60)) -> Bool {
        let deadline = Date().addingTimeInterval(Double(timeout.components.seconds))
        return condition.withLock {
            while !inFlight.isEmpty && !stopped {
                if !condition.wait(until: deadline) { break }
            }
            return inFlight.isEmpty
        }
    }

    /// Disconnects (what is not acknowledged yet is abandoned) and ends the loop thread.
    public func stop() {
        let first = condition.withLock {
            defer { stopped = true; condition.broadcast() }
            return !stopped
        }
        if first { done.wait() }
    }

    private func runLoop() {
        var delay = Duration.milliseconds(100)
        var needsConnect = true
        while !condition.withLock({ stopped }) {
            do throws(MQTTError) {
                if needsConnect {
                    try client.connect()
                    needsConnect = false
                }
                try client.loop(timeout: .milliseconds(50))
                delay = .milliseconds(100)
            } catch {
                needsConnect = true
                Thread.sleep(forTimeInterval: Double(delay.components.attoseconds) / 1e18 + Double(delay.components.seconds))
                delay = min(delay * 2, .seconds(2))
            }
        }
        client.disconnect()
        try? client.loop(timeout: .milliseconds(10))
        done.signal()
    }
}
