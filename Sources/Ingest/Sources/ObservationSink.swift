import Storage
import VitalSigns

/// Where a source hands its decoded observations: the pipeline (rules, then the writer), or the
/// writer alone. `completion` is called exactly once, after the batch is durable (or with why
/// not), possibly on another thread; keep it short.
///
/// A source that must hold a batch back from storage (the database is away) still shows it to
/// the rules at once with `evaluate`, and later stores it with `store`, which the rules skip: an
/// alert must not wait for the database, and must not see the same values twice.
public protocol ObservationSink: Sendable {
    func submit(_ batch: IngestBatch, completion: @escaping @Sendable (Result<WriteOutcome, PostgresError>) -> Void)

    /// The same, with the device profile the batch was decoded with (whose bands flag it and
    /// whose sampling interval watches the device) and the conditions the device reported.
    func submit(
        _ batch: IngestBatch, profileID: String?, conditions: [DeviceCondition],
        completion: @escaping @Sendable (Result<WriteOutcome, PostgresError>) -> Void
    )

    func evaluate(_ observations: [Observation], profileID: String?, conditions: [DeviceCondition])

    func store(_ batch: IngestBatch, profileID: String?, completion: @escaping @Sendable (Result<WriteOutcome, PostgresError>) -> Void)
}

extension ObservationWriter: ObservationSink {}

extension ObservationSink {
    /// The rules see `observations` and `conditions` now; nothing is stored. Sinks without rules
    /// ignore it.
    public func evaluate(_ observations: [Observation], profileID: String?, conditions: [DeviceCondition]) {}

    /// Stores a batch the rules have seen already (`evaluate`, or an earlier `submit` of it); its
    /// profile still flags its critical values.
    public func store(_ batch: IngestBatch, profileID: String?, completion: @escaping @Sendable (Result<WriteOutcome, PostgresError>) -> Void) {
        submit(batch, completion: completion)
    }

    /// Sinks without rules ignore the profile and the device's conditions.
    public func submit(
        _ batch: IngestBatch, profileID: String?, conditions: [DeviceCondition],
        completion: @escaping @Sendable (Result<WriteOutcome, PostgresError>) -> Void
    ) {
        submit(batch, completion: completion)
    }

    /// Submits `batch` and waits until it is durable.
    public func write(_ batch: IngestBatch) async throws(PostgresError) -> WriteOutcome {
        let result = await withCheckedContinuation { (continuation: CheckedContinuation<Result<WriteOutcome, PostgresError>, Never>) in
            submit(batch) { continuation.resume(returning: $0) }
        }
        return try result.get()
    }
}
