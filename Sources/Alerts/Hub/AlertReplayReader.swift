import Foundation
import Storage

/// Reads the events a resumed stream missed, on a connection and a queue of its own: a wave of
/// nurses' stations reconnecting (after a network blip, say) never holds up the hub's alert
/// decisions, which a replay read on the hub's thread did for the length of every query.
///
/// Reading outside the hub loses nothing: the stream's live subscription is registered before
/// the read, and the hub announces an event only after committing it, in id order. An event
/// the read does not see is announced after the registration, and one it sees and that is
/// announced later is skipped by id (`AlertSubscription`).
final class AlertReplayReader: @unchecked Sendable {
    private let url: String
    private let facility: String
    private let queue = DispatchQueue(label: "nc-alert-replay")
    /// Confined to `queue`; opened at the first replay, again after a lost connection.
    private var store: AlertStore?

    init(url: String, facility: String) {
        self.url = url
        self.facility = facility
    }

    /// The facility's events after `id`, oldest first; `tooFarBehind` past `limit` of them.
    func events(after id: Int64, limit: Int, timeout: Duration) async throws(AlertActionError) -> [StoredAlertEvent] {
        try await AnswerOnce.awaiting(within: timeout) { answer in
            queue.async {
                // A caller that gave up (the database slow or away) is not read for: the reads of
                // a wave of reconnecting stations would otherwise hold up the next ones for minutes.
                guard !answer.isAnswered else { return }
                answer.resume(self.read(after: id, limit: limit))
            }
        }
    }

    /// Closes the connection once the replays queued before have run; returns at once.
    func close() {
        queue.async { self.store = nil }
    }

    private func read(after id: Int64, limit: Int) -> Result<[StoredAlertEvent], AlertActionError> {
        do throws(PostgresError) {
            if store?.connection.isConnected != true { store = try AlertStore(url: url) }
            guard let open = store else { return .failure(.storageUnavailable("no connection")) }
            let events = try open.events(after: id, limit: limit + 1, facility: facility)
            return events.count > limit ? .failure(.tooFarBehind(limit: limit)) : .success(events)
        } catch {
            if error.isConnectionFailure { store = nil }
            return .failure(.storageUnavailable(error.redactedDescription))
        }
    }
}
