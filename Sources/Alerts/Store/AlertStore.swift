import Storage
import VitalSigns

/// A change of the alert lifecycle to make durable, with the event that announces it.
struct AlertChange: Sendable {
    /// For a `.raised` change the alert has no id yet; the store assigns it.
    var alert: Alert
    var event: AlertEventType
    /// The alert as it was before the change (nil for a raise): what the hub's memory goes back
    /// to if the database refuses the change.
    var replaced: Alert?

    init(alert: Alert, event: AlertEventType, replacing replaced: Alert? = nil) {
        self.alert = alert
        self.event = event
        self.replaced = replaced
    }
}

/// A stored event as the stream replays it: the JSON exactly as it was first announced.
public struct StoredAlertEvent: Sendable, Hashable {
    public var id: Int64
    public var type: AlertEventType
    public var facility: String
    public var ward: String?
    public var kafkaKey: String
    public var payload: String
}

extension StoredAlertEvent {
    init(_ event: AlertEvent) {
        self.init(id: event.id, type: event.type, facility: event.alert.facility, ward: event.alert.ward, kafkaKey: event.alert.device, payload: event.json)
    }
}

/// SQL over `critical_events` and `alert_events` (timescale/0004_alerts.sql). Not thread-safe:
/// each owner (the hub thread, the forwarder thread) has its own store and connection.
final class AlertStore {
    let connection: PostgresConnection

    /// `confirmationsOnly`: the connection only records Kafka's confirmations, whose loss in a
    /// crash merely sends an event again, so its commits need not wait for the disk
    /// (`synchronous_commit off`) and never queue behind the observation batches' flushes.
    init(url: String, confirmationsOnly: Bool = false) throws(PostgresError) {
        connection = try PostgresConnection(url: url)
        if confirmationsOnly { _ = try connection.execute("SET synchronous_commit TO off") }
    }

    deinit { connection.close() }

    private static let columns = """
        id, alert_key, state, severity, rule, vital, value, unit, patient_identifier, patient_authority,
        device_identifier, location, facility,
        (EXTRACT(EPOCH FROM raised_at) * 1000000)::bigint, (EXTRACT(EPOCH FROM observed_at) * 1000000)::bigint,
        (EXTRACT(EPOCH FROM acknowledged_at) * 1000000)::bigint, acknowledged_by,
        (EXTRACT(EPOCH FROM resolved_at) * 1000000)::bigint, resolved_by,
        escalation_count, (EXTRACT(EPOCH FROM escalated_at) * 1000000)::bigint, escalate_after_ms, rule_severity
        """

    /// One facility's: engines of several facilities may share a database.
    func unresolvedAlerts(facility: String) throws(PostgresError) -> [Alert] {
        try connection.query(
            "SELECT \(Self.columns) FROM critical_events WHERE state <> 'resolved' AND facility = $1 ORDER BY id", [facility]
        ).rows.compactMap(Self.alert)
    }

    func alert(id: Int64) throws(PostgresError) -> Alert? {
        try connection.query("SELECT \(Self.columns) FROM critical_events WHERE id = $1", [String(id)]).rows.first.flatMap(Self.alert)
    }

    /// The events announcing `changes`, in order, with their alert and event ids assigned. Made
    /// once, before the first attempt to store them: a retry then stores the same events, a
    /// change to an alert raised earlier in the batch keeps that alert's id when the changes are
    /// stored one by one, and an attempt whose answer was lost can be recognised (`isStored`).
    func events(for changes: [AlertChange], at now: Timestamp) throws(PostgresError) -> [AlertEvent] {
        var events: [AlertEvent] = []
        var insertedIDs: [ExactText: Int64] = [:]
        for change in changes {
            var alert = change.alert
            switch change.event {
            case .raised:
                alert.id = try alertIDs.next(connection)
                alert.raisedAt = now
                alert.escalatedAt = now
                insertedIDs[ExactText(alert.key)] = alert.id
            case .acknowledged: alert.acknowledgedAt = now
            case .resolved: alert.resolvedAt = now
            case .escalated: alert.escalatedAt = now
            }
            // A change to an alert raised earlier in the same batch.
            if alert.id == 0, let inserted = insertedIDs[ExactText(alert.key)] {
                alert.id = inserted
                alert.raisedAt = now
            }
            events.append(AlertEvent(id: try eventIDs.next(connection), type: change.event, occurredAt: now, alert: alert))
        }
        return events
    }

    /// Makes `events` durable in one transaction.
    ///
    /// The transaction goes to the server as one string (one round trip, then the WAL flush):
    /// alert and event ids come from ranges reserved beforehand, so nothing in it needs an answer
    /// from the server. Under load every round trip of the alert path waits for a busy CPU.
    func store(_ events: [AlertEvent]) throws(PostgresError) {
        guard !events.isEmpty else { return }
        var sql = "BEGIN;\n"
        for event in events {
            sql += event.type == .raised ? try insertStatement(event.alert) : try updateStatement(event.alert)
        }
        sql += "INSERT INTO alert_events (id, alert_id, type, occurred_at, facility, ward, kafka_key, payload) VALUES\n"
        sql += try events.map { event throws(PostgresError) in
            "(\(event.id), \(event.alert.id), '\(event.type.rawValue)', \(Self.time(event.occurredAt)), \(try literal(event.alert.facility)), "
                + "\(try literal(event.alert.ward)), \(try literal(event.alert.device)), \(try literal(event.json)))"
        }.joined(separator: ",\n") + ";\n"
        var lastEvent: [Int64: Int64] = [:]
        for event in events { lastEvent[event.alert.id] = event.id }
        for (alert, event) in lastEvent.sorted(by: { $0.key < $1.key }) {
            sql += "UPDATE critical_events SET last_event_id = \(event) WHERE id = \(alert);\n"
        }
        sql += "COMMIT;"
        do throws(PostgresError) {
            _ = try connection.execute(sql)
        } catch {
            _ = try? connection.execute("ROLLBACK")
            throw error
        }
    }

    /// Whether `event` is stored: after a connection lost with a `COMMIT` in flight, whether that
    /// transaction (all of whose events commit together) went through.
    func isStored(_ event: AlertEvent) throws(PostgresError) -> Bool {
        try connection.query("SELECT 1 FROM alert_events WHERE id = $1", [String(event.id)]).rows.isEmpty == false
    }

    private var alertIDs = IDRange(sequence: "critical_events_id_seq")
    private var eventIDs = IDRange(sequence: "alert_events_id_seq")

    /// Events after `id`, oldest first, for a stream that resumes.
    func events(after id: Int64, limit: Int, facility: String) throws(PostgresError) -> [StoredAlertEvent] {
        try connection.query(
            "SELECT id, type, facility, ward, kafka_key, payload FROM alert_events WHERE id > $1 AND facility = $3 ORDER BY id LIMIT $2",
            [String(id), String(limit), facility]
        ).rows.compactMap(Self.storedEvent)
    }

    /// The last event id the database has handed out (0 before the first; hubs reserve them 64
    /// at a time): a client's Last-Event-ID past it was never this database's, but another's
    /// history (a backup restored since).
    func lastEventIDHandedOut() throws(PostgresError) -> Int64 {
        let text = try connection.execute("SELECT coalesce(pg_sequence_last_value('alert_events_id_seq'), 0)").scalar
        return text.flatMap { Int64($0) } ?? 0
    }

    /// A facility's events Kafka has not confirmed yet, oldest first.
    func undeliveredEvents(after id: Int64, limit: Int, facility: String) throws(PostgresError) -> [StoredAlertEvent] {
        try connection.query("""
            SELECT id, type, facility, ward, kafka_key, payload FROM alert_events
            WHERE delivered_at IS NULL AND id > $1 AND facility = $3 ORDER BY id LIMIT $2
            """, [String(id), String(limit), facility]
        ).rows.compactMap(Self.storedEvent)
    }

    /// Those of `ids` not delivered yet, in id order.
    func undeliveredEvents(ids: [Int64]) throws(PostgresError) -> [StoredAlertEvent] {
        try connection.query("""
            SELECT id, type, facility, ward, kafka_key, payload FROM alert_events
            WHERE delivered_at IS NULL AND id = ANY($1::bigint[]) ORDER BY id
            """, [PostgresArray.integers(ids)]
        ).rows.compactMap(Self.storedEvent)
    }

    /// Records Kafka's confirmation of `ids` on the events and on their alerts.
    func markDelivered(_ ids: [Int64]) throws(PostgresError) {
        guard !ids.isEmpty else { return }
        let list = PostgresArray.integers(ids)
        _ = try connection.query("""
            WITH delivered AS (
                UPDATE alert_events SET delivered_at = now() WHERE id = ANY($1::bigint[]) AND delivered_at IS NULL
                RETURNING id, alert_id
            )
            UPDATE critical_events c SET kafka_delivered_event_id = GREATEST(c.kafka_delivered_event_id, d.id)
            FROM (SELECT alert_id, max(id) AS id FROM delivered GROUP BY alert_id) d
            WHERE c.id = d.alert_id
            """, [list])
    }

    private func insertStatement(_ alert: Alert) throws(PostgresError) -> String {
        """
        INSERT INTO critical_events (id, alert_key, facility, patient_identifier, patient_authority, device_identifier, location, ward,
            vital, value, unit, rule, severity, state, observed_at, raised_at, escalated_at, escalate_after_ms, rule_severity)
        VALUES (\(alert.id), \(try literal(alert.key)), \(try literal(alert.facility)), \(try literal(alert.patient?.id)),
            \(try literal(alert.patient?.assigningAuthority)), \(try literal(alert.device)), \(try literal(alert.location)),
            \(try literal(alert.ward)), \(try literal(alert.vital)), \(Self.number(alert.value)), \(try literal(alert.unit)),
            \(try literal(alert.rule)), '\(alert.severity.rawValue)', '\(alert.state.rawValue)', \(Self.time(alert.observedAt)),
            \(Self.time(alert.raisedAt)), \(Self.time(alert.escalatedAt)), \(alert.escalateAfter.map { String($0.microseconds / 1000) } ?? "NULL"),
            \(Self.severity(alert.ruleSeverity)));

        """
    }

    private func updateStatement(_ alert: Alert) throws(PostgresError) -> String {
        """
        UPDATE critical_events SET state = '\(alert.state.rawValue)', severity = '\(alert.severity.rawValue)', value = \(Self.number(alert.value)),
            acknowledged_at = \(Self.time(alert.acknowledgedAt)), acknowledged_by = \(try literal(alert.acknowledgedBy)),
            resolved_at = \(Self.time(alert.resolvedAt)), resolved_by = \(try literal(alert.resolvedBy)),
            escalation_count = \(alert.escalationCount), escalated_at = \(Self.time(alert.escalatedAt)),
            escalate_after_ms = \(alert.escalateAfter.map { String($0.microseconds / 1000) } ?? "NULL"),
            observed_at = \(Self.time(alert.observedAt)), location = \(try literal(alert.location)), ward = \(try literal(alert.ward)),
            rule_severity = \(Self.severity(alert.ruleSeverity))
        WHERE id = \(alert.id);

        """
    }

    private func literal(_ text: String?) throws(PostgresError) -> String {
        guard let text else { return "NULL" }
        return try connection.quoteLiteral(text)
    }

    private static func number(_ value: Double?) -> String {
        guard let value, value.isFinite else { return "NULL" }
        return "\(value)"
    }

    private static func severity(_ severity: AlertSeverity?) -> String {
        severity.map { "'\($0.rawValue)'" } ?? "NULL"
    }

    private static func time(_ time: Timestamp?) -> String {
        guard let time else { return "NULL" }
        return "to_timestamp(\(time.microsecondsSinceEpoch)::double precision / 1000000)"
    }

    private static func storedEvent(_ row: [String?]) -> StoredAlertEvent? {
        guard row.count == 6, let id = row[0].flatMap({ Int64($0) }), let type = row[1].flatMap(AlertEventType.init(rawValue:)),
              let facility = row[2], let key = row[4], let payload = row[5] else {
            return nil
        }
        return StoredAlertEvent(id: id, type: type, facility: facility, ward: row[3], kafkaKey: key, payload: payload)
    }

    private static func alert(_ row: [String?]) -> Alert? {
        func micros(_ index: Int) -> Timestamp? { row[index].flatMap { Int64($0) }.map(Timestamp.init(microsecondsSinceEpoch:)) }
        guard row.count == 23, let id = row[0].flatMap({ Int64($0) }), let key = row[1],
              let state = row[2].flatMap(AlertState.init(rawValue:)), let severity = row[3].flatMap(AlertSeverity.init(rawValue:)),
              let rule = row[4], let vital = row[5], let device = row[10], let facility = row[12],
              let raisedAt = micros(13), let observedAt = micros(14) else {
            return nil
        }
        return Alert(
            id: id, key: key, state: state, severity: severity, rule: rule, vital: vital,
            value: row[6].flatMap { Double($0) }, unit: row[7],
            patient: row[8].map { PatientIdentifier(id: $0, assigningAuthority: row[9] ?? "") },
            device: device, location: row[11], facility: facility, raisedAt: raisedAt, observedAt: observedAt,
            acknowledgedAt: micros(15), acknowledgedBy: row[16], resolvedAt: micros(17), resolvedBy: row[18],
            escalationCount: row[19].flatMap { Int($0) } ?? 0, escalatedAt: micros(20),
            escalateAfter: row[21].flatMap { Int64($0) }.map { .milliseconds($0) }, ruleSeverity: row[22].flatMap(AlertSeverity.init(rawValue:))
        )
    }
}

/// Ids taken from a sequence in blocks ahead of use, so a commit needs none from the server.
/// Sequences only increase, so ids handed out in order stay in order across blocks and restarts.
private struct IDRange {
    let sequence: String
    private var reserved: [Int64] = []
    private var next = 0

    init(sequence: String) { self.sequence = sequence }

    mutating func next(_ connection: PostgresConnection) throws(PostgresError) -> Int64 {
        if next == reserved.count {
            reserved = try connection.execute("SELECT nextval('\(sequence)') FROM generate_series(1, 64)").rows
                .compactMap { $0.first.flatMap { $0 }.flatMap { Int64($0) } }
            next = 0
            guard !reserved.isEmpty else {
                throw PostgresError(message: "no ids from \(sequence)", context: "reserve alert ids")
            }
        }
        defer { next += 1 }
        return reserved[next]
    }
}
