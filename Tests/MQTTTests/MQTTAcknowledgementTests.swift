import DeviceSimulator
import Storage
import Synchronization
import TestSupport
import Testing

/// libmosquitto queues a QoS 1 PUBACK before it hands the message over; the source writes it
/// only after the commit. Proof: with the database down, a daemon that received messages and
/// then stops must not have acknowledged them, so the broker delivers them to the next one.
@Suite(.timeLimit(.minutes(3))) struct MQTTAcknowledgementTests {
    @Test func messagesNotCommittedAreNotAcknowledgedAndComeBack() async throws {
        let cluster = try TestPostgres.privateCluster(port: freeTCPPort())
        let url = try cluster.start(database: "vitals")
        defer { try? cluster.stop() }
        try TestPostgres.migrate(url)
        let broker = try TestMosquitto()
        try await broker.start()
        defer { broker.stop() }

        let first = try MQTTTestDaemon(broker: broker, databaseURL: url)
        try await waitUntil(timeout: .seconds(30), "source connected") { first.source.health.state == .connected }
        let before = try gateways(broker, devices: 5, messagesPerDevice: 20)
        defer { before.publisher.stop() }
        try await before.run()
        try await waitUntil(timeout: .seconds(30), "first messages stored") { first.source.statistics.current.stored == 100 }

        try cluster.stop()
        let during = try gateways(broker, devices: 5, messagesPerDevice: 40, firstDevice: 100)
        defer { during.publisher.stop() }
        try await during.run()
        // The daemon received a burst it cannot commit: it retries, holds their PUBACKs and reads
        // nothing more meanwhile.
        try await waitUntil(timeout: .seconds(30), "outage messages received and retried") {
            let counts = first.source.statistics.current
            return counts.received > 5 + 100 + 5 && counts.storageRetries >= 1
        }
        first.stop()
        #expect(first.source.statistics.current.stored == 100)

        try cluster.start()
        let second = try MQTTTestDaemon(broker: broker, databaseURL: url)
        defer { second.stop() }
        try await waitUntil(timeout: .seconds(60), pollEvery: .milliseconds(100), "redelivered messages stored") {
            try count(url, "SELECT count(*) FROM ingested_messages") >= 300
        }
        #expect(try count(url, "SELECT count(*) FROM ingested_messages") == 300)
        #expect(try count(url, "SELECT count(*) FROM vital_signs") == 1_200)
        #expect(try duplicates(url) == 0)
    }

    @Test("messages retried during a database outage reach the alert rules once, not again with every retry")
    func retriesDoNotShowTheRulesTheSameValuesAgain() async throws {
        let cluster = try TestPostgres.privateCluster(port: freeTCPPort())
        let url = try cluster.start(database: "vitals")
        defer { try? cluster.stop() }
        try TestPostgres.migrate(url)
        let broker = try TestMosquitto()
        try await broker.start()
        defer { broker.stop() }
        let seen = Atomic<Int>(0)
        let daemon = try MQTTTestDaemon(broker: broker, databaseURL: url, alertStage: { entry, alertsStored in
            seen.add(entry.batch.observations.count, ordering: .relaxed)
            alertsStored(true)
        })
        defer { daemon.stop() }
        try await waitUntil(timeout: .seconds(30), "source connected") { daemon.source.health.state == .connected }

        try cluster.stop()
        let during = try gateways(broker, devices: 2, messagesPerDevice: 5)
        defer { during.publisher.stop() }
        try await during.run()
        try await waitUntil(timeout: .seconds(30), "retries during the outage") { daemon.source.statistics.current.storageRetries >= 4 }
        try cluster.start()
        try await waitUntil(timeout: .seconds(60), pollEvery: .milliseconds(100), "every message stored") {
            daemon.source.statistics.current.stored == 10
        }
        let rows = try count(url, "SELECT count(*) FROM vital_signs")
        #expect(rows > 0)
        #expect(seen.load(ordering: .relaxed) == rows)
    }
}
