import CRdKafka
import Logging
import Synchronization

/// librdkafka's built-in mock Kafka cluster: brokers that speak the Kafka protocol over TCP on
/// loopback, for tests. Point clients at `bootstrapServers`.
///
/// The cluster lives in a librdkafka handle of its own. `shutdown()` (or releasing the object)
/// stops it; clients still connected then see their brokers go away.
public final class KafkaMockCluster: Sendable {
    public let bootstrapServers: String
    /// Brokers are numbered 1...brokerCount.
    public let brokerCount: Int
    private let handles: Mutex<Handles?>

    private struct Handles: @unchecked Sendable {
        let client: OpaquePointer
        let cluster: OpaquePointer
    }

    /// Starts `brokers` brokers. Their logs go to `logger`, at debug level at most.
    public init(brokers: Int = 3, logger: Logger) throws(KafkaError) {
        guard brokers >= 1 else {
            throw KafkaError(code: .invalidArgument, message: "a mock cluster needs at least one broker, not \(brokers)",
                             context: "start mock cluster")
        }
        let client = try ClientHandle.make(RD_KAFKA_PRODUCER, properties: [],
                                           context: ClientContext(logger: logger, ceiling: .debug), what: "mock cluster host")
        guard let cluster = rd_kafka_mock_cluster_new(client, Int32(clamping: brokers)) else {
            ClientHandle.destroy(client)
            throw KafkaError(code: .invalidArgument, message: "librdkafka could not create the mock cluster",
                             context: "start mock cluster of \(brokers) brokers")
        }
        bootstrapServers = String(cString: rd_kafka_mock_cluster_bootstraps(cluster))
        brokerCount = brokers
        handles = Mutex(Handles(client: client, cluster: cluster))
    }

    deinit { shutdown() }

    /// Creates `name` with its partitions' leaders and replicas spread over the brokers.
    public func createTopic(_ name: String, partitions: Int, replicationFactor: Int) throws(KafkaError) {
        let context = "create mock topic '\(name)' (\(partitions) partitions, replication factor \(replicationFactor))"
        guard !name.isEmpty, partitions >= 1, (1...brokerCount).contains(replicationFactor) else {
            throw KafkaError(code: .invalidArgument,
                             message: "need a name, at least one partition and a replication factor in 1...\(brokerCount)",
                             context: context)
        }
        try call(context) { rd_kafka_mock_topic_create($0, name, Int32(partitions), Int32(replicationFactor)) }
    }

    /// Makes broker `id` the leader of one partition (clients learn it from their next
    /// metadata refresh, or from a `NOT_LEADER_FOR_PARTITION` answer).
    public func setPartitionLeader(topic: String, partition: Int32, brokerID: Int32) throws(KafkaError) {
        try call("make mock broker \(brokerID) the leader of \(topic) [partition \(partition)]") {
            rd_kafka_mock_partition_set_leader($0, topic, partition, brokerID)
        }
    }

    /// Disconnects broker `id` and refuses new connections; leadership does not move.
    public func setBrokerDown(_ id: Int32) throws(KafkaError) {
        try call("take mock broker \(id) down") { rd_kafka_mock_broker_set_down($0, id) }
    }

    public func setBrokerUp(_ id: Int32) throws(KafkaError) {
        try call("bring mock broker \(id) up") { rd_kafka_mock_broker_set_up($0, id) }
    }

    /// The next `errors.count` requests of kind `apiKey`, to any broker, fail with these
    /// errors in order (`.noError` lets one through).
    public func pushRequestErrors(apiKey: KafkaAPIKey, _ errors: [KafkaErrorCode]) throws(KafkaError) {
        let codes = errors.map(\.cValue)
        try call("push request errors for API key \(apiKey.rawValue)") { cluster in
            rd_kafka_mock_push_request_errors_array(cluster, apiKey.rawValue, codes.count, codes)
            return RD_KAFKA_RESP_ERR_NO_ERROR
        }
    }

    public func clearRequestErrors(apiKey: KafkaAPIKey) throws(KafkaError) {
        try call("clear request errors for API key \(apiKey.rawValue)") { cluster in
            rd_kafka_mock_clear_request_errors(cluster, apiKey.rawValue)
            return RD_KAFKA_RESP_ERR_NO_ERROR
        }
    }

    /// Stops the brokers and releases the cluster's handle. Idempotent.
    public func shutdown() {
        guard let taken = handles.withLock({ handles -> Handles? in
            defer { handles = nil }
            return handles
        }) else { return }
        rd_kafka_mock_cluster_destroy(taken.cluster)
        ClientHandle.destroy(taken.client)
    }

    private func call(_ context: String, _ body: (OpaquePointer) -> rd_kafka_resp_err_t) throws(KafkaError) {
        let code = handles.withLock { handles in handles.map { KafkaErrorCode(body($0.cluster)) } }
        guard let code else { throw KafkaError.shutDown("mock cluster", context: context) }
        guard code == .noError else { throw KafkaError(code: code, context: context) }
    }
}

/// A Kafka protocol request kind (the ApiKey of the request header).
public struct KafkaAPIKey: RawRepresentable, Hashable, Sendable {
    public let rawValue: Int16
    public init(rawValue: Int16) { self.rawValue = rawValue }

    public static let produce = KafkaAPIKey(rawValue: 0)
    public static let fetch = KafkaAPIKey(rawValue: 1)
    public static let listOffsets = KafkaAPIKey(rawValue: 2)
    public static let metadata = KafkaAPIKey(rawValue: 3)
    public static let offsetCommit = KafkaAPIKey(rawValue: 8)
    public static let offsetFetch = KafkaAPIKey(rawValue: 9)
    public static let findCoordinator = KafkaAPIKey(rawValue: 10)
    public static let joinGroup = KafkaAPIKey(rawValue: 11)
    public static let heartbeat = KafkaAPIKey(rawValue: 12)
    public static let syncGroup = KafkaAPIKey(rawValue: 14)
    public static let apiVersions = KafkaAPIKey(rawValue: 18)
    public static let initProducerID = KafkaAPIKey(rawValue: 22)
}
