import Foundation
import Ingest
import Storage
import Pipeline
import Synchronization
import Testing
import TestSupport
import VitalSigns

@Suite("Ingest pipeline backpressure")
struct IngestPipelineTests {
    /// A source publishes faster than the alert stage takes entries from a ring of two slots, so
    /// most of its entries find the ring full. The alert stage must still see them in the order
    /// they were submitted: a device's values judged out of order can clear an alarm that its
    /// later value raised.
    @Test("entries that find the ring full keep their order: none overtakes an earlier one")
    func backlogKeepsSubmissionOrder() async throws {
        let url = try TestPostgres.database()
        let connection = try PostgresConnection(url: url)
        _ = try Migrator(directory: repositoryRoot.appendingPathComponent("timescale").path, logger: TestPostgres.logger).migrate(connection)
        connection.close()
        let writer = try ObservationWriter(url: url, logger: TestPostgres.logger)
        defer { writer.shutdown() }

        let seen = Locked<[Int]>([])
        var configuration = IngestPipeline.Configuration()
        configuration.capacity = 2
        let pipeline = IngestPipeline(configuration: configuration, profiles: DeviceProfileCatalog(profiles: []), writer: writer) { entry, alertsStored in
            defer { alertsStored(true) }
            guard entry.tick == nil, let first = entry.batch.observations.first else { return }
            seen.withLock { $0.append(Int(first.value)) }
        }
        defer { pipeline.shutdown() }

        let count = 3_000
        let stored = Atomic<Int>(0)
        let failures = Locked<[String]>([])
        for number in 0..<count {
            let row = Observation(
                time: Timestamp(microsecondsSinceEpoch: 1_772_352_000_000_000 + Int64(number) * 1_000_000),
                patient: PatientIdentifier(id: "MRN-ORDER", assigningAuthority: "KTH"), deviceID: "0012A1FFFE00ABCD",
                kind: .heartRate, code: ObservationCode(code: "147842", system: "MDC"), value: Double(number), unit: .beatsPerMinute
            )
            pipeline.submit(IngestBatch(observations: [row])) { result in
                switch result {
                case .success: stored.add(1, ordering: .relaxed)
                case .failure(let error): failures.withLock { $0.append("\(number): \(error)") }
                }
            }
        }
        try await waitUntil(timeout: .seconds(60), "every entry stored") {
            stored.load(ordering: .relaxed) + failures.withLock(\.count) == count
        }
        #expect(failures.withLock { $0 }.isEmpty)
        #expect(pipeline.fullRejections > 0, "the ring never filled: the test did not exercise the backlog")
        let order = seen.withLock { $0 }
        let firstOvertaken = zip(order, order.dropFirst()).first(where: { $0.0 > $0.1 })
        #expect(order.count == count)
        #expect(firstOvertaken == nil, "entry \(firstOvertaken.map { "\($0.1)" } ?? "") reached the alert stage after \(firstOvertaken.map { "\($0.0)" } ?? "")")
    }

    /// The alert stage holds the answer for values of 100 and more, as the hub does until it has
    /// stored the alert they raise. One writer connection commits in submission order, so when
    /// the later message's completion has come, the held message's rows are committed too.
    @Test("a message whose values raise an alert completes only once the alert is stored, and fails when it will not be")
    func completionWaitsForTheAlert() async throws {
        let url = try TestPostgres.migratedDatabase()
        var writing = ObservationWriter.Configuration()
        writing.connections = 1
        let writer = try ObservationWriter(url: url, configuration: writing, logger: TestPostgres.logger)
        defer { writer.shutdown() }
        let held = Locked<[Double: @Sendable (Bool) -> Void]>([:])
        let pipeline = IngestPipeline(profiles: DeviceProfileCatalog(profiles: []), writer: writer) { entry, alertsStored in
            guard let value = entry.batch.observations.first?.value, value >= 100 else { return alertsStored(true) }
            held.withLock { $0[value] = alertsStored }
        }
        defer { pipeline.shutdown() }
        let results = Locked<[Double: Result<WriteOutcome, PostgresError>]>([:])
        func submit(_ value: Double) {
            let row = Observation(
                time: Timestamp(microsecondsSinceEpoch: 1_772_352_000_000_000 + Int64(value) * 1_000_000),
                patient: PatientIdentifier(id: "MRN-HELD", assigningAuthority: "KTH"), deviceID: "0012A1FFFE00HELD",
                kind: .heartRate, code: ObservationCode(code: "147842", system: "MDC"), value: value, unit: .beatsPerMinute
            )
            let key = MessageKey(sendingApplication: "MON", sendingFacility: "ICU", controlID: "HELD-\(Int(value))")
            pipeline.submit(IngestBatch(message: key, observations: [row])) { result in results.withLock { $0[value] = result } }
        }
        let reader = try PostgresConnection(url: url)
        defer { reader.close() }
        func storedRows() throws -> String? { try reader.execute("SELECT count(*) FROM vital_signs").scalar }

        submit(100)
        submit(1)
        try await waitUntil(timeout: .seconds(30), "the message behind it completed") { results.withLock { $0[1] } != nil }
        #expect(try storedRows() == "2")
        #expect(results.withLock { $0[100] } == nil, "acknowledged before its alert was stored")
        let settle100 = try #require(held.withLock { $0[100] })
        settle100(true)
        try await waitUntil(timeout: .seconds(10), "completed once its alert is stored") { results.withLock { $0[100] } != nil }
        #expect(try results.withLock { $0[100] }?.get() == .stored(observations: 1))

        // The hub stopped before storing the alert: the rows are durable, but the sender must
        // resend, so that the rules judge the values again.
        submit(101)
        submit(2)
        try await waitUntil(timeout: .seconds(30), "the message behind it completed") { results.withLock { $0[2] } != nil }
        let settle101 = try #require(held.withLock { $0[101] })
        settle101(false)
        try await waitUntil(timeout: .seconds(10), "completed once the hub gave up") { results.withLock { $0[101] } != nil }
        guard case .failure(let error)? = results.withLock({ $0[101] }) else {
            Issue.record("acknowledged although its alert was not stored")
            return
        }
        #expect(error.message.contains("alert hub stopped before storing"))
        #expect(!error.isDataError, "a data error would tell the sender not to resend")
        #expect(try storedRows() == "4")
    }
}
