import Storage
import Synchronization
import TestSupport
import VitalSigns

/// 2026-03-01 08:00:00 UTC, in µs since the Unix epoch.
let baseTime: Int64 = 1_772_352_000_000_000

func observation(
    device: String = "0012A1FFFE000001",
    patient: PatientIdentifier? = PatientIdentifier(id: "MRN-1", assigningAuthority: "KTH"),
    seconds: Int64 = 0,
    kind: VitalKind = .heartRate,
    value: Double = 72,
    critical: Bool = false,
    location: String? = "ICU^1^A",
    hierarchy: String? = "1.1.1.1",
    status: ObservationStatus = .final
) -> Observation {
    Observation(
        time: Timestamp(microsecondsSinceEpoch: baseTime + seconds * 1_000_000),
        patient: patient,
        deviceID: device,
        location: location,
        kind: kind,
        code: ObservationCode(code: "147842", text: "MDC_ECG_HEART_RATE", system: "MDC"),
        value: value,
        unit: kind.canonicalUnit,
        hierarchy: hierarchy,
        status: status,
        isCritical: critical
    )
}

func key(_ controlID: String, application: String = "MONITOR", facility: String = "KTH-ICU") -> MessageKey {
    MessageKey(sendingApplication: application, sendingFacility: facility, controlID: controlID)
}

/// `SELECT count(*) ...` as an Int.
func count(_ connection: PostgresConnection, _ sql: String, _ parameters: [String?] = []) throws -> Int {
    Int(try connection.query(sql, parameters).scalar ?? "") ?? -1
}

/// A connection holding `ingested_messages` locked, so that writer commits wait until it runs
/// `COMMIT`: the way tests decide which submissions share a commit.
func lockMessageKeys(_ url: String) throws -> PostgresConnection {
    let locker = try PostgresConnection(url: url)
    try locker.execute("BEGIN; LOCK TABLE ingested_messages IN ACCESS EXCLUSIVE MODE")
    return locker
}

/// Sessions of the current database waiting for a lock.
func lockWaiters(_ reader: PostgresConnection) throws -> Int {
    try count(reader, "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND datname = current_database()")
}

/// A writer with `connections` writer threads: one makes group formation deterministic.
func observationWriter(_ url: String, connections: Int) throws -> ObservationWriter {
    var configuration = ObservationWriter.Configuration()
    configuration.connections = connections
    return try ObservationWriter(url: url, configuration: configuration, logger: TestPostgres.logger)
}

/// Batches submitted while the writer's commit of `blocker` waits on `ingested_messages`, locked
/// here: everything `submit`ted after `init` forms the next group once `release()` commits the
/// lock. The outcomes are kept by name, the blocker's as "blocker".
struct HeldCommit {
    private final class Outcomes: Sendable {
        let byName = Mutex<[String: Result<WriteOutcome, PostgresError>]>([:])
    }

    private let writer: ObservationWriter
    private let locker: PostgresConnection
    private let outcomes = Outcomes()

    init(_ writer: ObservationWriter, url: String, reader: PostgresConnection, blocker: IngestBatch) async throws {
        self.writer = writer
        locker = try lockMessageKeys(url)
        submit("blocker", blocker)
        try await waitUntil(timeout: .seconds(30), "writer waiting for the lock") {
            try lockWaiters(reader) == 1
        }
    }

    func submit(_ name: String, _ batch: IngestBatch) {
        let outcomes = outcomes
        writer.submit(batch) { result in outcomes.byName.withLock { $0[name] = result } }
    }

    func release() throws {
        try locker.execute("COMMIT")
    }

    /// Waits for `count` completions, the blocker's included.
    func results(count: Int) async throws -> [String: Result<WriteOutcome, PostgresError>] {
        try await waitUntil(timeout: .seconds(30), "\(count) completions") { outcomes.byName.withLock { $0.count } == count }
        return outcomes.byName.withLock { $0 }
    }

    func close() {
        locker.close()
    }
}
