import CRdKafka
import Logging

/// Where a manually assigned partition starts reading.
public enum KafkaStartOffset: Sendable, Hashable {
    case beginning
    case end
    case offset(Int64)

    var rawValue: Int64 {
        switch self {
        case .beginning: return Int64(RD_KAFKA_OFFSET_BEGINNING)
        case .end: return Int64(RD_KAFKA_OFFSET_END)
        case .offset(let offset): return offset
        }
    }
}

/// A Kafka consumer: joins a group (`subscribe`) or reads partitions it is given (`assign`),
/// and hands back records with `poll`.
///
/// Owned by one task or thread at a time (not `Sendable`): `poll` blocks for up to its
/// timeout. `close()` leaves the group and releases the handle; it is idempotent and also
/// happens when the consumer is released.
public final class KafkaConsumer {
    private var handle: OpaquePointer?
    private let logger: Logger
    private let groupID: String?

    public init(configuration: KafkaConsumerConfiguration, logger: Logger) throws(KafkaError) {
        let properties = try configuration.librdkafkaProperties()
        let handle = try ClientHandle.make(RD_KAFKA_CONSUMER, properties: properties,
                                           context: ClientContext(logger: logger), what: "consumer")
        // Serve errors and logs from the same queue as records, in `poll`.
        rd_kafka_poll_set_consumer(handle)
        self.handle = handle
        self.logger = logger
        groupID = configuration.groupID
    }

    deinit { close() }

    /// Joins the consumer group and reads `topics` from the partitions the group assigns.
    public func subscribe(topics: [String]) throws(KafkaError) {
        let context = "subscribe to \(topics.joined(separator: ", "))"
        let handle = try openHandle(context)
        guard groupID != nil else {
            throw KafkaError(code: .invalidArgument,
                             message: "subscribing needs a consumer group: set groupID (or use assign)", context: context)
        }
        let list = partitionList(topics.map { (KafkaTopicPartition(topic: $0, partition: -1), nil) })
        defer { rd_kafka_topic_partition_list_destroy(list) }
        let code = KafkaErrorCode(rd_kafka_subscribe(handle, list))
        guard code == .noError else { throw KafkaError(code: code, context: context) }
    }

    /// Reads exactly `partitions`, each from `start`, without a consumer group.
    public func assign(_ partitions: [KafkaTopicPartition], from start: KafkaStartOffset = .beginning) throws(KafkaError) {
        let context = "assign \(partitions.map(\.description).joined(separator: ", "))"
        let handle = try openHandle(context)
        let list = partitionList(partitions.map { ($0, start.rawValue) })
        defer { rd_kafka_topic_partition_list_destroy(list) }
        let code = KafkaErrorCode(rd_kafka_assign(handle, list))
        guard code == .noError else { throw KafkaError(code: code, context: context) }
    }

    /// Waits up to `timeout` for the first record, then takes those already fetched, up to
    /// `maxRecords`. Empty when nothing arrived in time. Broker connection churn is retried by
    /// librdkafka and only logged; other errors (unknown topic, authorization) are thrown.
    public func poll(timeout: Duration, maxRecords: Int = 1000) throws(KafkaError) -> [KafkaConsumerRecord] {
        let handle = try openHandle("poll")
        var records: [KafkaConsumerRecord] = []
        var wait = Int32(clamping: timeout.milliseconds)
        while records.count < maxRecords, let message = rd_kafka_consumer_poll(handle, wait) {
            wait = 0
            defer { rd_kafka_message_destroy(message) }
            if let record = try record(from: message) { records.append(record) }
        }
        return records
    }

    /// The partition's first offset and the offset its next record will get, asked of the
    /// partition's leader: `high - low` records are stored.
    public func watermarkOffsets(_ partition: KafkaTopicPartition, timeout: Duration) throws(KafkaError) -> (low: Int64, high: Int64) {
        let context = "query watermark offsets of \(partition)"
        let handle = try openHandle(context)
        var low: Int64 = 0
        var high: Int64 = 0
        let code = KafkaErrorCode(rd_kafka_query_watermark_offsets(handle, partition.topic, partition.partition,
                                                                   &low, &high, Int32(clamping: timeout.milliseconds)))
        guard code == .noError else { throw KafkaError(code: code, context: context) }
        return (low, high)
    }

    /// Leaves the group (if any) and destroys the handle. Later calls fail with `_STATE`.
    public func close() {
        guard let handle else { return }
        self.handle = nil
        let code = KafkaErrorCode(rd_kafka_consumer_close(handle))
        if code != .noError {
            logger.debug("kafka consumer close reported an error", metadata: ["kafka.error": "\(code.name)"])
        }
        ClientHandle.destroy(handle)
    }

    // MARK: - Internals

    private func openHandle(_ context: String) throws(KafkaError) -> OpaquePointer {
        guard let handle else { throw KafkaError.shutDown("consumer", context: context) }
        return handle
    }

    /// Client-side errors that librdkafka recovers from by reconnecting.
    private static let transient: Set<KafkaErrorCode> = [
        .init(RD_KAFKA_RESP_ERR__TRANSPORT), .init(RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN),
        .init(RD_KAFKA_RESP_ERR__RESOLVE), .init(RD_KAFKA_RESP_ERR__PARTITION_EOF),
    ]

    private func record(from message: UnsafeMutablePointer<rd_kafka_message_t>) throws(KafkaError) -> KafkaConsumerRecord? {
        let fields = message.pointee
        let topic = fields.rkt.map { String(cString: rd_kafka_topic_name($0)) } ?? ""
        guard fields.err == RD_KAFKA_RESP_ERR_NO_ERROR else {
            let error = KafkaError(code: KafkaErrorCode(fields.err), message: String(cString: rd_kafka_message_errstr(message)),
                                   context: topic.isEmpty ? "consume" : "consume \(topic) [partition \(fields.partition)]")
            guard Self.transient.contains(error.code) else { throw error }
            logger.debug("kafka consumer: \(error)")
            return nil
        }
        return KafkaConsumerRecord(
            topic: topic, partition: fields.partition, offset: fields.offset,
            key: fields.key.map { bytes($0, fields.key_len) },
            value: fields.payload.map { bytes($0, fields.len) } ?? [],
            headers: headers(of: message))
    }

    private func headers(of message: UnsafeMutablePointer<rd_kafka_message_t>) -> [KafkaHeader] {
        var list: OpaquePointer?
        guard rd_kafka_message_headers(message, &list) == RD_KAFKA_RESP_ERR_NO_ERROR, let list else { return [] }
        var headers: [KafkaHeader] = []
        var name: UnsafePointer<CChar>?
        var value: UnsafeRawPointer?
        var size = 0
        while rd_kafka_header_get_all(list, headers.count, &name, &value, &size) == RD_KAFKA_RESP_ERR_NO_ERROR {
            headers.append(KafkaHeader(key: name.map { String(cString: $0) } ?? "",
                                       value: value.map { bytes(UnsafeMutableRawPointer(mutating: $0), size) }))
        }
        return headers
    }

    private func bytes(_ pointer: UnsafeMutableRawPointer, _ count: Int) -> [UInt8] {
        Array(UnsafeRawBufferPointer(start: pointer, count: count))
    }

    private func partitionList(_ entries: [(KafkaTopicPartition, Int64?)]) -> UnsafeMutablePointer<rd_kafka_topic_partition_list_t> {
        let list: UnsafeMutablePointer<rd_kafka_topic_partition_list_t> = rd_kafka_topic_partition_list_new(Int32(clamping: entries.count))
        for (partition, offset) in entries {
            let element = rd_kafka_topic_partition_list_add(list, partition.topic, partition.partition)
            if let offset { element?.pointee.offset = offset }
        }
        return list
    }
}
