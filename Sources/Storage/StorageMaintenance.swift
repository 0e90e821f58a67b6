import Logging

/// The housekeeping the schema asks for, the same calls in both storage modes: partitions for
/// the days ahead (native mode), retention, and forgetting old retransmission keys.
public struct StorageMaintenance: Sendable {
    public struct Report: Sendable, Equatable {
        public var partitionsCreated: Int
        public var partitionsDropped: Int
        public var messageKeysPruned: Int
    }

    public var retention: String = "7 years"
    public var messageKeyRetention: String = "90 days"
    private let logger: Logger

    public init(logger: Logger) {
        self.logger = logger
    }

    public func run(on connection: PostgresConnection) throws(PostgresError) -> Report {
        let created = try connection.query("SELECT vitals_ensure_partitions()").scalar
        let dropped = try connection.query("SELECT vitals_drop_expired_partitions($1::interval)", [retention]).scalar
        let pruned = try connection.query("SELECT vitals_prune_ingested_messages($1::interval)", [messageKeyRetention]).scalar
        let report = Report(
            partitionsCreated: Int(created ?? "") ?? 0,
            partitionsDropped: Int(dropped ?? "") ?? 0,
            messageKeysPruned: Int(pruned ?? "") ?? 0
        )
        logger.info("storage maintenance done", metadata: [
            "partitions_created": "\(report.partitionsCreated)",
            "partitions_dropped": "\(report.partitionsDropped)",
            "message_keys_pruned": "\(report.messageKeysPruned)",
        ])
        return report
    }
}
