@testable import Alerts
import Foundation
import Storage
import TestSupport
import Testing
@testable import VitalSigns

/// The NEWS2 inputs read back at a start are the ones the evaluator would have kept.
@Suite struct StoredReadingsTests {
    let patient = PatientIdentifier(id: "RESTORE-1", assigningAuthority: "KTH")

    func systolic(_ value: Double, from device: String, secondsAgo: Double) -> Observation {
        Observation(
            time: Timestamp(secondsSinceEpoch: Date().timeIntervalSince1970 - secondsAgo), patient: patient, deviceID: device,
            location: "ICU^1^A", kind: .nibpSystolic, code: ObservationCode(code: "x", system: "MDC"), value: value, unit: VitalKind.nibpSystolic.canonicalUnit
        )
    }

    @Test("a backlog a monitor resent after its newer measurement does not stand for it; each device's latest is read back, with when it was heard")
    func aLateBacklogDoesNotReplaceTheNewestReading() async throws {
        let url = try TestPostgres.migratedDatabase()
        let writer = try ObservationWriter(url: url, logger: TestPostgres.logger)
        defer { writer.shutdown() }
        // One commit each, so each is received (stored) later than the one before: another
        // monitor's reading, then DEV-A's, then a backlog DEV-A resent after a reconnect.
        _ = try await writer.write(IngestBatch(observations: [systolic(104, from: "DEV-B", secondsAgo: 1_200)]))
        _ = try await writer.write(IngestBatch(observations: [systolic(88, from: "DEV-A", secondsAgo: 60)]))
        _ = try await writer.write(IngestBatch(observations: [systolic(132, from: "DEV-A", secondsAgo: 900)]))

        let readings = try StoredReadings(url: url).latest(of: [patient], kinds: [.nibpSystolic], within: .seconds(3_600))
        let byDevice = Dictionary(uniqueKeysWithValues: readings.map { ($0.observation.deviceID, $0) })
        #expect(byDevice.mapValues(\.observation.value) == ["DEV-A": 88, "DEV-B": 104])
        let heardA = try #require(byDevice["DEV-A"]).receivedAt, heardB = try #require(byDevice["DEV-B"]).receivedAt
        #expect(heardB < heardA)

        // Restored, DEV-A's newest stands, as it did live: heard after DEV-B's, and newer on
        // DEV-A's clock than its backlog.
        var evaluator = AlertEvaluator(rules: .standard)
        for reading in readings { evaluator.restoreNEWS2Reading(reading.observation, heardAt: reading.receivedAt) }
        #expect(evaluator.news2Readings[.patient(patient)]?.systolic?.value == 88)
    }
}
