import Foundation
import VitalSigns

/// What a patient association is about: a bed (PV1-3 text such as `ICU^1^A`) or a device.
public enum AssociationSubject: Sendable, Hashable, CustomStringConvertible {
    case bed(String)
    case device(String)

    public var kind: String {
        switch self {
        case .bed: "bed"
        case .device: "device"
        }
    }

    public var identifier: String {
        switch self {
        case .bed(let id), .device(let id): id
        }
    }

    public init?(kind: String, identifier: String) {
        switch kind {
        case "bed": self = .bed(identifier)
        case "device": self = .device(identifier)
        default: return nil
        }
    }

    public var description: String { "\(kind) \(identifier)" }
}

/// One row of `patient_associations`: `subject` belongs to `patient` from `validFrom` until
/// `validTo` (open-ended when nil).
public struct PatientAssociation: Sendable, Hashable {
    public var id: Int64
    public var subject: AssociationSubject
    public var patient: PatientIdentifier
    public var validFrom: Date
    public var validTo: Date?
    public var setBy: String

    public init(id: Int64, subject: AssociationSubject, patient: PatientIdentifier, validFrom: Date, validTo: Date?, setBy: String) {
        self.id = id
        self.subject = subject
        self.patient = patient
        self.validFrom = validFrom
        self.validTo = validTo
        self.setBy = setBy
    }

    /// Whether the association covers `time`.
    public func covers(_ time: Date) -> Bool {
        validFrom <= time && (validTo.map { time < $0 } ?? true)
    }
}

/// Sets, ends, lists and looks up patient associations of beds and devices on one connection.
/// Setting a subject's association closes its open one at the new one's start, in the same
/// transaction, so a subject never has two open associations.
public struct AssociationStore {
    private let connection: PostgresConnection

    public init(connection: PostgresConnection) {
        self.connection = connection
    }

    /// Associates `subject` with `patient` from `from` on, ending its current association there.
    @discardableResult
    public func set(_ subject: AssociationSubject, patient: PatientIdentifier, from: Date = Date(), by user: String) throws(PostgresError) -> PatientAssociation {
        try transaction(subject) { () throws(PostgresError) -> PatientAssociation in
            let later = try connection.query("""
                SELECT count(*) FROM patient_associations
                WHERE subject = $1 AND subject_id = $2 AND valid_from >= $3::timestamptz AND (valid_to IS NULL OR valid_to > $3::timestamptz)
                """, [subject.kind, subject.identifier, Self.text(from)])
            if let count = later.scalar.flatMap(Int.init), count > 0 {
                throw PostgresError(message: "\(subject) already has an association starting at or after \(Self.text(from)); end it or set a later start",
                                    context: "set association")
            }
            try connection.query("""
                UPDATE patient_associations SET valid_to = $3::timestamptz
                WHERE subject = $1 AND subject_id = $2 AND valid_from < $3::timestamptz AND (valid_to IS NULL OR valid_to > $3::timestamptz)
                """, [subject.kind, subject.identifier, Self.text(from)])
            let result = try connection.query("""
                WITH patient AS (
                    INSERT INTO patients (identifier, assigning_authority) VALUES ($3, $4)
                    ON CONFLICT (identifier, assigning_authority) DO UPDATE SET identifier = EXCLUDED.identifier
                    RETURNING id
                )
                INSERT INTO patient_associations (subject, subject_id, patient_id, valid_from, set_by)
                SELECT $1, $2, id, $5::timestamptz, $6 FROM patient
                RETURNING id
                """, [subject.kind, subject.identifier, patient.id, patient.assigningAuthority, Self.text(from), user])
            guard let id = result.scalar.flatMap(Int64.init) else {
                throw PostgresError(message: "the association was not inserted", context: "set association")
            }
            return PatientAssociation(id: id, subject: subject, patient: patient, validFrom: from, validTo: nil, setBy: user)
        }
    }

    /// Ends `subject`'s open association at `at`; returns how many were ended (0 or 1).
    @discardableResult
    public func end(_ subject: AssociationSubject, at: Date = Date()) throws(PostgresError) -> Int {
        try transaction(subject) { () throws(PostgresError) -> Int in
            let result = try connection.query("""
                UPDATE patient_associations SET valid_to = greatest($3::timestamptz, valid_from + interval '1 microsecond')
                WHERE subject = $1 AND subject_id = $2 AND valid_to IS NULL
                """, [subject.kind, subject.identifier, Self.text(at)])
            return result.affectedRows
        }
    }

    /// Associations open at `now` or ended after `endedAfter` (nil: only open ones), oldest first.
    public func list(endedAfter: Date? = nil) throws(PostgresError) -> [PatientAssociation] {
        let result = try connection.query("""
            SELECT a.id, a.subject, a.subject_id, p.identifier, p.assigning_authority,
                   extract(epoch FROM a.valid_from)::text, extract(epoch FROM a.valid_to)::text, a.set_by
            FROM patient_associations a JOIN patients p ON p.id = a.patient_id
            WHERE a.valid_to IS NULL OR a.valid_to > coalesce($1::timestamptz, 'infinity')
            ORDER BY a.valid_from, a.id
            """, [endedAfter.map(Self.text)])
        return result.rows.compactMap { row -> PatientAssociation? in
            guard row.count == 8, let id = row[0].flatMap(Int64.init),
                  let subject = AssociationSubject(kind: row[1] ?? "", identifier: row[2] ?? ""),
                  let from = row[5].flatMap(Double.init) else { return nil }
            return PatientAssociation(
                id: id, subject: subject, patient: PatientIdentifier(id: row[3] ?? "", assigningAuthority: row[4] ?? ""),
                validFrom: Date(timeIntervalSince1970: from), validTo: row[6].flatMap(Double.init).map(Date.init(timeIntervalSince1970:)),
                setBy: row[7] ?? "")
        }
    }

    /// The patient `subject` belongs to at `time`, if any.
    public func lookup(_ subject: AssociationSubject, at time: Date = Date()) throws(PostgresError) -> PatientIdentifier? {
        let result = try connection.query("""
            SELECT p.identifier, p.assigning_authority
            FROM patient_associations a JOIN patients p ON p.id = a.patient_id
            WHERE a.subject = $1 AND a.subject_id = $2 AND a.valid_from <= $3::timestamptz
              AND (a.valid_to IS NULL OR a.valid_to > $3::timestamptz)
            ORDER BY a.valid_from DESC LIMIT 1
            """, [subject.kind, subject.identifier, Self.text(time)])
        guard let row = result.rows.first, let id = row.first ?? nil else { return nil }
        return PatientIdentifier(id: id, assigningAuthority: row.count > 1 ? row[1] ?? "" : "")
    }

    /// Runs `body` in a transaction holding a lock on `subject`, so two concurrent changes of
    /// one subject cannot both see no open association.
    private func transaction<T>(_ subject: AssociationSubject, _ body: () throws(PostgresError) -> T) throws(PostgresError) -> T {
        try connection.execute("BEGIN")
        do {
            try connection.query("SELECT pg_advisory_xact_lock(hashtext($1))", ["patient_associations|\(subject.kind)|\(subject.identifier)"])
            let value = try body()
            try connection.execute("COMMIT")
            return value
        } catch {
            _ = try? connection.execute("ROLLBACK")
            throw error
        }
    }

    /// An exact `timestamptz` literal (microseconds, UTC).
    static func text(_ date: Date) -> String {
        let micros = Int64((date.timeIntervalSince1970 * 1_000_000).rounded())
        let (seconds, fraction) = micros.quotientAndRemainder(dividingBy: 1_000_000)
        var time = time_t(fraction < 0 ? seconds - 1 : seconds)
        var parts = tm()
        gmtime_r(&time, &parts)
        return String(format: "%04d-%02d-%02d %02d:%02d:%02d.%06d+00", Int(parts.tm_year) + 1900, Int(parts.tm_mon) + 1, Int(parts.tm_mday),
                      Int(parts.tm_hour), Int(parts.tm_min), Int(parts.tm_sec), Int(fraction < 0 ? fraction + 1_000_000 : fraction))
    }
}
