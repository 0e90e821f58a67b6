import Foundation
import Kafka
import Logging
import Metrics
import NamedThreads
import Storage
import Synchronization

/// Forwards alert events to Kafka through the transactional outbox `alert_events`.
///
/// Every event is in the database before it reaches the forwarder (the hub commits first), so
/// the forwarder may lose nothing by crashing: at start it reads the undelivered events a page
/// at a time, then takes newly committed ones from the hub, and sends them in id order keyed by
/// device. A queue grown past two pages while Kafka is away goes back to paging, so memory stays
/// bounded however long the outage. Kafka's confirmations are written back
/// (`alert_events.delivered_at`, `critical_events.kafka_state`).
///
/// Ordering and duplicates: the producer is idempotent with `acks=all` and never gives up on a
/// record (`message.timeout.ms=0`), so a broker outage delays records without reordering or
/// duplicating them. Only a crash between Kafka's confirmation and its record in the database
/// sends an event again after a restart; consumers deduplicate on `eventId`. A record Kafka
/// refuses for good (too large, not authorised) is read from the outbox and sent again after a
/// pause that doubles with each refusal (`retryDelay` up to `maximumRetryDelay`), while the
/// other events go on: it arrives behind its key's later records, and each event carries its
/// whole alert, so consumers keep the one with the highest `eventId` per alert (the schema says so).
///
/// The forwarder owns its producer, made by `makeProducer`. A producer that hits a fatal error
/// (the idempotent producer can no longer keep its guarantees) sends nothing more: it is shut
/// down and replaced by a new one, and what it had not delivered goes again from the outbox.
public final class KafkaForwarder: Sendable {
    public struct Configuration: Sendable {
        public var topic: String = "vitals.critical"
        /// Records sent and not yet confirmed; the forwarder waits beyond this.
        public var maxInFlight: Int = 10_000
        /// Events read from the outbox at a time: a backlog left by a long Kafka outage is sent a
        /// page after another, never held in memory whole.
        public var pageSize: Int = 10_000
        /// The pause before a record Kafka refused is sent again, doubled at each refusal of the
        /// same event up to `maximumRetryDelay`. Other events are not held by it.
        public var retryDelay: Duration = .seconds(1)
        public var maximumRetryDelay: Duration = .seconds(60)

        public init() {}
    }

    /// librdkafka settings the outbox relies on (the caller's own settings are kept otherwise).
    public static let requiredProducerProperties: [String: String] = ["message.timeout.ms": "0"]

    /// Defaults for an alert producer, where every record is urgent and rare: no Nagle delay on
    /// the sockets, and no linger (librdkafka waits 5 ms by default to batch). The caller's settings win.
    public static let latencyProducerDefaults: [String: String] = ["socket.nagle.disable": "true", "linger.ms": "0"]

    private let state: ForwarderState
    private let sender: OutboxSender
    private let threads = DispatchGroup()

    /// Makes the first producer at once (and fails if it cannot), and a new one whenever the
    /// current one hits a fatal error.
    public init(
        makeProducer: @escaping @Sendable () throws(KafkaError) -> KafkaProducer, hub: AlertHub, url: String,
        configuration: Configuration = .init(), logger: Logger
    ) throws {
        let producer = try makeProducer()
        state = ForwarderState(pageSize: max(1, configuration.pageSize), retryDelay: configuration.retryDelay,
                               maximumRetryDelay: configuration.maximumRetryDelay)
        let state = state
        // The outbox is read by the sending thread, a page at a time, until it is caught up;
        // from then on the hub's newly committed events are queued as they come.
        hub.onCommitted { events in state.add(events.map(StoredAlertEvent.init)) }
        let store = try AlertStore(url: url, confirmationsOnly: true)
        // Two threads, so that sending never waits for the database: a confirmation's update can
        // queue behind row locks and WAL flushes for hundreds of milliseconds under load.
        let sender = OutboxSender(
            producer: producer, makeProducer: makeProducer, store: store, url: url, facility: hub.facility, state: state,
            configuration: configuration, logger: logger
        )
        self.sender = sender
        let recorder = try ConfirmationRecorder(url: url, state: state, logger: logger)
        start("nc-kafka-outbox", sender.run)
        start("nc-kafka-confirm", recorder.run)
    }

    private func start(_ name: String, _ body: @escaping @Sendable () -> Void) {
        threads.enter()
        startThread(named: name) { [threads] in
            body()
            threads.leave()
        }
    }

    /// Calls `handler` on the producer's thread with each event Kafka has confirmed (before the
    /// confirmation is recorded in the outbox). For observers; keep it short.
    public func onDelivered(_ handler: @escaping @Sendable (StoredAlertEvent) -> Void) {
        state.addDeliveryObserver(handler)
    }

    /// Events committed and not yet confirmed by Kafka (queued or in flight); while the
    /// forwarder is still reading a backlog from the outbox, at least one more.
    public var pendingCount: Int { state.pendingCount }

    /// Still reading events left undelivered in the outbox (at start, or after the queue
    /// outgrew two pages during a Kafka outage).
    public var isCatchingUp: Bool { state.isCatchingUp }

    /// Events handed to the producer and not yet confirmed.
    public var inFlightCount: Int { state.inFlightCount }

    /// Stops sending, waits up to `drainTimeout` for Kafka to confirm what is in flight, records
    /// the confirmations, and when both outbox threads have ended shuts the producer down.
    /// Undelivered events stay in the outbox for the next start. Idempotent.
    public func shutdown(drainTimeout: Duration = .seconds(10)) async {
        state.stopSending()
        state.waitUntilNothingInFlight(timeout: drainTimeout.seconds)
        state.close()
        threads.wait()
        // The sending thread has ended: its producer is no longer replaced.
        await sender.producer.shutdown()
    }

    /// Producers made after the first because one hit a fatal error.
    public var producerReplacements: Int { state.producerReplacements }

    /// Events Kafka refused, waiting for their pause before they are sent again.
    public var waitingToRetryCount: Int { state.waitingToRetryCount }
}

/// What the hub, Kafka's delivery callbacks and the outbox thread share.
///
/// `@unchecked Sendable`: every stored property is used only while holding `condition`'s lock.
final class ForwarderState: @unchecked Sendable {
    private let condition = NSCondition()
    private var queue: [StoredAlertEvent] = []
    private var watermark: Int64 = 0
    /// Reading the outbox page by page: the hub's announcements are left to the pages meanwhile
    /// (every announced event is committed first), so memory holds at most two pages however
    /// long Kafka was away.
    private var catchingUp = true
    /// The highest outbox id read while catching up.
    private var cursor: Int64 = 0
    private let pageSize: Int
    private var delivered: [Int64] = []
    /// Confirmed by Kafka, and not yet recorded in the outbox: still undelivered to a reload.
    private var unrecorded: Set<Int64> = []
    /// Sends that failed, by event: how often, and when the event is read from the outbox and
    /// sent again (nil once it is on its way again). Still pending.
    private var retries: [Int64: Retry] = [:]
    /// Failed events taken for a resend and not queued yet: still pending.
    private var takenForRetry = 0
    private let retryDelay: Duration
    private let maximumRetryDelay: Duration
    private var inFlight: Set<Int64> = []
    /// Cleared when shutting down: what is in flight is still confirmed, nothing more is sent.
    private var sending = true
    private var closed = false
    private var replacements = 0
    /// A send failed since the sending thread last looked: it checks for a fatal error.
    private var failureSeen = false
    private var deliveryObservers: [@Sendable (StoredAlertEvent) -> Void] = []

    struct Retry {
        var failures: Int
        var due: ContinuousClock.Instant?
    }

    init(pageSize: Int, retryDelay: Duration, maximumRetryDelay: Duration) {
        self.pageSize = pageSize
        self.retryDelay = retryDelay
        self.maximumRetryDelay = maximumRetryDelay
    }

    /// The pause after an event's `failures`-th refusal: `first`, doubled each time, at most `maximum`.
    static func pause(afterFailures failures: Int, first: Duration, maximum: Duration) -> Duration {
        var pause = first
        for _ in 1..<max(1, failures) where pause < maximum { pause *= 2 }
        return min(pause, maximum)
    }

    func addDeliveryObserver(_ observer: @escaping @Sendable (StoredAlertEvent) -> Void) {
        condition.withLock { deliveryObservers.append(observer) }
    }

    func observers() -> [@Sendable (StoredAlertEvent) -> Void] {
        condition.withLock { deliveryObservers }
    }

    /// Where the next page starts, when one is wanted: catching up, and less than a page queued.
    func pageWanted() -> Int64? {
        condition.withLock { catchingUp && queue.count < pageSize ? cursor : nil }
    }

    /// A page of the outbox, read after `pageWanted()`'s id. A short page means the outbox is
    /// read to its end: from here the hub's announcements are queued, and the id returned is
    /// where the caller reads once more, for the events announced while the page was read.
    /// nil while there is more to page through.
    func addPage(_ events: [StoredAlertEvent]) -> Int64? {
        condition.withLock {
            let queued = Set(queue.map(\.id)).union(inFlight).union(unrecorded)
            // In id order: after a resumed paging, newer events may be queued already.
            queue = (queue + events.filter { !queued.contains($0.id) }).sorted { $0.id < $1.id }
            cursor = max(cursor, events.last?.id ?? 0)
            condition.broadcast()
            guard events.count < pageSize else { return nil }
            catchingUp = false
            watermark = max(watermark, cursor)
            return cursor
        }
    }

    /// Newly committed events: queued once the outbox is caught up. A queue grown past two
    /// pages (Kafka away) keeps one and goes back to paging: the rest wait in the outbox.
    func add(_ events: [StoredAlertEvent]) {
        condition.withLock {
            guard !catchingUp else { return }
            for event in events where event.id > watermark {
                queue.append(event)
                watermark = event.id
            }
            if queue.count > 2 * pageSize {
                queue.removeLast(queue.count - pageSize)
                cursor = queue.last?.id ?? cursor
                catchingUp = true
            }
            condition.broadcast()
        }
    }

    var isCatchingUp: Bool { condition.withLock { catchingUp } }

    func resumePaging(after id: Int64) {
        condition.withLock {
            catchingUp = true
            cursor = max(cursor, id)
        }
    }

    /// The next events to send (up to the in-flight bound), and the failed ones whose pause is
    /// over, to read from the outbox again; waits up to `timeout` for something to do, and wakes
    /// at a failure. nil once closed.
    func nextToSend(maxInFlight: Int, timeout: TimeInterval) -> (send: [StoredAlertEvent], retry: [Int64])? {
        condition.withLock {
            let now = ContinuousClock.now
            let nextDue = retries.values.compactMap(\.due).min()
            if (queue.isEmpty || inFlight.count >= maxInFlight) && nextDue.map({ $0 > now }) ?? true && !failureSeen && !closed {
                let wait = min(timeout, nextDue.map { now.duration(to: $0).seconds } ?? timeout)
                _ = condition.wait(until: Date(timeIntervalSinceNow: max(0, wait)))
            }
            failureSeen = false
            if closed || !sending { return nil }
            let send = Array(queue.prefix(max(0, maxInFlight - inFlight.count)))
            queue.removeFirst(send.count)
            inFlight.formUnion(send.map(\.id))
            let due = ContinuousClock.now
            let retry = retries.filter { $0.value.due.map { $0 <= due } ?? false }.keys.sorted()
            for id in retry { retries[id]?.due = nil }
            takenForRetry += retry.count
            return (send, retry)
        }
    }

    /// Kafka's confirmations not yet recorded; waits up to `timeout` for one. After `close()`,
    /// the last ones with `closed` set.
    func nextConfirmations(timeout: TimeInterval) -> (delivered: [Int64], closed: Bool) {
        condition.withLock {
            if delivered.isEmpty && !closed {
                _ = condition.wait(until: Date(timeIntervalSinceNow: timeout))
            }
            defer { delivered.removeAll() }
            return (delivered, closed)
        }
    }

    func confirm(_ id: Int64) {
        condition.withLock {
            delivered.append(id)
            unrecorded.insert(id)
            inFlight.remove(id)
            retries[id] = nil
            condition.broadcast()
        }
    }

    /// The recorder wrote these confirmations to the outbox.
    func recorded(_ ids: [Int64]) {
        condition.withLock { unrecorded.subtract(ids) }
    }

    /// `id` was not delivered: it is sent again from the outbox after its pause.
    func fail(_ id: Int64) {
        condition.withLock {
            inFlight.remove(id)
            let failures = (retries[id]?.failures ?? 0) + 1
            let pause = Self.pause(afterFailures: failures, first: retryDelay, maximum: maximumRetryDelay)
            retries[id] = Retry(failures: failures, due: .now + pause)
            failureSeen = true
            condition.broadcast()
        }
    }

    /// Failed events taken for a resend and found in the outbox still undelivered (`events`; the
    /// others were delivered meanwhile) join the queue, in id order.
    func requeue(_ events: [StoredAlertEvent], of ids: [Int64]) {
        condition.withLock {
            let queued = Set(queue.map(\.id)).union(inFlight).union(unrecorded)
            queue = (queue + events.filter { !queued.contains($0.id) }).sorted { $0.id < $1.id }
            let found = Set(events.map(\.id))
            for id in ids where !found.contains(id) { retries[id] = nil }
            takenForRetry -= ids.count
        }
    }

    /// Failed events taken for a resend that could not be read: tried again after `delay`.
    func retryLater(_ ids: [Int64], after delay: Duration) {
        condition.withLock {
            for id in ids { retries[id]?.due = .now + delay }
            takenForRetry -= ids.count
        }
    }

    /// Events read from the outbox join what is queued already, in id order. Replacing the queue
    /// would lose what the hub added since it was read; events in flight, confirmed and not yet
    /// recorded, or waiting to be sent again after a failure, are not queued again.
    func reload(_ events: [StoredAlertEvent]) {
        condition.withLock {
            let queued = Set(queue.map(\.id))
            let missing = events.filter {
                !queued.contains($0.id) && !inFlight.contains($0.id) && !unrecorded.contains($0.id) && retries[$0.id] == nil
            }
            queue = (queue + missing).sorted { $0.id < $1.id }
            watermark = max(watermark, events.last?.id ?? 0)
            cursor = max(cursor, events.last?.id ?? 0)
        }
    }

    var pendingCount: Int {
        condition.withLock { queue.count + inFlight.count + waitingToRetry + takenForRetry + (catchingUp ? 1 : 0) }
    }

    /// Events waiting for their pause after a failed send.
    var waitingToRetryCount: Int { condition.withLock { waitingToRetry } }

    /// Read while holding `condition`'s lock.
    private var waitingToRetry: Int { retries.values.count { $0.due != nil } }

    var inFlightCount: Int { condition.withLock { inFlight.count } }

    var producerReplacements: Int { condition.withLock { replacements } }

    /// A new producer replaced one that failed for good, once the old one was shut down: what
    /// it failed was not refused for itself, and goes again at once, and so does what it left
    /// unreported (nothing of the new one's is in flight yet).
    func replacedProducer() {
        condition.withLock {
            replacements += 1
            for id in retries.keys where retries[id]?.due != nil { retries[id] = Retry(failures: 0, due: .now) }
            for id in inFlight { retries[id] = Retry(failures: 0, due: .now) }
            inFlight.removeAll()
        }
    }

    func stopSending() {
        condition.withLock {
            sending = false
            condition.broadcast()
        }
    }

    func waitUntilNothingInFlight(timeout: TimeInterval) {
        condition.withLock {
            let deadline = Date(timeIntervalSinceNow: timeout)
            while !inFlight.isEmpty, !closed, condition.wait(until: deadline) {}
        }
    }

    func close() {
        condition.withLock {
            closed = true
            condition.broadcast()
        }
    }
}

/// The outbox's sending thread: hands committed events to the producer in id order, sends the
/// failed ones again from the outbox after their pause, and replaces a producer that failed for good.
private final class OutboxSender: @unchecked Sendable {
    // Thread-confined to the sending thread (`producer` read by `shutdown` once it has ended).
    private var store: AlertStore
    private(set) var producer: KafkaProducer
    private let makeProducer: @Sendable () throws(KafkaError) -> KafkaProducer
    /// Why `producer` (shut down) still waits for its replacement: making one failed.
    private var unreplaced: KafkaError?
    private let url: String
    private let facility: String
    private let state: ForwarderState
    private let configuration: KafkaForwarder.Configuration
    private let logger: Logger
    private let sent = Counter(label: "kafka_alert_events_sent_total")
    private let confirmed = Counter(label: "kafka_alert_events_delivered_total")
    private let failures = Counter(label: "kafka_alert_events_failed_total")
    private let replacements = Counter(label: "kafka_producer_replacements_total")

    init(
        producer: KafkaProducer, makeProducer: @escaping @Sendable () throws(KafkaError) -> KafkaProducer, store: AlertStore, url: String,
        facility: String, state: ForwarderState, configuration: KafkaForwarder.Configuration, logger: Logger
    ) {
        self.producer = producer
        self.makeProducer = makeProducer
        self.store = store
        self.url = url
        self.facility = facility
        self.state = state
        self.configuration = configuration
        self.logger = logger
    }

    func run() {
        learnTopic()
        while true {
            if let after = state.pageWanted() { readPage(after: after) }
            if let fatal = unreplaced ?? producer.fatalError { replaceProducer(after: fatal) }
            // Nothing goes to a producer that failed for good and could not be replaced yet.
            let room = unreplaced == nil ? configuration.maxInFlight : 0
            guard let work = state.nextToSend(maxInFlight: room, timeout: 0.2) else { break }
            for event in work.send { send(event) }
            if !work.retry.isEmpty { requeue(work.retry) }
        }
    }

    /// The next page of undelivered events; at the outbox's end, once more for the events the
    /// hub committed while the page was read (their announcements were left to the pages).
    private func readPage(after id: Int64) {
        do throws(PostgresError) {
            if !store.connection.isConnected { store = try AlertStore(url: url, confirmationsOnly: true) }
            let page = try store.undeliveredEvents(after: id, limit: configuration.pageSize, facility: facility)
            if id == 0, let first = page.first {
                logger.info("forwarding alert events left undelivered", metadata: ["first_event_id": "\(first.id)", "first_page": "\(page.count)"])
            }
            if let end = state.addPage(page) {
                let tail = try store.undeliveredEvents(after: end, limit: configuration.pageSize, facility: facility)
                state.reload(tail)
                // More than a page committed meanwhile: back to paging after it.
                if tail.count == configuration.pageSize, let last = tail.last { state.resumePaging(after: last.id) }
            }
        } catch {
            logger.warning("outbox not readable; retrying", metadata: ["error": "\(error.redactedDescription)"])
            Thread.sleep(forTimeInterval: 1)
        }
    }

    private func send(_ event: StoredAlertEvent) {
        let record = KafkaProducerRecord(
            topic: configuration.topic, key: event.kafkaKey, value: Array(event.payload.utf8),
            headers: [
                KafkaHeader(key: "facility", value: event.facility),
                KafkaHeader(key: "event-type", value: event.type.rawValue),
                KafkaHeader(key: "schema-version", value: "1"),
            ]
        )
        let state = state, confirmed = confirmed, failures = failures, logger = logger
        do {
            try producer.send(record) { result in
                switch result {
                case .success:
                    confirmed.increment()
                    for observer in state.observers() { observer(event) }
                    state.confirm(event.id)
                case .failure(let error):
                    failures.increment()
                    logger.warning("alert event not delivered to Kafka; it stays in the outbox", metadata: [
                        "event_id": "\(event.id)", "error": "\(error)",
                    ])
                    state.fail(event.id)
                }
            }
            sent.increment()
        } catch {
            failures.increment()
            logger.warning("alert event not handed to Kafka; it stays in the outbox", metadata: ["event_id": "\(event.id)", "error": "\(error)"])
            state.fail(event.id)
        }
    }

    /// Before the first event: finds the topic's leaders and connects to them, so the first alert
    /// after a start does not wait for that (a few hundred milliseconds against the mock cluster).
    private func learnTopic() {
        do {
            let partitions = try producer.partitionCount(of: configuration.topic, timeout: .seconds(5))
            logger.info("forwarding alert events to Kafka", metadata: ["topic": "\(configuration.topic)", "partitions": "\(partitions)"])
        } catch {
            logger.warning("Kafka topic not described yet; the first events wait for the cluster", metadata: [
                "topic": "\(configuration.topic)", "error": "\(error)",
            ])
        }
    }

    /// Failed events whose pause is over, read again from the outbox (so that one delivered
    /// meanwhile is not sent twice) and queued.
    private func requeue(_ ids: [Int64]) {
        do throws(PostgresError) {
            if !store.connection.isConnected { store = try AlertStore(url: url, confirmationsOnly: true) }
            state.requeue(try store.undeliveredEvents(ids: ids), of: ids)
        } catch {
            logger.warning("outbox not readable; retrying", metadata: ["error": "\(error.redactedDescription)"])
            state.retryLater(ids, after: configuration.retryDelay)
        }
    }

    /// Shuts the failed producer down first, so that every report of its records (failures, which
    /// the outbox sends again) has come before a new producer sends any of them. A producer that
    /// cannot be made is tried again a second later.
    private func replaceProducer(after fatal: KafkaError) {
        logger.error("Kafka producer failed for good; replacing it, and sending what it had not delivered again from the outbox",
                     metadata: ["error": "\(fatal)"])
        let failed = producer
        let stopped = DispatchSemaphore(value: 0)
        Task {
            await failed.shutdown(timeout: .zero)
            stopped.signal()
        }
        stopped.wait()
        do throws(KafkaError) {
            producer = try makeProducer()
            unreplaced = nil
            state.replacedProducer()
            replacements.increment()
            learnTopic()
        } catch {
            logger.error("a new Kafka producer could not be made; trying again", metadata: ["error": "\(error)"])
            unreplaced = fatal
            Thread.sleep(forTimeInterval: 1)
        }
    }
}

/// The outbox's confirmation thread: records what Kafka confirmed (`alert_events.delivered_at`,
/// `critical_events.kafka_delivered_event_id`) in batches, keeping them across database errors.
private final class ConfirmationRecorder: @unchecked Sendable {
    // Thread-confined to the confirmation thread.
    private var store: AlertStore
    private let url: String
    private let state: ForwarderState
    private let logger: Logger

    init(url: String, state: ForwarderState, logger: Logger) throws(PostgresError) {
        store = try AlertStore(url: url, confirmationsOnly: true)
        self.url = url
        self.state = state
        self.logger = logger
    }

    func run() {
        var pending: [Int64] = []
        while true {
            let next = state.nextConfirmations(timeout: 0.2)
            pending += next.delivered
            record(&pending)
            if next.closed { return }
            // Pace retries after a database error; confirmations keep accumulating meanwhile.
            if !pending.isEmpty { Thread.sleep(forTimeInterval: 0.2) }
        }
    }

    /// Writes confirmations to the outbox; on a database error they are kept and tried again.
    private func record(_ ids: inout [Int64]) {
        guard !ids.isEmpty else { return }
        do throws(PostgresError) {
            if !store.connection.isConnected { store = try AlertStore(url: url, confirmationsOnly: true) }
            try store.markDelivered(ids)
            state.recorded(ids)
            ids.removeAll()
        } catch {
            logger.warning("Kafka confirmations not recorded yet", metadata: ["events": "\(ids.count)", "error": "\(error.redactedDescription)"])
            if error.isConnectionFailure { store.connection.close() }
        }
    }
}
