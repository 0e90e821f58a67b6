import Storage
import VitalSigns

/// Where a source hands its decoded observations: the writer today, the pipeline in front of it
/// tomorrow. `completion` is called exactly once, after the batch is durable (or with why not),
/// possibly on another thread; keep it short.
public protocol ObservationSink: Sendable {
    func submit(_ batch: IngestBatch, completion: @escaping @Sendable (Result<WriteOutcome, PostgresError>) -> Void)

    /// The same, with the device profile the batch was decoded with (whose bands flag it and
    /// whose sampling interval watches the device) and the conditions the device reported.
    func submit(
        _ batch: IngestBatch, profileID: String?, conditions: [DeviceCondition],
        completion: @escaping @Sendable (Result<WriteOutcome, PostgresError>) -> Void
    )
}

extension ObservationWriter: ObservationSink {}

extension ObservationSink {
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
