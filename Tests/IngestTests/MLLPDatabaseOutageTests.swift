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
        let acknowledgedDuringOutage = ward.statistics.counts.messagesAcknowledged
        try cluster.start()
        try await sending.value

        let counts = ward.statistics.counts
        #expect(counts.messagesAcknowledged == 4 * 150)
        #expect(counts.negativeAcknowledgements == 0)
        #expect(acknowledgedDuringOutage < 4 * 150)
        #expect(try engine.count("SELECT count(*) FROM vital_signs") == 4 * 150 * 12)
        #expect(try engine.duplicateRows() == 0)
        #expect(engine.logs.entries(withReason: "storage_unavailable").count >= 1)
    }
}
