@testable import Alerts
import Foundation
import Kafka
import Storage
import Synchronization
import TestSupport
import Testing
import VitalSigns

/// The outbox against librdkafka's mock cluster (3 brokers, real Kafka protocol over loopback).
@Suite(.timeLimit(.minutes(3))) struct KafkaForwarderTests {
    let scope = AlertScope(facility: "KTH")

    func start(
        _ url: String, _ kafka: KafkaFixture, producers: ProducersMade = ProducersMade(),
        configure: (inout KafkaForwarder.Configuration) -> Void = { _ in }
    ) throws -> (AlertHub, KafkaForwarder) {
        var hubConfiguration = AlertHub.Configuration(facility: "KTH")
        hubConfiguration.escalationCheckInterval = .milliseconds(50)
        let hub = try AlertHub(url: url, configuration: hubConfiguration, logger: TestPostgres.logger)
        var configuration = KafkaForwarder.Configuration()
        configuration.topic = kafka.topic
        configure(&configuration)
        let forwarder = try KafkaForwarder(makeProducer: producers.maker(kafka), hub: hub, url: url, configuration: configuration,
                                           logger: TestPostgres.logger)
        return (hub, forwarder)
    }

    /// Producers that refuse records over 1,000 bytes themselves, and a raise whose event is larger.
    func refusingLargeRecords() -> ProducersMade { ProducersMade(["message.max.bytes": "1000"]) }
    let oversizedRaise = trigger(.raise(.critical), device: "HUGE", location: "ICU^" + String(repeating: "x", count: 1_200))

    func payload(_ record: KafkaConsumerRecord) -> [String: Any] {
        (try? JSONSerialization.jsonObject(with: Data(record.value)) as? [String: Any]) ?? [:]
    }

    @Test("every alert event arrives once, keyed by device on the partition Kafka's partitioner picks, with its headers and body")
    func delivery() async throws {
        let url = try TestPostgres.migratedDatabase()
        let kafka = try KafkaFixture.start(topic: "vitals.critical")
        let (hub, forwarder) = try start(url, kafka)
        hub.submit([trigger(.raise(.critical), device: "0012A1FFFE000001", vital: "spo2")])
        hub.submit([trigger(.raise(.warning), device: "0012A1FFFE000002", vital: "heart_rate")])
        hub.submit([trigger(.clear, device: "0012A1FFFE000001", vital: "spo2")])

        let records = try await kafka.readBack(3)
        #expect(records.count == 3)
        for record in records {
            #expect(record.partition == KafkaPartitioner.partition(forKey: record.keyText, partitionCount: kafka.partitions))
            let body = payload(record)
            let alert = body["alert"] as? [String: Any]
            #expect(body["version"] as? Int == 1)
            #expect(alert?["device"] as? String == record.keyText)
            let headers = Dictionary(uniqueKeysWithValues: record.headers.map { ($0.key, $0.value.map { String(decoding: $0, as: UTF8.self) } ?? "") })
            #expect(headers == ["facility": "KTH", "event-type": body["type"] as? String ?? "?", "schema-version": "1"])
        }
        let spo2 = records.filter { $0.keyText == "0012A1FFFE000001" }.map { payload($0)["type"] as? String }
        #expect(spo2 == ["raised", "resolved"])

        let reader = try PostgresConnection(url: url)
        defer { reader.close() }
        try await waitUntil(timeout: .seconds(20), "delivery recorded in the outbox") {
            try reader.execute("SELECT count(*) FROM alert_events WHERE delivered_at IS NULL").scalar == "0"
                && reader.execute("SELECT count(*) FROM critical_events WHERE kafka_state <> 'delivered'").scalar == "0"
        }
        await forwarder.shutdown()
        hub.shutdown()
    }

    @Test("with brokers down and produce errors injected no event is lost or duplicated, and per-key order holds")
    func outage() async throws {
        let url = try TestPostgres.migratedDatabase()
        let kafka = try KafkaFixture.start(topic: "vitals.critical", partitions: 3)
        for partition in 0..<3 { try kafka.cluster.setPartitionLeader(topic: kafka.topic, partition: Int32(partition), brokerID: Int32(partition + 1)) }
        let (hub, forwarder) = try start(url, kafka)

        for broker in 1...3 { try kafka.cluster.setBrokerDown(Int32(broker)) }
        try kafka.cluster.pushRequestErrors(apiKey: .produce, [.notLeaderForPartition, .requestTimedOut, .notLeaderForPartition])
        let devices = (0..<8).map { String(format: "0012A1FFFE%06d", $0) }
        for round in 0..<3 {
            for device in devices {
                let severity: AlertSeverity = round == 0 ? .warning : (round == 1 ? .critical : .emergency)
                hub.submit([trigger(.raise(severity), device: device, vital: "spo2")])
            }
        }
        try await waitUntil(timeout: .seconds(20), "events committed") { hub.latestEventID >= 24 }
        // All 24 are handed to the producer before the brokers come back, as the outage means.
        // Sent after it, a partition's records could go out as two requests; librdkafka's mock
        // broker, unlike Kafka, accepts the second while the first got an injected error and
        // does not check the idempotent sequence, so the first was confirmed without being
        // stored (found with a C reproduction against librdkafka 2.0.2: 13 of 96 runs). Records
        // produced once the brokers are up are the other tests' case.
        try await waitUntil(timeout: .seconds(20), "all 24 in flight while the brokers are down") { forwarder.inFlightCount == 24 }
        for broker in 1...3 { try kafka.cluster.setBrokerUp(Int32(broker)) }

        let records: [KafkaConsumerRecord]
        do {
            records = try await kafka.readBack(24)
        } catch {
            // Failed once in nine full runs: say whether the brokers hold the records (the
            // consumer missed them) or the forwarder still does (they were never delivered).
            Issue.record("\(error); brokers hold \((try? kafka.storedCount()).map(String.init) ?? "?"), forwarder pending \(forwarder.pendingCount), in flight \(forwarder.inFlightCount)")
            throw error
        }
        try await waitUntil(timeout: .seconds(30)) { forwarder.pendingCount == 0 }
        #expect(try kafka.storedCount() == 24)
        let ids = records.compactMap { payload($0)["eventId"] as? Int }
        #expect(Set(ids).count == 24)
        for device in devices {
            let types = records.filter { $0.keyText == device }.map { (payload($0)["alert"] as? [String: Any])?["severity"] as? String }
            #expect(types == ["warning", "critical", "emergency"])
        }
        await forwarder.shutdown()
        hub.shutdown()
    }

    @Test("a shutdown with an event in flight waits for Kafka's confirmation and records it, so the next start does not send it again")
    func shutdownRecordsWhatIsInFlight() async throws {
        let url = try TestPostgres.migratedDatabase()
        let kafka = try KafkaFixture.start(topic: "vitals.critical")
        let (hub, forwarder) = try start(url, kafka)
        hub.submit([trigger(.raise(.critical), device: "A", vital: "spo2")])
        _ = try await kafka.readBack(1)
        try await waitUntil(timeout: .seconds(20)) { forwarder.pendingCount == 0 }
        // The brokers go away: the next event is handed to the producer and waits for them.
        for broker in 1...3 { try kafka.cluster.setBrokerDown(Int32(broker)) }
        hub.submit([trigger(.raise(.critical), device: "B", vital: "spo2")])
        try await waitUntil(timeout: .seconds(20), "the event in flight") { forwarder.inFlightCount == 1 }
        for broker in 1...3 { try kafka.cluster.setBrokerUp(Int32(broker)) }
        await forwarder.shutdown()
        hub.shutdown()
        let reader = try PostgresConnection(url: url)
        defer { reader.close() }
        #expect(try reader.execute("SELECT count(*) FROM alert_events WHERE delivered_at IS NULL").scalar == "0")
        #expect(try kafka.storedCount() == 2)
    }

    @Test("after a send that fails for good, the outbox goes on with every other event, each once and in id order")
    func aFailedSendLosesNothingElse() async throws {
        let url = try TestPostgres.migratedDatabase()
        let kafka = try KafkaFixture.start(topic: "vitals.critical")
        let hub = try AlertHub(url: url, configuration: .init(facility: "KTH"), logger: TestPostgres.logger)
        defer { hub.shutdown() }
        // A small window makes the outbox's reload after the failure see only part of what is queued.
        let producers = refusingLargeRecords()
        var configuration = KafkaForwarder.Configuration()
        configuration.topic = kafka.topic
        configuration.maxInFlight = 2
        hub.submit([oversizedRaise])
        for index in 0..<8 { hub.submit([trigger(.raise(.critical), device: "D\(index)")]) }
        try await waitUntil(timeout: .seconds(20), "nine events committed") { hub.latestEventID == 9 }
        // Started with all nine committed: they come from the outbox's backlog, queued at once.
        let forwarder = try KafkaForwarder(makeProducer: producers.maker(kafka), hub: hub, url: url, configuration: configuration,
                                           logger: TestPostgres.logger)
        let records = try await kafka.readBack(8)
        let ids = records.compactMap { payload($0)["eventId"] as? Int }
        #expect(ids.sorted() == Array(2...9))
        let reader = try PostgresConnection(url: url)
        defer { reader.close() }
        try await waitUntil(timeout: .seconds(20), "the eight deliveries recorded") {
            try reader.execute("SELECT count(*) FROM alert_events WHERE delivered_at IS NOT NULL").scalar == "8"
        }
        #expect(forwarder.pendingCount == 1)
        await forwarder.shutdown()
        #expect(try kafka.storedCount() == 8)
        #expect(try reader.execute("SELECT id FROM alert_events WHERE delivered_at IS NULL").rows == [["1"]])
    }

    @Test("a record Kafka refuses waits for its own pause, and every event after it goes on meanwhile")
    func aRefusedRecordDoesNotHoldUpTheOthers() async throws {
        let url = try TestPostgres.migratedDatabase()
        let kafka = try KafkaFixture.start(topic: "vitals.critical")
        // The refused one's pause outlasts the test.
        let (hub, forwarder) = try start(url, kafka, producers: refusingLargeRecords()) {
            $0.retryDelay = .seconds(600)
            $0.maximumRetryDelay = .seconds(600)
        }
        defer { hub.shutdown() }
        try await waitUntil(timeout: .seconds(20), "the forwarder caught up") { !forwarder.isCatchingUp }
        hub.submit([oversizedRaise])
        try await waitUntil(timeout: .seconds(20), "the large record refused") { forwarder.waitingToRetryCount == 1 }
        for index in 0..<5 { hub.submit([trigger(.raise(.critical), device: "D\(index)")]) }
        let ids = try await kafka.readBack(5).compactMap { payload($0)["eventId"] as? Int }
        #expect(ids.sorted() == Array(2...6))
        #expect(forwarder.waitingToRetryCount == 1)
        #expect(forwarder.pendingCount == 1)
        await forwarder.shutdown()
    }

    @Test("a refused event is sent again from the outbox once its pause is over, the pause doubling at each refusal up to its limit; one delivered meanwhile is not")
    func refusedEventsAreRetriedAfterTheirPause() async throws {
        #expect((1...8).map { ForwarderState.pause(afterFailures: $0, first: .seconds(1), maximum: .seconds(60)) }
            == [.seconds(1), .seconds(2), .seconds(4), .seconds(8), .seconds(16), .seconds(32), .seconds(60), .seconds(60)])
        func event(_ id: Int64) -> StoredAlertEvent {
            StoredAlertEvent(id: id, type: .raised, facility: "KTH", ward: nil, kafkaKey: "D\(id)", payload: "{}")
        }
        let state = ForwarderState(pageSize: 10, retryDelay: .milliseconds(100), maximumRetryDelay: .seconds(10))
        _ = state.addPage([event(1), event(2), event(3)])
        #expect(try #require(state.nextToSend(maxInFlight: 10, timeout: 0)).send.map(\.id) == [1, 2, 3])
        state.fail(1)
        state.fail(3)
        state.confirm(2)
        // Not due yet: nothing to send again, and both still pending.
        let early = try #require(state.nextToSend(maxInFlight: 10, timeout: 0))
        #expect(early.send.isEmpty && early.retry.isEmpty)
        #expect(state.pendingCount == 2 && state.waitingToRetryCount == 2)
        var due: [Int64] = []
        try await waitUntil(timeout: .seconds(10), "both due") {
            due += try #require(state.nextToSend(maxInFlight: 10, timeout: 0.05)).retry
            return due.count == 2
        }
        #expect(due.sorted() == [1, 3])
        #expect(state.pendingCount == 2, "taken for a resend and still pending")
        // Event 3 was delivered meanwhile (by a producer's late confirmation): the outbox no
        // longer has it, and it is not sent again.
        state.requeue([event(1)], of: [1, 3])
        #expect(state.pendingCount == 1)
        #expect(try #require(state.nextToSend(maxInFlight: 10, timeout: 0)).send.map(\.id) == [1])
        state.confirm(1)
        #expect(state.pendingCount == 0 && state.waitingToRetryCount == 0)
    }

    @Test("a backlog of thousands of events is read from the outbox a page at a time and sent whole, each once, in id order")
    func aLargeBacklogIsPaged() async throws {
        let url = try TestPostgres.migratedDatabase()
        let kafka = try KafkaFixture.start(topic: "vitals.critical")
        let events = 2_500
        do {
            let hub = try AlertHub(url: url, configuration: AlertHub.Configuration(facility: "KTH"), logger: TestPostgres.logger)
            // Committed while no forwarder ran (Kafka not configured, or away for a long time).
            for chunk in stride(from: 0, to: events, by: 500) {
                // Ten devices, each alert raised and resolved in turn: every key has many events.
                hub.submit((chunk..<chunk + 500).map { trigger($0 % 20 < 10 ? .raise(.critical) : .clear, device: "BACKLOG-\($0 % 10)") })
            }
            try await waitUntil(timeout: .seconds(60)) { hub.latestEventID >= Int64(events) }
            hub.shutdown()
        }
        let hub = try AlertHub(url: url, configuration: AlertHub.Configuration(facility: "KTH"), logger: TestPostgres.logger)
        defer { hub.shutdown() }
        var configuration = KafkaForwarder.Configuration()
        configuration.topic = kafka.topic
        configuration.pageSize = 100
        configuration.maxInFlight = 50
        let forwarder = try KafkaForwarder(makeProducer: ProducersMade().maker(kafka), hub: hub, url: url, configuration: configuration,
                                           logger: TestPostgres.logger)
        // What the forwarder holds stays within two pages, what is in flight, and the "more to read" mark.
        var mostHeld = 0
        try await waitUntil(timeout: .seconds(120), pollEvery: .milliseconds(5), "the backlog delivered") {
            mostHeld = max(mostHeld, forwarder.pendingCount)
            return forwarder.pendingCount == 0
        }
        #expect(mostHeld <= 2 * 100 + 50 + 1, "held \(mostHeld)")
        let records = try await kafka.readBack(events)
        let ids = records.compactMap { payload($0)["eventId"] as? Int }
        #expect(ids.count == events && Set(ids).count == events)
        // Each key's events in id order (Kafka keeps order within a key's partition).
        let byKey = Dictionary(grouping: records, by: { String(decoding: $0.key ?? [], as: UTF8.self) })
        #expect(byKey.count == 10)
        for (key, keyed) in byKey {
            let keyIDs = keyed.compactMap { payload($0)["eventId"] as? Int }
            #expect(keyIDs == keyIDs.sorted(), "key \(key)")
        }
        #expect(try kafka.storedCount() == Int64(events))
        await forwarder.shutdown()
    }

    @Test("events committed while no forwarder ran are sent at its start; delivered ones are not sent again")
    func backlog() async throws {
        let url = try TestPostgres.migratedDatabase()
        let kafka = try KafkaFixture.start(topic: "vitals.critical")
        do {
            let (hub, forwarder) = try start(url, kafka)
            hub.submit([trigger(.raise(.critical), device: "A", vital: "spo2")])
            _ = try await kafka.readBack(1)
            try await waitUntil(timeout: .seconds(20)) { forwarder.pendingCount == 0 }
            await forwarder.shutdown()
            // The hub goes on without a forwarder: these wait in the outbox.
            hub.submit([trigger(.raise(.critical), device: "B", vital: "spo2")])
            hub.submit([trigger(.clear, device: "A", vital: "spo2")])
            try await waitUntil(timeout: .seconds(20)) { hub.latestEventID >= 3 }
            hub.shutdown()
        }
        let (hub, forwarder) = try start(url, kafka)
        let records = try await kafka.readBack(3)
        try await waitUntil(timeout: .seconds(20)) { forwarder.pendingCount == 0 }
        #expect(try kafka.storedCount() == 3)
        #expect(records.map { payload($0)["eventId"] as? Int }.compactMap { $0 }.sorted() == [1, 2, 3])
        await forwarder.shutdown()
        hub.shutdown()
    }

    @Test("a producer that hits a fatal error is replaced (again, when making the new one fails): the events it had not delivered and every later one arrive, each once")
    func aFatalProducerErrorIsRecovered() async throws {
        let url = try TestPostgres.migratedDatabase()
        let kafka = try KafkaFixture.start(topic: "vitals.critical")
        // The first replacement fails to be made, as with a broker address that does not resolve for a moment.
        let producers = ProducersMade(failingAttempts: [2])
        let (hub, forwarder) = try start(url, kafka, producers: producers)
        hub.submit([trigger(.raise(.critical), device: "BEFORE")])
        _ = try await kafka.readBack(1)
        try await waitUntil(timeout: .seconds(20), "the first delivery recorded") { forwarder.pendingCount == 0 }

        // As a broker that lost acknowledged records would: the producer can send nothing more.
        let first = try #require(producers.all.first)
        try first.simulateFatalError(KafkaErrorCode(rawValue: 45), reason: "out of order sequence number (simulated)")
        #expect(first.fatalError != nil)
        for device in ["AFTER-1", "AFTER-2", "AFTER-3"] { hub.submit([trigger(.raise(.critical), device: device)]) }

        let records = try await kafka.readBack(4)
        try await waitUntil(timeout: .seconds(20), "every delivery recorded") { forwarder.pendingCount == 0 }
        #expect(records.map(\.keyText).sorted() == ["AFTER-1", "AFTER-2", "AFTER-3", "BEFORE"])
        #expect(try kafka.storedCount() == 4)
        #expect(producers.attempts == 3 && producers.all.count == 2 && forwarder.producerReplacements == 1)
        let reader = try PostgresConnection(url: url)
        defer { reader.close() }
        #expect(try reader.execute("SELECT count(*) FROM alert_events WHERE delivered_at IS NULL").scalar == "0")
        await forwarder.shutdown()
        hub.shutdown()
    }
}

/// Makes the forwarder's producers against a fixture's cluster, and keeps them for the test.
/// The attempts numbered in `failingAttempts` (from 1) fail as librdkafka does with a bad setting.
final class ProducersMade: Sendable {
    private let properties: [String: String]
    private let failingAttempts: Set<Int>
    private let made = Mutex<(attempts: Int, producers: [KafkaProducer])>((0, []))

    init(_ properties: [String: String] = [:], failingAttempts: Set<Int> = []) {
        self.properties = KafkaForwarder.requiredProducerProperties.merging(properties) { $1 }
        self.failingAttempts = failingAttempts
    }

    var all: [KafkaProducer] { made.withLock { $0.producers } }
    var attempts: Int { made.withLock { $0.attempts } }

    func maker(_ kafka: KafkaFixture) -> @Sendable () throws(KafkaError) -> KafkaProducer {
        { [self] () throws(KafkaError) in
            let attempt = made.withLock { made in
                made.attempts += 1
                return made.attempts
            }
            let settings = failingAttempts.contains(attempt) ? properties.merging(["acks": "not-a-number"]) { $1 } : properties
            let producer = try KafkaProducer(configuration: KafkaProducerConfiguration(bootstrapServers: kafka.cluster.bootstrapServers,
                                                                                       properties: settings), logger: kafka.logger)
            made.withLock { $0.producers.append(producer) }
            return producer
        }
    }
}
