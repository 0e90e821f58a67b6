import Synchronization

/// How many live streams the hub serves at once, in all and per user.
public struct StreamLimits: Sendable, Equatable {
    public var total: Int
    public var perUser: Int

    public init(total: Int, perUser: Int) {
        self.total = total
        self.perUser = perUser
    }
}

/// The live subscribers of the hub (the nurses' streams), each with its scope and user.
final class AlertSubscribers: Sendable {
    private struct Entry {
        var scope: AlertScope
        var user: String
        var continuation: AsyncStream<StoredAlertEvent>.Continuation
    }

    private let entries = Mutex<[Int: Entry]>([:])
    private let nextID = Atomic<Int>(0)
    private let buffer: Int
    private let limits: StreamLimits

    init(buffer: Int, limits: StreamLimits) {
        self.buffer = buffer
        self.limits = limits
    }

    /// A new live subscriber; `tooManyStreams` when the hub or `user` has its limit open already.
    func add(scope: AlertScope, user: String) throws(AlertActionError) -> LiveAlerts {
        let id = nextID.add(1, ordering: .relaxed).newValue
        let (stream, continuation) = AsyncStream.makeStream(of: StoredAlertEvent.self, bufferingPolicy: .bufferingOldest(buffer))
        let refusal = entries.withLock { entries -> AlertActionError? in
            if entries.count >= limits.total { return .tooManyStreams(limit: limits.total, perUser: false) }
            if entries.values.lazy.filter({ $0.user == user }).count >= limits.perUser {
                return .tooManyStreams(limit: limits.perUser, perUser: true)
            }
            entries[id] = Entry(scope: scope, user: user, continuation: continuation)
            return nil
        }
        if let refusal { throw refusal }
        continuation.onTermination = { [weak self] _ in
            _ = self?.entries.withLock { $0.removeValue(forKey: id) }
        }
        return LiveAlerts(stream: stream, continuation: continuation)
    }

    /// A subscriber whose buffer is full is ended rather than silently skipped: its client
    /// reconnects and resumes from its last event id.
    func publish(_ events: [AlertEvent]) {
        let current = entries.withLock { Array($0.values) }
        // Each event is encoded once, when a stream first wants it, however many streams do.
        var encoded = [StoredAlertEvent?](repeating: nil, count: events.count)
        for entry in current {
            for (index, event) in events.enumerated() where entry.scope.contains(event.alert) {
                let stored = encoded[index] ?? StoredAlertEvent(event)
                encoded[index] = stored
                if case .dropped = entry.continuation.yield(stored) {
                    entry.continuation.finish()
                    break
                }
            }
        }
    }

    func finishAll() {
        for entry in entries.withLock({ Array($0.values) }) { entry.continuation.finish() }
    }
}

/// One subscriber's live events.
struct LiveAlerts: Sendable {
    let stream: AsyncStream<StoredAlertEvent>
    let continuation: AsyncStream<StoredAlertEvent>.Continuation

    func cancel() { continuation.finish() }
}

/// What a stream client receives: the replayed events after its last event id, then the live
/// ones, skipping any live event the replay already contained.
public struct AlertSubscription: AsyncSequence, Sendable {
    public typealias Element = StoredAlertEvent

    let replayed: [StoredAlertEvent]
    let live: LiveAlerts
    /// The client's Last-Event-ID: a live event up to it (committed while the replay was read,
    /// which found nothing after it) is one the client has.
    let after: Int64?

    public func makeAsyncIterator() -> Iterator {
        Iterator(replayed: replayed[...], live: live.stream.makeAsyncIterator(), lastID: replayed.last?.id ?? after ?? .min)
    }

    /// Ends the subscription (the client went away).
    public func cancel() { live.cancel() }

    public struct Iterator: AsyncIteratorProtocol {
        var replayed: ArraySlice<StoredAlertEvent>
        var live: AsyncStream<StoredAlertEvent>.Iterator
        var lastID: Int64

        public mutating func next() async -> StoredAlertEvent? {
            if let event = replayed.popFirst() { return event }
            while let event = await live.next() {
                if event.id > lastID {
                    lastID = event.id
                    return event
                }
            }
            return nil
        }
    }
}
