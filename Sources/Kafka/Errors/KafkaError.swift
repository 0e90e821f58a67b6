import CRdKafka

/// An error from librdkafka or from using it.
///
/// `name` is librdkafka's name for `code` (`NOT_LEADER_FOR_PARTITION`, `_QUEUE_FULL`; a leading
/// underscore marks errors raised by the client itself rather than by a broker). `context` says
/// what we were doing, so a log line or a test failure reads without the call stack.
public struct KafkaError: Error, Sendable, Equatable, CustomStringConvertible {
    public var code: KafkaErrorCode
    public var message: String
    /// What we were doing, e.g. `"deliver record to device-events [partition 3]"`.
    public var context: String

    public init(code: KafkaErrorCode, message: String? = nil, context: String) {
        self.code = code
        self.message = message ?? code.message
        self.context = context
    }

    /// librdkafka's name for the code, e.g. `REQUEST_TIMED_OUT`.
    public var name: String { code.name }

    public var description: String { "\(context): \(message) (\(name))" }

    /// Takes ownership of `error` (an `rd_kafka_error_t`) and destroys it.
    init(consuming error: OpaquePointer, context: String) {
        code = KafkaErrorCode(rd_kafka_error_code(error))
        message = String(cString: rd_kafka_error_string(error))
        self.context = context
        rd_kafka_error_destroy(error)
    }

    /// For an operation on a client, mock cluster or producer that has been shut down.
    static func shutDown(_ what: String, context: String) -> KafkaError {
        KafkaError(code: .state, message: "\(what) is shut down", context: context)
    }
}

/// A librdkafka error code (`rd_kafka_resp_err_t`): broker error codes of the Kafka protocol
/// (positive) and the client's own (negative).
public struct KafkaErrorCode: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public let rawValue: Int32

    public init(rawValue: Int32) { self.rawValue = rawValue }

    init(_ code: rd_kafka_resp_err_t) { rawValue = code.rawValue }

    var cValue: rd_kafka_resp_err_t { rd_kafka_resp_err_t(rawValue: rawValue) }

    /// librdkafka's name, e.g. `NOT_LEADER_FOR_PARTITION` or `_QUEUE_FULL`.
    public var name: String { String(cString: rd_kafka_err2name(cValue)) }
    /// librdkafka's human-readable text, e.g. `Local: Queue full`.
    public var message: String { String(cString: rd_kafka_err2str(cValue)) }
    public var description: String { name }

    public static let noError = KafkaErrorCode(RD_KAFKA_RESP_ERR_NO_ERROR)
    // The client's own.
    public static let queueFull = KafkaErrorCode(RD_KAFKA_RESP_ERR__QUEUE_FULL)
    public static let messageTimedOut = KafkaErrorCode(RD_KAFKA_RESP_ERR__MSG_TIMED_OUT)
    public static let timedOut = KafkaErrorCode(RD_KAFKA_RESP_ERR__TIMED_OUT)
    public static let invalidArgument = KafkaErrorCode(RD_KAFKA_RESP_ERR__INVALID_ARG)
    public static let unknownTopic = KafkaErrorCode(RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC)
    public static let state = KafkaErrorCode(RD_KAFKA_RESP_ERR__STATE)
    public static let purgedInQueue = KafkaErrorCode(RD_KAFKA_RESP_ERR__PURGE_QUEUE)
    public static let purgedInFlight = KafkaErrorCode(RD_KAFKA_RESP_ERR__PURGE_INFLIGHT)
    public static let fatal = KafkaErrorCode(RD_KAFKA_RESP_ERR__FATAL)
    // Brokers'.
    public static let unknownTopicOrPartition = KafkaErrorCode(RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART)
    public static let notLeaderForPartition = KafkaErrorCode(RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION)
    public static let requestTimedOut = KafkaErrorCode(RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT)
    public static let notEnoughReplicas = KafkaErrorCode(RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS)
    public static let notEnoughReplicasAfterAppend = KafkaErrorCode(RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS_AFTER_APPEND)
    public static let brokerNotAvailable = KafkaErrorCode(RD_KAFKA_RESP_ERR_BROKER_NOT_AVAILABLE)
    public static let leaderNotAvailable = KafkaErrorCode(RD_KAFKA_RESP_ERR_LEADER_NOT_AVAILABLE)
}
