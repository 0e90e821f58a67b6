import DeviceSimulator
import TestSupport
import Testing

/// The daemon dies mid-stream and comes back: senders resend what was not acknowledged and the
/// table holds every observation exactly once.
@Suite(.timeLimit(.minutes(3))) struct MLLPRestartTests {
    @Test func restartMidStreamLosesNothingAndDuplicatesNothing() async throws {
        let first = try await TestEngine.start()
        var configuration = WardSimulator.Configuration()
        configuration.port = first.port
        configuration.monitors = 6
        configuration.reportsPerMonitor = 150
        configuration.interval = .zero
        configuration.firstMonitorIndex = 500
        let ward = WardSimulator(configuration: configuration)
        let sending = Task { try await ward.run() }

        try await waitUntil(timeout: .seconds(60)) { ward.statistics.counts.messagesAcknowledged >= 200 }
        first.stop()
        // Senders now fail and keep their unacknowledged reports; a new daemon takes the same port.
        try await waitUntil(timeout: .seconds(30)) { ward.statistics.counts.reconnects >= 1 }
        let second = try await TestEngine.start(databaseURL: first.databaseURL, port: first.port)
        defer { second.stop() }
        try await sending.value

        let counts = ward.statistics.counts
        #expect(counts.messagesAcknowledged == 6 * 150)
        #expect(counts.resends >= 1)
        #expect(try second.count("SELECT count(*) FROM vital_signs") == 6 * 150 * 12)
        #expect(try second.count("""
            SELECT count(*) FROM (
                SELECT device_id, observation_time, vital_kind FROM vital_signs
                GROUP BY 1, 2, 3 HAVING count(*) > 1
            ) duplicates
            """) == 0)
        #expect(try second.count("SELECT count(*) FROM ingested_messages") == 6 * 150)
    }
}
