import Decoders
import Foundation
import Logging
import MQTT
import NamedThreads
import Storage
import Synchronization
import VitalSigns

/// Vitals from an MQTT broker: subscribes with a persistent session (fixed client id, QoS 1),
/// decodes each message with its subscription's profile and hands it to the sink.
///
/// Delivery: libmosquitto queues a QoS 1 PUBACK before it hands the message to us. The source
/// drives libmosquitto itself (threaded mode, `mosquitto_loop_read`/`_write` on its own thread),
/// so queued PUBACKs reach the socket only when the loop writes: it reads a burst of messages,
/// submits them, waits until every one is committed (or stored before: the writer deduplicates
/// on `MQTT|<device>|<message id>`), and only then writes. A crash or a stop with uncommitted
/// data closes the socket with those PUBACKs unsent, and the broker delivers them again.
///
/// Backpressure: at most `maxBurst` messages are read before the loop waits for their commit,
/// so nothing buffers without bound; while it waits, the broker holds the rest. While storage is
/// down the loop retries the burst and sends nothing (no PINGREQ either, it would carry the
/// PUBACKs with it): after 1.5 × keep-alive the broker drops the connection, the source
/// reconnects once the burst is stored, and the broker's redeliveries are stored once.
public final class MQTTSource: Sendable {
    public struct Configuration: Sendable {
        public var connection: MQTTConnectionOptions
        public var subscriptions: [MQTTSubscription]
        /// Devices announce themselves here (`online`/`offline`), usually as their last will.
        public var statusFilter: MQTTTopicFilter? = try? MQTTTopicFilter("devices/+/status")
        /// Our own status topic: `offline` as our will, `online` once connected; both retained.
        public var daemonStatusTopic: String
        /// Messages read before the loop waits for their commit.
        public var maxBurst = 2_000
        /// A larger payload is rejected (`payload_too_large`, its first 4 KiB kept) without being
        /// decoded. A device report is a few kilobytes; the broker's own limit (mosquitto's
        /// `message_size_limit`, 256 MB by default) is what keeps larger ones off the wire.
        public var maximumPayloadBytes = 1 << 20
        public var reconnectDelay: Duration = .milliseconds(250)
        public var maxReconnectDelay: Duration = .seconds(30)
        /// How often a subscription the broker refused is asked for again on the same connection.
        public var resubscribeInterval: Duration = .seconds(30)
        /// How long after the broker grants the subscription record's topic the daemon waits for
        /// the previous run's record before it writes its own (`SubscriptionRecord`): the broker
        /// sends a retained message right after the grant.
        public var subscriptionRecordWait: Duration = .seconds(2)

        public init(connection: MQTTConnectionOptions, subscriptions: [MQTTSubscription]) {
            var connection = connection
            daemonStatusTopic = "nilecare/daemons/\(connection.clientID)/status"
            connection.will = .init(topic: daemonStatusTopic, payload: Array("offline".utf8), retain: true)
            self.connection = connection
            self.subscriptions = subscriptions
        }
    }

    public struct Health: Sendable, Equatable {
        public enum State: String, Sendable {
            case starting, connected, reconnecting, stopped
        }

        public var state: State
        /// Why the last connection attempt or connection failed.
        public var lastError: String?
        public var broker: String
        /// Subscriptions of the current connection the broker refused (until it grants them) or
        /// granted below QoS 1.
        public var subscriptionProblems: [String] = []
    }

    public let configuration: Configuration
    public let statistics = MQTTSourceStatistics()
    private let shared: SharedState
    private let sink: any ObservationSink
    private let rejections: RejectionReporter
    private let presence: DevicePresenceRecorder?
    private let associations: PatientAssociationCache?
    private let logger: Logger
    private let running = Atomic<Bool>(false)
    private let done = DispatchSemaphore(value: 0)

    /// `associations`: the patient of an observation whose payload names none, from its device's
    /// association, else its bed's.
    public init(
        configuration: Configuration, sink: any ObservationSink, rejections: RejectionReporter,
        presence: DevicePresenceRecorder?, associations: PatientAssociationCache? = nil, logger: Logger
    ) {
        self.configuration = configuration
        self.sink = sink
        self.rejections = rejections
        self.presence = presence
        self.associations = associations
        self.logger = logger
        shared = SharedState(broker: configuration.connection.broker.description)
    }

    /// Starts the loop thread, once the patient associations are loaded (messages read before
    /// would be stored without their patient); connection problems are retried there, never thrown.
    public func start() throws(MQTTError) {
        if let associations, !associations.waitForFirstLoad(timeout: .seconds(10)) {
            logger.warning("patient associations not loaded within 10 s; MQTT observations without a patient keep none until they are")
        }
        let loop = try MQTTSourceLoop(
            configuration: configuration, shared: shared, statistics: statistics, sink: sink,
            rejections: rejections, presence: presence, associations: associations, logger: logger
        )
        let done = done
        running.store(true, ordering: .releasing)
        startThread(named: "nc-mqtt") {
            loop.run()
            done.signal()
        }
    }

    /// Stops reading, lets committed messages be acknowledged, publishes `offline` and
    /// disconnects. Returns once the loop thread has ended.
    public func stop() {
        shared.stopping.store(true, ordering: .releasing)
        if running.exchange(false, ordering: .acquiringAndReleasing) { done.wait() }
    }

    public var health: Health { shared.health.withLock { $0 } }
}

/// What the loop thread and the outside share.
final class SharedState: Sendable {
    let stopping = Atomic<Bool>(false)
    let health: Mutex<MQTTSource.Health>

    init(broker: String) {
        health = Mutex(.init(state: .starting, lastError: nil, broker: broker))
    }

    func setSubscriptionProblems(_ problems: [String]) {
        health.withLock { $0.subscriptionProblems = problems }
    }

    func set(_ state: MQTTSource.Health.State, error: String? = nil) {
        health.withLock {
            $0.state = state
            if let error { $0.lastError = error }
        }
    }
}
