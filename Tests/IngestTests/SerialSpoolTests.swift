@testable import Ingest
import Testing
import VitalSigns

/// The port's spool on its own: order, the bound, and what waits.
@Suite struct SerialSpoolTests {
    func batch(_ values: [Double], conditions: Int = 0) -> SerialSpool.Batch {
        let time = Timestamp(microsecondsSinceEpoch: 1_796_000_000_000_000)
        return SerialSpool.Batch(
            observations: values.map { Observation(time: time, patient: nil, deviceID: "D", kind: .spo2, code: ObservationCode(code: "x", system: "MDC"), value: $0, unit: .percent) },
            conditions: (0..<conditions).map { _ in DeviceCondition(time: time, deviceID: "D", patient: nil, location: nil, kind: .spo2, status: .sensorOff) }
        )
    }

    @Test("batches go out in the order read; a waiting one is marked seen by the rules; device conditions alone never wait")
    func orderAndWhatWaits() {
        let spool = SerialSpool(maxInFlight: 1, maxWaitingObservations: 100)
        let first = spool.add(batch([1]))
        #expect(first.submit?.observations.map(\.value) == [1] && !first.waits)
        let second = spool.add(batch([2]))
        #expect(second.submit == nil && second.waits)
        // Only conditions, while the port waits for the database: for the rules, not the spool.
        let conditionsOnly = spool.add(batch([], conditions: 1))
        #expect(conditionsOnly.submit == nil && conditionsOnly.waits && spool.waitingCount == 1)
        let next = spool.finished()
        #expect(next?.observations.map(\.value) == [2] && next?.evaluated == true)
        #expect(spool.finished() == nil && spool.waitingCount == 0)
    }
}
