import Foundation
import Logging
import Metrics
import NamedThreads
import Storage
import Synchronization
import VitalSigns

/// Owns the alert lifecycle: takes triggers from the rules and actions from clinicians, makes
/// every change durable in `critical_events`/`alert_events` first, then announces it to live
/// subscribers (the nurses' stream) and to `onCommitted` (the Kafka forwarder).
///
/// One dedicated thread ("nc-alert-hub") with its own connection does all of it, so changes are
/// serialised without locks in the lifecycle and event ids increase in announcement order. The
/// thread wakes at least once a second to escalate alerts nobody acknowledged in time. When the
/// database is unreachable the changes wait and are retried with backoff: nothing is announced
/// before it is stored, and nothing decided is dropped.
public final class AlertHub: Sendable {
    public struct Configuration: Sendable {
        /// Every alert of this engine belongs to this facility (the tokens' scope).
        public var facility: String
        /// How often unacknowledged alerts are checked for escalation.
        public var escalationCheckInterval: Duration = .seconds(1)
        /// Events buffered per live subscriber before it is disconnected (it resumes by id).
        public var subscriberBuffer: Int = 10_000
        /// The most events a resumed stream replays; further behind, it reloads instead.
        public var replayLimit: Int = 1_000
        /// Live streams at once, and per user: every event is offered to each stream on the hub's
        /// thread, so a client that opens streams without end (a page reloading in a loop) must
        /// not slow alert decisions, nor take the places of the ward's other screens.
        public var streamLimits = StreamLimits(total: 500, perUser: 20)
        /// How long a clinician's action or a replay waits for the hub before it is answered
        /// `noAnswer` (HTTP 503): while the database is away the hub retries its commit.
        public var actionTimeout: Duration = .seconds(10)

        public init(facility: String) { self.facility = facility }
    }

    public let facility: String
    private let replayLimit: Int
    private let actionTimeout: Duration
    private let inbox = AlertInbox()
    private let history: AlertHistoryReader
    private let subscribers: AlertSubscribers
    private let snapshot = Mutex<[Int64: Alert]>([:])
    private let lastEventID = Atomic<Int64>(0)
    /// Submissions posted to the hub thread and not yet answered, by the devices they came from.
    private let unsettled = Mutex<[ExactText: Int]>([:])
    private let stopped = DispatchSemaphore(value: 0)
    private let committedHandlers = Mutex<[@Sendable ([AlertEvent]) -> Void]>([])

    /// Loads the unresolved alerts and starts the hub thread; fails fast without a database.
    public init(url: String, configuration: Configuration, logger: Logger) throws(PostgresError) {
        facility = configuration.facility
        replayLimit = configuration.replayLimit
        actionTimeout = configuration.actionTimeout
        subscribers = AlertSubscribers(buffer: configuration.subscriberBuffer, limits: configuration.streamLimits)
        history = AlertHistoryReader(url: url, facility: configuration.facility)
        let store = try AlertStore(url: url)
        let unresolved = try store.unresolvedAlerts(facility: facility)
        let last = try store.connection.execute("SELECT COALESCE(max(id), 0) FROM alert_events").scalar.flatMap { Int64($0) } ?? 0
        lastEventID.store(last, ordering: .relaxed)
        snapshot.withLock { $0 = Dictionary(uniqueKeysWithValues: unresolved.map { ($0.id, $0) }) }
        let worker = HubWorker(
            store: store, url: url, lifecycle: AlertLifecycle(facility: facility, unresolved: unresolved),
            interval: configuration.escalationCheckInterval, logger: logger
        )
        startThread(named: "nc-alert-hub") { [self] in
            worker.run(inbox: inbox) { [self] events in announce(events) }
            stopped.signal()
        }
        logger.info("alert hub started", metadata: ["facility": "\(facility)", "unresolved_alerts": "\(unresolved.count)"])
    }

    deinit { inbox.close() }

    /// Hands the rules' decisions to the hub; returns at once. `whenStored` is called once, on
    /// the hub thread (keep it short): true when what they changed is stored (at once for no
    /// triggers), false when the hub stopped first. A source acknowledges a value that raised an
    /// alert only then, so that a crash between the two commits cannot lose the alert.
    ///
    /// `devices` are those whose values the rules judged. Triggers that change nothing are
    /// answered behind those of the same devices that are not stored yet: the rules count an
    /// alert as raised once they decide it, so a resend of the message that raised it changes
    /// nothing, and must not be acknowledged before the alert is stored either. Other devices'
    /// messages do not wait for it.
    public func submit(_ triggers: [AlertTrigger], from devices: [String] = [], whenStored: (@Sendable (Bool) -> Void)? = nil) {
        let devices = devices.map(ExactText.init)
        if triggers.isEmpty {
            guard let whenStored else { return }
            let behindOthers = unsettled.withLock { counts in devices.contains { counts[$0] != nil } }
            guard behindOthers else { return whenStored(true) }
        }
        unsettled.withLock { counts in
            for device in devices { counts[device, default: 0] += 1 }
        }
        let settled: @Sendable (Bool) -> Void = { [weak self] stored in
            self?.unsettled.withLock { counts in
                for device in devices {
                    counts[device, default: 1] -= 1
                    if counts[device] == 0 { counts[device] = nil }
                }
            }
            whenStored?(stored)
        }
        if !inbox.post(.triggers(triggers, whenStored: settled)) { settled(false) }
    }

    /// Calls `handler` on the hub thread with every batch of committed events, in order. Keep it short.
    public func onCommitted(_ handler: @escaping @Sendable ([AlertEvent]) -> Void) {
        committedHandlers.withLock { $0.append(handler) }
    }

    /// Unresolved alerts in `scope`, most severe first, then newest first.
    public func openAlerts(in scope: AlertScope) -> [Alert] {
        snapshot.withLock { Array($0.values) }.filter(scope.contains).sorted {
            ($0.severity, $0.raisedAt, $0.id) > ($1.severity, $1.raisedAt, $1.id)
        }
    }

    public func acknowledge(id: Int64, by clinician: String, in scope: AlertScope) async throws(AlertActionError) -> Alert {
        try await telling(id, scope) { () async throws(AlertActionError) -> Alert in
            try await ask { reply in .acknowledge(id: id, by: clinician, scope: scope, reply: reply) }
        }
    }

    public func resolve(id: Int64, by clinician: String, in scope: AlertScope) async throws(AlertActionError) -> Alert {
        try await telling(id, scope) { () async throws(AlertActionError) -> Alert in
            try await ask { reply in .resolve(id: id, by: clinician, scope: scope, reply: reply) }
        }
    }

    /// The hub holds open alerts only, and answers `notFound` for any other id at once; whether
    /// such an alert was resolved (`alreadyResolved`) is read beside it, so that requests for old
    /// or made-up ids never hold up alert decisions.
    private func telling(
        _ id: Int64, _ scope: AlertScope, _ action: () async throws(AlertActionError) -> Alert
    ) async throws(AlertActionError) -> Alert {
        do {
            return try await action()
        } catch {
            guard case .notFound = error else { throw error }
            if let stored = try await history.alert(id: id, timeout: actionTimeout), scope.contains(stored) {
                throw .alreadyResolved(id: id)
            }
            throw error
        }
    }

    /// Every event in `scope` after `lastEventID` (none when nil), then live ones as they are
    /// committed: nothing missed, nothing repeated. `user` counts against its own stream limit.
    public func subscribe(scope: AlertScope, after lastEventID: Int64?, user: String = "") async throws(AlertActionError) -> AlertSubscription {
        let live = try subscribers.add(scope: scope, user: user)
        var replayed: [StoredAlertEvent] = []
        if let lastEventID {
            do {
                replayed = try await history.events(after: lastEventID, limit: replayLimit, timeout: actionTimeout).filter {
                    scope.contains(facility: $0.facility, ward: $0.ward)
                }
            } catch {
                live.cancel()
                throw error
            }
        }
        return AlertSubscription(replayed: replayed, live: live, after: lastEventID)
    }

    /// The newest event id announced so far.
    public var latestEventID: Int64 { lastEventID.load(ordering: .relaxed) }

    /// Stops taking work, commits what was decided (one attempt if the database is down), ends
    /// the live streams and returns when the hub thread has ended. Idempotent.
    public func shutdown() {
        inbox.close()
        // Wait for the thread, then let the next caller through as well.
        stopped.wait()
        stopped.signal()
        subscribers.finishAll()
        history.close()
    }

    private func ask<Value: Sendable>(
        _ command: (@escaping @Sendable (Result<Value, AlertActionError>) -> Void) -> HubCommand
    ) async throws(AlertActionError) -> Value {
        try await AnswerOnce.awaiting(within: actionTimeout) { answer in
            if !inbox.post(command({ answer.resume($0) })) { answer.resume(.failure(.shutDown)) }
        }
    }

    private func announce(_ events: [AlertEvent]) {
        guard let last = events.last else { return }
        snapshot.withLock { alerts in
            for event in events {
                alerts[event.alert.id] = event.alert.state == .resolved ? nil : event.alert
            }
        }
        lastEventID.store(last.id, ordering: .relaxed)
        subscribers.publish(events)
        for handler in committedHandlers.withLock({ $0 }) { handler(events) }
        for event in events {
            Counter(label: "alert_events_total", dimensions: [("type", event.type.rawValue), ("severity", event.alert.severity.rawValue)]).increment()
        }
    }
}

/// The hub thread's loop: take commands, decide, commit, announce, reply.
private final class HubWorker: @unchecked Sendable {
    // Thread-confined to the hub thread after init.
    private var store: AlertStore
    private var lifecycle: AlertLifecycle
    private let url: String
    private let interval: Duration
    private let logger: Logger
    private let commitTimer = Timer(label: "alert_commit_seconds")
    /// A batch's changes were given up because the hub is stopping.
    private var gaveUp = false

    init(store: AlertStore, url: String, lifecycle: AlertLifecycle, interval: Duration, logger: Logger) {
        self.store = store
        self.url = url
        self.lifecycle = lifecycle
        self.interval = interval
        self.logger = logger
    }

    func run(inbox: AlertInbox, announce: ([AlertEvent]) -> Void) {
        while let commands = inbox.take(waitingAtMost: interval) {
            var changes: [AlertChange] = []
            var replies: [() -> Void] = []
            // Clinicians' actions answered after the commit: the index of their change and the reply.
            var actions: [(change: Int, reply: (Result<Alert, AlertActionError>) -> Void)] = []
            // Told whether the triggers' changes were stored, once the batch's commit is over.
            var storedReplies: [@Sendable (Bool) -> Void] = []
            let now = Self.now()
            for command in commands {
                switch command {
                case let .triggers(triggers, whenStored):
                    for trigger in triggers {
                        changes += lifecycle.handle(trigger, at: now)
                    }
                    if let whenStored { storedReplies.append(whenStored) }
                case let .acknowledge(id, by, scope, reply):
                    switch target(id, scope) {
                    case .success(let alert):
                        if let change = lifecycle.acknowledge(alert, by: by) {
                            actions.append((changes.count, reply))
                            changes.append(change)
                        } else {
                            // Acknowledged already, perhaps earlier in this batch: answered after
                            // the commit, with the acknowledgement as stored (its time included).
                            replies.append { [self] in reply(.success(lifecycle.alert(id: alert.id) ?? alert)) }
                        }
                    case .failure(let error): replies.append { reply(.failure(error)) }
                    }
                case let .resolve(id, by, scope, reply):
                    switch target(id, scope) {
                    case .success(let alert):
                        actions.append((changes.count, reply))
                        changes.append(lifecycle.resolve(alert, by: by))
                    case .failure(let error): replies.append { reply(.failure(error)) }
                    }
                }
            }
            changes += lifecycle.escalate(at: now)
            var allStored = true
            if !changes.isEmpty {
                if let stored = commitUntilStored(changes, giveUpWhen: { inbox.isClosed }) {
                    for index in changes.indices.reversed() where stored[index] == nil { lifecycle.discard(changes[index]) }
                    let events = changes.indices.compactMap { stored[$0] }
                    lifecycle.apply(events)
                    announce(events)
                    for action in actions {
                        if let event = stored[action.change] {
                            action.reply(.success(event.alert))
                        } else {
                            action.reply(.failure(.storageUnavailable("the database refused the change")))
                        }
                    }
                } else {
                    allStored = false
                    for action in actions { action.reply(.failure(.shutDown)) }
                }
            }
            for reply in replies { reply() }
            // Once a batch was given up (the hub is stopping), no later one counts as stored:
            // it may answer a resend of a value whose alert was in the batch given up.
            if !allStored { gaveUp = true }
            // A change the database refused for its data counts as settled: it would be refused
            // again, and holding the source's acknowledgement for it would only stall the device.
            for reply in storedReplies { reply(!gaveUp) }
        }
    }

    /// The unresolved alert `id` in `scope`; `notFound` for any other (`telling` reads which).
    private func target(_ id: Int64, _ scope: AlertScope) -> Result<Alert, AlertActionError> {
        guard let alert = lifecycle.alert(id: id), scope.contains(alert) else { return .failure(.notFound(id: id)) }
        return .success(alert)
    }

    /// Commits, retrying with backoff while the database is away; nil if shut down meanwhile.
    /// Returns each change's event by its index. A change the database refuses as such (a data or
    /// integrity error, typically another engine on the same database holding that alert key
    /// open) is left out and logged, and the others are committed one by one without it.
    private func commitUntilStored(_ changes: [AlertChange], giveUpWhen stopping: () -> Bool) -> [Int: AlertEvent]? {
        // The events (their ids) are made once: every attempt stores the same ones.
        // Reserving ids meets no data error: only the connection's, which are retried.
        guard let events = try? retrying({ () throws(PostgresError) in
            try withConnection { store throws(PostgresError) in try store.events(for: changes, at: Self.now()) }
        }, giveUpWhen: stopping) else { return nil }
        switch storeUntilStored(events, giveUpWhen: stopping) {
        case nil: return nil
        case true?: return Dictionary(uniqueKeysWithValues: events.enumerated().map { ($0.offset, $0.element) })
        case false?:
            guard events.count > 1 else { return [:] }
            // One by one, each with the ids made for the batch: a change to an alert raised
            // earlier in it still names that alert.
            var stored: [Int: AlertEvent] = [:]
            for (index, event) in events.enumerated() {
                guard let outcome = storeUntilStored([event], giveUpWhen: stopping) else { return nil }
                if outcome { stored[index] = event }
            }
            return stored
        }
    }

    /// Stores `events` in one transaction, retrying with backoff while the database is away:
    /// true once stored, false when the database refuses them for their data (logged when it is
    /// a single event), nil if shut down meanwhile.
    private func storeUntilStored(_ events: [AlertEvent], giveUpWhen stopping: () -> Bool) -> Bool? {
        var attempted = false
        let started = ContinuousClock.now
        do throws(PostgresError) {
            let stored: Void? = try retrying({ () throws(PostgresError) in
                try withConnection { store throws(PostgresError) in
                    // A failed attempt may have lost only the answer to its COMMIT.
                    if attempted, let first = events.first, try store.isStored(first) { return }
                    attempted = true
                    try store.store(events)
                }
            }, giveUpWhen: stopping, dataErrors: true)
            guard stored != nil else { return nil }
            commitTimer.recordMicroseconds((ContinuousClock.now - started).microseconds)
            return true
        } catch {
            if events.count == 1, let event = events.first {
                logger.warning("alert change refused by the database, not announced", metadata: [
                    "alert_key_rule": "\(event.alert.rule)", "event": "\(event.type.rawValue)", "device": "\(event.alert.device)",
                ])
                Counter(label: "alert_changes_refused_total").increment()
            }
            return false
        }
    }

    /// Runs `body` until it succeeds, waiting with backoff after each failure of the connection
    /// or the server; nil if shut down meanwhile. A data error is thrown when `dataErrors` (the
    /// same data would be refused every time), and retried otherwise.
    private func retrying<Value>(
        _ body: () throws(PostgresError) -> Value, giveUpWhen stopping: () -> Bool, dataErrors: Bool = false
    ) throws(PostgresError) -> Value? {
        var delay = Duration.milliseconds(50)
        while true {
            do throws(PostgresError) {
                return try body()
            } catch where dataErrors && error.isDataError {
                throw error
            } catch {
                logger.error("alerts not stored yet, retrying; nothing is announced before it is stored", metadata: [
                    "error": "\(error.redactedDescription)",
                ])
                if stopping() { return nil }
                Thread.sleep(forTimeInterval: Double(delay.microseconds) / 1e6)
                delay = min(delay * 2, .seconds(2))
            }
        }
    }

    /// Runs `body` on the store, reconnecting first if the last connection failed.
    private func withConnection<Value>(_ body: (AlertStore) throws(PostgresError) -> Value) throws(PostgresError) -> Value {
        if !store.connection.isConnected { store = try AlertStore(url: url) }
        do {
            return try body(store)
        } catch {
            if error.isConnectionFailure, let fresh = try? AlertStore(url: url) { store = fresh }
            throw error
        }
    }

    static func now() -> Timestamp {
        Timestamp(secondsSinceEpoch: Date().timeIntervalSince1970)
    }
}
