import Decoders
import DeviceSimulator
import Foundation
import HL7v2
import Storage
import Synchronization
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
        var postgresSeconds: Double
        var rowsPerSecond: Double { Double(rows) / seconds }
        /// PostgreSQL's CPU per row loaded, in microseconds.
        var postgresMicrosecondsPerRow: Double { postgresSeconds * 1e6 / Double(max(1, rows)) }
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
        return Outcome(rows: rows, bytes: bytes.count, seconds: seconds, cpu: cpuSeen.report(since: cpuBefore, wall: seconds),
                       postgresSeconds: cpuSeen.postgresSeconds(since: cpuBefore))
    }

    /// The same rows in transactions of `rowsPerCommit` (the end-to-end phase's group commits),
    /// `BEGIN; COPY; COMMIT` each, on `connections` connections at once as the writer's: what
    /// PostgreSQL does with commits of the engine's size, the engine left out.
    func runInCommits(rows: Int, senders: Int, span: Double, rowsPerCommit: Int, connections: Int) throws -> Outcome {
        let chunks = try Self.encode(rows: rows, senders: senders, span: span, decoder: decoder, rowsPerChunk: max(1, rowsPerCommit))
        let database = "bench_copy_commits"
        let (url, _) = try cluster.migratedDatabase(database, mode: mode)
        try cluster.checkpoint()
        let next = Mutex(0)
        let failure = Mutex<String?>(nil)
        let postmaster = cluster.postmasterPID
        let cpuBefore = CPUSnapshot.take(postmasterPID: postmaster)
        let clock = ContinuousClock()
        let started = clock.now
        let done = DispatchGroup()
        // Each connection stays open until the CPU has been read: an exited backend's time is gone.
        let measured = DispatchSemaphore(value: 0)
        for _ in 0..<connections {
            done.enter()
            Thread {
                // Opening a connection takes milliseconds of a run of seconds.
                let link: PostgresConnection
                do {
                    link = try PostgresConnection(url: url)
                } catch {
                    failure.withLock { $0 = $0 ?? "\(error)" }
                    return done.leave()
                }
                defer {
                    done.leave()
                    measured.wait()
                    link.close()
                }
                while failure.withLock({ $0 == nil }) {
                    let index = next.withLock { index in
                        defer { index += 1 }
                        return index
                    }
                    guard index < chunks.count else { return }
                    do {
                        try link.copyIn(script: "BEGIN; \(VitalSignsRow.copyStatement); COMMIT", streams: [chunks[index]])
                    } catch {
                        failure.withLock { $0 = $0 ?? "\(error)" }
                    }
                }
            }.start()
        }
        done.wait()
        let seconds = BenchTime.seconds(started.duration(to: clock.now))
        let cpuAfter = CPUSnapshot.take(postmasterPID: postmaster)
        for _ in 0..<connections { measured.signal() }
        if let failure = failure.withLock({ $0 }) { throw BenchError("COPY in commits failed: \(failure)") }
        let loaded = try cluster.count("vital_signs", database: database)
        guard loaded == rows else { throw BenchError("COPY in commits loaded \(loaded) rows, expected \(rows)") }
        try cluster.postgres.dropDatabase(database)
        return Outcome(rows: rows, bytes: chunks.reduce(0) { $0 + $1.count }, seconds: seconds,
                       cpu: cpuAfter.report(since: cpuBefore, wall: seconds), postgresSeconds: cpuAfter.postgresSeconds(since: cpuBefore))
    }

    /// Rows as the engine would store them: decoded simulated reports, patient and device ids
    /// 1…senders (the surrogate keys the writer would have resolved), field by field as
    /// the writer lays them out (`VitalSignsRow`).
    static func encode(rows: Int, senders: Int, span: Double, decoder: PCD01Decoder) throws -> [UInt8] {
        try encode(rows: rows, senders: senders, span: span, decoder: decoder, rowsPerChunk: rows)[0]
    }

    /// As `encode(rows:senders:span:decoder:)`, cut into COPY streams of `rowsPerChunk` rows.
    static func encode(rows: Int, senders: Int, span: Double, decoder: PCD01Decoder, rowsPerChunk: Int) throws -> [[UInt8]] {
        var chunks: [[UInt8]] = []
        var copy = BinaryCopyWriter(reservingCapacity: min(rows, rowsPerChunk) * 120)
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
                    if written % rowsPerChunk == 0 || written == rows {
                        chunks.append(copy.finish())
                        copy = BinaryCopyWriter(reservingCapacity: min(rows - written, rowsPerChunk) * 120)
                    }
                }
            }
            report += 1
        }
        return chunks.isEmpty ? [copy.finish()] : chunks
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
