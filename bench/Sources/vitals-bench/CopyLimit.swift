import Decoders
import DeviceSimulator
import Foundation
import HL7v2
import Storage
import VitalSigns

/// The limit the end-to-end figure is held against: the same number of rows, encoded with
/// BinaryCopyWriter exactly as the ObservationWriter encodes them, loaded by psql's `\copy ...
/// (FORMAT binary)` in one transaction into a fresh database migrated the same way.
struct CopyLimit {

    let cluster: BenchCluster
    let decoder: PCD01Decoder
    let mode: StorageMode

    struct Outcome {
        var rows: Int
        var bytes: Int
        var seconds: Double
        var cpu: [String]
        var rowsPerSecond: Double { Double(rows) / seconds }
    }

    /// `rows` rows from `senders` simulated monitors whose reports span `span` seconds from now.
    func run(rows: Int, senders: Int, span: Double) throws -> Outcome {
        try load(Self.encode(rows: rows, senders: senders, span: span, decoder: decoder), rows: rows)
    }

    /// Loads `bytes` (a binary COPY file of `rows` rows) into a fresh database and times it.
    func load(_ bytes: [UInt8], rows: Int) throws -> Outcome {
        let database = "bench_copy"
        _ = try cluster.migratedDatabase(database, mode: mode)
        guard let psql = findExecutable("psql", extra: ["/usr/lib/postgresql/15/bin"]) else { throw BenchError("psql is not on PATH") }

        let file = cluster.folder + "/vital_signs.copy"
        guard FileManager.default.createFile(atPath: file, contents: Data(bytes)) else { throw BenchError("cannot write \(file)") }
        defer { try? FileManager.default.removeItem(atPath: file) }

        try cluster.checkpoint()
        let command = "\\copy vital_signs (\(VitalSignsRow.columns)) FROM '\(file)' WITH (FORMAT binary)"
        let postmaster = cluster.postmasterPID
        let cpuBefore = CPUSnapshot.take(postmasterPID: postmaster)
        var cpuSeen = cpuBefore
        let clock = ContinuousClock()
        let started = clock.now
        let result = try runCommand(psql, ["-X", "-v", "ON_ERROR_STOP=1", "-d", cluster.localURL(database: database), "-c", command]) { pid in
            cpuSeen.absorb(CPUSnapshot.take(postmasterPID: postmaster, children: [pid: "psql"]))
        }
        let seconds = BenchTime.seconds(started.duration(to: clock.now))
        cpuSeen.absorb(CPUSnapshot.take(postmasterPID: postmaster))
        guard result.status == 0 else { throw BenchError("psql \\copy failed (status \(result.status)): \(result.errors)") }
        let loaded = try cluster.count("vital_signs", database: database)
        guard loaded == rows else { throw BenchError("psql \\copy loaded \(loaded) rows, expected \(rows)") }
        return Outcome(rows: rows, bytes: bytes.count, seconds: seconds, cpu: cpuSeen.report(since: cpuBefore, wall: seconds))
    }

    /// Rows as the engine would store them: decoded simulated reports, patient and device ids
    /// 1…senders (the surrogate keys the writer would have resolved), field by field as
    /// the writer lays them out (`VitalSignsRow`).
    static func encode(rows: Int, senders: Int, span: Double, decoder: PCD01Decoder) throws -> [UInt8] {
        var copy = BinaryCopyWriter(reservingCapacity: rows * 120)
        var monitors = (0..<senders).map { SimulatedMonitor(index: 100_000 + $0) }
        let reportsPerMonitor = rows / (12 * max(1, senders)) + 1
        let start = Int64(Date().timeIntervalSince1970 * 1000)
        let step = max(1, Int64(span * 1000) / Int64(reportsPerMonitor))
        var written = 0
        var report = 0
        while written < rows {
            for ordinal in 0..<senders where written < rows {
                let time = Timestamp(microsecondsSinceEpoch: (start + Int64(report) * step) * 1000)
                let message = try HL7Message(parsing: monitors[ordinal].nextReport(at: time).bytes)
                for observation in try decoder.decode(message).observations where written < rows {
                    VitalSignsRow.append(observation, patientID: Int64(ordinal + 1), deviceID: Int32(ordinal + 1), to: &copy)
                    written += 1
                }
            }
            report += 1
        }
        return copy.finish()
    }

    /// `observations` as the writer would lay them out, each device its own surrogate id
    /// (and patient id: the rows carry none, so the engine stores them without a patient).
    static func encode(_ observations: [Observation]) -> [UInt8] {
        var copy = BinaryCopyWriter(reservingCapacity: observations.count * 120)
        var ids: [String: Int32] = [:]
        for observation in observations {
            let id = ids[observation.deviceID] ?? Int32(ids.count + 1)
            ids[observation.deviceID] = id
            VitalSignsRow.append(observation, patientID: nil, deviceID: id, to: &copy)
        }
        return copy.finish()
    }
}
