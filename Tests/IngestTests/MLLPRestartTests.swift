import DeviceSimulator
import Synchronization
import TestSupport
import Testing

/// The daemon dies mid-stream and comes back: senders resend what was not acknowledged and the
/// table holds every observation exactly once.
@Suite(.timeLimit(.minutes(3))) struct MLLPRestartTests {
    @Test func restartMidStreamLosesNothingAndDuplicatesNothing() async throws {
        let first = try await TestEngine.start()
        let ward = first.ward(monitors: 6, reportsPerMonitor: 150, firstMonitorIndex: 500)
        let sending = Task { try await ward.run() }

        try await waitUntil(timeout: .seconds(60)) { ward.statistics.counts.messagesAcknowledged >= 200 }
        first.stop()
        // Senders now fail and keep their unacknowledged reports; a new daemon takes the same port.
        try await waitUntil(timeout: .seconds(30)) { ward.statistics.counts.reconnects >= 1 }
        // Binding the port just freed can fail for a moment: until the old listener's close has
        // completed, or while another test's socket holds it briefly.
        let restarted = Mutex<TestEngine?>(nil)
        try await waitUntil(timeout: .seconds(30), "the port bound again") {
            guard let engine = try? await TestEngine.start(databaseURL: first.databaseURL, port: first.port) else { return false }
            restarted.withLock { $0 = engine }
            return true
        }
        let second = try #require(restarted.withLock { $0 })
        defer { second.stop() }
        try await sending.value

        let counts = ward.statistics.counts
        #expect(counts.messagesAcknowledged == 6 * 150)
        #expect(counts.resends >= 1)
        #expect(try second.count("SELECT count(*) FROM vital_signs") == 6 * 150 * 12)
        #expect(try second.duplicateRows() == 0)
        #expect(try second.count("SELECT count(*) FROM ingested_messages") == 6 * 150)
    }
}
