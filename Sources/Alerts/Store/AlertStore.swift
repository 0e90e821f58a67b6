import Storage
import VitalSigns

/// A change of the alert lifecycle to make durable, with the event that announces it.
struct AlertChange: Sendable {
    /// For a `.raised` change the alert has no id yet; the store assigns it.
    var alert: Alert
    var event: AlertEventType
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

    init(url: String) throws(PostgresError) {
        connection = try PostgresConnection(url: url)
    }

    deinit { connection.close() }

    private static let columns = """
        id, alert_key, state, severity, rule, vital, value, unit, patient_identifier, patient_authority,
        device_identifier, location, facility,
        (EXTRACT(EPOCH FROM raised_at) * 1000000)::bigint, (EXTRACT(EPOCH FROM observed_at) * 1000000)::bigint,
        (EXTRACT(EPOCH FROM acknowledged_at) * 1000000)::bigint, acknowledged_by,
        (EXTRACT(EPOCH FROM resolved_at) * 1000000)::bigint, resolved_by,
        escalation_count, (EXTRACT(EPOCH FROM escalated_at) * 1000000)::bigint, escalate_after_ms
        """

    func unresolvedAlerts() throws(PostgresError) -> [Alert] {
        try connection.query("SELECT \(Self.columns) FROM critical_events WHERE state <> 'resolved' ORDER BY id").rows.compactMap(Self.alert)
    }

    func alert(id: Int64) throws(PostgresError) -> Alert? {
        try connection.query("SELECT \(Self.columns) FROM critical_events WHERE id = $1", [String(id)]).rows.first.flatMap(Self.alert)
    }

    /// Makes `changes` durable in one transaction and returns the events announcing them, in order.
    func commit(_ changes: [AlertChange], at now: Timestamp) throws(PostgresError) -> [AlertEvent] {
        guard !changes.isEmpty else { return [] }
        _ = try connection.execute("BEGIN")
        do throws(PostgresError) {
            var alerts: [Alert] = []
            var insertedIDs: [String: (id: Int64, raisedAt: Timestamp)] = [:]
            for change in changes {
                var alert = change.alert
                switch change.event {
                case .raised:
                    alert.raisedAt = now
                    alert.escalatedAt = now
                    alert = try insert(alert)
                    insertedIDs[alert.key] = (alert.id, now)
                    alerts.append(alert)
                    continue
                case .acknowledged: alert.acknowledgedAt = now
                case .resolved: alert.resolvedAt = now
                case .escalated: alert.escalatedAt = now
                }
                // A change to an alert raised earlier in the same batch.
                if alert.id == 0, let inserted = insertedIDs[alert.key] {
                    alert.id = inserted.id
                    alert.raisedAt = inserted.raisedAt
                }
                alerts.append(try update(alert))
            }
            let ids = try connection.query(
                "SELECT nextval('alert_events_id_seq') FROM generate_series(1, $1)", [String(changes.count)]
            ).rows.compactMap { $0.first.flatMap { $0 }.flatMap { Int64($0) } }
            guard ids.count == changes.count else {
                throw PostgresError(message: "expected \(changes.count) event ids, got \(ids.count)", context: "reserve alert event ids")
            }
            let events = zip(ids, zip(changes, alerts)).map { id, pair in
                AlertEvent(id: id, type: pair.0.event, occurredAt: now, alert: pair.1)
            }
            _ = try connection.query("""
                INSERT INTO alert_events (id, alert_id, type, occurred_at, facility, ward, kafka_key, payload)
                SELECT u.id, u.alert_id, u.type, to_timestamp($4::double precision / 1000000), u.facility, u.ward, u.kafka_key, u.payload
                FROM unnest($1::bigint[], $2::bigint[], $3::text[], $5::text[], $6::text[], $7::text[], $8::text[])
                     AS u(id, alert_id, type, facility, ward, kafka_key, payload)
                """, [
                    PostgresArray.integers(events.map(\.id)),
                    PostgresArray.integers(events.map(\.alert.id)),
                    PostgresArray.text(events.map(\.type.rawValue)),
                    String(now.microsecondsSinceEpoch),
                    PostgresArray.text(events.map(\.alert.facility)),
                    PostgresArray.text(events.map(\.alert.ward)),
                    PostgresArray.text(events.map(\.alert.device)),
                    PostgresArray.text(events.map(\.json)),
                ])
            _ = try connection.query("""
                UPDATE critical_events c SET last_event_id = u.event_id
                FROM (SELECT alert_id, max(event_id) AS event_id FROM unnest($1::bigint[], $2::bigint[]) AS t(alert_id, event_id) GROUP BY alert_id) u
                WHERE c.id = u.alert_id
                """, [
                    PostgresArray.integers(events.map(\.alert.id)),
                    PostgresArray.integers(events.map(\.id)),
                ])
            _ = try connection.execute("COMMIT")
            return events
        } catch {
            _ = try? connection.execute("ROLLBACK")
            throw error
        }
    }

    /// Events after `id`, oldest first, for a stream that resumes.
    func events(after id: Int64, limit: Int = 10_000) throws(PostgresError) -> [StoredAlertEvent] {
        try connection.query(
            "SELECT id, type, facility, ward, kafka_key, payload FROM alert_events WHERE id > $1 ORDER BY id LIMIT $2",
            [String(id), String(limit)]
        ).rows.compactMap(Self.storedEvent)
    }

    /// Events Kafka has not confirmed yet, oldest first.
    func undeliveredEvents(after id: Int64, limit: Int) throws(PostgresError) -> [StoredAlertEvent] {
        try connection.query(
            "SELECT id, type, facility, ward, kafka_key, payload FROM alert_events WHERE delivered_at IS NULL AND id > $1 ORDER BY id LIMIT $2",
            [String(id), String(limit)]
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

    private func insert(_ alert: Alert) throws(PostgresError) -> Alert {
        let id = try connection.query("""
            INSERT INTO critical_events (alert_key, facility, patient_identifier, patient_authority, device_identifier, location, ward,
                vital, value, unit, rule, severity, state, observed_at, raised_at, escalated_at, escalate_after_ms)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9::double precision, $10, $11, $12, $13,
                to_timestamp($14::double precision / 1000000), to_timestamp($15::double precision / 1000000),
                to_timestamp($15::double precision / 1000000), $16::bigint)
            RETURNING id
            """, [
                alert.key, alert.facility, alert.patient?.id, alert.patient?.assigningAuthority, alert.device, alert.location, alert.ward,
                alert.vital, alert.value.map { String($0) }, alert.unit, alert.rule, alert.severity.rawValue, alert.state.rawValue,
                String(alert.observedAt.microsecondsSinceEpoch), String(alert.raisedAt.microsecondsSinceEpoch),
                alert.escalateAfter.map { String($0.microseconds / 1000) },
            ], prepared: true).scalar
        guard let id, let value = Int64(id) else {
            throw PostgresError(message: "INSERT returned no id", context: "insert critical_events")
        }
        var stored = alert
        stored.id = value
        return stored
    }

    private func update(_ alert: Alert) throws(PostgresError) -> Alert {
        func micros(_ time: Timestamp?) -> String? { time.map { String($0.microsecondsSinceEpoch) } }
        _ = try connection.query("""
            UPDATE critical_events SET state = $2, severity = $3, value = $4::double precision,
                acknowledged_at = to_timestamp($5::double precision / 1000000), acknowledged_by = $6,
                resolved_at = to_timestamp($7::double precision / 1000000), resolved_by = $8,
                escalation_count = $9, escalated_at = to_timestamp($10::double precision / 1000000)
            WHERE id = $1
            """, [
                String(alert.id), alert.state.rawValue, alert.severity.rawValue, alert.value.map { String($0) },
                micros(alert.acknowledgedAt), alert.acknowledgedBy, micros(alert.resolvedAt), alert.resolvedBy,
                String(alert.escalationCount), micros(alert.escalatedAt),
            ], prepared: true)
        return alert
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
        guard row.count == 22, let id = row[0].flatMap({ Int64($0) }), let key = row[1],
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
            escalateAfter: row[21].flatMap { Int64($0) }.map { .milliseconds($0) }
        )
    }
}
