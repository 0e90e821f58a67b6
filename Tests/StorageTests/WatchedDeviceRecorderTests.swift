import Foundation
import Storage
import TestSupport
import Testing
import VitalSigns

@Suite("WatchedDeviceRecorder")
struct WatchedDeviceRecorderTests {
    let now = Timestamp(secondsSinceEpoch: Date().timeIntervalSince1970)

    func watched(_ device: String, heardSecondsAgo: Double, silent: Bool = false, patient: PatientIdentifier? = nil) -> WatchedDevice {
        WatchedDevice(
            deviceID: device, lastHeard: now.advanced(by: .microseconds(Int64(-heardSecondsAgo * 1_000_000))), allowedSilence: .milliseconds(30_500),
            patient: patient, location: patient == nil ? nil : "ICU^3^B", isSilent: silent
        )
    }

    @Test("a facility's devices come back as last recorded, without other facilities' and without those not heard for a week")
    func roundTrip() async throws {
        let url = try TestPostgres.migratedDatabase()
        let kth = WatchedDeviceRecorder(url: url, facility: "KTH", logger: TestPostgres.logger)
        let omdurman = WatchedDeviceRecorder(url: url, facility: "OMD", logger: TestPostgres.logger)
        defer { kth.shutdown(); omdurman.shutdown() }
        let patient = PatientIdentifier(id: "MRN-7", assigningAuthority: "KTH")
        kth.record(watched("DEV-A", heardSecondsAgo: 60, patient: patient))
        kth.record(watched("DEV-B", heardSecondsAgo: 8 * 86_400))
        kth.record(watched("DEV-A", heardSecondsAgo: 5, silent: true, patient: patient))  // a later state of DEV-A
        kth.record(watched("DEV-C", heardSecondsAgo: 1))
        omdurman.record(watched("DEV-OMD", heardSecondsAgo: 1))

        let reader = try PostgresConnection(url: url)
        defer { reader.close() }
        try await waitUntil(timeout: .seconds(20), "every state stored") {
            try reader.execute("SELECT count(*) FROM watched_devices").scalar == "4"
                && reader.execute("SELECT is_silent FROM watched_devices WHERE device_identifier = 'DEV-A'").scalar == "t"
        }
        let loaded = try WatchedDeviceRecorder.load(url: url, facility: "KTH", heardWithin: .seconds(7 * 86_400))
        #expect(loaded == [watched("DEV-A", heardSecondsAgo: 5, silent: true, patient: patient), watched("DEV-C", heardSecondsAgo: 1)])
    }

    @Test("shutdown returns once what was queued is written: a process that exits next loses none of it")
    func shutdownWritesWhatIsQueued() throws {
        let url = try TestPostgres.migratedDatabase()
        let recorder = WatchedDeviceRecorder(url: url, facility: "KTH", logger: TestPostgres.logger)
        for index in 0..<20_000 { recorder.record(watched("DEV-\(index)", heardSecondsAgo: 1)) }
        recorder.shutdown()
        let connection = try PostgresConnection(url: url)
        defer { connection.close() }
        #expect(try connection.execute("SELECT count(*) FROM watched_devices").scalar == "20000")
        recorder.shutdown()  // again: returns at once
    }

    @Test("maintenance forgets devices not heard for 30 days")
    func maintenancePrunes() async throws {
        let url = try TestPostgres.migratedDatabase()
        let recorder = WatchedDeviceRecorder(url: url, facility: "KTH", logger: TestPostgres.logger)
        defer { recorder.shutdown() }
        recorder.record(watched("DEV-RETIRED", heardSecondsAgo: 31 * 86_400))
        recorder.record(watched("DEV-IN-USE", heardSecondsAgo: 29 * 86_400))
        let connection = try PostgresConnection(url: url)
        defer { connection.close() }
        try await waitUntil(timeout: .seconds(20), "both stored") { try connection.execute("SELECT count(*) FROM watched_devices").scalar == "2" }
        let report = try StorageMaintenance(logger: TestPostgres.logger).run(on: connection)
        #expect(report.watchedDevicesPruned == 1)
        #expect(try connection.execute("SELECT device_identifier FROM watched_devices").rows == [["DEV-IN-USE"]])
    }
}
