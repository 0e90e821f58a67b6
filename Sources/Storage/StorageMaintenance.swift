import Logging

/// The housekeeping the schema asks for, the same calls in both storage modes: partitions for
/// the days ahead (native mode), retention, and forgetting old retransmission keys.
public struct StorageMaintenance: Sendable {
    public struct Report: Sendable, Equatable {
        public var partitionsCreated: Int
        public var partitionsDropped: Int
        public var messageKeysPruned: Int
        public var rejectedFramesPruned: Int = 0
        public var watchedDevicesPruned: Int = 0
        /// TimescaleDB background jobs whose last run failed (`job 1003 policy_refresh_continuous_aggregate`).
        public var failingJobs: [String] = []
        /// Steps of this run that failed (logged), e.g. `retention`.
        public var failedSteps: [String] = []
    }

    /// How long observations are kept, counted from when each arrived (a PostgreSQL interval).
    public var retention: String = Self.defaultRetention
    public static let defaultRetention = "7 years"
    public var messageKeyRetention: String = "90 days"
    /// Frames no source could decode are kept for diagnosis, not for ever: a port at the wrong
    /// speed rejects hundreds of thousands a day.
    public var rejectedFrameRetention: String = "30 days"
    /// A device not heard for this long (retired, or moved to another facility) is no longer
    /// kept for the silence rule; an engine watches again only those heard within 7 days.
    public var watchedDeviceRetention: String = "30 days"
    private let logger: Logger

    public init(logger: Logger) {
        self.logger = logger
    }

    /// Whether `text` is a retention this engine takes: a positive whole number of years, months,
    /// weeks or days, as PostgreSQL reads an interval (`7 years`, `400 days`).
    public static func isRetention(_ text: String) -> Bool {
        let parts = text.split(separator: " ", omittingEmptySubsequences: true)
        guard parts.count == 2, let count = Int(parts[0]), count > 0 else { return false }
        return ["year", "years", "month", "months", "week", "weeks", "day", "days"].contains(parts[1].lowercased())
    }

    /// Runs each step, a failing one logged and counted in `failedSteps` without keeping the
    /// others from running: a partition that cannot be made must not stop retention, nor the
    /// pruning of retransmission keys, hour after hour. Throws only when the connection is lost.
    public func run(on connection: PostgresConnection) throws(PostgresError) -> Report {
        var report = Report(partitionsCreated: 0, partitionsDropped: 0, messageKeysPruned: 0)
        func step(_ name: String, _ body: () throws(PostgresError) -> Void) throws(PostgresError) {
            do throws(PostgresError) {
                try body()
            } catch {
                if error.isConnectionFailure || !connection.isConnected { throw error }
                report.failedSteps.append(name)
                logger.error("storage maintenance step failed; the others ran, it runs again next round",
                             metadata: ["step": "\(name)", "error": "\(error.redactedDescription)"])
            }
        }
        try step("partitions") { () throws(PostgresError) in
            report.partitionsCreated = Int(try connection.query("SELECT vitals_ensure_partitions()").scalar ?? "") ?? 0
        }
        try step("retention") { () throws(PostgresError) in
            // A procedure, which commits as it goes: called on its own with the simple protocol.
            let call = "CALL vitals_expire_observations(\(try connection.quoteLiteral(retention))::interval)"
            report.partitionsDropped = Int(try connection.execute(call).scalar ?? "") ?? 0
        }
        try step("message keys") { () throws(PostgresError) in
            report.messageKeysPruned = Int(try connection.query("SELECT vitals_prune_ingested_messages($1::interval)", [messageKeyRetention]).scalar ?? "") ?? 0
        }
        try step("rejected frames") { () throws(PostgresError) in
            report.rejectedFramesPruned = try connection.query("DELETE FROM rejected_frames WHERE received_at < now() - $1::interval", [rejectedFrameRetention]).affectedRows
        }
        try step("watched devices") { () throws(PostgresError) in
            report.watchedDevicesPruned = try connection.query("DELETE FROM watched_devices WHERE last_heard < now() - $1::interval", [watchedDeviceRetention]).affectedRows
        }
        try step("job check") { () throws(PostgresError) in report.failingJobs = try failingTimescaleJobs(on: connection) }
        if !report.failingJobs.isEmpty {
            logger.warning("TimescaleDB background jobs are failing: what they do (the rollup, compression) is not done",
                           metadata: ["jobs": "\(report.failingJobs.joined(separator: "; "))"])
        }
        logger.info("storage maintenance done", metadata: [
            "partitions_created": "\(report.partitionsCreated)",
            "partitions_dropped": "\(report.partitionsDropped)",
            "message_keys_pruned": "\(report.messageKeysPruned)",
            "rejected_frames_pruned": "\(report.rejectedFramesPruned)",
            "watched_devices_pruned": "\(report.watchedDevicesPruned)",
            "failed_steps": "\(report.failedSteps.joined(separator: ","))",
        ])
        return report
    }

    /// In TimescaleDB mode the rollup and compression are TimescaleDB's own jobs:
    /// nothing but this check would notice that they fail.
    private func failingTimescaleJobs(on connection: PostgresConnection) throws(PostgresError) -> [String] {
        guard try connection.query("SELECT to_regclass('timescaledb_information.job_stats') IS NOT NULL").scalar == "t" else { return [] }
        return try connection.query("""
            SELECT 'job ' || s.job_id || ' ' || j.proc_name || ' (' || s.total_failures || ' failed runs)'
            FROM timescaledb_information.job_stats s JOIN timescaledb_information.jobs j USING (job_id)
            WHERE s.last_run_status = 'Failed' ORDER BY s.job_id
            """).rows.compactMap { $0.first ?? nil }
    }
}
