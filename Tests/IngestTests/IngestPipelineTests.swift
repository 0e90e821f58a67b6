import Foundation
import Ingest
import Storage
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

        let seen = Mutex<[Int]>([])
        var configuration = IngestPipeline.Configuration()
        configuration.capacity = 2
        let pipeline = IngestPipeline(configuration: configuration, profiles: DeviceProfileCatalog(profiles: []), writer: writer) { entry in
            guard entry.tick == nil, let first = entry.batch.observations.first else { return }
            seen.withLock { $0.append(Int(first.value)) }
        }
        defer { pipeline.shutdown() }

        let count = 3_000
        let stored = Atomic<Int>(0)
        let failures = Mutex<[String]>([])
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
}
