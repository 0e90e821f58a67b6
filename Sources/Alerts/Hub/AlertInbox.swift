import Foundation
import Storage

/// What the hub thread is asked to do.
enum HubCommand: Sendable {
    /// `whenStored`: told true once the changes they led to are stored (or there were none, or
    /// the database refused one for its data), false if the hub stopped before storing them.
    case triggers([AlertTrigger], whenStored: (@Sendable (Bool) -> Void)?)
    case acknowledge(id: Int64, by: String, scope: AlertScope, reply: @Sendable (Result<Alert, AlertActionError>) -> Void)
    case resolve(id: Int64, by: String, scope: AlertScope, reply: @Sendable (Result<Alert, AlertActionError>) -> Void)
}

/// Why a clinician's action or a stream's replay did not happen.
public enum AlertActionError: Error, Sendable, Equatable, CustomStringConvertible {
    /// No alert with that id in the caller's scope.
    case notFound(id: Int64)
    /// The alert is resolved; it can no longer be acknowledged or resolved.
    case alreadyResolved(id: Int64)
    /// The database refused or is unreachable; nothing changed.
    case storageUnavailable(String)
    /// The hub is shutting down.
    case shutDown
    /// Not confirmed in time: the hub is waiting for the database. The action stays queued and
    /// takes effect once the database is back (doing it again then is harmless).
    case noAnswer(within: Duration)
    /// More events than a resumed stream may replay have passed since its last event id: the
    /// client reloads the open alerts and streams from now.
    case tooFarBehind(limit: Int)
    /// A Last-Event-ID past every event this database has made (its history restored from a
    /// backup, a client's invention): the client reloads the open alerts and streams from now.
    case unknownEventID(Int64)
    /// The hub serves `limit` live streams already, in all or (`perUser`) for this user.
    case tooManyStreams(limit: Int, perUser: Bool)

    public var description: String {
        switch self {
        case .notFound(let id): "alert \(id) not found"
        case .alreadyResolved(let id): "alert \(id) is already resolved"
        case .storageUnavailable(let reason): "alerts are not available right now: \(reason)"
        case .shutDown: "the alert hub is shutting down"
        case .noAnswer(let timeout): "not confirmed within \(timeout): the database may be unavailable; the action takes effect once it is back"
        case .tooFarBehind(let limit):
            "more than \(limit) events since Last-Event-ID: load GET /alerts and open the stream without Last-Event-ID"
        case .unknownEventID(let id):
            "Last-Event-ID \(id) is past the newest event: load GET /alerts and open the stream without Last-Event-ID"
        case let .tooManyStreams(limit, perUser):
            perUser
                ? "this user has \(limit) alert streams open already: close one (another tab or screen) and try again"
                : "the engine serves \(limit) alert streams already; try again shortly"
        }
    }
}

/// The queue between everyone else and the hub thread.
///
/// `@unchecked Sendable`: every stored property is used only while holding `condition`'s lock.
final class AlertInbox: @unchecked Sendable {
    private let condition = NSCondition()
    private var commands: [HubCommand] = []
    private var closed = false

    /// False once closed: the command was not taken.
    func post(_ command: HubCommand) -> Bool {
        condition.withLock {
            guard !closed else { return false }
            commands.append(command)
            condition.signal()
            return true
        }
    }

    /// Everything posted so far, waiting up to `timeout` for something; nil once closed and empty.
    func take(waitingAtMost timeout: Duration) -> [HubCommand]? {
        condition.withLock {
            if commands.isEmpty && !closed {
                _ = condition.wait(until: Date(timeIntervalSinceNow: timeout.seconds))
            }
            if commands.isEmpty { return closed ? nil : [] }
            defer { commands.removeAll(keepingCapacity: true) }
            return commands
        }
    }

    var isClosed: Bool { condition.withLock { closed } }

    func close() {
        condition.withLock {
            closed = true
            condition.broadcast()
        }
    }
}
