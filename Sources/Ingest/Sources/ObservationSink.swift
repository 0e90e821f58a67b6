import Storage
import VitalSigns

/// Where a source hands its decoded observations: the writer today, the pipeline in front of it
/// tomorrow. `completion` is called exactly once, after the batch is durable (or with why not),
/// possibly on another thread; keep it short.
public protocol ObservationSink: Sendable {
    func submit(_ batch: IngestBatch, completion: @escaping @Sendable (Result<WriteOutcome, PostgresError>) -> Void)
}

extension ObservationWriter: ObservationSink {}

extension ObservationSink {
    /// Submits `batch` and waits until it is durable.
    public func write(_ batch: IngestBatch) async throws(PostgresError) -> WriteOutcome {
        let result = await withCheckedContinuation { (continuation: CheckedContinuation<Result<WriteOutcome, PostgresError>, Never>) in
            submit(batch) { continuation.resume(returning: $0) }
        }
        return try result.get()
    }
}
