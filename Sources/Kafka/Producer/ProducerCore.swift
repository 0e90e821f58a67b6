import CRdKafka
import Logging
import Synchronization

/// The producer's handle and the state its poll thread shares with callers.
///
/// The handle stays valid while `phase` is not `.destroyed`; every use of it from outside the
/// poll thread happens under the lock, and the poll thread marks it destroyed under the lock
/// before destroying it.
final class ProducerCore: Sendable {
    private let handle: SendableHandle
    private let logger: Logger
    private let state = Mutex(State())
    /// Records queued whose delivery report has not been handled yet.
    private let outstanding = Atomic<Int>(0)

    private struct State {
        var phase = Phase.running
        var flushRequests: [FlushRequest] = []
        var stopWaiters: [CheckedContinuation<Void, Never>] = []
    }

    private enum Phase {
        case running
        /// No new records; the poll thread flushes for up to the timeout, then tears down.
        case stopping(flushTimeout: Duration)
        case destroyed
    }

    private struct FlushRequest {
        let deadline: ContinuousClock.Instant
        let timeout: Duration
        let continuation: CheckedContinuation<Result<Void, KafkaError>, Never>
    }

    /// How long one `rd_kafka_poll` waits for events when there are none; requests wake it.
    private static let pollInterval: Int32 = 100

    init(handle: SendableHandle, logger: Logger) {
        self.handle = handle
        self.logger = logger
    }

    // MARK: - Callers

    func produce(_ record: KafkaProducerRecord, onDelivery: @escaping @Sendable (Result<KafkaDelivery, KafkaError>) -> Void) throws(KafkaError) {
        let callback = DeliveryCallback { [self] result in
            outstanding.subtract(1, ordering: .relaxed)
            onDelivery(result)
        }
        try state.withLock { (state: inout State) throws(KafkaError) in
            guard case .running = state.phase else {
                throw KafkaError.shutDown("producer", context: "send record to \(record.topic)")
            }
            // Counted before queueing: the report may come before `produceRecord` returns.
            outstanding.add(1, ordering: .relaxed)
            do throws(KafkaError) {
                try produceRecord(record, on: handle.pointer, callback: callback)
            } catch {
                outstanding.subtract(1, ordering: .relaxed)
                throw error
            }
        }
    }

    func requestFlush(timeout: Duration, _ continuation: CheckedContinuation<Result<Void, KafkaError>, Never>) {
        state.withLock { state in
            if case .destroyed = state.phase {
                continuation.resume(returning: .failure(.shutDown("producer", context: "flush producer")))
                return
            }
            state.flushRequests.append(FlushRequest(deadline: .now + timeout, timeout: timeout, continuation: continuation))
            rd_kafka_yield(handle.pointer)
        }
    }

    func requestStop(flushTimeout: Duration, waiter: CheckedContinuation<Void, Never>?) {
        state.withLock { state in
            switch state.phase {
            case .destroyed:
                waiter?.resume()
                return
            case .running:
                state.phase = .stopping(flushTimeout: flushTimeout)
            case .stopping:
                break
            }
            if let waiter { state.stopWaiters.append(waiter) }
            rd_kafka_yield(handle.pointer)
        }
    }

    var outstandingCount: Int { outstanding.load(ordering: .relaxed) }

    /// The error that made the producer unusable (`rd_kafka_fatal_error`), if one did; nil after
    /// shutdown.
    var fatalError: KafkaError? {
        state.withLock { state in
            guard case .running = state.phase else { return nil }
            var buffer = [CChar](repeating: 0, count: 512)
            let code = KafkaErrorCode(rd_kafka_fatal_error(handle.pointer, &buffer, buffer.count))
            guard code != .noError else { return nil }
            return KafkaError(code: code, message: text(of: buffer), context: "produce (fatal producer error)")
        }
    }

    func simulateFatalError(_ code: KafkaErrorCode, reason: String) throws(KafkaError) {
        try state.withLock { (state: inout State) throws(KafkaError) in
            guard case .running = state.phase else { throw KafkaError.shutDown("producer", context: "simulate a fatal error") }
            let result = KafkaErrorCode(rd_kafka_test_fatal_error(handle.pointer, code.cValue, reason))
            guard result == .noError else { throw KafkaError(code: result, context: "simulate a fatal error") }
        }
    }

    /// Blocks the producer's callers for up to `timeout`: meant for start-up, before records flow.
    func partitionCount(of topic: String, timeout: Duration) throws(KafkaError) -> Int {
        let context = "read metadata of topic \(topic)"
        return try state.withLock { (state: inout State) throws(KafkaError) -> Int in
            guard case .running = state.phase else { throw KafkaError.shutDown("producer", context: context) }
            guard let topicHandle = rd_kafka_topic_new(handle.pointer, topic, nil) else {
                throw KafkaError(code: KafkaErrorCode(rd_kafka_last_error()), context: context)
            }
            defer { rd_kafka_topic_destroy(topicHandle) }
            var metadata: UnsafePointer<rd_kafka_metadata>?
            let code = KafkaErrorCode(rd_kafka_metadata(handle.pointer, 0, topicHandle, &metadata, Int32(clamping: timeout.milliseconds)))
            guard code == .noError, let metadata else { throw KafkaError(code: code, context: context) }
            defer { rd_kafka_metadata_destroy(metadata) }
            guard metadata.pointee.topic_cnt == 1, let described = metadata.pointee.topics else {
                throw KafkaError(code: .unknownTopicOrPartition, context: context)
            }
            let topicCode = KafkaErrorCode(described.pointee.err)
            guard topicCode == .noError else { throw KafkaError(code: topicCode, context: context) }
            return Int(described.pointee.partition_cnt)
        }
    }

    // MARK: - The poll thread

    func runPollLoop() {
        let pointer = handle.pointer
        logger.debug("kafka producer poll thread started", metadata: ["kafka.client": "\(String(cString: rd_kafka_name(pointer)))"])
        var stopFlushTimeout: Duration?
        while stopFlushTimeout == nil {
            let (requests, stop) = state.withLock { state -> ([FlushRequest], Duration?) in
                let requests = state.flushRequests
                state.flushRequests = []
                if case .stopping(let timeout) = state.phase { return (requests, timeout) }
                return (requests, nil)
            }
            for request in requests {
                request.continuation.resume(returning: flush(until: request.deadline, timeout: request.timeout))
            }
            stopFlushTimeout = stop
            if stop == nil { rd_kafka_poll(pointer, Self.pollInterval) }
        }
        tearDown(flushTimeout: stopFlushTimeout ?? .zero)
    }

    /// Flushes, then fails what is still undelivered, then destroys the handle.
    private func tearDown(flushTimeout: Duration) {
        let pointer = handle.pointer
        let flushed = flush(until: .now + flushTimeout, timeout: flushTimeout)
        if case .failure(let error) = flushed {
            logger.warning("kafka producer shutting down with undelivered records; failing them",
                           metadata: ["error": "\(error)"])
            rd_kafka_purge(pointer, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT)
            // Purged records get their (failed) delivery reports here.
            _ = flush(until: .now + .seconds(5), timeout: .seconds(5))
        }
        let (requests, waiters) = state.withLock { state in
            state.phase = .destroyed
            defer { state.flushRequests = []; state.stopWaiters = [] }
            return (state.flushRequests, state.stopWaiters)
        }
        ClientHandle.destroy(pointer)
        logger.debug("kafka producer destroyed")
        for request in requests { request.continuation.resume(returning: flushed) }
        for waiter in waiters { waiter.resume() }
    }

    /// Runs `rd_kafka_flush` (which serves delivery reports on this thread) until `deadline`.
    private func flush(until deadline: ContinuousClock.Instant, timeout: Duration) -> Result<Void, KafkaError> {
        let remaining = max(ContinuousClock.now.duration(to: deadline), .zero)
        let code = rd_kafka_flush(handle.pointer, Int32(clamping: remaining.milliseconds))
        guard code == RD_KAFKA_RESP_ERR_NO_ERROR else {
            return .failure(KafkaError(code: KafkaErrorCode(code),
                                       message: "\(outstandingCount) record(s) still waiting for delivery after \(timeout)",
                                       context: "flush producer"))
        }
        return .success(())
    }
}
