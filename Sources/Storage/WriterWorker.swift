import Foundation
import Logging
import Metrics
import VitalSigns

/// Everything the writer thread owns: the connection, the identifier caches, the metrics.
///
/// `@unchecked Sendable`: it is created by `ObservationWriter.init` and from then on touched only
/// by the writer thread.
final class WriterWorker: @unchecked Sendable {
    private let url: String
    private var connection: PostgresConnection?
    private let configuration: ObservationWriter.Configuration
    private let logger: Logger
    private let queue: SubmissionQueue

    private var patientIDs: [PatientIdentifier: Int64] = [:]
    /// By their bytes, as the database's unique keys compare them (see `ExactText`).
    private var deviceIDs: [ExactText: Int32] = [:]
    private var nextReconnect: ContinuousClock.Instant?
    private var reconnectDelay: Duration
    private var lastConnectError: PostgresError?

    private let rowsWritten: Counter
    private let commits: Counter
    private let failures: Counter
    private let duplicates: Counter
    private let commitRows: Recorder
    private let commitDuration: Metrics.Timer
    private let submissionLatency: Metrics.Timer
    private let queuedRowsGauge: Gauge

    init(url: String, connection: PostgresConnection, configuration: ObservationWriter.Configuration, logger: Logger, queue: SubmissionQueue) {
        self.url = url
        self.connection = connection
        self.configuration = configuration
        self.logger = logger
        self.queue = queue
        reconnectDelay = configuration.reconnectDelay
        let dimensions = [("writer", configuration.name)]
        rowsWritten = Counter(label: "vitals_storage_rows_written_total", dimensions: dimensions)
        commits = Counter(label: "vitals_storage_commits_total", dimensions: dimensions)
        failures = Counter(label: "vitals_storage_commit_failures_total", dimensions: dimensions)
        duplicates = Counter(label: "vitals_storage_duplicate_messages_total", dimensions: dimensions)
        commitRows = Recorder(label: "vitals_storage_commit_rows", dimensions: dimensions, aggregate: true)
        commitDuration = Metrics.Timer(label: "vitals_storage_commit_duration_seconds", dimensions: dimensions, preferredDisplayUnit: .seconds)
        submissionLatency = Metrics.Timer(label: "vitals_storage_submission_latency_seconds", dimensions: dimensions, preferredDisplayUnit: .seconds)
        queuedRowsGauge = Gauge(label: "vitals_storage_queued_rows", dimensions: dimensions)
    }

    func run() {
        work: while true {
            if connection == nil, !reconnectBeforeTakingWork() {
                // The connected writer drains the queue at shutdown.
                if queue.isShuttingDown { break }
                continue
            }
            // Without a connection, wait for work only until the next reconnect is due, so the
            // connection (and the health check) comes back without waiting for traffic.
            switch queue.nextGroup(until: connection == nil ? nextReconnect : nil) {
            case .group(let group, let stillQueued):
                queuedRowsGauge.record(stillQueued)
                process(group)
            case .idle:
                continue
            case .finished:
                break work
            }
        }
        if connection != nil { forgetConnection() }
        logger.debug("observation writer stopped", metadata: ["writer": "\(configuration.name)"])
    }

    // MARK: - One group

    private func process(_ group: [Submission]) {
        guard let connection = connectionForWork() else {
            // Another writer is connected: the group is its to commit.
            if queue.anotherWriterConnected {
                queue.putBack(group)
                return
            }
            // No writer can reach the database: answer at once (MLLP senders resend later), and
            // everything queued behind the group too, rather than one group per reconnect attempt.
            let error = lastConnectError ?? PostgresError(message: "no database connection", context: "ObservationWriter")
            fail(group + queue.takeAll(), with: error)
            queuedRowsGauge.record(0)
            return
        }

        let started = ContinuousClock.now
        do throws(PostgresError) {
            let outcomes = try commitRetryingRollbacks(group, on: connection)
            record(group, outcomes, duration: started.duration(to: .now))
        } catch {
            if Self.mayBeOneBatchsFault(error, on: connection) && group.count > 1 {
                logger.warning("commit refused by the server; retrying the group in halves to isolate the bad batch",
                               metadata: ["sqlstate": "\(error.sqlState ?? "")", "batches": "\(group.count)"])
                isolate(group, on: connection)
            } else if Self.lostConnection(error, connection) {
                dropConnection(after: error)
                fail(group, with: error)
            } else {
                fail(group, with: error)
            }
        }
    }

    /// Whether one batch of a group can have made the commit fail, so that the others would be
    /// stored without it: its data (refused every time), or the lock space its rows took.
    private static func mayBeOneBatchsFault(_ error: PostgresError, on connection: PostgresConnection) -> Bool {
        connection.isConnected && (error.isDataError || error.isOutOfSharedMemory)
    }

    private static func lostConnection(_ error: PostgresError, _ connection: PostgresConnection) -> Bool {
        !connection.isConnected || (error.isConnectionFailure && !error.isOutOfSharedMemory)
    }

    /// After a group failed for one batch's sake: commits its halves, and the halves of a half
    /// that fails the same way, down to the batch alone. One bad batch among n costs about
    /// 2·log₂(n) commits rather than n, each waiting for its own WAL flush while every other
    /// sender waits too.
    private func isolate(_ group: [Submission], on connection: PostgresConnection) {
        var parts = [group[...]]  // a stack: the earlier half on top
        while let part = parts.popLast() {
            let started = ContinuousClock.now
            do throws(PostgresError) {
                let outcomes = try commitRetryingRollbacks(Array(part), on: connection)
                record(Array(part), outcomes, duration: started.duration(to: .now))
            } catch {
                if Self.lostConnection(error, connection) {
                    dropConnection(after: error)
                    fail(Array(part) + parts.reversed().flatMap { $0 }, with: error)
                    return
                }
                guard part.count > 1, Self.mayBeOneBatchsFault(error, on: connection) else {
                    fail(Array(part), with: error)
                    continue
                }
                let middle = part.startIndex + part.count / 2
                parts.append(part[middle...])
                parts.append(part[..<middle])
            }
        }
    }

    /// `commit`, run again (twice at most) when the server rolled it back for concurrency: a
    /// deadlock with retention dropping the old day's partition a reset clock's row was routed
    /// to, say. Nothing of the transaction was kept, and the same rows succeed on a second try.
    private func commitRetryingRollbacks(_ group: [Submission], on connection: PostgresConnection) throws(PostgresError) -> [WriteOutcome] {
        var attempt = 1
        while true {
            do throws(PostgresError) {
                return try commit(group, on: connection)
            } catch where error.isRolledBackForConcurrency && attempt < 3 && connection.isConnected {
                attempt += 1
                logger.notice("commit rolled back by the server for concurrency; trying again",
                              metadata: ["writer": "\(configuration.name)", "sqlstate": "\(error.sqlState ?? "")", "batches": "\(group.count)"])
            }
        }
    }

    private func commit(_ group: [Submission], on connection: PostgresConnection) throws(PostgresError) -> [WriteOutcome] {
        do throws(PostgresError) {
            // Over their limit the caches start again here, before the group, never between its
            // two encodings: ids found in the first would be gone from the second.
            if patientIDs.count > configuration.identifierCacheLimit { patientIDs.removeAll() }
            if deviceIDs.count > configuration.identifierCacheLimit { deviceIDs.removeAll() }
            // Encode every row before the transaction, resolving ids from the cache in the same
            // pass; only when some identifier is new is it resolved and the group re-encoded.
            var encoded = encode(group)
            if !encoded.missingPatients.isEmpty || !encoded.missingDevices.isEmpty {
                try resolve(patients: encoded.missingPatients, devices: encoded.missingDevices, on: connection)
                encoded = encode(group)
                // Placeholder ids must never be stored.
                guard encoded.missingPatients.isEmpty, encoded.missingDevices.isEmpty else {
                    throw PostgresError(message: "patient or device ids missing after they were resolved", context: "encode a group for COPY")
                }
            }
            let keys = GroupKeys(group)
            if !keys.repeatWithinGroup {
                do {
                    return try commitAssumingNewKeys(group, encoded, keys, on: connection)
                } catch where error.sqlState == Self.uniqueViolation {
                    // A retransmission (or a key another connection is committing): start over
                    // with the path that looks the keys up first.
                    _ = try connection.execute("ROLLBACK")
                    logger.debug("a message key of the group is stored already; committing with the key check",
                                 metadata: ["writer": "\(configuration.name)", "batches": "\(group.count)"])
                }
            }
            return try commitCheckingKeys(group, encoded, keys, on: connection)
        } catch {
            if connection.isInTransaction { _ = try? connection.execute("ROLLBACK") }
            throw error
        }
    }

    private static let uniqueViolation = "23505"

    /// The common case, in one script and three round trips: retransmissions are rare, so the
    /// message keys and the rows are copied straight away, and a key stored before makes the key
    /// COPY fail on the primary key, which rolls the whole transaction back. Keys go first: a
    /// retransmission fails before any row is copied, and a commit waiting on a key another
    /// transaction holds does so before it holds locks on `vital_signs` that others (TimescaleDB's
    /// background jobs) would queue behind.
    private func commitAssumingNewKeys(
        _ group: [Submission], _ encoded: EncodedGroup, _ keys: GroupKeys, on connection: PostgresConnection
    ) throws(PostgresError) -> [WriteOutcome] {
        var script = "BEGIN; "
        var streams: [[UInt8]] = []
        if !keys.distinct.isEmpty {
            var keyRows = BinaryCopyWriter(reservingCapacity: keys.distinct.count * 64)
            for (key, index) in zip(keys.distinct, keys.firstSubmission) {
                IngestedMessageRow.append(key, observationCount: group[index].batch.observations.count, to: &keyRows)
            }
            script += IngestedMessageRow.copyStatement + "; "
            streams.append(keyRows.finish())
        }
        script += VitalSignsRow.copyStatement + "; COMMIT"
        streams.append(encoded.stream)
        try connection.copyIn(script: script, streams: streams)
        return group.map { .stored(observations: $0.batch.observations.count) }
    }

    /// Registers the keys first and copies only the rows of messages that are new.
    private func commitCheckingKeys(
        _ group: [Submission], _ encoded: EncodedGroup, _ keys: GroupKeys, on connection: PostgresConnection
    ) throws(PostgresError) -> [WriteOutcome] {
        try connection.execute("BEGIN")
        var duplicatePositions = Set<Int>()  // positions in `keys.distinct`
        if !keys.distinct.isEmpty {
            // The INSERT returns the keys that are new; the statement returns the positions
            // of the others, which is usually nothing at all.
            let result = try connection.query("""
                WITH input AS (
                    SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::integer[]) WITH ORDINALITY
                        AS t (sending_application, sending_facility, control_id, message_time, observation_count, ordinal)
                ), inserted AS (
                    INSERT INTO ingested_messages (sending_application, sending_facility, control_id, message_time, observation_count)
                    SELECT sending_application, sending_facility, control_id, message_time, observation_count FROM input
                    ON CONFLICT DO NOTHING
                    RETURNING sending_application, sending_facility, control_id, message_time
                )
                SELECT i.ordinal FROM input i
                WHERE NOT EXISTS (
                    SELECT 1 FROM inserted n
                    WHERE n.sending_application = i.sending_application
                      AND n.sending_facility = i.sending_facility
                      AND n.control_id = i.control_id
                      AND n.message_time = i.message_time)
                """, [
                    PostgresArray.text(keys.distinct.map(\.sendingApplication)),
                    PostgresArray.text(keys.distinct.map(\.sendingFacility)),
                    PostgresArray.text(keys.distinct.map(\.controlID)),
                    PostgresArray.text(keys.distinct.map(\.messageTime)),
                    PostgresArray.integers(keys.firstSubmission.map { group[$0].batch.observations.count }),
                ], prepared: true)
            for row in result.rows {
                if let ordinal = row[0].flatMap({ Int($0) }), ordinal >= 1, ordinal <= keys.distinct.count {
                    duplicatePositions.insert(ordinal - 1)
                }
            }
        }
        var isNewKey = [Bool](repeating: false, count: group.count)
        for (position, index) in keys.firstSubmission.enumerated() where !duplicatePositions.contains(position) {
            isNewKey[index] = true
        }

        var outcomes: [WriteOutcome] = []
        outcomes.reserveCapacity(group.count)
        var rowCount = 0
        var allStored = true
        for (index, submission) in group.enumerated() {
            if submission.batch.message != nil && !isNewKey[index] {
                outcomes.append(.duplicate)
                allStored = false
            } else {
                outcomes.append(.stored(observations: submission.batch.observations.count))
                rowCount += submission.batch.observations.count
            }
        }

        if rowCount > 0 {
            var bytes = encoded.stream
            if !allStored {
                // Keep the header, the rows of the stored submissions, and the trailer.
                var kept: [UInt8] = []
                kept.reserveCapacity(bytes.count)
                kept.append(contentsOf: bytes[..<BinaryCopyWriter.headerLength])
                for (index, range) in encoded.ranges.enumerated() where outcomes[index] != .duplicate {
                    kept.append(contentsOf: bytes[range])
                }
                kept.append(contentsOf: bytes[(bytes.count - 2)...])
                bytes = kept
            }
            try connection.copyIn(VitalSignsRow.copyStatement, data: bytes)
        }
        try connection.execute("COMMIT")
        return outcomes
    }

    /// The group's message keys, each once, with the submission that carries it first.
    private struct GroupKeys {
        var distinct: [MessageKey] = []
        /// For each of `distinct`, the index in the group of its first submission.
        var firstSubmission: [Int] = []
        /// Whether a key came twice in the group (a retransmission before the first copy committed).
        var repeatWithinGroup = false

        init(_ group: [Submission]) {
            var seen = Set<MessageKey>(minimumCapacity: group.count)
            for (index, submission) in group.enumerated() {
                guard let key = submission.batch.message else { continue }
                guard seen.insert(key).inserted else {
                    repeatWithinGroup = true
                    continue
                }
                firstSubmission.append(index)
                distinct.append(key)
            }
            // In one order on every connection: two commits inserting the same keys (a message
            // retransmitted on another connection) in opposite orders would deadlock.
            let sorted = zip(distinct, firstSubmission).sorted { $0.0 < $1.0 }
            distinct = sorted.map(\.0)
            firstSubmission = sorted.map(\.1)
        }
    }

    private struct EncodedGroup {
        /// The finished binary COPY stream of every row of the group.
        var stream: [UInt8]
        /// The bytes of each submission's rows within `stream`.
        var ranges: [Range<Int>]
        var missingPatients: Set<PatientIdentifier>
        var missingDevices: Set<ExactText>
    }

    /// Binary COPY rows of every observation of `group`, with ids from the caches (placeholders
    /// where an identifier is not cached yet, reported in `missing...`).
    private func encode(_ group: [Submission]) -> EncodedGroup {
        let rows = group.reduce(0) { $0 + $1.batch.observations.count }
        var writer = BinaryCopyWriter(reservingCapacity: rows * 128)
        var ranges: [Range<Int>] = []
        ranges.reserveCapacity(group.count)
        var missingPatients = Set<PatientIdentifier>()
        var missingDevices = Set<ExactText>()
        for submission in group {
            let start = writer.byteCount
            let observations = submission.batch.observations
            // The rows of one message share patient and device: look each up once per change.
            var lastPatient: PatientIdentifier?
            var patientID: Int64?
            var lastDevice: ExactText?
            var deviceID: Int32?
            // Rows are read in place (`observations[index]`), not copied out as a `for in` loop
            // would, which retained and released each row's Strings.
            for index in observations.indices {
                if observations[index].patient != lastPatient {
                    lastPatient = observations[index].patient
                    patientID = lastPatient.flatMap { patientIDs[$0] }
                    if let patient = lastPatient, patientID == nil { missingPatients.insert(patient) }
                }
                let device = ExactText(observations[index].deviceID)
                if device != lastDevice {
                    lastDevice = device
                    deviceID = deviceIDs[device]
                    if deviceID == nil { missingDevices.insert(device) }
                }
                // Placeholders for ids not cached yet; the group is encoded again once resolved.
                VitalSignsRow.append(observations[index], patientID: patientID, deviceID: deviceID ?? 0, to: &writer)
            }
            ranges.append(start..<writer.byteCount)
        }
        return EncodedGroup(stream: writer.finish(), ranges: ranges, missingPatients: missingPatients, missingDevices: missingDevices)
    }

    // MARK: - Surrogate keys

    /// Resolves identifiers missing from the caches to ids (creating rows for new ones), in
    /// autocommit mode: committed before, and independent of, the batch transaction.
    private func resolve(patients: Set<PatientIdentifier>, devices: Set<ExactText>, on connection: PostgresConnection) throws(PostgresError) {
        do throws(PostgresError) {
            if !patients.isEmpty {
                // Sorted, so that concurrent writers lock new rows in the same order.
                try resolvePatients(patients.sorted(), on: connection)
            }
            if !devices.isEmpty {
                try resolveDevices(devices.sorted(), on: connection)
            }
        } catch where error.sqlState == Self.uniqueViolation {
            // The identifiers' own conflict is absorbed by ON CONFLICT, so this is the id: a
            // sequence behind its table's rows (a data-only restore, a logical replica promoted).
            // Not the message's fault, so not an AE that makes the sender drop it: the message
            // waits, and each try takes the sequence one step past the ids already used.
            logger.error("an identity table's id sequence is behind its rows; messages naming new patients or devices wait (SELECT setval on the sequence to max(id) fixes it)",
                         metadata: ["writer": "\(configuration.name)", "error": "\(error.redactedDescription)"])
            throw PostgresError(sqlState: Self.objectNotInPrerequisiteState, message: "id sequence behind its table: \(error.message)",
                                detail: error.detail, context: error.context)
        }
    }

    /// Class 55: the database is not in the state the statement needs; neither the message's
    /// data (an AE) nor the connection's failure.
    private static let objectNotInPrerequisiteState = "55000"

    private func resolvePatients(_ patients: [PatientIdentifier], on connection: PostgresConnection) throws(PostgresError) {
        var remaining = patients
        // A row inserted by a concurrent writer after our snapshot is neither inserted nor
        // visible to the join; the next statement's snapshot sees it, hence the retry.
        for _ in 0..<5 where !remaining.isEmpty {
            let result = try connection.query("""
                WITH input (identifier, assigning_authority) AS (
                    SELECT * FROM unnest($1::text[], $2::text[])
                ), inserted AS (
                    INSERT INTO patients (identifier, assigning_authority)
                    SELECT identifier, assigning_authority FROM input
                    ON CONFLICT (identifier, assigning_authority) DO NOTHING
                    RETURNING id, identifier, assigning_authority
                )
                SELECT id, identifier, assigning_authority FROM inserted
                UNION ALL
                SELECT p.id, p.identifier, p.assigning_authority
                FROM patients p JOIN input i USING (identifier, assigning_authority)
                """, [PostgresArray.text(remaining.map(\.id)), PostgresArray.text(remaining.map(\.assigningAuthority))])
            for row in result.rows {
                guard let id = row[0].flatMap({ Int64($0) }) else { continue }
                patientIDs[PatientIdentifier(id: row[1] ?? "", assigningAuthority: row[2] ?? "")] = id
            }
            remaining = remaining.filter { patientIDs[$0] == nil }
        }
        if !remaining.isEmpty {
            throw PostgresError(message: "could not resolve \(remaining.count) patient identifiers to ids", context: "resolve patients")
        }
    }

    private func resolveDevices(_ devices: [ExactText], on connection: PostgresConnection) throws(PostgresError) {
        var remaining = devices
        for _ in 0..<5 where !remaining.isEmpty {
            let result = try connection.query("""
                WITH input (identifier) AS (
                    SELECT * FROM unnest($1::text[])
                ), inserted AS (
                    INSERT INTO devices (identifier)
                    SELECT identifier FROM input
                    ON CONFLICT (identifier) DO NOTHING
                    RETURNING id, identifier
                )
                SELECT id, identifier FROM inserted
                UNION ALL
                SELECT d.id, d.identifier FROM devices d JOIN input i USING (identifier)
                """, [PostgresArray.text(remaining.map(\.text))])
            for row in result.rows {
                guard let id = row[0].flatMap({ Int32($0) }) else { continue }
                deviceIDs[ExactText(row[1] ?? "")] = id
            }
            remaining = remaining.filter { deviceIDs[$0] == nil }
        }
        if !remaining.isEmpty {
            throw PostgresError(message: "could not resolve \(remaining.count) device identifiers to ids", context: "resolve devices")
        }
    }

    // MARK: - Connection

    /// A writer without a connection waits out its reconnect delay holding no work, then tries to
    /// connect. When that fails while another writer is connected, the work stays the other's
    /// (false: try again later); when no writer is connected it takes work anyway (true), so that
    /// senders are answered at once while the database is away instead of waiting in the queue.
    private func reconnectBeforeTakingWork() -> Bool {
        if let nextReconnect, ContinuousClock.now < nextReconnect {
            queue.waitForShutdown(until: nextReconnect)
        }
        return usableConnection() != nil || !queue.anotherWriterConnected
    }

    /// The connection to commit a group on: the one held, or a new one when the reconnect
    /// delay has passed; nil when the database cannot be reached now.
    private func connectionForWork() -> PostgresConnection? {
        if let connection, connection.isConnected { return connection }
        if connection == nil, let nextReconnect, ContinuousClock.now < nextReconnect { return nil }
        return usableConnection()
    }

    /// A writer's session: statements bounded by `statementTimeout`.
    static func connect(url: String, configuration: ObservationWriter.Configuration, logger: Logger) throws(PostgresError) -> PostgresConnection {
        let connection = try PostgresConnection(url: url, logger: logger)
        _ = try connection.execute("SET statement_timeout = \(max(1, Int64(configuration.statementTimeout.seconds * 1000)))")
        return connection
    }

    private func usableConnection() -> PostgresConnection? {
        if let connection, connection.isConnected { return connection }
        if connection != nil { forgetConnection() }
        do {
            let fresh = try Self.connect(url: url, configuration: configuration, logger: logger)
            connection = fresh
            queue.writerConnected(true)
            nextReconnect = nil
            reconnectDelay = configuration.reconnectDelay
            lastConnectError = nil
            logger.notice("observation writer reconnected to the database", metadata: ["writer": "\(configuration.name)"])
            return fresh
        } catch {
            lastConnectError = error
            nextReconnect = .now + reconnectDelay
            logger.warning("observation writer cannot reach the database; retrying in \(reconnectDelay)",
                           metadata: ["writer": "\(configuration.name)", "error": "\(error.redactedDescription)"])
            reconnectDelay = min(reconnectDelay * 2, configuration.maxReconnectDelay)
            return nil
        }
    }

    private func dropConnection(after error: PostgresError) {
        logger.error("database connection lost; the writer will reconnect",
                     metadata: ["writer": "\(configuration.name)", "error": "\(error.redactedDescription)"])
        forgetConnection()
        nextReconnect = .now + reconnectDelay
        reconnectDelay = min(reconnectDelay * 2, configuration.maxReconnectDelay)
    }

    /// The identifier caches go with the connection: the next one may reach another server (a
    /// failover that lost the last commits, a restored backup), where a cached id may not exist,
    /// or belong to another patient.
    private func forgetConnection() {
        connection?.close()
        connection = nil
        patientIDs.removeAll()
        deviceIDs.removeAll()
        queue.writerConnected(false)
    }

    // MARK: - Completion

    private func record(_ group: [Submission], _ outcomes: [WriteOutcome], duration: Duration) {
        var rows = 0
        var duplicateCount = 0
        for outcome in outcomes {
            switch outcome {
            case .stored(let count): rows += count
            case .duplicate: duplicateCount += 1
            }
        }
        commits.increment()
        rowsWritten.increment(by: rows)
        commitRows.record(rows)
        commitDuration.recordNanoseconds(duration.nanoseconds)
        if duplicateCount > 0 { duplicates.increment(by: duplicateCount) }
        logger.trace("committed", metadata: ["rows": "\(rows)", "batches": "\(group.count)", "duplicates": "\(duplicateCount)"])
        for (submission, outcome) in zip(group, outcomes) {
            if outcome == .duplicate {
                logger.info("duplicate message ignored", metadata: Self.metadata(submission.batch, [:]))
            }
            complete(submission, .success(outcome))
        }
    }

    /// Submissions left in the queue when the last writer stopped: failed, so that their senders
    /// are answered (and resend to the next engine) rather than left waiting.
    func answerUncommitted(_ leftovers: [Submission]) {
        guard !leftovers.isEmpty else { return }
        fail(leftovers, with: PostgresError(
            message: "the observation writer stopped before committing the batch; it was not stored", context: "ObservationWriter shutdown"))
    }

    private func fail(_ group: [Submission], with error: PostgresError) {
        failures.increment()
        logger.error("commit failed; \(group.count) batches not stored", metadata: [
            "writer": "\(configuration.name)", "sqlstate": "\(error.sqlState ?? "-")", "error": "\(error.redactedDescription)",
            "rows": "\(group.reduce(0) { $0 + $1.batch.observations.count })",
        ])
        if let detail = error.detail, !detail.isEmpty {
            logger.debug("commit failure detail", metadata: ["detail": "\(detail)"])
        }
        for submission in group {
            complete(submission, .failure(error))
        }
    }

    private func complete(_ submission: Submission, _ result: Result<WriteOutcome, PostgresError>) {
        submissionLatency.recordNanoseconds(submission.submitted.duration(to: .now).nanoseconds)
        submission.completion(result)
    }

    // MARK: - Validation

    static func rejectedCounter(name: String) -> Counter {
        Counter(label: "vitals_storage_rejected_batches_total", dimensions: [("writer", name)])
    }

    /// Earliest timestamptz PostgreSQL accepts (4714-11-24 00:00 BC), in µs since the Unix epoch.
    static let earliestTimestamp: Int64 = -210_866_803_200_000_000

    static func validate(_ batch: IngestBatch) -> PostgresError? {
        func bad(_ what: String) -> PostgresError {
            PostgresError(sqlState: "22000", message: what, context: "validate batch \(batch.message?.description ?? "(keyless)")")
        }
        if let key = batch.message {
            let fields = [("MSH-3 sending application", key.sendingApplication), ("MSH-4 sending facility", key.sendingFacility),
                          ("MSH-10 message control id", key.controlID), ("MSH-7 message time", key.messageTime)]
            for (name, text) in fields {
                if hasNUL(text) { return bad("message key contains a NUL character (\(name))") }
                if let problem = tooLong(name, text) { return bad(problem) }
            }
        }
        let observations = batch.observations
        for index in observations.indices {
            if let problem = problem(with: observations[index]) { return bad("observation \(index + 1): \(problem)") }
        }
        return nil
    }

    /// The length alone, never the text: an identifier may name a patient.
    private static func tooLong(_ name: String, _ text: String) -> String? {
        let bytes = text.utf8.count
        let limit = ObservationWriter.maximumIdentifierBytes
        return bytes > limit ? "\(name) is \(bytes) bytes, longer than the \(limit) an identifier may have" : nil
    }

    /// Borrowed, not copied out of the array: this runs for every row.
    private static func problem(with observation: borrowing Observation) -> String? {
        if observation.time.microsecondsSinceEpoch < earliestTimestamp {
            return "time \(observation.time) is before the earliest time PostgreSQL can store"
        }
        // The decoders refuse them already; a NaN would poison every average of its rollup bucket.
        if !observation.value.isFinite { return "value \(observation.value) is not a finite number" }
        if hasNUL(observation.deviceID) || hasNUL(observation.code.code) || hasNUL(observation.code.system)
            || hasNUL(observation.unit.ucum) || observation.location.map(hasNUL) == true
            || observation.hierarchy.map(hasNUL) == true
            || observation.patient.map({ hasNUL($0.id) || hasNUL($0.assigningAuthority) }) == true {
            return "a text field contains a NUL character"
        }
        if let problem = tooLong("the device identifier", observation.deviceID)
            ?? observation.patient.flatMap({ tooLong("the patient identifier", $0.id) ?? tooLong("the patient's assigning authority", $0.assigningAuthority) }) {
            return problem
        }
        return nil
    }

    /// memchr over the String's own bytes: this runs for every text of every row.
    static func hasNUL(_ text: String) -> Bool {
        text.utf8.withContiguousStorageIfAvailable { bytes in
            bytes.baseAddress.map { memchr($0, 0, bytes.count) != nil } ?? false
        } ?? text.utf8.contains(0)
    }

    static func metadata(_ batch: IngestBatch, _ extra: Logger.Metadata) -> Logger.Metadata {
        var metadata = extra
        if let key = batch.message {
            metadata["sending_application"] = "\(key.sendingApplication)"
            metadata["sending_facility"] = "\(key.sendingFacility)"
            metadata["control_id"] = "\(key.controlID)"
        }
        if let device = batch.observations.first?.deviceID {
            metadata["device_id"] = "\(device)"
        }
        return metadata
    }
}
