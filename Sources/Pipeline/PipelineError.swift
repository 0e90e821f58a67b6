/// Why the pipeline did not take a batch. Nothing is dropped silently: a producer that is told
/// one of these still owns its data.
public enum PipelineError: Error, Equatable, CustomStringConvertible {
    /// `shutdown()` was called: intake is stopped.
    case shutDown(pipeline: String)
    /// A non-blocking publish of more entries than the ring holds can never succeed.
    case batchLargerThanRing(pipeline: String, count: Int, capacity: Int)

    public var description: String {
        switch self {
        case .shutDown(let pipeline):
            "pipeline '\(pipeline)' is shut down and accepts no more entries"
        case .batchLargerThanRing(let pipeline, let count, let capacity):
            "a batch of \(count) entries can never fit pipeline '\(pipeline)' (ring capacity \(capacity)); publish it with a waiting publish, which splits it"
        }
    }
}
