import CRdKafka
import Foundation
import Logging
import NamedThreads

/// An idempotent Kafka producer (`enable.idempotence=true`, `acks=all`): every record is
/// delivered to its partition once, in order per partition, or its delivery report says why not.
///
/// One dedicated thread (named by the configuration) owns the librdkafka handle's event loop:
/// it serves delivery reports, runs `flush`, and at `shutdown` destroys the handle. Delivery
/// callbacks run on that thread, so keep them short.
///
/// Call `shutdown()` when done. A producer released without it is shut down in the background
/// (outstanding records get up to 10 s, then fail).
public final class KafkaProducer: Sendable {
    private let core: ProducerCore

    public init(configuration: KafkaProducerConfiguration, logger: Logger) throws(KafkaError) {
        let properties = try configuration.librdkafkaProperties()
        let handle = try ClientHandle.make(RD_KAFKA_PRODUCER, properties: properties,
                                           context: ClientContext(logger: logger), what: "producer") { conf in
            rd_kafka_conf_set_dr_msg_cb(conf, deliveryReportCallback)
        }
        core = ProducerCore(handle: SendableHandle(pointer: handle), logger: logger)
        let core = self.core
        startThread(named: configuration.pollThreadName) { core.runPollLoop() }
    }

    deinit {
        core.requestStop(flushTimeout: .seconds(10), waiter: nil)
    }

    /// Queues `record` for delivery; `onDelivery` is called once, on the producer's poll
    /// thread, with where it was stored or why it could not be. Throws, without calling
    /// `onDelivery`, when librdkafka refuses the record (queue full, producer shut down, …).
    public func send(
        _ record: KafkaProducerRecord,
        onDelivery: @escaping @Sendable (Result<KafkaDelivery, KafkaError>) -> Void
    ) throws(KafkaError) {
        try core.produce(record, onDelivery: onDelivery)
    }

    /// Sends `record` and waits for its delivery report. Cancelling the task does not recall
    /// the record: once queued it is delivered or fails on its own.
    public func send(_ record: KafkaProducerRecord) async throws(KafkaError) -> KafkaDelivery {
        let result: Result<KafkaDelivery, KafkaError> = await withCheckedContinuation { continuation in
            do throws(KafkaError) {
                try send(record) { continuation.resume(returning: $0) }
            } catch {
                continuation.resume(returning: .failure(error))
            }
        }
        return try result.get()
    }

    /// Waits until every record sent so far has its delivery report (reports are delivered to
    /// their callbacks first). Throws `_TIMED_OUT` with the number still outstanding.
    public func flush(timeout: Duration) async throws(KafkaError) {
        let result: Result<Void, KafkaError> = await withCheckedContinuation { continuation in
            core.requestFlush(timeout: timeout, continuation)
        }
        try result.get()
    }

    /// Stops accepting records, waits up to `timeout` for outstanding deliveries, fails those
    /// still undelivered (their reports say `_PURGE_QUEUE` / `_PURGE_INFLIGHT`), then destroys
    /// the handle. Calling it again (or concurrently) waits for the first call to finish.
    public func shutdown(timeout: Duration = .seconds(10)) async {
        await withCheckedContinuation { continuation in
            core.requestStop(flushTimeout: timeout, waiter: continuation)
        }
    }

    /// Asks the cluster for `topic`'s partitions, which also makes the producer learn their
    /// leaders and connect to them: a first record sent afterwards does not wait for either.
    /// Blocks (other callers too) for up to `timeout`; meant for start-up.
    public func partitionCount(of topic: String, timeout: Duration) throws(KafkaError) -> Int {
        try core.partitionCount(of: topic, timeout: timeout)
    }

    /// Records accepted by `send` whose delivery report has not been handled yet; 0 after
    /// shutdown.
    public var outstandingCount: Int { core.outstandingCount }

    /// Set once the idempotent producer has hit a fatal error (the broker lost records it had
    /// acknowledged, a sequence went out of order): it sends nothing more, and only a new
    /// producer can go on.
    public var fatalError: KafkaError? { core.fatalError }

    /// librdkafka's own fault injection (`rd_kafka_test_fatal_error`): raises a fatal error as a
    /// broker would, so that tests can check what an application does then. Not for production.
    public func simulateFatalError(_ code: KafkaErrorCode, reason: String) throws(KafkaError) {
        try core.simulateFatalError(code, reason: reason)
    }
}
