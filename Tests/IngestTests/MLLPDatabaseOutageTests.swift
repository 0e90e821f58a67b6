import DeviceSimulator
import Storage
import TestSupport
import Testing

/// The database goes away mid-stream and comes back: nothing is acknowledged that was not
/// committed, senders keep and resend what was not acknowledged, and every observation is
/// stored exactly once.
@Suite(.timeLimit(.minutes(3))) struct MLLPDatabaseOutageTests {
    @Test func anOutageLosesNothingAndDuplicatesNothing() async throws {
        let cluster = try TestPostgres.privateCluster(port: freeTCPPort())
        let url = try cluster.start(database: "vitals")
        defer { try? cluster.stop() }
        let engine = try await TestEngine.start(databaseURL: url)
        defer { engine.stop() }

        let ward = engine.ward(monitors: 4, reportsPerMonitor: 150, firstMonitorIndex: 700)
        let sending = Task { try await ward.run() }

        try await waitUntil(timeout: .seconds(60)) { ward.statistics.counts.messagesAcknowledged >= 100 }
        try cluster.stop()
        // With the database gone the daemon acknowledges nothing and drops the connections.
        try await waitUntil(timeout: .seconds(60)) { ward.statistics.counts.reconnects >= 4 }
        let acknowledgedAtOutage = ward.statistics.counts.messagesAcknowledged
        // Every monitor resends and is refused again at least once more: still nothing acknowledged.
        try await waitUntil(timeout: .seconds(60)) { ward.statistics.counts.reconnects >= 12 }
        let acknowledgedDuringOutage = ward.statistics.counts.messagesAcknowledged - acknowledgedAtOutage
        try cluster.start()
        try await sending.value

        let counts = ward.statistics.counts
        #expect(counts.messagesAcknowledged == 4 * 150)
        #expect(counts.negativeAcknowledgements == 0)
        #expect(acknowledgedDuringOutage == 0)
        #expect(try engine.count("SELECT count(*) FROM vital_signs") == 4 * 150 * 12)
        #expect(try engine.duplicateRows() == 0)
        #expect(engine.logs.entries(withReason: "storage_unavailable").count >= 1)
    }
}

/// One writer connection is lost while the database takes no new connections (its connection
/// slots full, say): the other writer, still connected, commits everything from then on.
@Suite(.timeLimit(.minutes(2))) struct WriterConnectionLossTests {
    @Test func aWriterThatCannotReconnectLeavesTheWorkToTheConnectedOne() async throws {
        let engine = try await TestEngine.start()
        defer { engine.stop() }
        #expect(try await MLLPBadInputTests.steadySender(port: engine.port, count: 5, prefix: "WARM") == 5)
        let database = try #require(try engine.query("SELECT current_database()").first?.first ?? nil)
        // From another database: a session cannot bar new connections to its own.
        let admin = try PostgresConnection(url: try TestPostgres.shared().url(database: "postgres"))
        defer { admin.close() }
        try admin.execute("ALTER DATABASE \"\(database)\" WITH ALLOW_CONNECTIONS false")
        defer { try? admin.execute("ALTER DATABASE \"\(database)\" WITH ALLOW_CONNECTIONS true") }
        let terminated = try admin.query("""
            SELECT pg_terminate_backend(pid) FROM pg_stat_activity
            WHERE datname = $1 AND backend_type = 'client backend' LIMIT 1
            """, [database])
        #expect(terminated.rows.count == 1)

        // One message at a time, each on a connection of its own: the group that finds the lost
        // connection is not acknowledged (its sender resends); every other one is.
        var acknowledged = 0
        for index in 0..<40 {
            let client = try await MLLPClient.connect(host: "127.0.0.1", port: engine.port)
            if let reply = try? await client.send(MLLPBadInputTests.good("AFTER-LOSS-\(index)")), try MLLPBadInputTests.msa(reply).code == "AA" {
                acknowledged += 1
            }
            await client.close()
        }
        #expect(acknowledged >= 39, "acknowledged \(acknowledged) of 40")
    }
}
