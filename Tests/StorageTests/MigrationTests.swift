import Foundation
import Logging
import Storage
import TestSupport
import Testing

/// The modes these tests can run: native always, TimescaleDB when it is installed.
let availableModes: [StorageMode] = TestPostgres.timescaleInstalled ? [.nativePartitioning, .timescaledb] : [.nativePartitioning]

@Suite("Migrations")
struct MigrationTests {
    let logger = TestPostgres.logger

    @Test("migrations apply, are idempotent, and record themselves", arguments: availableModes)
    func applyAndRerun(mode: StorageMode) throws {
        let connection = try PostgresConnection(url: try TestPostgres.database())
        defer { connection.close() }
        let migrator = Migrator(directory: RepositoryPaths.migrations, logger: logger, requestedMode: mode)
        let shipped = try shippedMigrations(mode: mode)
        #expect(shipped.prefix(2).map(\.name) == ["0001_core.sql", "0002_vital_signs.\(mode.rawValue).sql"])
        let first = try migrator.migrate(connection)
        #expect(first.mode == mode)
        #expect(first.applied == shipped.map(\.name))
        #expect(first.alreadyApplied == 0)

        let second = try migrator.migrate(connection)
        #expect(second.mode == mode)
        #expect(second.applied.isEmpty)
        #expect(second.alreadyApplied == shipped.count)

        // Without a requested mode, the recorded mode is kept.
        let third = try Migrator(directory: RepositoryPaths.migrations, logger: logger).migrate(connection)
        #expect(third.mode == mode)
        #expect(third.modeReason.contains("recorded"))

        let recorded = try connection.execute("SELECT version, name, storage_mode, checksum, applied_at IS NOT NULL FROM schema_migrations ORDER BY version")
        #expect(recorded.rows.map { Array($0.prefix(3)) } == shipped.map { [String($0.version), $0.name, mode.rawValue] })
        #expect(recorded.rows.allSatisfy { ($0[3] ?? "").hasPrefix("fnv1a64:") && $0[4] == "t" })
    }

    @Test("a database migrated by a newer build is refused by an older one, naming what it does not know")
    func aNewerSchemaIsRefused() throws {
        let url = try TestPostgres.migratedDatabase()
        let connection = try PostgresConnection(url: url)
        defer { connection.close() }
        try connection.execute("INSERT INTO schema_migrations (version, name, storage_mode, checksum) SELECT 9999, '9999_from_the_future.sql', storage_mode, 'x' FROM schema_migrations LIMIT 1")
        do {
            _ = try Migrator(directory: RepositoryPaths.migrations, logger: logger).migrate(connection)
            Issue.record("an older folder migrated a newer schema")
        } catch {
            #expect("\(error)".contains("9999_from_the_future.sql"))
        }
    }

    @Test("a database whose encoding is not UTF8 is refused before anything is created, saying how to create it")
    func aLatin1DatabaseIsRefused() throws {
        let cluster = try TestPostgres.shared()
        let name = TestPostgres.uniqueName("latin1")
        let admin = try PostgresConnection(url: cluster.url)
        defer { admin.close() }
        try admin.execute("CREATE DATABASE \(name) ENCODING 'LATIN1' LC_COLLATE 'C' LC_CTYPE 'C' TEMPLATE template0")
        let connection = try PostgresConnection(url: cluster.url(database: name))
        defer { connection.close() }
        #expect {
            _ = try Migrator(directory: RepositoryPaths.migrations, logger: logger).migrate(connection)
        } throws: { error in
            "\(error)".contains("encoding is LATIN1, not UTF8") && "\(error)".contains("ENCODING 'UTF8'")
        }
        #expect(try connection.execute("SELECT to_regclass('schema_migrations') IS NULL").scalar == "t")
    }

    @Test("vital_signs has exactly the three specified indexes", arguments: availableModes)
    func indexes(mode: StorageMode) throws {
        let connection = try PostgresConnection(url: try TestPostgres.migratedDatabase(mode: mode))
        defer { connection.close() }
        let result = try connection.execute("""
            SELECT indexname, indexdef FROM pg_indexes
            WHERE schemaname = 'public' AND tablename = 'vital_signs' ORDER BY indexname
            """)
        let definitions = Dictionary(uniqueKeysWithValues: result.rows.map { ($0[0] ?? "", $0[1] ?? "") })
        #expect(definitions.keys.sorted() == [
            "vital_signs_critical_patient_time_idx", "vital_signs_device_time_idx", "vital_signs_patient_time_idx",
        ])
        #expect(definitions["vital_signs_patient_time_idx"]?.hasSuffix("(patient_id, observation_time DESC)") == true)
        #expect(definitions["vital_signs_device_time_idx"]?.hasSuffix("(device_id, observation_time DESC)") == true)
        #expect(definitions["vital_signs_critical_patient_time_idx"]?.hasSuffix("(patient_id, observation_time DESC) WHERE is_critical") == true)

        // Columns use the compact types.
        let columns = try connection.execute("""
            SELECT column_name, data_type FROM information_schema.columns
            WHERE table_name = 'vital_signs' ORDER BY ordinal_position
            """).rows.map { "\($0[0] ?? ""):\($0[1] ?? "")" }
        #expect(columns == [
            "observation_time:timestamp with time zone", "patient_id:bigint", "device_id:integer", "location:text",
            "vital_kind:smallint", "code:text", "code_system:text", "value:double precision", "unit:text",
            "hierarchy:text", "status:\"char\"", "is_critical:boolean", "received_at:timestamp with time zone",
        ])
        // vital_signs_1m answers with the same columns in both modes.
        let rollup = try connection.execute("SELECT * FROM vital_signs_1m LIMIT 1")
        #expect(rollup.columns == ["bucket", "patient_id", "device_id", "vital_kind", "avg_value", "min_value", "max_value", "sample_count"])
    }

    @Test("native mode: daily partitions around today and a default partition for the rest")
    func nativePartitions() throws {
        let connection = try PostgresConnection(url: try TestPostgres.migratedDatabase(mode: .nativePartitioning))
        defer { connection.close() }
        let partitions = try connection.execute("""
            SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
            WHERE i.inhparent = 'vital_signs'::regclass ORDER BY c.relname
            """).rows.compactMap { $0[0] }
        #expect(partitions.contains("vital_signs_default"))
        #expect(partitions.filter { $0.hasPrefix("vital_signs_p") }.count == 22)  // 7 days back, today, 14 ahead
        let today = try connection.execute("SELECT 'vital_signs_p' || to_char(now() AT TIME ZONE 'UTC', 'YYYYMMDD')").scalar ?? ""
        #expect(partitions.contains(today))

        try connection.execute("""
            INSERT INTO devices (identifier) VALUES ('dev');
            INSERT INTO vital_signs (observation_time, device_id, vital_kind, code, code_system, value, unit, status, is_critical)
            VALUES (now(), 1, 1, '147842', 'MDC', 80, '/min', 'F', false),
                   ('1999-12-31 23:59:59+00', 1, 1, '147842', 'MDC', 81, '/min', 'F', false),
                   (now() + interval '400 days', 1, 1, '147842', 'MDC', 82, '/min', 'F', true),
                   (now() + interval '30 days', 1, 1, '147842', 'MDC', 83, '/min', 'F', false)
            """)
        let placement = try connection.execute("SELECT value, tableoid::regclass::text FROM vital_signs ORDER BY value").rows
        #expect(placement == [["80", today], ["81", "vital_signs_default_past"], ["82", "vital_signs_default_rest"], ["83", "vital_signs_default_rest"]])

        // Extending the window moves the +30 days row out of the default partition.
        let created = try Int(connection.execute("SELECT vitals_ensure_partitions(40)").scalar ?? "") ?? 0
        #expect(created == 26)
        let moved = try connection.execute("SELECT tableoid::regclass::text FROM vital_signs WHERE value = 83").scalar ?? ""
        #expect(moved.hasPrefix("vital_signs_p"))
        #expect(try count(connection, "SELECT count(*) FROM vital_signs") == 4)
        #expect(try count(connection, "SELECT count(*) FROM vital_signs_default") == 2)
        // Calling it again creates nothing; the rollup view works.
        #expect(try connection.execute("SELECT vitals_ensure_partitions(40)").scalar == "0")
        #expect(try count(connection, "SELECT sum(sample_count) FROM vital_signs_1m") == 4)

        // Retention counts from each row's arrival. Partitions whose day ended two days before the
        // cutoff go whole (days -7 to -4 for a day's retention), and the default partition's rows
        // that are old by their time and their arrival; a wrong-clock row that arrived today is
        // kept, in the default partition or in such a day's own (5 days back), where the rows that
        // arrived before the cutoff go and the partition stays.
        try connection.execute("""
            INSERT INTO vital_signs (observation_time, device_id, vital_kind, code, code_system, value, unit, status, is_critical, received_at)
            VALUES ('1999-12-30 10:00:00+00', 1, 1, '147842', 'MDC', 84, '/min', 'F', false, '2000-01-01 00:00:00+00'),
                   (now() - interval '5 days', 1, 1, '147842', 'MDC', 85, '/min', 'F', false, now() - interval '5 days'),
                   (now() - interval '5 days', 1, 1, '147842', 'MDC', 86, '/min', 'F', false, now()),
                   (now() + interval '500 days', 1, 1, '147842', 'MDC', 87, '/min', 'F', false, '2000-01-01 00:00:00+00')
            """)
        let kept = try connection.execute("SELECT tableoid::regclass::text FROM vital_signs WHERE value = 86").scalar ?? ""
        #expect(kept.hasPrefix("vital_signs_p"))
        #expect(try connection.execute("CALL vitals_expire_observations(interval '1 day')").scalar == "3")
        // A row a clock set ahead sent goes by its arrival too (it is never past the cutoff by its time).
        #expect(try count(connection, "SELECT count(*) FROM vital_signs WHERE value IN (84, 85, 87)") == 0)
        #expect(try count(connection, "SELECT count(*) FROM vital_signs WHERE value = 81") == 1)
        #expect(try connection.execute("SELECT tableoid::regclass::text FROM vital_signs WHERE value = 86").scalar == kept)
    }

    @Test("native mode: partitions are UTC days whatever DateStyle and TimeZone the server or a session uses")
    func nativePartitionBoundsIgnoreTheSessionsDateStyle() throws {
        let url = try TestPostgres.database()
        let setup = try PostgresConnection(url: url)
        // Sudan's zone prints as CAT, which PostgreSQL cannot read back in DateStyle SQL.
        try setup.execute("""
            DO $$ BEGIN
                EXECUTE format('ALTER DATABASE %I SET datestyle = %L', current_database(), 'SQL, DMY');
                EXECUTE format('ALTER DATABASE %I SET timezone = %L', current_database(), 'Africa/Khartoum');
            END $$
            """)
        setup.close()
        try TestPostgres.migrate(url, mode: .nativePartitioning)

        // A maintenance call from a session in another zone and style (psql, a cron job).
        let session = try PostgresConnection(url: url)
        defer { session.close() }
        try session.execute("SET datestyle = 'SQL, DMY'; SET timezone = 'Asia/Kolkata'")
        #expect(try session.execute("SELECT vitals_ensure_partitions(20)").scalar == "6")
        try session.execute("INSERT INTO devices (identifier) VALUES ('dev')")
        // Just before and just after midnight UTC, today and 18 days ahead (made by that call).
        for days in [0, 18] {
            try session.execute("""
                INSERT INTO vital_signs (observation_time, device_id, vital_kind, code, code_system, value, unit, status, is_critical)
                SELECT day + interval '1 day' - interval '1 second', 1, 1, 'x', 'MDC', \(days), '/min', 'F', false
                FROM (SELECT ((now() AT TIME ZONE 'UTC')::date + \(days))::timestamp AT TIME ZONE 'UTC' AS day) d
                UNION ALL
                SELECT day + interval '1 day' + interval '1 second', 1, 1, 'x', 'MDC', \(days) + 0.5, '/min', 'F', false
                FROM (SELECT ((now() AT TIME ZONE 'UTC')::date + \(days))::timestamp AT TIME ZONE 'UTC' AS day) d
                """)
        }
        let placement = try session.execute("""
            SELECT value, tableoid::regclass::text = 'vital_signs_p' || to_char(observation_time AT TIME ZONE 'UTC', 'YYYYMMDD')
            FROM vital_signs ORDER BY value
            """).rows
        #expect(placement == [["0", "t"], ["0.5", "t"], ["18", "t"], ["18.5", "t"]])
    }

    @Test("native mode: partition maintenance locks the parent table, not every partition; the default partition has an index on time")
    func nativeMaintenanceLocksTheParentAlone() throws {
        let url = try TestPostgres.migratedDatabase(mode: .nativePartitioning)
        let connection = try PostgresConnection(url: url)
        defer { connection.close() }
        try dropFarthestPartition(connection)
        try connection.execute("BEGIN")
        // One, or two when UTC midnight passed since the drop.
        let created = try #require(try connection.execute("SELECT vitals_ensure_partitions()").scalar.flatMap { Int($0) })
        #expect(created >= 1)
        // Locks are held until the transaction ends: the new partitions' and the default's (whose
        // range shrinks; its two parts, not counted here, too) are the only ones; before, every
        // partition was locked.
        let locked = try connection.execute("""
            SELECT count(*) FROM pg_locks l JOIN pg_inherits i ON i.inhrelid = l.relation
            WHERE l.pid = pg_backend_pid() AND l.mode = 'AccessExclusiveLock' AND i.inhparent = 'vital_signs'::regclass
            """).scalar
        try connection.execute("COMMIT")
        #expect(locked == String(created + 1))
        #expect(try connection.execute("SELECT count(*) FROM pg_indexes WHERE tablename = 'vital_signs_default' AND indexdef LIKE '%(observation_time)%'").scalar == "1")
    }

    /// PostgreSQL checks, under the lock that holds writers up, that no row of the default
    /// partition belongs to a new day. A monitor whose clock was reset to 1970 for a month puts
    /// some 30 million rows there; reading them all each day stalled every writer for seconds.
    @Test("native mode: creating a day's partition does not read the default partition's rows from before the days maintenance makes")
    func nativeMaintenanceDoesNotReadThePastRowsOfTheDefault() async throws {
        let connection = try PostgresConnection(url: try TestPostgres.migratedDatabase(mode: .nativePartitioning))
        defer { connection.close() }
        try connection.execute("""
            INSERT INTO devices (identifier) VALUES ('dev');
            INSERT INTO vital_signs (observation_time, device_id, vital_kind, code, code_system, value, unit, status, is_critical)
            SELECT timestamptz '1970-01-01 00:00:00+00' + i * interval '1 second', 1, 1, '147842', 'MDC', 80, '/min', 'F', false
            FROM generate_series(1, 1000) i
            UNION ALL
            SELECT now() + interval '400 days' + i * interval '1 second', 1, 1, '147842', 'MDC', 81, '/min', 'F', false
            FROM generate_series(1, 10) i
            """)
        #expect(try connection.execute("SELECT tableoid::regclass::text, count(*) FROM vital_signs GROUP BY 1 ORDER BY 1").rows
            == [["vital_signs_default_past", "1000"], ["vital_signs_default_rest", "10"]])
        /// Rows each part of the default partition has had read by scans so far.
        func rowsRead() throws -> (past: Int, rest: Int) {
            try connection.execute("SELECT pg_stat_force_next_flush()")
            let rows = try connection.execute("""
                SELECT relname, seq_tup_read FROM pg_stat_user_tables
                WHERE relname IN ('vital_signs_default_past', 'vital_signs_default_rest') ORDER BY relname
                """).rows
            return (Int(rows.first?[1] ?? "") ?? -1, Int(rows.last?[1] ?? "") ?? -1)
        }
        let before = try rowsRead()

        try dropFarthestPartition(connection)
        // Maintenance's own look for rows of the new day goes by the index, so that the rest's
        // rows read below are the check's.
        try connection.execute("SET enable_seqscan = off")
        let created = try #require(try connection.execute("SELECT vitals_ensure_partitions()").scalar.flatMap { Int($0) })
        #expect(created >= 1)
        // The check did read the rest (statistics arrive once flushed), and not the past.
        try await waitUntil(timeout: .seconds(10), "the default's rest read by the check") { try rowsRead().rest > before.rest }
        #expect(try rowsRead().past == before.past)
        #expect(try connection.execute("SELECT count(*) FROM vital_signs").scalar == "1010")
    }

    @Test("native mode: upgrading to the split default partition keeps the old default's rows, each in its part")
    func nativeDefaultSplitKeepsTheOldDefaultsRows() throws {
        // 0012 and the migrations after it (each in two variants) wait while the database is made
        // as the build before made it.
        let migrations = try MigrationsBefore(version: "0012")
        defer { migrations.remove() }
        let connection = try PostgresConnection(url: try TestPostgres.database())
        defer { connection.close() }
        let migrator = Migrator(directory: migrations.folder, logger: logger, requestedMode: .nativePartitioning)
        _ = try migrator.migrate(connection)
        try connection.execute("""
            INSERT INTO devices (identifier) VALUES ('dev');
            INSERT INTO vital_signs (observation_time, device_id, vital_kind, code, code_system, value, unit, status, is_critical)
            VALUES ('1970-01-01 00:00:10+00', 1, 1, '147842', 'MDC', 80, '/min', 'F', false),
                   (now(), 1, 1, '147842', 'MDC', 81, '/min', 'F', false),
                   (now() + interval '400 days', 1, 1, '147842', 'MDC', 82, '/min', 'F', true)
            """)
        #expect(try connection.execute("SELECT tableoid::regclass::text FROM vital_signs WHERE value = 80").scalar == "vital_signs_default")

        try migrations.letLaterIn()
        #expect(try migrator.migrate(connection).applied == migrations.later.filter { !$0.contains(".timescaledb.") })
        let placement = try connection.execute("SELECT value, tableoid::regclass::text FROM vital_signs ORDER BY value").rows
        let today = try connection.execute("SELECT 'vital_signs_p' || to_char(now() AT TIME ZONE 'UTC', 'YYYYMMDD')").scalar ?? ""
        #expect(placement == [["80", "vital_signs_default_past"], ["81", today], ["82", "vital_signs_default_rest"]])
        // The three indexes of vital_signs, and the default's own on time and on arrival, cover
        // both parts, and are named as in a database made by this build.
        for part in ["vital_signs_default_past", "vital_signs_default_rest"] {
            #expect(try connection.query("SELECT count(*) FROM pg_indexes WHERE tablename = $1", [part]).scalar == "5", "\(part)")
        }
        let fresh = try PostgresConnection(url: try TestPostgres.migratedDatabase(mode: .nativePartitioning))
        defer { fresh.close() }
        let indexNames = "SELECT indexname FROM pg_indexes WHERE tablename LIKE 'vital_signs_default%' ORDER BY 1"
        #expect(try connection.execute(indexNames).rows == fresh.execute(indexNames).rows)
    }

    @Test("native mode: partition maintenance does not queue behind a long read of vital_signs; what was busy is done next run")
    func nativeMaintenanceSkipsABusyTable() throws {
        let url = try TestPostgres.migratedDatabase(mode: .nativePartitioning)
        let admin = try PostgresConnection(url: url)
        defer { admin.close() }
        try dropFarthestPartition(admin)
        let reader = try PostgresConnection(url: url)
        defer { reader.close() }
        try reader.execute("BEGIN; SELECT count(*) FROM vital_signs")  // holds its lock until COMMIT

        let maintenance = try PostgresConnection(url: url)
        defer { maintenance.close() }
        // Without the lock timeout these would wait for the reader, and fail here instead.
        try maintenance.execute("SET statement_timeout = '20s'")
        #expect(try maintenance.execute("SELECT vitals_ensure_partitions()").scalar == "0")
        #expect(try maintenance.execute("CALL vitals_expire_observations(interval '1 day')").scalar == "0")

        try reader.execute("COMMIT")
        #expect(try maintenance.execute("SELECT vitals_ensure_partitions()").scalar == "1")
        #expect(try maintenance.execute("CALL vitals_expire_observations(interval '1 day')").scalar == "4")
    }

    @Test("a maintenance step that fails is logged and reported; the steps after it still run")
    func aFailingMaintenanceStepDoesNotStopTheOthers() throws {
        let url = try TestPostgres.migratedDatabase(mode: .nativePartitioning)
        let connection = try PostgresConnection(url: url)
        defer { connection.close() }
        try connection.execute("DROP FUNCTION vitals_ensure_partitions(integer, integer)")
        var maintenance = StorageMaintenance(logger: TestPostgres.logger)
        maintenance.retention = "1 day"
        let report = try maintenance.run(on: connection)
        #expect(report.failedSteps == ["partitions"])
        // Retention ran after it: days -7 to -4 are gone.
        #expect(report.partitionsDropped == 4)
    }

    @Test("native mode: a day whose partition would overlap one with other bounds (an earlier version's) is left to the default")
    func nativeMaintenanceSkipsAnOverlappingDay() throws {
        let url = try TestPostgres.migratedDatabase(mode: .nativePartitioning)
        let connection = try PostgresConnection(url: url)
        defer { connection.close() }
        // Day +15 as an earlier version wrote it in a zone 3.5 hours east: 03:30 to 03:30 UTC.
        try connection.execute("""
            DO $$ DECLARE day date := (now() AT TIME ZONE 'UTC')::date + 15; BEGIN
                EXECUTE format('CREATE TABLE %I PARTITION OF vital_signs FOR VALUES FROM (%L) TO (%L)',
                               'vital_signs_p' || to_char(day, 'YYYYMMDD'),
                               to_char(day, 'YYYY-MM-DD') || ' 03:30:00+00', to_char(day + 1, 'YYYY-MM-DD') || ' 03:30:00+00');
            END $$
            """)
        // Days +16 to +20: +16 overlaps the odd one and is skipped; the run goes on.
        #expect(try connection.execute("SELECT vitals_ensure_partitions(20)").scalar == "4")
        #expect(try connection.execute("CALL vitals_expire_observations()").scalar == "0")
    }

    @Test("an applied migration that was edited afterwards is a clear error")
    func checksumMismatch() throws {
        let folder = try RepositoryPaths.copyOfMigrations()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let connection = try PostgresConnection(url: try TestPostgres.database())
        defer { connection.close() }
        let migrator = Migrator(directory: folder, logger: logger, requestedMode: .nativePartitioning)
        _ = try migrator.migrate(connection)
        let path = folder + "/0001_core.sql"
        try (String(contentsOfFile: path, encoding: .utf8) + "\n-- edited\n").write(toFile: path, atomically: true, encoding: .utf8)
        let error = #expect(throws: MigrationError.self) { try migrator.migrate(connection) }
        guard case .checksumMismatch(let version, let name, _, _)? = error else {
            Issue.record("expected checksumMismatch, got \(String(describing: error))")
            return
        }
        #expect(version == 1 && name == "0001_core.sql")
        #expect(error?.description.contains("was changed after it was applied") == true)
    }

    @Test("a new migration is applied on the next run; a failing one rolls back and names itself")
    func newAndFailingMigrations() throws {
        let folder = try RepositoryPaths.copyOfMigrations()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let connection = try PostgresConnection(url: try TestPostgres.database())
        defer { connection.close() }
        let migrator = Migrator(directory: folder, logger: logger, requestedMode: .nativePartitioning)
        let shipped = try migrator.migrate(connection).applied.count
        let next = try shippedMigrations(mode: .nativePartitioning).map(\.version).max()! + 1
        let extra = String(format: "%04d_extra.sql", next)
        let broken = String(format: "%04d_broken.sql", next + 1)

        try "CREATE TABLE extra (id int);\n".write(toFile: folder + "/" + extra, atomically: true, encoding: .utf8)
        let report = try migrator.migrate(connection)
        #expect(report.applied == [extra])
        #expect(report.alreadyApplied == shipped)

        try "CREATE TABLE half (id int);\nSELECT no_such_function();\n".write(toFile: folder + "/" + broken, atomically: true, encoding: .utf8)
        let error = #expect(throws: MigrationError.self) { try migrator.migrate(connection) }
        guard case .failed(let name, let underlying)? = error else {
            Issue.record("expected failed, got \(String(describing: error))")
            return
        }
        #expect(name == broken)
        #expect(underlying.sqlState == "42883")
        #expect(try connection.execute("SELECT to_regclass('half') IS NULL").scalar == "t")
        #expect(try count(connection, "SELECT count(*) FROM schema_migrations") == shipped + 1)
    }

    @Test("badly named files and lone mode variants are refused before anything runs")
    func badFiles() throws {
        let folder = try RepositoryPaths.copyOfMigrations()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        try "SELECT 1;".write(toFile: folder + "/9000_only.timescaledb.sql", atomically: true, encoding: .utf8)
        let migrator = Migrator(directory: folder, logger: logger)
        #expect(throws: MigrationError.self) { try migrator.migrations() }
        try FileManager.default.removeItem(atPath: folder + "/9000_only.timescaledb.sql")
        try "SELECT 1;".write(toFile: folder + "/3_short.sql", atomically: true, encoding: .utf8)
        #expect(throws: MigrationError.self) { try migrator.migrations() }
    }

    @Test("two processes migrating at once apply each migration exactly once")
    func concurrentMigrators() async throws {
        let url = try TestPostgres.database()
        let logger = self.logger
        let reports = try await withThrowingTaskGroup(of: MigrationReport.self) { group in
            for _ in 0..<3 {
                group.addTask {
                    let connection = try PostgresConnection(url: url)
                    defer { connection.close() }
                    return try Migrator(directory: RepositoryPaths.migrations, logger: logger).migrate(connection)
                }
            }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        let shipped = try shippedMigrations(mode: reports[0].mode).count
        #expect(reports.map(\.applied.count).sorted() == [0, 0, shipped])
        #expect(Set(reports.map(\.mode)).count == 1)
        let connection = try PostgresConnection(url: url)
        defer { connection.close() }
        #expect(try count(connection, "SELECT count(*) FROM schema_migrations") == shipped)
    }

    @Test("without a request the mode follows what the server offers")
    func detectedMode() throws {
        let connection = try PostgresConnection(url: try TestPostgres.database())
        defer { connection.close() }
        let report = try Migrator(directory: RepositoryPaths.migrations, logger: logger).migrate(connection)
        #expect(report.mode == (TestPostgres.timescaleInstalled ? .timescaledb : .nativePartitioning))
        #expect(!report.modeReason.isEmpty)
    }

    @Test("TimescaleDB mode: hypertable, compression, retention, continuous aggregate",
          .enabled(if: TestPostgres.timescaleInstalled, "TimescaleDB is not installed"))
    func timescaleObjects() async throws {
        let connection = try PostgresConnection(url: try TestPostgres.migratedDatabase(mode: .timescaledb))
        defer { connection.close() }
        #expect(try count(connection, "SELECT count(*) FROM timescaledb_information.hypertables WHERE hypertable_name = 'vital_signs'") == 1)
        #expect(try connection.execute("""
            SELECT time_interval FROM timescaledb_information.dimensions WHERE hypertable_name = 'vital_signs'
            """).scalar == "1 day")
        let jobs = try connection.execute("""
            SELECT proc_name FROM timescaledb_information.jobs ORDER BY 1
            """).rows.compactMap { $0[0] }
        #expect(jobs.contains("policy_compression"))
        #expect(!jobs.contains("policy_retention"), "retention is the daemon's, by each row's arrival")
        #expect(jobs.contains("policy_refresh_continuous_aggregate"))
        #expect(try count(connection, "SELECT count(*) FROM timescaledb_information.continuous_aggregates WHERE view_name = 'vital_signs_1m'") == 1)
        #expect(try connection.execute("SELECT vitals_ensure_partitions()").scalar == "0")

        // A row that arrives days late (a gateway replaying its backlog) reaches the rollup at the
        // policy's next run, as it does in native mode's view.
        let job = try connection.execute("""
            SELECT job_id FROM timescaledb_information.jobs WHERE proc_name = 'policy_refresh_continuous_aggregate'
            """).scalar ?? ""
        try connection.execute("""
            INSERT INTO devices (identifier) VALUES ('dev');
            INSERT INTO vital_signs (observation_time, device_id, vital_kind, code, code_system, value, unit, status, is_critical)
            VALUES (now() - interval '1 hour', 1, 1, 'x', 'MDC', 80, '/min', 'F', false)
            """)
        try await runJob(job, on: connection)
        try connection.execute("""
            INSERT INTO vital_signs (observation_time, device_id, vital_kind, code, code_system, value, unit, status, is_critical)
            VALUES (now() - interval '3 days', 1, 1, 'x', 'MDC', 90, '/min', 'F', false)
            """)
        try await runJob(job, on: connection)
        #expect(try connection.execute("SELECT sum(sample_count), max(max_value) FROM vital_signs_1m").rows == [["2", "90"]])

        // Retention counts from each row's arrival, as in native mode, for chunks created two days
        // before the cutoff: these chunks are made ten days old, and the retention is five days.
        // Those holding only rows that arrived before the cutoff are dropped. The one holding a
        // reset clock's rows for 2000-01-01, compressed, keeps the one that arrived after the
        // cutoff and loses the others.
        try connection.execute("""
            UPDATE vital_signs SET received_at = now() - interval '6 days';
            INSERT INTO vital_signs (observation_time, device_id, vital_kind, code, code_system, value, unit, status, is_critical, received_at)
            SELECT '2000-01-01 00:00:00+00'::timestamptz + n * interval '1 millisecond', 1, 1, 'x', 'MDC', 70, '/min', 'F', false,
                   now() - interval '6 days'
            FROM generate_series(1, 3) AS n;
            INSERT INTO vital_signs (observation_time, device_id, vital_kind, code, code_system, value, unit, status, is_critical, received_at)
            VALUES ('2000-01-01 01:00:00+00', 1, 1, 'x', 'MDC', 71, '/min', 'F', false, now()),
                   (now() - interval '2 days', 1, 1, 'x', 'MDC', 72, '/min', 'F', false, now() - interval '6 days');
            UPDATE _timescaledb_catalog.chunk SET creation_time = now() - interval '10 days';
            SELECT compress_chunk(c) FROM show_chunks('vital_signs', older_than => '2000-01-02'::timestamptz) c;
            """)
        #expect(try count(connection, "SELECT count(*) FROM timescaledb_information.chunks WHERE is_compressed") == 1)
        let chunks = "SELECT count(*) FROM show_chunks('vital_signs')"
        let before = try count(connection, chunks)
        let dropped = try connection.execute("CALL vitals_expire_observations(interval '5 days')").scalar
        #expect(try count(connection, chunks) == 1)
        #expect(dropped == "\(before - 1)")
        #expect(try connection.execute("SELECT array_agg(value ORDER BY value)::text FROM vital_signs").scalar == "{71}")
        // A chunk created within two days of the cutoff is not read yet, though its rows are
        // past a millisecond's retention; the ten-day-old one goes now, late row and all.
        try connection.execute("""
            INSERT INTO vital_signs (observation_time, device_id, vital_kind, code, code_system, value, unit, status, is_critical, received_at)
            VALUES (now() - interval '30 days', 1, 1, 'x', 'MDC', 73, '/min', 'F', false, now() - interval '1 day')
            """)
        #expect(try connection.execute("CALL vitals_expire_observations(interval '1 millisecond')").scalar == "1")
        #expect(try connection.execute("SELECT array_agg(value ORDER BY value)::text FROM vital_signs").scalar == "{73}")
    }

    /// Runs a TimescaleDB job now. The extension's scheduler may be running the same job in the
    /// background (it starts the policies when they are created): a refresh then refuses to run
    /// beside it (55P03, seen once), so this waits for that run to end.
    private func runJob(_ job: String, on connection: PostgresConnection) async throws {
        try await waitUntil(timeout: .seconds(30), pollEvery: .milliseconds(100), "job \(job) run") {
            do {
                try connection.execute("CALL run_job(\(job))")
                return true
            } catch let error as PostgresError where error.sqlState == "55P03" {
                return false
            }
        }
    }
}

/// Drops the farthest partition ahead (native mode), so that the next maintenance run has one to create.
func dropFarthestPartition(_ connection: PostgresConnection) throws {
    try connection.execute("""
        DO $$ BEGIN
            EXECUTE format('DROP TABLE %I', 'vital_signs_p' || to_char((now() AT TIME ZONE 'UTC')::date + 14, 'YYYYMMDD'));
        END $$
        """)
}

/// The repository's migrations that apply in `mode`, in order.
/// The files in `timescale/` a database in `mode` gets, read from the folder itself rather than
/// through the migrator under test: `NNNN_name.sql` for every mode, `NNNN_name.<mode>.sql` for one.
private func shippedMigrations(mode: StorageMode) throws -> [(version: Int, name: String)] {
    try FileManager.default.contentsOfDirectory(atPath: RepositoryPaths.migrations)
        .filter { $0.hasSuffix(".sql") }
        .filter { name in
            let parts = name.dropLast(4).split(separator: ".")
            return parts.count == 1 || String(parts[parts.count - 1]) == mode.rawValue
        }
        .sorted()
        .map { name in (try #require(Int(name.prefix(4))), name) }
}
