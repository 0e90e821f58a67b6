import Foundation
import Storage

/// Reads what clients ask of the alert history, on a connection and a queue of its own: the
/// events a resumed stream missed, and alerts the hub no longer holds (resolved, or never raised).
/// A wave of nurses' stations reconnecting (after a network blip, say), or a client acting on
/// stale or made-up ids, never holds up the hub's alert decisions, which these reads on the
/// hub's thread did for the length of every query.
///
/// Replaying outside the hub loses nothing: the stream's live subscription is registered before
/// the read, and the hub announces an event only after committing it, in id order. An event
/// the read does not see is announced after the registration, and one it sees and that is
/// announced later is skipped by id (`AlertSubscription`).
final class AlertHistoryReader: @unchecked Sendable {
    private let url: String
    private let facility: String
    private let queue = DispatchQueue(label: "nc-alert-history")
    /// Confined to `queue`; opened at the first read, again after a lost connection.
    private var store: AlertStore?

    init(url: String, facility: String) {
        self.url = url
        self.facility = facility
    }

    /// The facility's events after `id`, oldest first; `tooFarBehind` past `limit` of them.
    func events(after id: Int64, limit: Int, timeout: Duration) async throws(AlertActionError) -> [StoredAlertEvent] {
        try await reading(within: timeout) { store throws(PostgresError) -> Result<[StoredAlertEvent], AlertActionError> in
            let events = try store.events(after: id, limit: limit + 1, facility: self.facility)
            if events.count > limit { return .failure(.tooFarBehind(limit: limit)) }
            // Resumed from there, the stream would pass over every event up to that id: silent.
            if events.isEmpty, id > (try store.lastEventIDHandedOut()) { return .failure(.unknownEventID(id)) }
            return .success(events)
        }
    }

    /// The alert with `id` as stored, whatever its state; nil when there is none.
    func alert(id: Int64, timeout: Duration) async throws(AlertActionError) -> Alert? {
        try await reading(within: timeout) { store throws(PostgresError) -> Result<Alert?, AlertActionError> in .success(try store.alert(id: id)) }
    }

    private func reading<Value: Sendable>(
        within timeout: Duration, _ read: @escaping @Sendable (AlertStore) throws(PostgresError) -> Result<Value, AlertActionError>
    ) async throws(AlertActionError) -> Value {
        try await AnswerOnce.awaiting(within: timeout) { answer in
            queue.async {
                // A caller that gave up (the database slow or away) is not read for: the reads of
                // a wave of reconnecting stations would otherwise hold up the next ones for minutes.
                guard !answer.isAnswered else { return }
                answer.resume(self.run(read))
            }
        }
    }

    /// Closes the connection once the reads queued before have run; returns at once.
    func close() {
        queue.async { self.store = nil }
    }

    /// Runs `read` on the reader's connection, opening it first when needed; on `queue`.
    private func run<Value>(_ read: (AlertStore) throws(PostgresError) -> Result<Value, AlertActionError>) -> Result<Value, AlertActionError> {
        do throws(PostgresError) {
            if store?.connection.isConnected != true { store = try AlertStore(url: url) }
            guard let open = store else { return .failure(.storageUnavailable("no connection")) }
            return try read(open)
        } catch {
            if error.isConnectionFailure { store = nil }
            return .failure(.storageUnavailable(error.redactedDescription))
        }
    }
}
