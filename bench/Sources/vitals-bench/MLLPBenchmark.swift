import Decoders
import DeviceProfiles
import Foundation
import Logging
import Storage
import VitalSigns

/// End to end: MLLP senders → MLLPServer → MessageIngestor → ObservationWriter → PostgreSQL,
/// each message ACKed after its commit. Phase 1 finds the peak with closed-loop senders, phase 2
/// measures latency at half that rate on an open-loop schedule, and the raw binary COPY of the
/// same rows is the limit phase 1 is held against.
struct MLLPBenchmark {
    static let targetP99Milliseconds = 20.0
    static let targetCopyRatio = 0.70
    static let database = "bench_e2e"

    let repository: Repository
    let seconds: Int
    let senders: Int
    let mode: StorageMode?
    let durable: Bool
    let writerConnections: Int
    let logger: Logger
    let summary: Summary

    func run() async throws {
        heading("mllp: end to end over loopback, ACK after commit")
        let cluster = try BenchCluster(repository: repository, durable: durable, logger: logger)
        try cluster.start()
        defer { cluster.stop() }
        let version = try cluster.scalar("SHOW server_version") ?? "?"
        say("PostgreSQL \(version), private cluster in \(cluster.folder), "
              + (durable ? "durable (fsync on, synchronous_commit on)" : "NOT durable (--no-fsync: fsync, synchronous_commit, full_page_writes off)"))
        let (_, migration) = try cluster.migratedDatabase(Self.database, mode: mode)
        var modeLine = migration.mode.rawValue
        if migration.mode == .timescaledb, let extensionVersion = try cluster.scalar(
            "SELECT extversion FROM pg_extension WHERE extname = 'timescaledb'", database: Self.database) {
            modeLine += " \(extensionVersion)"
        }
        say("storage mode: \(modeLine) (\(migration.modeReason))")
        say(BenchCluster.writebackLine)
        summary.add(SummaryRow(figure: "storage mode", measured: modeLine, comparedWith: durable ? "durable commits" : "fsync off"))

        let profiles = try DeviceProfileLoader.loadDirectory(repository.deviceProfiles)
        let decoder = PCD01Decoder(profiles: DeviceProfileCatalog(profiles: profiles), facilityZone: TimeZone(identifier: "Africa/Khartoum")!)
        let duration = Duration.seconds(seconds)

        // Phase 1: peak.
        say("")
        say("phase 1, peak: \(senders) senders, each waits for its ACK before sending the next message, for \(seconds) s")
        let peak = try await phase(.closedLoop, firstMonitor: 0, duration: duration, cluster: cluster, decoder: decoder, rowsBefore: 0)
        let peakMessages = Double(peak.result.messages) / peak.result.elapsed
        let peakObservations = Double(peak.result.observations) / peak.result.elapsed
        let peakLatency = LatencySummary(nanoseconds: peak.result.latencies)
        say("  throughput: \(peakMessages.rounded0) messages/s, \(peakObservations.rounded0) observations/s committed")
        say("  \(peakLatency.line)")
        peak.printDetails()
        summary.add(SummaryRow(figure: "e2e peak, \(senders) closed-loop senders", measured: "\(peakMessages.rounded0) msg/s",
                               comparedWith: "ACK p50 \(format(ms: peakLatency.p50)), p99 \(format(ms: peakLatency.p99)), max \(format(ms: peakLatency.max))"))
        summary.add(SummaryRow(figure: "committed rows = ACKed observations", measured: "\(peak.committedRows.grouped) rows",
                               comparedWith: "\(peak.result.observations.grouped) ACKed", met: peak.verified))

        // Phase 2: half the peak, paced.
        if peakMessages > 0 {
            let rate = peakMessages / 2
            say("")
            say("phase 2, paced at half the peak: \(rate.rounded0) messages/s (\(senders) senders × \(format(rate / Double(senders), decimals: 1))/s, "
                  + "open-loop schedule, latency from each message's scheduled send time) for \(seconds) s")
            let outcome = try await phase(.openLoop(rate: rate), firstMonitor: senders, duration: duration, cluster: cluster,
                                          decoder: decoder, rowsBefore: peak.committedRows)
            let latency = LatencySummary(nanoseconds: outcome.result.latencies)
            say("  achieved: \((Double(outcome.result.messages) / outcome.result.elapsed).rounded0) messages/s, "
                  + "\((Double(outcome.result.observations) / outcome.result.elapsed).rounded0) observations/s")
            say("  \(latency.line)")
            let met = latency.p99 < Self.targetP99Milliseconds
            say("  target: ACK p99 < \(Int(Self.targetP99Milliseconds)) ms at half the peak → \(met ? "met" : "MISSED")")
            outcome.printDetails()
            summary.add(SummaryRow(figure: "ACK latency at 50% of peak (open loop)",
                                   measured: "p99 \(format(ms: latency.p99))",
                                   comparedWith: "p50 \(format(ms: latency.p50)), max \(format(ms: latency.max)) at \(rate.rounded0) msg/s",
                                   target: "p99 < 20 ms", met: met))
        }

        // The limit: raw binary COPY of as many rows as phase 1 committed.
        say("")
        say("limit: raw binary COPY of the same \(peak.result.observations.grouped) rows (BinaryCopyWriter file, the writer's column layout) "
              + "into a fresh, identically migrated database, psql \\copy in one transaction")
        // The end-to-end database is done with: drop it, so that its autovacuum does not run during the COPY.
        try cluster.postgres.dropDatabase(Self.database)
        let copy = try CopyLimit(cluster: cluster, decoder: decoder, mode: migration.mode)
            .run(rows: peak.result.observations, senders: senders, span: peak.result.elapsed)
        let ratio = peakObservations / copy.rowsPerSecond
        say("  file: \(format(Double(copy.bytes) / 1e6, decimals: 1)) MB (\(copy.bytes / max(1, copy.rows)) bytes/row); "
              + "psql ran \(format(copy.seconds, decimals: 2)) s → \(copy.rowsPerSecond.rounded0) rows/s")
        for line in copy.cpu { say("  \(line)") }
        say("  end to end / raw COPY: \(peakObservations.rounded0) / \(copy.rowsPerSecond.rounded0) = \(percent(ratio)); "
              + "target ≥ \(percent(Self.targetCopyRatio)) → \(ratio >= Self.targetCopyRatio ? "met" : "MISSED")")
        if peak.commits > 0 {
            // Where the gap lies: PostgreSQL given commits of the engine's size, the engine left out.
            let rowsPerCommit = max(1, peak.result.observations / peak.commits)
            say("")
            say("diagnostic: the same rows by COPY in transactions of \(rowsPerCommit) rows (phase 1's group commits), "
                  + "on \(writerConnections) connections as the writer's")
            let commits = try CopyLimit(cluster: cluster, decoder: decoder, mode: migration.mode)
                .runInCommits(rows: peak.result.observations, senders: senders, span: peak.result.elapsed,
                              rowsPerCommit: rowsPerCommit, connections: writerConnections)
            say("  \(format(commits.seconds, decimals: 2)) s → \(commits.rowsPerSecond.rounded0) rows/s "
                  + "(\(percent(commits.rowsPerSecond / copy.rowsPerSecond)) of the one-transaction COPY; end to end is \(percent(peakObservations / commits.rowsPerSecond)) of this)")
            for line in commits.cpu { say("  \(line)") }
            say("  PostgreSQL CPU per row: end to end \(format(peak.postgresSeconds * 1e6 / Double(max(1, peak.result.observations)), decimals: 2)) µs, "
                  + "COPY in commits of \(rowsPerCommit) rows \(format(commits.postgresMicrosecondsPerRow, decimals: 2)) µs, "
                  + "one-transaction COPY \(format(copy.postgresMicrosecondsPerRow, decimals: 2)) µs")
        }
        summary.add(SummaryRow(figure: "e2e observations/s (phase 1)", measured: "\(peakObservations.rounded0) obs/s",
                               comparedWith: "raw COPY \(copy.rowsPerSecond.rounded0) rows/s", ratio: percent(ratio),
                               target: "≥ 70% of COPY", met: ratio >= Self.targetCopyRatio))
    }

    // MARK: One phase

    struct PhaseOutcome {
        var result: PhaseResult
        /// vital_signs rows after the phase, and whether they are exactly the rows ACKed so far.
        var committedRows: Int
        var verified: Bool
        var ingestedMessages: Int
        var commits: Int
        var walBytes: Int
        var cpu: [String]
        var postgresSeconds: Double

        func printDetails() {
            say("  acknowledged: \(result.messages.grouped) messages AA, \(result.observations.grouped) observations; "
                  + "\(result.negativeAcknowledgements) negative, \(result.failures.count) senders failed")
            for failure in result.failures.prefix(3) { say("    \(failure)") }
            say("  check: SELECT count(*) FROM vital_signs = \(committedRows.grouped) "
                  + (verified ? "= every observation ACKed so far ✓" : "≠ observations ACKed so far ✗ MISMATCH"))
            if commits > 0 {
                say("  database: ≈ \(commits.grouped) transactions (≈ \(result.observations / commits) rows per group commit), "
                      + "WAL \(format(Double(walBytes) / 1e6, decimals: 0)) MB (\(walBytes / max(1, result.observations)) bytes/row)")
            }
            for line in cpu { say("  \(line)") }
        }
    }

    private func phase(_ pacing: LoadGenerator.Pacing, firstMonitor: Int, duration: Duration, cluster: BenchCluster,
                       decoder: PCD01Decoder, rowsBefore: Int) async throws -> PhaseOutcome {
        try cluster.checkpoint()
        let before = try cluster.counters(Self.database)
        let engine = try await EngineUnderTest.start(url: cluster.localURL(database: Self.database), decoder: decoder,
                                                  writerConnections: writerConnections, logger: logger)
        let cpuBefore = CPUSnapshot.take(postmasterPID: cluster.postmasterPID)
        let result: PhaseResult
        do {
            result = try await LoadGenerator(port: engine.port, senders: senders, firstMonitor: firstMonitor).run(pacing, for: duration)
        } catch {
            engine.stop()
            throw error
        }
        let cpuAfter = CPUSnapshot.take(postmasterPID: cluster.postmasterPID)
        engine.stop()
        try cluster.waitForNoConnections(to: Self.database)
        let after = try cluster.counters(Self.database)
        let rows = try cluster.count("vital_signs", database: Self.database)
        let messages = try cluster.count("ingested_messages", database: Self.database)
        return PhaseOutcome(
            result: result, committedRows: rows, verified: rows == rowsBefore + result.observations, ingestedMessages: messages,
            commits: after.commits - before.commits, walBytes: after.walBytes - before.walBytes,
            cpu: cpuAfter.report(since: cpuBefore, wall: result.elapsed), postgresSeconds: cpuAfter.postgresSeconds(since: cpuBefore))
    }
}
