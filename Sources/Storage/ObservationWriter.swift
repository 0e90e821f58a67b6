import Foundation
import Logging
import Metrics
import NamedThreads
import Synchronization

/// The group-commit writer of `vital_signs`.
///
/// It owns `connections` dedicated threads, each with its own connection. Submissions queue up
/// while commits are in flight; the next free thread takes all of them (up to `maxBatchRows`
/// rows) into its commit, so latency stays at about one commit under light load and throughput
/// rises with load. With two or more threads one commit's round trips and WAL flush overlap the
/// next one's encoding and COPY; a retransmission racing its original in another transaction
/// waits on the `ingested_messages` key and is then reported as a duplicate.
///
/// One commit:
/// 1. The group's rows are encoded for binary COPY, with patient and device ids from an
///    in-memory cache. Identifiers not cached yet are resolved with one `INSERT ... SELECT FROM
///    unnest(...) ON CONFLICT DO NOTHING RETURNING` per table, committed before (and independent
///    of) the batch transaction, and the group is encoded again.
/// 2. `BEGIN`; the group's message keys are registered in `ingested_messages` with one
///    `INSERT ... SELECT FROM unnest(...) ON CONFLICT DO NOTHING RETURNING` (the statement
///    answers with the positions of the keys that were already there); a key repeated within the
///    group counts once, for its first submission.
/// 3. The rows of new messages and of keyless batches go in with one binary COPY.
/// 4. `COMMIT`, then each submission completes with `.stored(n)` or `.duplicate`.
///
/// If the transaction fails, every submission in it gets the error and nothing is acknowledged;
/// when the failure is the connection's, it is dropped and re-opened with exponential backoff
/// for later submissions. When the server refuses the data itself (SQLSTATE class 22/23), the
/// group is retried one submission per transaction so that one bad message does not fail the
/// others. Observations that PostgreSQL would refuse (text with NUL characters, timestamps before
/// 4713 BC, identifiers too long for an index row) are rejected up front with a clear error for
/// their own submission only.
///
/// Completions run on the writer thread: keep them short and never block in them.
public final class ObservationWriter: Sendable {
    /// The longest identifier stored, in UTF-8 bytes. The message key's four texts and a
    /// patient's two must fit one B-tree index row (about 2,700 bytes): past that PostgreSQL
    /// refuses the whole commit (SQLSTATE 54000), and every message of the group would have to
    /// be committed again alone. HL7 allows 199 characters for MSH-10 and 250 for a CX.
    public static let maximumIdentifierBytes = 512

    public struct Configuration: Sendable {
        /// Upper bound of rows per commit (a single larger batch is still committed whole).
        /// Modest, because every other durable commit (an alert's above all) waits for the WAL
        /// flush in progress: 4,000 rows kept the alert path's p99 under 40 ms at half the peak
        /// in `vitals-bench alerts`, where 20,000 gave 47–74 ms, with the same MLLP throughput.
        public var maxBatchRows: Int = 4_000
        /// Optional linger before a commit to gather more rows; zero commits as soon as the
        /// previous commit is done.
        public var maxBatchDelay: Duration = .zero
        /// First wait before reconnecting after a connection failure; doubles up to the maximum.
        public var reconnectDelay: Duration = .milliseconds(100)
        public var maxReconnectDelay: Duration = .seconds(5)
        /// Patient and device ids kept in memory (each cache is cleared when it exceeds this).
        public var identifierCacheLimit: Int = 1_000_000
        /// Added as the `writer` dimension to every metric.
        public var name: String = "default"
        /// Writer threads, each with its own connection, committing groups in parallel: one
        /// commit's round trips and WAL flush overlap the next one's load. One connection makes
        /// commits twice as large (~340 rows against ~175 in `vitals-bench mllp`), which PostgreSQL
        /// stores with a fifth less CPU per row, but waits for each flush: on the quiet 2-core
        /// benchmark machine two gave 10–20 % more messages/s; with the cores saturated by other
        /// work, one gave 14–19 % more.
        public var connections: Int = 2
        /// Rows waiting for a commit beyond which submissions are refused at once (a failure
        /// that is not the data's: MLLP senders are disconnected and resend later). Commits stuck
        /// behind a lock, while senders time out and resend, would otherwise grow the queue until
        /// memory ran out.
        public var maxQueuedRows: Int = 1_000_000
        /// How long one statement of a commit may run, waiting for a lock another session holds
        /// included (an operator's `LOCK`, a long `ALTER`): past it the group fails without an
        /// ACK and its senders resend. A commit stuck for ever would hold their acknowledgements,
        /// and the daemon's shutdown, as long.
        public var statementTimeout: Duration = .seconds(30)

        public init() {}
    }

    private let queue: SubmissionQueue
    private let logger: Logger
    private let name: String
    /// Set while submissions are refused for a full queue: logged once per episode.
    private let queueFull = Atomic<Bool>(false)
    private let refusedFull: Counter

    /// Connects (failing fast if the database cannot be reached) and starts the writer threads.
    public init(url: String, configuration: Configuration = .init(), logger: Logger) throws {
        let count = max(1, configuration.connections)
        let connections = try (0..<count).map { _ in try WriterWorker.connect(url: url, configuration: configuration, logger: logger) }
        self.logger = logger
        name = configuration.name
        refusedFull = Counter(label: "vitals_storage_refused_queue_full_total", dimensions: [("writer", configuration.name)])
        queue = SubmissionQueue(configuration: configuration, workers: count)
        for (index, connection) in connections.enumerated() {
            let worker = WriterWorker(url: url, connection: connection, configuration: configuration, logger: logger, queue: queue)
            let queue = queue
            // Linux shows 15 characters of a thread's name.
            startThread(named: "nc-writer-\(index)") {
                queue.markWriterThread()
                worker.run()
                if let leftovers = queue.finishing() {
                    worker.answerUncommitted(leftovers)
                    queue.lastFinished()
                }
            }
        }
        logger.debug("observation writer started", metadata: ["writer": "\(configuration.name)", "connections": "\(count)"])
    }

    deinit {
        shutdown()
    }

    /// Queues `batch`; `completion` is called on the writer thread after its transaction has
    /// committed (or failed). After `shutdown()` it is called at once with an error.
    public func submit(_ batch: IngestBatch, completion: @escaping @Sendable (Result<WriteOutcome, PostgresError>) -> Void) {
        // Refuse what PostgreSQL would refuse here, on the caller's thread, so that one bad
        // batch never fails a group and the writer thread does not pay for the check.
        if let problem = WriterWorker.validate(batch) {
            logger.warning("batch rejected before writing", metadata: WriterWorker.metadata(batch, ["reason": "\(problem.message)"]))
            WriterWorker.rejectedCounter(name: name).increment()
            completion(.failure(problem))
            return
        }
        switch queue.enqueue(Submission(batch: batch, completion: completion, submitted: .now)) {
        case .queued:
            if queueFull.load(ordering: .relaxed) { queueFull.store(false, ordering: .relaxed) }
        case .full(let rows):
            refusedFull.increment()
            if !queueFull.exchange(true, ordering: .relaxed) {
                logger.error("observation writer's queue is full: commits are not keeping up; refusing batches until it drains",
                             metadata: ["writer": "\(name)", "queued_rows": "\(rows)"])
            }
            completion(.failure(PostgresError(
                message: "the observation writer's queue is full (\(rows) rows wait for a commit); the batch was not stored",
                context: "submit to ObservationWriter")))
        case .shutDown:
            completion(.failure(PostgresError(
                message: "the observation writer is shut down; the batch was not stored", context: "submit to ObservationWriter")))
        }
    }

    /// Submits `batch` and waits for its commit.
    public func write(_ batch: IngestBatch) async throws(PostgresError) -> WriteOutcome {
        let result = await withCheckedContinuation { (continuation: CheckedContinuation<Result<WriteOutcome, PostgresError>, Never>) in
            submit(batch) { continuation.resume(returning: $0) }
        }
        return try result.get()
    }

    /// Rows submitted and not yet taken into a commit.
    public var queuedRows: Int { queue.queuedRows }

    /// How the writer stands, for the daemon's health check.
    public var health: WriterHealth {
        let state = queue.state
        return WriterHealth(
            connectedWriters: state.connectedWriters, queuedRows: state.queuedRows,
            oldestWaiting: state.oldestSubmitted.map { ContinuousClock.now - $0 } ?? .zero
        )
    }

    /// Stops accepting submissions, commits what was submitted, closes the connection and
    /// returns when the writer thread has ended. Idempotent. Called from a completion (on the
    /// writer thread itself) it only stops intake and returns at once.
    public func shutdown() {
        queue.shutdown()
    }
}

/// The writer's condition as `GET /health` reports it.
public struct WriterHealth: Sendable, Equatable {
    /// Connections able to commit now; 0 while the database is unreachable.
    public var connectedWriters: Int
    public var queuedRows: Int
    /// How long the oldest queued submission has waited: it grows while commits are stuck
    /// (a lock held on a table, a commit waiting for a standby).
    public var oldestWaiting: Duration
}
