import Pipeline
import Storage

/// Whom to tell about one entry, and when: once the writer has committed its rows (or failed to)
/// and, when `awaitingAlerts`, the alert hub has stored the alert changes its values led to. The
/// source's completion gets the writer's result, or a failure when the hub stopped before storing
/// the alerts: the sender resends, and the rules judge the values again.
///
/// Its lock is a pthread mutex (`Locked`), as on the pipeline's other paths, so that the race
/// checks under ThreadSanitizer see it.
final class Settlement: Sendable {
    private let completion: @Sendable (Result<WriteOutcome, PostgresError>) -> Void
    private let state: Locked<State>

    private struct State {
        var rows: Result<WriteOutcome, PostgresError>?
        var alertsPending: Bool
        var alertsStored = true
        var completed = false

        /// The source's answer once both parts are in, once.
        mutating func takeOutcome() -> Result<WriteOutcome, PostgresError>? {
            guard !completed, !alertsPending, let rows else { return nil }
            completed = true
            if !alertsStored, case .success = rows {
                return .failure(PostgresError(
                    message: "the alert hub stopped before storing the alerts these values raised; the message was not acknowledged",
                    context: "acknowledge after the alerts are stored"
                ))
            }
            return rows
        }
    }

    init(awaitingAlerts: Bool, completion: @escaping @Sendable (Result<WriteOutcome, PostgresError>) -> Void) {
        self.completion = completion
        state = Locked(State(alertsPending: awaitingAlerts))
    }

    /// The writer's answer.
    func rowsSettled(_ result: Result<WriteOutcome, PostgresError>) {
        finish(state.withLock { state in
            state.rows = result
            return state.takeOutcome()
        })
    }

    /// The alert hub's answer: whether the alert changes are stored.
    func alertsSettled(_ stored: Bool) {
        finish(state.withLock { state in
            state.alertsPending = false
            state.alertsStored = stored
            return state.takeOutcome()
        })
    }

    /// The entry never reached the stages.
    func refuse(_ error: PostgresError) {
        finish(state.withLock { state in
            state.rows = .failure(error)
            state.alertsPending = false
            return state.takeOutcome()
        })
    }

    private func finish(_ outcome: Result<WriteOutcome, PostgresError>?) {
        if let outcome { completion(outcome) }
    }
}
