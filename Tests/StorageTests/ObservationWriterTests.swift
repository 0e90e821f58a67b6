import Foundation
import Logging
import Storage
import Synchronization
import TestSupport
import Testing
import VitalSigns

@Suite("ObservationWriter")
struct ObservationWriterTests {
    let logger = TestPostgres.logger

    @Test("a commit the server rolls back for concurrency (a deadlock with retention's drop) is tried again, not failed")
    func aCommitRolledBackForADeadlockIsTriedAgain() async throws {
        let url = try TestPostgres.migratedDatabase()
        let admin = try PostgresConnection(url: url)
        defer { admin.close() }
        // The first key row of the first commit fails as a deadlock would; a sequence, which no
        // rollback undoes, says which attempt it is.
        try admin.execute("""
            CREATE SEQUENCE attempts;
            CREATE FUNCTION deadlock_once() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                IF nextval('attempts') = 1 THEN
                    RAISE EXCEPTION 'deadlock detected (simulated)' USING ERRCODE = 'deadlock_detected';
                END IF;
                RETURN NEW;
            END $$;
            CREATE TRIGGER deadlock_once BEFORE INSERT ON ingested_messages FOR EACH ROW EXECUTE FUNCTION deadlock_once();
            """)
        let writer = try ObservationWriter(url: url, logger: logger)
        defer { writer.shutdown() }
        #expect(try await writer.write(IngestBatch(message: key("DEADLOCK-1"), observations: [observation()])) == .stored(observations: 1))
        #expect(try count(admin, "SELECT count(*) FROM vital_signs") == 1)
        #expect(try count(admin, "SELECT last_value FROM attempts") == 2)
    }

    @Test("stored rows are visible once the write completes, with every column intact", arguments: availableModes)
    func storesRows(mode: StorageMode) async throws {
        let url = try TestPostgres.migratedDatabase(mode: mode)
        let writer = try ObservationWriter(url: url, logger: logger)
        defer { writer.shutdown() }
        let first = observation(seconds: 0, kind: .spo2, value: 97.5, critical: false)
        let second = observation(seconds: 1, kind: .heartRate, value: 181, critical: true, location: nil, hierarchy: nil, status: .corrected)
        let outcome = try await writer.write(IngestBatch(message: key("MSG-1"), observations: [first, second]))
        #expect(outcome == .stored(observations: 2))

        let reader = try PostgresConnection(url: url)
        defer { reader.close() }
        let rows = try reader.execute("""
            SELECT (EXTRACT(EPOCH FROM v.observation_time) * 1000000)::bigint, p.identifier, p.assigning_authority, d.identifier,
                   v.location, v.vital_kind, v.code, v.code_system, v.value, v.unit, v.hierarchy, v.status::text, v.is_critical,
                   v.received_at <= now()
            FROM vital_signs v JOIN patients p ON p.id = v.patient_id JOIN devices d ON d.id = v.device_id
            ORDER BY v.observation_time
            """).rows
        #expect(rows == [
            [String(baseTime), "MRN-1", "KTH", "0012A1FFFE000001", "ICU^1^A", "3", "147842", "MDC", "97.5", "%", "1.1.1.1", "F", "f", "t"],
            [String(baseTime + 1_000_000), "MRN-1", "KTH", "0012A1FFFE000001", nil, "1", "147842", "MDC", "181", "/min", nil, "C", "t", "t"],
        ])
        let message = try reader.execute("SELECT sending_application, sending_facility, control_id, observation_count FROM ingested_messages").rows
        #expect(message == [["MONITOR", "KTH-ICU", "MSG-1", "2"]])
        #expect(try count(reader, "SELECT sum(sample_count) FROM vital_signs_1m") == 2)
    }

    @Test("the health check sees commits stalled behind a lock: the oldest waiting submission ages until the lock is gone")
    func stalledCommitsShowInTheHealth() async throws {
        let url = try TestPostgres.migratedDatabase()
        let writer = try ObservationWriter(url: url, logger: logger)
        defer { writer.shutdown() }
        #expect(writer.health.oldestWaiting == .zero)
        let locker = try PostgresConnection(url: url)
        defer { locker.close() }
        try locker.execute("BEGIN; LOCK TABLE ingested_messages IN ACCESS EXCLUSIVE MODE")
        let done = Atomic<Int>(0)
        // One commit waits for the lock on each connection; the third submission waits in the queue.
        for index in 0..<3 {
            writer.submit(IngestBatch(message: key("STALL-\(index)"), observations: [observation(seconds: Int64(index))])) { _ in
                done.add(1, ordering: .relaxed)
            }
            if index < 2 { try await waitUntil(timeout: .seconds(30), "commit \(index) waiting") { try locker.lockWaiters(on: "ingested_messages") == index + 1 } }
        }
        try await waitUntil(timeout: .seconds(30), "the queued submission ageing") { writer.health.oldestWaiting > .seconds(1) }
        #expect(writer.health.queuedRows == 1)
        try locker.execute("COMMIT")
        try await waitUntil(timeout: .seconds(30), "all three committed") { done.load(ordering: .relaxed) == 3 }
        #expect(writer.health.oldestWaiting == .zero)
    }

    @Test("while commits are stuck, submissions past the queue's bound are refused at once, and accepted again once it drains")
    func aFullQueueRefusesUntilItDrains() async throws {
        let url = try TestPostgres.migratedDatabase()
        var configuration = ObservationWriter.Configuration()
        configuration.maxQueuedRows = 3
        let writer = try ObservationWriter(url: url, configuration: configuration, logger: logger)
        defer { writer.shutdown() }
        let locker = try PostgresConnection(url: url)
        defer { locker.close() }
        try locker.execute("BEGIN; LOCK TABLE ingested_messages IN ACCESS EXCLUSIVE MODE")
        let stored = Atomic<Int>(0)
        let refused = Mutex<[String]>([])
        func submit(_ id: String) {
            writer.submit(IngestBatch(message: key(id), observations: [observation(seconds: 0)])) { result in
                switch result {
                case .success: stored.add(1, ordering: .relaxed)
                case .failure(let error): refused.withLock { $0.append(error.message) }
                }
            }
        }
        // One commit stuck on each connection, then three rows queued: the bound.
        for index in 0..<2 {
            submit("STUCK-\(index)")
            try await waitUntil(timeout: .seconds(30), "commit \(index) waiting") { try locker.lockWaiters(on: "ingested_messages") == index + 1 }
        }
        for index in 0..<3 { submit("QUEUED-\(index)") }
        submit("REFUSED")
        #expect(refused.withLock { $0.count } == 1)
        #expect(refused.withLock { $0.first?.contains("queue is full") } == true)
        try locker.execute("COMMIT")
        try await waitUntil(timeout: .seconds(30), "the stuck and queued ones committed") { stored.load(ordering: .relaxed) == 5 }
        #expect(try await writer.write(IngestBatch(message: key("AFTER"), observations: [observation(seconds: 1)])) == .stored(observations: 1))
    }

    @Test("a retransmitted message stores nothing twice and reports .duplicate")
    func sequentialDuplicate() async throws {
        let url = try TestPostgres.migratedDatabase()
        let writer = try ObservationWriter(url: url, logger: logger)
        defer { writer.shutdown() }
        let batch = IngestBatch(message: key("MSG-42"), observations: [observation(seconds: 0), observation(seconds: 1)])
        #expect(try await writer.write(batch) == .stored(observations: 2))
        #expect(try await writer.write(batch) == .duplicate)
        // Same control id from another facility is a different message.
        let other = IngestBatch(message: key("MSG-42", facility: "OMDURMAN-ER"), observations: [observation(seconds: 2)])
        #expect(try await writer.write(other) == .stored(observations: 1))
        let reader = try PostgresConnection(url: url)
        defer { reader.close() }
        #expect(try count(reader, "SELECT count(*) FROM vital_signs") == 3)
        #expect(try count(reader, "SELECT count(*) FROM ingested_messages") == 2)
    }

    @Test("a retransmission in the same commit as the first copy is a duplicate; every batch of the group commits together")
    func duplicateInsideOneGroup() async throws {
        let url = try TestPostgres.migratedDatabase()
        // One connection: with two, the batches submitted during the wait would be split
        // between the writer threads instead of forming one group.
        let writer = try observationWriter(url, connections: 1)
        defer { writer.shutdown() }
        let reader = try PostgresConnection(url: url)
        defer { reader.close() }

        let held = try await HeldCommit(writer, url: url, reader: reader, blocker: IngestBatch(message: key("B-0"), observations: [observation(seconds: 0)]))
        defer { held.close() }
        held.submit("first", IngestBatch(message: key("B-1"), observations: [observation(seconds: 1), observation(seconds: 2)]))
        held.submit("retransmission", IngestBatch(message: key("B-1"), observations: [observation(seconds: 1), observation(seconds: 2)]))
        held.submit("keyless", IngestBatch(message: nil, observations: [observation(device: "serial-7", patient: nil, seconds: 3)]))
        held.submit("empty", IngestBatch(message: key("B-2"), observations: []))
        #expect(writer.queuedRows == 2 + 2 + 1 + 1)
        try held.release()

        let outcomes = try await held.results(count: 5).mapValues { try? $0.get() }
        #expect(outcomes["blocker"] == .stored(observations: 1))
        #expect(outcomes["first"] == .stored(observations: 2))
        #expect(outcomes["retransmission"] == .duplicate)
        #expect(outcomes["keyless"] == .stored(observations: 1))
        #expect(outcomes["empty"] == .stored(observations: 0))
        #expect(try count(reader, "SELECT count(*) FROM vital_signs") == 4)
        #expect(try count(reader, "SELECT count(*) FROM vital_signs WHERE patient_id IS NULL") == 1)
        #expect(try count(reader, "SELECT count(*) FROM ingested_messages") == 3)
        // A retransmission of the empty message is a duplicate too.
        #expect(try await writer.write(IngestBatch(message: key("B-2"), observations: [])) == .duplicate)
    }

    @Test("a retransmission of a stored message in a group of new ones: the new ones are stored, the retransmission is a duplicate")
    func retransmissionAmongNewMessages() async throws {
        let url = try TestPostgres.migratedDatabase()
        let writer = try observationWriter(url, connections: 1)
        defer { writer.shutdown() }
        let reader = try PostgresConnection(url: url)
        defer { reader.close() }
        #expect(try await writer.write(IngestBatch(message: key("R-1"), observations: [observation(seconds: 0)])) == .stored(observations: 1))

        let held = try await HeldCommit(writer, url: url, reader: reader, blocker: IngestBatch(message: key("R-0"), observations: [observation(seconds: 1)]))
        defer { held.close() }
        held.submit("new-2", IngestBatch(message: key("R-2"), observations: [observation(seconds: 2), observation(seconds: 3)]))
        held.submit("retransmission", IngestBatch(message: key("R-1"), observations: [observation(seconds: 0)]))
        held.submit("new-3", IngestBatch(message: key("R-3"), observations: [observation(seconds: 4)]))
        try held.release()

        let outcomes = try await held.results(count: 4).mapValues { try? $0.get() }
        #expect(outcomes["blocker"] == .stored(observations: 1))
        #expect(outcomes["new-2"] == .stored(observations: 2))
        #expect(outcomes["retransmission"] == .duplicate)
        #expect(outcomes["new-3"] == .stored(observations: 1))
        #expect(try count(reader, "SELECT count(*) FROM vital_signs") == 5)
        #expect(try count(reader, "SELECT count(*) FROM ingested_messages") == 4)
    }

    @Test("identifiers and keys with quotes, backslashes, braces, commas and the word NULL survive the array parameters")
    func awkwardText() async throws {
        let url = try TestPostgres.migratedDatabase()
        let writer = try ObservationWriter(url: url, logger: logger)
        defer { writer.shutdown() }
        let awkward = ["NULL", "a\"b", "c\\d", "{e,f}", " g ", "ünï ✓", ""]
        for (index, text) in awkward.enumerated() {
            let batch = IngestBatch(
                message: key(text, application: text, facility: "F\(index)"),
                observations: [observation(device: "dev-" + text, patient: PatientIdentifier(id: text, assigningAuthority: text), seconds: Int64(index))])
            #expect(try await writer.write(batch) == .stored(observations: 1))
            #expect(try await writer.write(batch) == .duplicate)
        }
        let reader = try PostgresConnection(url: url)
        defer { reader.close() }
        let patients = try reader.execute("SELECT identifier, assigning_authority FROM patients ORDER BY id").rows
        #expect(patients == awkward.map { [$0, $0] })
        let devices = try reader.execute("SELECT identifier FROM devices ORDER BY id").rows.map { $0[0] ?? "" }
        #expect(devices == awkward.map { "dev-" + $0 })
        let keys = try reader.execute("SELECT control_id FROM ingested_messages ORDER BY sending_facility").rows.map { $0[0] ?? "" }
        #expect(keys == awkward)
    }

    @Test("with a linger, submissions arriving within maxBatchDelay share one commit")
    func linger() async throws {
        let url = try TestPostgres.migratedDatabase()
        var configuration = ObservationWriter.Configuration()
        configuration.maxBatchRows = 5
        configuration.maxBatchDelay = .seconds(30)  // ends early: the group is full at 5 rows
        let writer = try ObservationWriter(url: url, configuration: configuration, logger: logger)
        defer { writer.shutdown() }
        let outcomes = try await withThrowingTaskGroup(of: WriteOutcome.self) { group in
            for index in 0..<5 {
                group.addTask { try await writer.write(IngestBatch(message: key("L-\(index)"), observations: [observation(seconds: Int64(index))])) }
            }
            return try await group.reduce(into: [WriteOutcome]()) { $0.append($1) }
        }
        #expect(outcomes == Array(repeating: .stored(observations: 1), count: 5))
        let reader = try PostgresConnection(url: url)
        defer { reader.close() }
        // received_at defaults to the transaction's start time: one value means one commit.
        #expect(try count(reader, "SELECT count(DISTINCT received_at) FROM ingested_messages") == 1)
        #expect(try count(reader, "SELECT count(DISTINCT received_at) FROM vital_signs") == 1)
    }

    @Test("keyless batches are stored every time")
    func keyless() async throws {
        let url = try TestPostgres.migratedDatabase()
        let writer = try ObservationWriter(url: url, logger: logger)
        defer { writer.shutdown() }
        let batch = IngestBatch(observations: [observation(device: "mqtt-gw-1/bed-4", seconds: 0)])
        #expect(try await writer.write(batch) == .stored(observations: 1))
        #expect(try await writer.write(batch) == .stored(observations: 1))
        let reader = try PostgresConnection(url: url)
        defer { reader.close() }
        #expect(try count(reader, "SELECT count(*) FROM vital_signs") == 2)
        #expect(try count(reader, "SELECT count(*) FROM ingested_messages") == 0)
    }

    @Test("a retransmission committed by another writer connection at the same time is a duplicate")
    func duplicateAcrossConnections() async throws {
        let url = try TestPostgres.migratedDatabase()
        let writer = try observationWriter(url, connections: 2)
        defer { writer.shutdown() }
        let reader = try PostgresConnection(url: url)
        defer { reader.close() }
        let locker = try lockMessageKeys(url)
        defer { locker.close() }

        let results = Mutex<[Result<WriteOutcome, PostgresError>]>([])
        let batch = IngestBatch(message: key("X-1"), observations: [observation(seconds: 1), observation(seconds: 2)])
        // Each copy is taken by its own writer connection, and both wait in their transactions.
        writer.submit(batch) { result in results.withLock { $0.append(result) } }
        try await waitUntil(timeout: .seconds(30), "first connection waiting") { try lockWaiters(reader) == 1 }
        writer.submit(batch) { result in results.withLock { $0.append(result) } }
        try await waitUntil(timeout: .seconds(30), "second connection waiting") { try lockWaiters(reader) == 2 }
        try locker.execute("COMMIT")

        try await waitUntil(timeout: .seconds(30), "both completions") { results.withLock { $0.count } == 2 }
        let outcomes = results.withLock { $0.compactMap { try? $0.get() } }
        #expect(outcomes.filter { $0 == .stored(observations: 2) }.count == 1)
        #expect(outcomes.filter { $0 == .duplicate }.count == 1)
        #expect(try count(reader, "SELECT count(*) FROM vital_signs") == 2)
        #expect(try count(reader, "SELECT count(*) FROM ingested_messages") == 1)
    }

    @Test("patients and devices get one surrogate id each, resolved once and then cached")
    func surrogateKeys() async throws {
        let url = try TestPostgres.migratedDatabase()
        // The identifier cache belongs to a writer connection; one connection makes "the
        // second write uses the cache" deterministic.
        let writer = try observationWriter(url, connections: 1)
        defer { writer.shutdown() }
        let alice = PatientIdentifier(id: "MRN-7", assigningAuthority: "KTH")
        let sameIDOtherAuthority = PatientIdentifier(id: "MRN-7", assigningAuthority: "OMD")
        let batch = IngestBatch(observations: [
            observation(device: "dev-a", patient: alice, seconds: 0),
            observation(device: "dev-a", patient: alice, seconds: 1),
            observation(device: "dev-b", patient: sameIDOtherAuthority, seconds: 2),
            observation(device: "dev-b", patient: nil, seconds: 3),
        ])
        #expect(try await writer.write(batch) == .stored(observations: 4))
        let reader = try PostgresConnection(url: url)
        defer { reader.close() }
        #expect(try count(reader, "SELECT count(*) FROM patients") == 2)
        #expect(try count(reader, "SELECT count(*) FROM devices") == 2)
        #expect(try count(reader, "SELECT count(DISTINCT patient_id) FROM vital_signs") == 2)

        // Rename the rows behind the writer's back: a writer that looked identifiers up again
        // would create new rows; the cached ids keep being used instead.
        try reader.execute("UPDATE patients SET identifier = identifier || '-renamed'; UPDATE devices SET identifier = identifier || '-renamed'")
        #expect(try await writer.write(batch) == .stored(observations: 4))
        #expect(try count(reader, "SELECT count(*) FROM patients") == 2)
        #expect(try count(reader, "SELECT count(*) FROM devices") == 2)

        // A second writer (no cache) finds the existing ids for existing identifiers.
        let second = try observationWriter(url, connections: 1)
        defer { second.shutdown() }
        let renamed = PatientIdentifier(id: "MRN-7-renamed", assigningAuthority: "KTH")
        #expect(try await second.write(IngestBatch(observations: [observation(device: "dev-a-renamed", patient: renamed)])) == .stored(observations: 1))
        #expect(try count(reader, "SELECT count(*) FROM patients") == 2)
        #expect(try count(reader, "SELECT count(*) FROM devices") == 2)
    }

    @Test("after its connection is lost the writer resolves identifiers again: a database restored to before a patient existed never gets that patient's rows under an id it gave someone else")
    func identifiersAreResolvedAgainOnANewConnection() async throws {
        let url = try TestPostgres.migratedDatabase()
        let writer = try observationWriter(url, connections: 1)
        defer { writer.shutdown() }
        let alice = PatientIdentifier(id: "MRN-ALICE", assigningAuthority: "KTH")
        #expect(try await writer.write(IngestBatch(observations: [observation(device: "dev-a", patient: alice, seconds: 0)])) == .stored(observations: 1))
        let reader = try PostgresConnection(url: url)
        defer { reader.close() }
        // A restore to before Alice and her monitor existed (or a failover that lost their rows):
        // the ids the writer has cached go to Bob and another monitor, and every connection is cut.
        try reader.execute("TRUNCATE vital_signs, ingested_messages; TRUNCATE patients, devices RESTART IDENTITY CASCADE")
        try reader.execute("INSERT INTO patients (identifier, assigning_authority) VALUES ('MRN-BOB', 'KTH'); INSERT INTO devices (identifier) VALUES ('dev-b')")
        try reader.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()")

        // The first write after the cut fails (its sender resends it), and the writer reconnects.
        let later = IngestBatch(observations: [observation(device: "dev-a", patient: alice, seconds: 1)])
        try await waitUntil(timeout: .seconds(20), pollEvery: .milliseconds(50), "the batch stored on a new connection") {
            try await writer.write(later) == .stored(observations: 1)
        }
        let stored = try reader.execute("""
            SELECT p.identifier, d.identifier FROM vital_signs v JOIN patients p ON p.id = v.patient_id JOIN devices d ON d.id = v.device_id
            """).rows
        #expect(stored == [["MRN-ALICE", "dev-a"]])
    }

    @Test("a full identifier cache starts again between groups, never inside one: every row keeps its ids")
    func identifierCacheLimit() async throws {
        let url = try TestPostgres.migratedDatabase()
        var configuration = ObservationWriter.Configuration()
        configuration.connections = 1
        configuration.identifierCacheLimit = 2
        let writer = try ObservationWriter(url: url, configuration: configuration, logger: logger)
        defer { writer.shutdown() }
        func patient(_ number: Int) -> PatientIdentifier { PatientIdentifier(id: "CACHE-P\(number)", assigningAuthority: "KTH") }
        // Each batch names one cached identifier and one new one: a clear between encoding and
        // re-encoding would leave the cached one without an id.
        for step in 0..<6 {
            let batch = IngestBatch(observations: [
                observation(device: "cache-dev-\(step)", patient: patient(step), seconds: Int64(step * 2)),
                observation(device: "cache-dev-\(step + 1)", patient: patient(step + 1), seconds: Int64(step * 2 + 1)),
            ])
            #expect(try await writer.write(batch) == .stored(observations: 2))
        }
        let reader = try PostgresConnection(url: url)
        defer { reader.close() }
        #expect(try count(reader, "SELECT count(*) FROM vital_signs") == 12)
        #expect(try count(reader, """
            SELECT count(*) FROM vital_signs v JOIN patients p ON p.id = v.patient_id JOIN devices d ON d.id = v.device_id
            WHERE substr(p.identifier, 8) = substr(d.identifier, 11)
            """) == 12)
    }

    @Test("identifiers too long for an index row are refused up front, each for its own batch only, without their text")
    func overlongIdentifiersAreRefused() async throws {
        let url = try TestPostgres.migratedDatabase()
        let writer = try ObservationWriter(url: url, logger: logger)
        defer { writer.shutdown() }
        let reader = try PostgresConnection(url: url)
        defer { reader.close() }
        let held = try await HeldCommit(writer, url: url, reader: reader, blocker: IngestBatch(message: key("L-0"), observations: [observation()]))
        defer { held.close() }
        let limit = ObservationWriter.maximumIdentifierBytes
        // Random text does not compress below the B-tree's limit of about 2.7 kB a row: before the
        // check, PostgreSQL refused the whole commit with SQLSTATE 54000.
        var generator = SystemRandomNumberGenerator()
        let huge = String((0..<8_000).map { _ in Character(UnicodeScalar(UInt8.random(in: 33...126, using: &generator))) })
        let atLimit = String(repeating: "é", count: limit / 2)  // two bytes each: exactly the limit
        held.submit("good", IngestBatch(message: key("L-1"), observations: [observation(seconds: 1)]))
        held.submit("device", IngestBatch(message: key("L-2"), observations: [observation(seconds: 2), observation(device: huge, seconds: 3)]))
        held.submit("patient", IngestBatch(message: key("L-3"), observations: [observation(patient: PatientIdentifier(id: atLimit + "x"), seconds: 4)]))
        held.submit("authority", IngestBatch(message: key("L-4"), observations: [
            observation(patient: PatientIdentifier(id: "MRN-9", assigningAuthority: huge), seconds: 5),
        ]))
        held.submit("control id", IngestBatch(message: key(huge), observations: [observation(seconds: 6)]))
        held.submit("facility", IngestBatch(message: key("L-6", facility: huge), observations: [observation(seconds: 7)]))
        held.submit("at the limit", IngestBatch(message: key(atLimit), observations: [
            observation(device: atLimit, patient: PatientIdentifier(id: atLimit, assigningAuthority: atLimit), seconds: 8),
        ]))
        try held.release()
        let final = try await held.results(count: 8)
        #expect((try? final["good"]?.get()) == .stored(observations: 1))
        #expect((try? final["at the limit"]?.get()) == .stored(observations: 1))
        let expected = ["device": "observation 2: the device identifier is 8000 bytes", "patient": "observation 1: the patient identifier is \(limit + 1) bytes",
                        "authority": "assigning authority is 8000 bytes", "control id": "MSH-10 message control id is 8000 bytes",
                        "facility": "MSH-4 sending facility is 8000 bytes"]
        for (name, text) in expected {
            guard case .failure(let error)? = final[name] else {
                Issue.record("the over-long \(name) was not refused: \(String(describing: final[name]))")
                continue
            }
            #expect(error.isDataError && !error.isConnectionFailure)
            #expect(error.message.contains(text), "\(name): \(error.message)")
            #expect(error.message.contains("longer than the \(limit)"))
            #expect(!error.message.contains(String(huge.prefix(40))) && !error.message.contains(atLimit))
        }
        #expect(try count(reader, "SELECT count(*) FROM vital_signs") == 3)
        #expect(try count(reader, "SELECT count(*) FROM patients WHERE octet_length(identifier) = $1", ["\(limit)"]) == 1)
    }

    @Test("identifiers Swift calls equal but whose bytes differ (é composed and decomposed) are two patients, two devices and two messages")
    func identifiersAreComparedAsBytes() async throws {
        let url = try TestPostgres.migratedDatabase()
        let writer = try ObservationWriter(url: url, logger: logger)
        defer { writer.shutdown() }
        let reader = try PostgresConnection(url: url)
        defer { reader.close() }
        let composed = "JOS\u{00C9}-1", decomposed = "JOSE\u{0301}-1"
        #expect(composed == decomposed)  // what the writer must not rely on
        let held = try await HeldCommit(writer, url: url, reader: reader, blocker: IngestBatch(message: key("N-0"), observations: [observation()]))
        defer { held.close() }
        // One group: the caches, the group's sets and the key check all meet both spellings at once.
        held.submit("composed", IngestBatch(message: key(composed), observations: [
            observation(device: "DEV-" + composed, patient: PatientIdentifier(id: composed, assigningAuthority: "KTH"), seconds: 1),
        ]))
        held.submit("decomposed", IngestBatch(message: key(decomposed), observations: [
            observation(device: "DEV-" + decomposed, patient: PatientIdentifier(id: decomposed, assigningAuthority: "KTH"), seconds: 2),
        ]))
        try held.release()
        let final = try await held.results(count: 3)
        #expect((try? final["composed"]?.get()) == .stored(observations: 1))
        #expect((try? final["decomposed"]?.get()) == .stored(observations: 1))
        // Each row under its own patient and device, as the database tells them apart.
        for spelling in [composed, decomposed] {
            #expect(try count(reader, """
                SELECT count(*) FROM vital_signs v JOIN patients p ON p.id = v.patient_id JOIN devices d ON d.id = v.device_id
                WHERE p.identifier = $1 AND d.identifier = 'DEV-' || $1
                """, [spelling]) == 1, "\(spelling.unicodeScalars.map { String($0.value, radix: 16) })")
        }
        #expect(try count(reader, "SELECT count(*) FROM ingested_messages WHERE control_id IN ($1, $2)", [composed, decomposed]) == 2)
        // And a later batch finds each in the cache under its own bytes.
        #expect(try await writer.write(IngestBatch(observations: [
            observation(device: "DEV-" + decomposed, patient: PatientIdentifier(id: decomposed, assigningAuthority: "KTH"), seconds: 3),
        ])) == .stored(observations: 1))
        #expect(try count(reader, """
            SELECT count(*) FROM vital_signs v JOIN patients p ON p.id = v.patient_id WHERE p.identifier = $1
            """, [decomposed]) == 2)
    }

    @Test("many concurrent submitters: every row stored once, commits carry several batches")
    func concurrentSubmitters() async throws {
        let url = try TestPostgres.migratedDatabase()
        let writer = try ObservationWriter(url: url, logger: logger)
        defer { writer.shutdown() }
        let outcomes = try await withThrowingTaskGroup(of: WriteOutcome.self) { group in
            for task in 0..<8 {
                group.addTask {
                    var stored = 0
                    for message in 0..<50 {
                        let observations = (0..<5).map { index in
                            observation(device: "dev-\(task)", patient: PatientIdentifier(id: "P\(message % 7)"), seconds: Int64(message * 5 + index))
                        }
                        // Every message is sent twice, as a device might after a lost ACK.
                        let batch = IngestBatch(message: key("T\(task)-M\(message)"), observations: observations)
                        if case .stored(let n) = try await writer.write(batch) { stored += n }
                        if case .stored(let n) = try await writer.write(batch) { stored += n }
                    }
                    return .stored(observations: stored)
                }
            }
            return try await group.reduce(into: [WriteOutcome]()) { $0.append($1) }
        }
        #expect(outcomes.allSatisfy { $0 == .stored(observations: 250) })
        let reader = try PostgresConnection(url: url)
        defer { reader.close() }
        #expect(try count(reader, "SELECT count(*) FROM vital_signs") == 8 * 50 * 5)
        #expect(try count(reader, "SELECT count(*) FROM ingested_messages") == 8 * 50)
        #expect(try count(reader, "SELECT count(*) FROM patients") == 7)
        #expect(try count(reader, "SELECT count(*) FROM devices") == 8)
        // received_at is the transaction's now(): one value per commit, fewer than the messages.
        #expect(try count(reader, "SELECT count(DISTINCT received_at) FROM ingested_messages") < 8 * 50)
    }

    @Test("a batch PostgreSQL cannot store fails alone; the rest of its group is stored")
    func badBatchIsIsolated() async throws {
        let url = try TestPostgres.migratedDatabase()
        let writer = try ObservationWriter(url: url, logger: logger)
        defer { writer.shutdown() }
        let reader = try PostgresConnection(url: url)
        defer { reader.close() }
        // A constraint the server enforces (class 23) and a NUL byte the writer refuses up front.
        try reader.execute("ALTER TABLE vital_signs ADD CONSTRAINT plausible CHECK (value < 100000)")
        let held = try await HeldCommit(writer, url: url, reader: reader, blocker: IngestBatch(message: key("I-0"), observations: [observation()]))
        defer { held.close() }
        held.submit("good-1", IngestBatch(message: key("I-1"), observations: [observation(seconds: 1)]))
        held.submit("implausible", IngestBatch(message: key("I-2"), observations: [observation(seconds: 2), observation(seconds: 3, value: 1e9)]))
        held.submit("nul", IngestBatch(message: key("I-3"), observations: [observation(device: "dev\u{0}x", seconds: 4)]))
        // Past 15 bytes a String is stored out of line: the NUL must be found there too.
        held.submit("nul-long", IngestBatch(message: key("I-5"), observations: [
            observation(seconds: 6), observation(seconds: 7, location: "ICU West Wing^12^A\u{0}"),
        ]))
        held.submit("good-2", IngestBatch(message: key("I-4"), observations: [observation(seconds: 5)]))
        try held.release()

        let final = try await held.results(count: 6)
        #expect((try? final["good-1"]?.get()) == .stored(observations: 1))
        #expect((try? final["good-2"]?.get()) == .stored(observations: 1))
        guard case .failure(let checkError)? = final["implausible"], case .failure(let nulError)? = final["nul"] else {
            Issue.record("expected failures, got \(final)")
            return
        }
        #expect(checkError.sqlState == "23514")
        #expect(nulError.message.contains("NUL"))
        if case .failure(let longNULError)? = final["nul-long"] {
            #expect(longNULError.message.contains("observation 2") && longNULError.message.contains("NUL"))
        } else {
            Issue.record("a NUL in a long location was not refused: \(String(describing: final["nul-long"]))")
        }
        #expect(try count(reader, "SELECT count(*) FROM vital_signs") == 3)
        // The refused messages were not registered: a corrected retransmission is stored.
        #expect(try await writer.write(IngestBatch(message: key("I-2"), observations: [observation(seconds: 2)])) == .stored(observations: 1))
    }

    @Test("one bad batch in a group of 64 is found by halving the group: far fewer commits than one a batch")
    func aBadBatchIsFoundByHalving() async throws {
        let url = try TestPostgres.migratedDatabase()
        let writer = try ObservationWriter(url: url, logger: logger)
        defer { writer.shutdown() }
        let reader = try PostgresConnection(url: url)
        defer { reader.close() }
        // Every commit attempt inserts the group's keys in one statement; a sequence, which no
        // rollback undoes, counts the statements.
        try reader.execute("""
            ALTER TABLE vital_signs ADD CONSTRAINT plausible CHECK (value < 100000);
            CREATE SEQUENCE attempts;
            CREATE FUNCTION count_attempt() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN PERFORM nextval('attempts'); RETURN NULL; END $$;
            CREATE TRIGGER count_attempt BEFORE INSERT ON ingested_messages FOR EACH STATEMENT EXECUTE FUNCTION count_attempt();
            """)
        let held = try await HeldCommit(writer, url: url, reader: reader, blocker: IngestBatch(message: key("H-BLOCKER"), observations: [observation()]))
        defer { held.close() }
        for index in 0..<64 {
            held.submit("\(index)", IngestBatch(message: key("H-\(index)"), observations: [observation(seconds: Int64(index + 1), value: index == 37 ? 1e9 : 97)]))
        }
        try held.release()
        let results = try await held.results(count: 65)
        #expect(results.filter { if case .failure = $0.value { true } else { false } }.keys.sorted() == ["37"])
        #expect(try count(reader, "SELECT count(*) FROM vital_signs") == 64)
        // The blocker, the group, then two halves a level over six levels: 14 against 66.
        #expect(try count(reader, "SELECT last_value FROM attempts") <= 20)
    }

    @Test("a batch whose rows take more lock space than the server has (out of shared memory) fails alone, for a resend; the rest of its group is stored")
    func aBatchOutOfLockSpaceIsIsolated() async throws {
        let url = try TestPostgres.migratedDatabase()
        let writer = try ObservationWriter(url: url, logger: logger)
        defer { writer.shutdown() }
        let reader = try PostgresConnection(url: url)
        defer { reader.close() }
        // What a message whose rows fall on a thousand new chunks gets from TimescaleDB.
        try reader.execute("""
            CREATE FUNCTION spread_too_far() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                IF NEW.control_id LIKE 'SPREAD%' THEN
                    RAISE EXCEPTION 'out of shared memory' USING ERRCODE = 'out_of_memory', HINT = 'You might need to increase max_locks_per_transaction.';
                END IF;
                RETURN NEW;
            END $$;
            CREATE TRIGGER spread_too_far BEFORE INSERT ON ingested_messages FOR EACH ROW EXECUTE FUNCTION spread_too_far();
            """)
        let held = try await HeldCommit(writer, url: url, reader: reader, blocker: IngestBatch(message: key("L-0"), observations: [observation()]))
        defer { held.close() }
        held.submit("good-1", IngestBatch(message: key("L-1"), observations: [observation(seconds: 1)]))
        held.submit("spread", IngestBatch(message: key("SPREAD-1"), observations: [observation(seconds: 2)]))
        held.submit("good-2", IngestBatch(message: key("L-2"), observations: [observation(seconds: 3)]))
        try held.release()

        let final = try await held.results(count: 4)
        #expect((try? final["good-1"]?.get()) == .stored(observations: 1))
        #expect((try? final["good-2"]?.get()) == .stored(observations: 1))
        guard case .failure(let error)? = final["spread"] else {
            Issue.record("expected a failure, got \(String(describing: final["spread"]))")
            return
        }
        #expect(error.sqlState == "53200" && !error.isDataError, "\(error)")
        #expect(try count(reader, "SELECT count(*) FROM vital_signs") == 3)
    }

    @Test("a value that is not a finite number is refused for its data, and its batch stores nothing")
    func nonFiniteValuesAreRefused() async throws {
        let url = try TestPostgres.migratedDatabase()
        let writer = try ObservationWriter(url: url, logger: logger)
        defer { writer.shutdown() }
        for (index, value) in [Double.nan, .infinity, -.infinity].enumerated() {
            let batch = IngestBatch(message: key("NF-\(index)"), observations: [observation(seconds: 1), observation(seconds: 2, value: value)])
            do {
                let outcome = try await writer.write(batch)
                Issue.record("\(value) was stored: \(outcome)")
            } catch {
                #expect(error.isDataError)
                #expect(error.message.contains("observation 2") && error.message.contains("finite"))
            }
        }
        let reader = try PostgresConnection(url: url)
        defer { reader.close() }
        #expect(try count(reader, "SELECT count(*) FROM vital_signs") == 0)
    }

    @Test("shutdown finishes what was submitted; later submissions fail clearly")
    func shutdown() async throws {
        let url = try TestPostgres.migratedDatabase()
        let writer = try ObservationWriter(url: url, logger: logger)
        let completed = Atomic<Int>(0)
        for index in 0..<100 {
            writer.submit(IngestBatch(message: key("S-\(index)"), observations: [observation(seconds: Int64(index))])) { result in
                if case .success(.stored) = result { completed.add(1, ordering: .relaxed) }
            }
        }
        writer.shutdown()
        #expect(completed.load(ordering: .relaxed) == 100)
        writer.shutdown()  // idempotent
        let error = await #expect(throws: PostgresError.self) {
            _ = try await writer.write(IngestBatch(observations: [observation()]))
        }
        #expect(error?.message.contains("shut down") == true)
        let reader = try PostgresConnection(url: url)
        defer { reader.close() }
        #expect(try count(reader, "SELECT count(*) FROM vital_signs") == 100)
    }

    @Test("an id sequence behind its table (a data-only restore) fails the message for a resend, not as bad data; the resend is stored")
    func aSequenceBehindItsTableIsNotTheMessagesFault() async throws {
        let url = try TestPostgres.migratedDatabase()
        let reader = try PostgresConnection(url: url)
        defer { reader.close() }
        // The next id the sequence gives is taken already.
        try reader.execute("INSERT INTO patients (id, identifier) VALUES (1000, 'RESTORED-1')")
        try reader.execute("SELECT setval('patients_id_seq', 999)")
        let writer = try ObservationWriter(url: url, logger: logger)
        defer { writer.shutdown() }
        let batch = IngestBatch(message: key("SEQ-1"), observations: [observation(patient: PatientIdentifier(id: "NEW-1"))])
        let error = await #expect(throws: PostgresError.self) { _ = try await writer.write(batch) }
        #expect(error?.isDataError == false && error?.isConnectionFailure == false, "\(String(describing: error))")
        #expect(try await writer.write(batch) == .stored(observations: 1))
        #expect(try count(reader, "SELECT count(*) FROM vital_signs") == 1)
    }

    @Test("a commit held by another session's lock past the statement timeout fails for a resend (not as bad data), and the resend is stored")
    func aCommitStuckBehindALockTimesOut() async throws {
        let url = try TestPostgres.migratedDatabase()
        var configuration = ObservationWriter.Configuration()
        configuration.statementTimeout = .seconds(1)
        let writer = try ObservationWriter(url: url, configuration: configuration, logger: logger)
        defer { writer.shutdown() }
        let locker = try PostgresConnection(url: url)
        defer { locker.close() }
        _ = try locker.execute("BEGIN; LOCK TABLE ingested_messages IN ACCESS EXCLUSIVE MODE")
        let batch = IngestBatch(message: key("LOCKED-1"), observations: [observation()])
        let outcome = Mutex<Result<WriteOutcome, PostgresError>?>(nil)
        writer.submit(batch) { result in outcome.withLock { $0 = result } }
        try await waitUntil(timeout: .seconds(20), "the held commit answered") { outcome.withLock { $0 != nil } }
        _ = try locker.execute("ROLLBACK")
        guard case .failure(let error) = try #require(outcome.withLock { $0 }) else {
            Issue.record("stored while the table was locked")
            return
        }
        #expect(error.sqlState == "57014" && !error.isDataError && !error.isConnectionFailure, "\(error)")
        #expect(try await writer.write(batch) == .stored(observations: 1))
    }

    @Test("while no writer reaches the database, everything queued is answered at the first failed reconnect, not a group per attempt")
    func anOutageAnswersTheWholeQueueAtOnce() async throws {
        let cluster = try TestPostgres.privateCluster(port: freeTCPPort())
        let url = try cluster.start(database: "vitals")
        defer { try? cluster.stop() }
        try TestPostgres.migrate(url)
        let logs = LogRecorder()
        var configuration = ObservationWriter.Configuration()
        configuration.connections = 1
        configuration.maxBatchRows = 1  // a group a batch
        // Long enough that a loaded machine does not reach the next attempt between a failed
        // one and the group it lets through; without the fix, 20 attempts outlast the wait.
        configuration.reconnectDelay = .seconds(2)
        configuration.maxReconnectDelay = .seconds(2)
        let writer = try ObservationWriter(url: url, configuration: configuration, logger: Logger(label: "writer") { _ in logs.handler() })
        defer { writer.shutdown() }
        // The writer waits on a lock while 20 groups queue behind it; then the database goes.
        let reader = try PostgresConnection(url: url)
        defer { reader.close() }
        let held = try await HeldCommit(writer, url: url, reader: reader, blocker: IngestBatch(message: key("OUT-BLOCKER"), observations: [observation()]))
        defer { held.close() }
        for index in 0..<20 {
            held.submit("\(index)", IngestBatch(message: key("OUT-\(index)"), observations: [observation(seconds: Int64(index + 1))]))
        }
        // At once: in a fast shutdown the lock holder's backend can end first, and the writer's,
        // granted the lock before its own signal arrives, commit the held group.
        try cluster.stop(immediately: true)
        let results = try await held.results(count: 21)
        #expect(results.values.allSatisfy { if case .failure = $0 { true } else { false } })
        // The held group found its connection gone; one reconnect attempt failed, and answered the rest.
        let attempts = logs.all.count { $0.message.hasPrefix("observation writer cannot reach the database") }
        #expect(attempts <= 1, "\(attempts) reconnect attempts to answer 20 groups")
    }

    @Test("the writer refuses to start when the database cannot be reached")
    func unreachable() throws {
        #expect(throws: PostgresError.self) {
            _ = try ObservationWriter(url: "postgresql://postgres@127.0.0.1:\(freeTCPPort())/postgres", logger: logger)
        }
    }
}
