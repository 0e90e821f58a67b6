import Logging

/// The housekeeping the schema asks for, the same calls in both storage modes: partitions for
/// the days ahead (native mode), retention, and forgetting old retransmission keys.
public struct StorageMaintenance: Sendable {
    public struct Report: Sendable, Equatable {
        public var partitionsCreated: Int
        public var partitionsDropped: Int
        public var messageKeysPruned: Int
        public var rejectedFramesPruned: Int = 0
    }

    public var retention: String = "7 years"
    public var messageKeyRetention: String = "90 days"
    /// Frames no source could decode are kept for diagnosis, not for ever: a port at the wrong
    /// speed rejects hundreds of thousands a day.
    public var rejectedFrameRetention: String = "30 days"
    private let logger: Logger

    public init(logger: Logger) {
        self.logger = logger
    }

    public func run(on connection: PostgresConnection) throws(PostgresError) -> Report {
        let created = try connection.query("SELECT vitals_ensure_partitions()").scalar
        let dropped = try connection.query("SELECT vitals_drop_expired_partitions($1::interval)", [retention]).scalar
        let pruned = try connection.query("SELECT vitals_prune_ingested_messages($1::interval)", [messageKeyRetention]).scalar
        let frames = try connection.query("DELETE FROM rejected_frames WHERE received_at < now() - $1::interval", [rejectedFrameRetention])
        let report = Report(
            partitionsCreated: Int(created ?? "") ?? 0,
            partitionsDropped: Int(dropped ?? "") ?? 0,
            messageKeysPruned: Int(pruned ?? "") ?? 0,
            rejectedFramesPruned: frames.affectedRows
        )
        logger.info("storage maintenance done", metadata: [
            "partitions_created": "\(report.partitionsCreated)",
            "partitions_dropped": "\(report.partitionsDropped)",
            "message_keys_pruned": "\(report.messageKeysPruned)",
            "rejected_frames_pruned": "\(report.rejectedFramesPruned)",
        ])
        return report
    }
}
