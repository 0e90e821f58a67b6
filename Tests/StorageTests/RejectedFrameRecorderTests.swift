import Foundation
import Logging
import Storage
import Synchronization
import TestSupport
import Testing

@Suite("RejectedFrameRecorder")
struct RejectedFrameRecorderTests {
    @Test("frames are kept whole: raw bytes (NUL and 0xFF included), reason, origin, device or none")
    func keepsFramesWhole() async throws {
        let url = try TestPostgres.migratedDatabase()
        let recorder = RejectedFrameRecorder(url: url, logger: TestPostgres.logger)
        defer { recorder.shutdown() }
        let binary: [UInt8] = [0x01, 0x00, 0xFF, 0x7F, 0x0D]
        recorder.record(RejectedFrame(source: "serial", origin: "/dev/ttyUSB0", device: "NONIN-1", reason: "bad_checksum", detail: "checksum 0x12 expected 0x34", raw: binary))
        recorder.record(RejectedFrame(source: "mqtt", origin: "devices/x/vitals", device: nil, reason: "invalid_json", detail: "unexpected \u{0} byte", raw: Array("{oops".utf8)))
        // A NUL in the topic or the device id (from a payload) too, and the frame after it.
        recorder.record(RejectedFrame(source: "mqtt", origin: "devices/a\u{0}b/vitals", device: "a\u{0}b", reason: "storage_refused", detail: "-", raw: [0x00]))
        recorder.record(RejectedFrame(source: "mqtt", origin: "devices/y/vitals", device: "y", reason: "invalid_json", detail: "-", raw: []))

        let reader = try PostgresConnection(url: url)
        defer { reader.close() }
        try await waitUntil(timeout: .seconds(20), "every frame stored") {
            try reader.execute("SELECT count(*) FROM rejected_frames").scalar == "4"
        }
        let rows = try reader.execute("SELECT source, origin, device, reason, detail, encode(raw, 'hex') FROM rejected_frames ORDER BY id").rows
        #expect(rows == [
            ["serial", "/dev/ttyUSB0", "NONIN-1", "bad_checksum", "checksum 0x12 expected 0x34", "0100ff7f0d"],
            ["mqtt", "devices/x/vitals", nil, "invalid_json", "unexpected \\0 byte", "7b6f6f7073"],
            ["mqtt", "devices/a\\0b/vitals", "a\\0b", "storage_refused", "-", "00"],
            ["mqtt", "devices/y/vitals", "y", "invalid_json", "-", ""],
        ])
    }

    @Test("a huge frame keeps its first 16 KiB, and says how long it was")
    func aHugeFrameKeepsItsStart() async throws {
        let url = try TestPostgres.migratedDatabase()
        let recorder = RejectedFrameRecorder(url: url, logger: TestPostgres.logger)
        defer { recorder.shutdown() }
        recorder.record(RejectedFrame(source: "mqtt", origin: "devices/x/vitals", device: "x", reason: "invalid_json", detail: "not JSON",
                                      raw: [UInt8](repeating: 0x41, count: 1_000_000)))
        let reader = try PostgresConnection(url: url)
        defer { reader.close() }
        try await waitUntil(timeout: .seconds(20), "the frame stored") { try reader.execute("SELECT count(*) FROM rejected_frames").scalar == "1" }
        let row = try reader.execute("SELECT length(raw), detail FROM rejected_frames").rows.first
        #expect(row == ["16384", "not JSON (the first 16384 of 1000000 bytes kept)"])
    }

    @Test("maintenance forgets rejected frames older than their retention")
    func oldFramesArePruned() throws {
        let url = try TestPostgres.migratedDatabase()
        let connection = try PostgresConnection(url: url)
        defer { connection.close() }
        try connection.execute("""
            INSERT INTO rejected_frames (received_at, source, origin, reason, detail, raw)
            VALUES (now() - interval '31 days', 'serial', '/dev/ttyUSB0', 'bad_checksum', '-', '\\\\x00'),
                   (now() - interval '29 days', 'serial', '/dev/ttyUSB0', 'bad_checksum', '-', '\\\\x00')
            """)
        let report = try StorageMaintenance(logger: TestPostgres.logger).run(on: connection)
        #expect(report.rejectedFramesPruned == 1)
        #expect(try connection.execute("SELECT count(*) FROM rejected_frames").scalar == "1")
    }

    @Test("a frame the database refuses is dropped alone: the frames queued with it and after it are stored")
    func aRefusedFrameIsDroppedAlone() async throws {
        let url = try TestPostgres.migratedDatabase()
        let recorder = RejectedFrameRecorder(url: url, logger: TestPostgres.logger)
        defer { recorder.shutdown() }
        func frame(_ reason: String, at time: Date = Date()) -> RejectedFrame {
            RejectedFrame(source: "serial", origin: "/dev/ttyUSB0", device: nil, reason: reason, detail: "-", raw: [0x01], receivedAt: time)
        }
        recorder.record(frame("first"))
        // The year 318,857: no timestamptz holds it, so the database refuses it for its data.
        recorder.record(frame("refused", at: Date(timeIntervalSince1970: 1e13)))
        recorder.record(frame("last"))

        let reader = try PostgresConnection(url: url)
        defer { reader.close() }
        try await waitUntil(timeout: .seconds(20), "the other frames stored") {
            try reader.execute("SELECT count(*) FROM rejected_frames").scalar == "2"
        }
        #expect(try reader.execute("SELECT reason FROM rejected_frames ORDER BY id").rows == [["first"], ["last"]])
        #expect(recorder.pending == 0)
    }

    @Test("frames a database cannot take at all (a column missing, a grant not given) are dropped and logged, and whoever waits for them is told")
    func framesTheDatabaseCannotTakeAreDropped() async throws {
        let url = try TestPostgres.migratedDatabase()
        let admin = try PostgresConnection(url: url)
        defer { admin.close() }
        try admin.execute("ALTER TABLE rejected_frames RENAME COLUMN detail TO detail_elsewhere")
        let log = LogRecorder()
        let recorder = RejectedFrameRecorder(url: url, logger: Logger(label: "test") { _ in log.handler() })
        defer { recorder.shutdown() }
        let told = Mutex(0)
        for _ in 0..<3 {
            recorder.record(RejectedFrame(source: "mqtt", origin: "devices/x/vitals", device: "x", reason: "invalid_json", detail: "-", raw: [1])) {
                told.withLock { $0 += 1 }
            }
        }
        try await waitUntil(timeout: .seconds(20), "every waiter told") { told.withLock { $0 } == 3 }
        #expect(recorder.pending == 0)
        #expect(log.all.contains { $0.level == .error && $0.message == "rejected frames cannot be written to the database, dropped" })
    }

    @Test("frames queued while the database is unreachable are stored once it is back")
    func survivesOutage() async throws {
        let cluster = try TestPostgres.privateCluster(port: freeTCPPort())
        let url = try cluster.start(database: "vitals")
        defer { try? cluster.stop() }
        try TestPostgres.migrate(url)
        try cluster.stop()
        let recorder = RejectedFrameRecorder(url: url, logger: TestPostgres.logger)
        defer { recorder.shutdown() }
        for index in 0..<3 {
            recorder.record(RejectedFrame(source: "serial", origin: "/dev/ttyS\(index)", device: nil, reason: "garbage", detail: "no frame sync", raw: [UInt8(index)]))
        }
        #expect(recorder.pending == 3)
        _ = try cluster.start(database: "vitals")
        let reader = try PostgresConnection(url: url)
        defer { reader.close() }
        try await waitUntil(timeout: .seconds(30), "queued frames stored after the outage") {
            try reader.execute("SELECT count(*) FROM rejected_frames").scalar == "3"
        }
        #expect(recorder.pending == 0)
    }
}
