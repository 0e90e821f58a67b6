import Foundation
import Storage
import TestSupport
import Testing

@Suite("DevicePresenceRecorder")
struct DevicePresenceRecorderTests {
    @Test("one row per device holding its latest state; an older state never overwrites a newer one")
    func keepsTheLatestStatePerDevice() async throws {
        let url = try TestPostgres.migratedDatabase()
        let recorder = DevicePresenceRecorder(url: url, logger: TestPostgres.logger)
        defer { recorder.shutdown() }
        let now = Date()
        recorder.record(DevicePresence(device: "GW1", status: .online, source: "devices/GW1/status", changedAt: now))
        recorder.record(DevicePresence(device: "GW1", status: .offline, source: "devices/GW1/status", changedAt: now.addingTimeInterval(1)))
        recorder.record(DevicePresence(device: "GW2", status: .online, source: "devices/GW2/status", changedAt: now))

        let reader = try PostgresConnection(url: url)
        defer { reader.close() }
        try await waitUntil(timeout: .seconds(20), "both devices stored") {
            try reader.execute("SELECT count(*) FROM device_presence").scalar == "2"
        }
        try await waitUntil(timeout: .seconds(20), "GW1 offline") {
            try reader.execute("SELECT status FROM device_presence WHERE device_identifier = 'GW1'").scalar == "offline"
        }
        // A late replay of the older state changes nothing.
        recorder.record(DevicePresence(device: "GW1", status: .online, source: "devices/GW1/status", changedAt: now))
        recorder.record(DevicePresence(device: "GW3", status: .online, source: "devices/GW3/status", changedAt: now))
        try await waitUntil(timeout: .seconds(20), "GW3 stored") {
            try reader.execute("SELECT count(*) FROM device_presence").scalar == "3"
        }
        #expect(try reader.execute("SELECT status FROM device_presence WHERE device_identifier = 'GW1'").scalar == "offline")
    }
}
