import Metrics
import Synchronization

/// The MQTT source's counters, as swift-metrics (for /metrics) and as numbers of its own (for
/// /health and tests: several sources in one process share the swift-metrics names).
public final class MQTTSourceStatistics: Sendable {
    public struct Counts: Sendable, Equatable {
        public var received = 0
        public var stored = 0
        public var observationsStored = 0
        public var duplicates = 0
        public var rejected = 0
        public var reconnects = 0
        public var storageRetries = 0
    }

    private let counts = Mutex(Counts())
    let connectedGauge = Gauge(label: "mqtt_connected")
    let devicesOnline = Gauge(label: "mqtt_devices_online")
    private let receivedCounter = Counter(label: "mqtt_messages_received_total")
    private let storedCounter = Counter(label: "mqtt_messages_stored_total")
    private let observationsCounter = Counter(label: "mqtt_observations_stored_total")
    private let duplicateCounter = Counter(label: "mqtt_messages_duplicate_total")
    private let rejectedCounter = Counter(label: "mqtt_messages_rejected_total")
    private let reconnectCounter = Counter(label: "mqtt_reconnects_total")
    private let retryCounter = Counter(label: "mqtt_storage_retries_total")
    let commitLatency = Timer(label: "mqtt_receive_to_commit_seconds")

    public var current: Counts { counts.withLock { $0 } }

    func received() { receivedCounter.increment(); counts.withLock { $0.received += 1 } }
    func rejected() { rejectedCounter.increment(); counts.withLock { $0.rejected += 1 } }
    func duplicate() { duplicateCounter.increment(); counts.withLock { $0.duplicates += 1 } }
    func reconnected() { reconnectCounter.increment(); counts.withLock { $0.reconnects += 1 } }
    func storageRetry() { retryCounter.increment(); counts.withLock { $0.storageRetries += 1 } }

    func stored(observations: Int) {
        storedCounter.increment()
        observationsCounter.increment(by: observations)
        counts.withLock {
            $0.stored += 1
            $0.observationsStored += observations
        }
    }
}
