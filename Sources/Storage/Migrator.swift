import Foundation
import Logging

/// How `vital_signs` is stored: a TimescaleDB hypertable, or PostgreSQL's native declarative
/// range partitioning. Table names and columns are the same in both.
public enum StorageMode: String, Sendable, Hashable, CaseIterable {
    case timescaledb
    case nativePartitioning = "native"
}

/// What a `Migrator.migrate` call did.
public struct MigrationReport: Sendable, Equatable {
    public var mode: StorageMode
    /// Why this mode (detected now, or recorded by an earlier run).
    public var modeReason: String
    /// File names applied by this call, in order.
    public var applied: [String]
    /// Migrations that were already recorded as applied.
    public var alreadyApplied: Int
}

/// A migration problem that is not simply a failed statement.
public enum MigrationError: Error, Sendable, CustomStringConvertible {
    case unreadableDirectory(String, reason: String)
    case badFileName(String)
    case duplicateVersion(Int, [String])
    case missingVariant(version: Int, have: String, missing: StorageMode)
    case checksumMismatch(version: Int, name: String, recorded: String, current: String)
    case mixedModes([String])
    case timescaleUnavailable(reason: String)
    case newerSchema(directory: String, unknown: [String])
    case notUTF8(encoding: String)
    case failed(name: String, PostgresError)

    public var description: String {
        switch self {
        case let .unreadableDirectory(path, reason):
            return "cannot read migrations from \(path): \(reason)"
        case let .badFileName(name):
            return "migration file \(name) is not named NNNN_name.sql, NNNN_name.timescaledb.sql or NNNN_name.native.sql"
        case let .duplicateVersion(version, names):
            return "migration version \(version) appears in more than one file: \(names.joined(separator: ", "))"
        case let .missingVariant(version, have, missing):
            return "migration \(have) (version \(version)) has no \(missing.rawValue) variant; a mode-specific migration needs both .timescaledb.sql and .native.sql"
        case let .checksumMismatch(version, name, recorded, current):
            return "migration \(name) (version \(version)) was changed after it was applied: recorded checksum \(recorded), file now \(current). Applied migrations must not be edited; add a new migration instead"
        case let .mixedModes(modes):
            return "schema_migrations records more than one storage mode (\(modes.joined(separator: ", "))); the database needs manual repair"
        case let .timescaleUnavailable(reason):
            return "TimescaleDB mode was requested but is unavailable: \(reason)"
        case let .newerSchema(directory, unknown):
            return "the database has migrations that \(directory) does not (\(unknown.joined(separator: ", "))): this build, or the folder it was started with, is older than the schema"
        case let .notUTF8(encoding):
            return "the database's encoding is \(encoding), not UTF8: text it cannot hold (Arabic names and locations in a LATIN1 database, say) "
                + "would refuse whole messages; create the database with ENCODING 'UTF8'"
        case let .failed(name, error):
            return "migration \(name) failed: \(error.redactedDescription)"
        }
    }
}

/// Applies the ordered SQL migrations of a folder (the repository's `timescale/`).
///
/// Files are named `NNNN_name.sql` (both modes) or `NNNN_name.timescaledb.sql` plus
/// `NNNN_name.native.sql` (one per storage mode). Each applied migration is recorded in
/// `schema_migrations(version, name, storage_mode, checksum, applied_at)`; a recorded migration
/// whose file has changed since is an error. Each file runs in its own transaction together with
/// its record, unless its first line is `-- migrate: no-transaction`.
///
/// Concurrency: the whole run holds a session advisory lock, so two processes migrating the same
/// database at once apply each migration exactly once (the second waits, then finds them applied).
///
/// Mode: the first run chooses TimescaleDB when `pg_available_extensions` lists `timescaledb`,
/// `CREATE EXTENSION IF NOT EXISTS timescaledb` succeeds (it needs `shared_preload_libraries`),
/// and the build has the community (non-Apache-only) features; native partitioning otherwise.
/// Later runs keep the mode recorded in `schema_migrations`.
public struct Migrator: Sendable {
    public let directory: String
    public let logger: Logger
    /// Force a mode for a new database (tests, or an operator who wants native partitioning even
    /// where TimescaleDB is available). Ignored when the database already has a mode, unless it
    /// differs, which is an error.
    public let requestedMode: StorageMode?

    /// Advisory lock key: "nilecare" in ASCII.
    static let advisoryLockKey: Int64 = 0x6E69_6C65_6361_7265

    public init(directory: String, logger: Logger, requestedMode: StorageMode? = nil) {
        self.directory = directory
        self.logger = logger
        self.requestedMode = requestedMode
    }

    /// One migration file as found on disk.
    public struct Migration: Sendable, Equatable {
        public var version: Int
        public var name: String
        /// nil: applies in both modes.
        public var mode: StorageMode?
        public var sql: String
    }

    /// The migration files, sorted by version, checked for gaps in mode variants.
    public func migrations() throws -> [Migration] {
        let names: [String]
        do {
            names = try FileManager.default.contentsOfDirectory(atPath: directory)
        } catch {
            throw MigrationError.unreadableDirectory(directory, reason: "\(error)")
        }
        var found: [Migration] = []
        for name in names.sorted() where name.hasSuffix(".sql") {
            guard let parsed = Self.parse(fileName: name) else { throw MigrationError.badFileName(name) }
            let path = (directory as NSString).appendingPathComponent(name)
            guard let data = FileManager.default.contents(atPath: path), let sql = String(data: data, encoding: .utf8) else {
                throw MigrationError.unreadableDirectory(directory, reason: "cannot read \(name) as UTF-8")
            }
            found.append(Migration(version: parsed.version, name: name, mode: parsed.mode, sql: sql))
        }
        let byVersion = Dictionary(grouping: found, by: \.version)
        for (version, files) in byVersion {
            let common = files.filter { $0.mode == nil }
            let timescale = files.filter { $0.mode == .timescaledb }
            let native = files.filter { $0.mode == .nativePartitioning }
            if common.count > 1 || timescale.count > 1 || native.count > 1 || (!common.isEmpty && files.count > 1) {
                throw MigrationError.duplicateVersion(version, files.map(\.name).sorted())
            }
            if common.isEmpty {
                if let only = timescale.first, native.isEmpty {
                    throw MigrationError.missingVariant(version: version, have: only.name, missing: .nativePartitioning)
                }
                if let only = native.first, timescale.isEmpty {
                    throw MigrationError.missingVariant(version: version, have: only.name, missing: .timescaledb)
                }
            }
        }
        return found.sorted { ($0.version, $0.name) < ($1.version, $1.name) }
    }

    static func parse(fileName: String) -> (version: Int, mode: StorageMode?)? {
        guard fileName.hasSuffix(".sql") else { return nil }
        var stem = String(fileName.dropLast(4))
        var mode: StorageMode?
        for candidate in StorageMode.allCases where stem.hasSuffix("." + candidate.rawValue) {
            mode = candidate
            stem = String(stem.dropLast(candidate.rawValue.count + 1))
        }
        let digits = stem.prefix { $0.isASCII && $0.isNumber }
        guard digits.count == 4, let version = Int(digits) else { return nil }
        let rest = stem.dropFirst(4)
        guard rest.first == "_", rest.count > 1,
              rest.dropFirst().allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_") })
        else { return nil }
        return (version, mode)
    }

    /// Brings the database up to date. See the type's documentation.
    public func migrate(_ connection: PostgresConnection) throws -> MigrationReport {
        let files = try migrations()
        let encoding = try connection.execute("SHOW server_encoding").scalar ?? ""
        guard encoding == "UTF8" else { throw MigrationError.notUTF8(encoding: encoding) }
        try connection.query("SELECT pg_advisory_lock($1)", [String(Self.advisoryLockKey)])
        defer { _ = try? connection.query("SELECT pg_advisory_unlock($1)", [String(Self.advisoryLockKey)]) }

        try connection.execute("""
            CREATE TABLE IF NOT EXISTS schema_migrations (
                version      integer     PRIMARY KEY,
                name         text        NOT NULL,
                storage_mode text        NOT NULL CHECK (storage_mode IN ('timescaledb', 'native')),
                checksum     text        NOT NULL,
                applied_at   timestamptz NOT NULL DEFAULT now()
            )
            """)

        let (mode, reason) = try chooseMode(connection)
        logger.info("storage mode \(mode.rawValue): \(reason)", metadata: ["storage_mode": "\(mode.rawValue)"])

        let recorded = try connection.query("SELECT version, name, checksum FROM schema_migrations ORDER BY version")
        var recordedByVersion: [Int: (name: String, checksum: String)] = [:]
        for row in recorded.rows {
            guard let text = row[0], let version = Int(text) else { continue }
            recordedByVersion[version] = (row[1] ?? "", row[2] ?? "")
        }

        // An older build (or one started from an old release's folder) would run with old
        // alarm thresholds and decoders against a schema it does not know.
        let known = Set(files.map(\.version))
        let unknown = recordedByVersion.filter { !known.contains($0.key) }.sorted { $0.key < $1.key }.map(\.value.name)
        guard unknown.isEmpty else { throw MigrationError.newerSchema(directory: directory, unknown: unknown) }

        var applied: [String] = []
        var alreadyApplied = 0
        for migration in files where migration.mode == nil || migration.mode == mode {
            let checksum = Self.checksum(migration.sql)
            if let existing = recordedByVersion[migration.version] {
                guard existing.checksum == checksum else {
                    throw MigrationError.checksumMismatch(
                        version: migration.version, name: migration.name, recorded: existing.checksum, current: checksum)
                }
                alreadyApplied += 1
                continue
            }
            try apply(migration, checksum: checksum, mode: mode, connection: connection)
            applied.append(migration.name)
            logger.info("applied migration \(migration.name)", metadata: ["storage_mode": "\(mode.rawValue)"])
        }
        if applied.isEmpty {
            logger.debug("schema is up to date (\(alreadyApplied) migrations applied earlier)")
        }

        // Keep the native partition window current on every start (a no-op in TimescaleDB mode).
        if files.contains(where: { $0.sql.contains("vitals_ensure_partitions") }) {
            let created = try connection.query("SELECT vitals_ensure_partitions()").scalar.flatMap { Int($0) } ?? 0
            if created > 0 { logger.info("created \(created) daily vital_signs partitions") }
        }
        return MigrationReport(mode: mode, modeReason: reason, applied: applied, alreadyApplied: alreadyApplied)
    }

    private func apply(_ migration: Migration, checksum: String, mode: StorageMode, connection: PostgresConnection) throws {
        let transactional = !migration.sql.hasPrefix("-- migrate: no-transaction")
        let record = "INSERT INTO schema_migrations (version, name, storage_mode, checksum) VALUES ($1, $2, $3, $4)"
        let parameters: [String?] = [String(migration.version), migration.name, mode.rawValue, checksum]
        do {
            if transactional { try connection.execute("BEGIN") }
            try connection.execute(migration.sql)
            try connection.query(record, parameters)
            if transactional { try connection.execute("COMMIT") }
        } catch {
            if transactional { _ = try? connection.execute("ROLLBACK") }
            throw MigrationError.failed(name: migration.name, error)
        }
    }

    private func chooseMode(_ connection: PostgresConnection) throws -> (StorageMode, String) {
        let modes = try connection.execute("SELECT DISTINCT storage_mode FROM schema_migrations ORDER BY 1").rows.compactMap { $0[0] }
        if modes.count > 1 { throw MigrationError.mixedModes(modes) }
        if let recorded = modes.first, let mode = StorageMode(rawValue: recorded) {
            if let requestedMode, requestedMode != mode {
                throw MigrationError.timescaleUnavailable(
                    reason: "this database was created in \(mode.rawValue) mode and keeps it (\(requestedMode.rawValue) was requested)")
            }
            return (mode, "recorded in schema_migrations by an earlier run; a database keeps its mode")
        }
        if requestedMode == .nativePartitioning {
            return (.nativePartitioning, "native partitioning requested")
        }
        switch timescaleProbe(connection) {
        case .success(let detail):
            return (.timescaledb, detail)
        case .failure(let reason):
            if requestedMode == .timescaledb { throw MigrationError.timescaleUnavailable(reason: reason) }
            return (.nativePartitioning, "\(reason); using native range partitioning")
        }
    }

    private enum Probe { case success(String), failure(String) }

    private func timescaleProbe(_ connection: PostgresConnection) -> Probe {
        do {
            let available = try connection.execute(
                "SELECT default_version FROM pg_available_extensions WHERE name = 'timescaledb'")
            guard let version = available.scalar else {
                return .failure("the timescaledb extension is not installed on the server (not in pg_available_extensions)")
            }
            do {
                try connection.execute("CREATE EXTENSION IF NOT EXISTS timescaledb")
            } catch {
                return .failure("timescaledb \(version) is installed but CREATE EXTENSION failed: \(error.message)")
            }
            let license = (try? connection.execute("SELECT current_setting('timescaledb.license', true)").scalar) ?? nil
            if let license, license != "timescale" {
                _ = try? connection.execute("DROP EXTENSION IF EXISTS timescaledb")
                return .failure("timescaledb \(version) is an Apache-only build (license \(license)) without compression or continuous aggregates")
            }
            let installed = (try? connection.execute("SELECT extversion FROM pg_extension WHERE extname = 'timescaledb'").scalar) ?? nil
            return .success("timescaledb \(installed ?? version) is available and loaded")
        } catch {
            return .failure("could not probe for timescaledb: \(error)")
        }
    }

    /// FNV-1a 64 of the file's bytes, hex: stable across platforms and toolchains, and enough to
    /// notice that an applied file was edited.
    static func checksum(_ sql: String) -> String {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in sql.utf8 {
            hash ^= UInt64(byte)
            hash = hash &* 0x0000_0100_0000_01B3
        }
        let hex = String(hash, radix: 16)
        return "fnv1a64:" + String(repeating: "0", count: 16 - hex.count) + hex
    }
}
