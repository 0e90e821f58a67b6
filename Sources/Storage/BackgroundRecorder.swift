import Foundation
import Logging
import NamedThreads

/// Keeps items in a table without making a source wait: items queue in memory (bounded: a
/// device spewing garbage must not exhaust memory; `record` returns false over the bound) and one
/// dedicated thread inserts them in groups. A database outage is retried with backoff; items
/// queued meanwhile are kept up to the bound. The rejected-frame and device-presence recorders
/// are built on it.
final class BackgroundRecorder<Item: Sendable>: Sendable {
    typealias Insert = @Sendable ([Item], PostgresConnection) throws(PostgresError) -> Void
    /// Called once the item is in the table, or refused by the database for good.
    typealias Kept = @Sendable () -> Void

    private struct Queued: Sendable {
        var item: Item
        var kept: Kept?
    }

    private let queue: ItemQueue<Queued>
    /// Signalled when the thread has ended (and again by each `shutdown` that waited for it).
    private let finished = DispatchSemaphore(value: 0)

    /// How long `shutdown` waits for what is queued to be written.
    static var shutdownWait: Duration { .seconds(15) }

    /// `what` names the items in log lines; `insert` writes one group in one statement.
    init(url: String, capacity: Int, threadName: String, what: String, logger: Logger, insert: @escaping Insert) {
        queue = ItemQueue(capacity: capacity)
        let queue = queue
        let finished = finished
        startThread(named: threadName) {
            Self.run(url: url, queue: queue, what: what, logger: logger, insert: insert)
            finished.signal()
        }
    }

    deinit { shutdown() }

    /// Queues `item`; never blocks. False when the queue is full or closed (`kept` is then not
    /// called).
    func record(_ item: Item, whenKept kept: Kept? = nil) -> Bool { queue.push(Queued(item: item, kept: kept)) }

    /// Items queued and not yet committed.
    var pending: Int { queue.count }

    /// Writes what is queued (one attempt if the database is down), stops the thread, and
    /// returns when it has (at most `shutdownWait`): a process that exits next keeps what was
    /// queued. Idempotent.
    func shutdown() {
        queue.close()
        if finished.wait(timeout: .now() + Self.shutdownWait.seconds) == .success { finished.signal() }
    }

    private static func run(url: String, queue: ItemQueue<Queued>, what: String, logger: Logger, insert: Insert) {
        var connection: PostgresConnection?
        var retryDelay = Duration.milliseconds(100)
        while let items = queue.peekGroup(max: 500) {
            do throws(PostgresError) {
                let open: PostgresConnection
                if let connection { open = connection } else { open = try PostgresConnection(url: url, logger: logger) }
                connection = open
                do {
                    try insert(items.map(\.item), open)
                    queue.drop(items.count)
                    for queued in items { queued.kept?() }
                } catch where error.isDataError {
                    // The database refuses something in the group and would every time: one by
                    // one, so that only what it refuses is dropped.
                    try insertEach(items, on: open, queue: queue, what: what, logger: logger, insert: insert)
                } catch where error.isStatementRefused {
                    // No item can be written until an operator changes the database (a grant, a
                    // migration): dropped, so that a source waiting for them is not held for ever.
                    logger.error("\(what) cannot be written to the database, dropped", metadata: [
                        "error": "\(error.redactedDescription)", "items": "\(items.count)",
                    ])
                    queue.drop(items.count)
                    for queued in items { queued.kept?() }
                }
                retryDelay = .milliseconds(100)
            } catch {
                logger.warning("\(what) not stored yet, retrying", metadata: ["error": "\(error.redactedDescription)", "queued": "\(queue.count)"])
                if error.isConnectionFailure { connection?.close(); connection = nil }
                if queue.isClosed { return }
                queue.waitUntilClosed(for: retryDelay)
                retryDelay = min(retryDelay * 2, .seconds(5))
            }
        }
        connection?.close()
    }

    /// Inserts `items` one at a time, dropping from the queue each one stored or refused for its
    /// data (logged); another error stops it, the rest left queued for the retry.
    private static func insertEach(
        _ items: [Queued], on connection: PostgresConnection, queue: ItemQueue<Queued>, what: String, logger: Logger, insert: Insert
    ) throws(PostgresError) {
        for queued in items {
            do {
                try insert([queued.item], connection)
            } catch where error.isDataError {
                logger.error("\(what) refused by the database, dropped", metadata: ["error": "\(error.redactedDescription)"])
            }
            queue.drop(1)
            queued.kept?()
        }
    }
}

/// `@unchecked Sendable`: every stored property is used only while holding `condition`'s lock.
private final class ItemQueue<Item>: @unchecked Sendable {
    private let condition = NSCondition()
    private var items: [Item] = []
    private var closed = false
    private let capacity: Int

    init(capacity: Int) { self.capacity = max(1, capacity) }

    var count: Int { condition.withLock { items.count } }
    var isClosed: Bool { condition.withLock { closed } }

    func push(_ item: Item) -> Bool {
        condition.withLock {
            guard !closed, items.count < capacity else { return false }
            items.append(item)
            condition.signal()
            return true
        }
    }

    /// The oldest items (left in the queue until `drop`); nil once closed and empty.
    func peekGroup(max: Int) -> [Item]? {
        condition.withLock {
            while items.isEmpty && !closed { condition.wait() }
            return items.isEmpty ? nil : Array(items.prefix(max))
        }
    }

    func drop(_ count: Int) {
        condition.withLock { items.removeFirst(count) }
    }

    func waitUntilClosed(for duration: Duration) {
        condition.withLock {
            if !closed { _ = condition.wait(until: Date(timeIntervalSinceNow: duration.seconds)) }
        }
    }

    func close() {
        condition.withLock {
            closed = true
            condition.broadcast()
        }
    }
}
