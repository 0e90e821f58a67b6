import Logging
import Storage
import TestSupport
import Testing

@Suite("PostgresConnection")
struct PostgresConnectionTests {
    @Test("a syntax error carries SQLSTATE 42601 and says what we were doing")
    func syntaxError() throws {
        let connection = try PostgresConnection(url: try TestPostgres.database())
        defer { connection.close() }
        let error = #expect(throws: PostgresError.self) {
            try connection.execute("SELEC 1")
        }
        #expect(error?.sqlState == "42601")
        #expect(error?.context.contains("SELEC 1") == true)
        #expect(error?.description.contains("42601") == true)
        #expect(error?.isConnectionFailure == false)
        // The connection is still usable afterwards.
        #expect(try connection.execute("SELECT 1 AS one").scalar == "1")
    }

    @Test("constraint violations carry their SQLSTATE and detail")
    func uniqueViolation() throws {
        let connection = try PostgresConnection(url: try TestPostgres.database())
        defer { connection.close() }
        try connection.execute("CREATE TABLE t (id int PRIMARY KEY); INSERT INTO t VALUES (1)")
        let error = #expect(throws: PostgresError.self) {
            try connection.query("INSERT INTO t VALUES ($1)", ["1"])
        }
        #expect(error?.sqlState == "23505")
        #expect(error?.detail?.contains("(id)=(1)") == true)
        #expect(error?.isDataError == true)
    }

    @Test("over TCP the server's side of the connection has keepalives and a user timeout: a client that vanishes mid-transaction does not hold its locks for hours")
    func serverSideKeepalives() throws {
        let connection = try PostgresConnection(url: try TestPostgres.database())
        defer { connection.close() }
        #expect(try connection.execute("SELECT inet_client_addr() IS NOT NULL").scalar == "t", "the test database is reached over TCP")
        let settings = try connection.execute("""
            SELECT current_setting('tcp_keepalives_idle'), current_setting('tcp_keepalives_interval'),
                   current_setting('tcp_keepalives_count'), current_setting('tcp_user_timeout')
            """).rows
        #expect(settings == [["30", "10", "3", "60000"]])
    }

    @Test("a parameter with a NUL byte is refused as a data error, not cut short and stored so")
    func aNULInAParameterIsRefused() throws {
        let connection = try PostgresConnection(url: try TestPostgres.database())
        defer { connection.close() }
        let error = #expect(throws: PostgresError.self) {
            try connection.query("SELECT $1::text, $2::text", ["fine", "ICU\u{0}X"])
        }
        #expect(error?.sqlState == "22021" && error?.isDataError == true)
        #expect(error?.message.contains("parameter $2") == true)
        #expect(try connection.query("SELECT $1::text", ["ICU"]).scalar == "ICU")
    }

    @Test("a URL libpq cannot parse is quoted in the error without its password")
    func connectErrorsHideThePassword() {
        for url in ["postgresql://nilecare:S3cretPW@[fe80::1/vitals", "postgresql://nilecare:S3cret%40PW@[fe80::1/vitals",
                    "host=127.0.0.1 port=\(freeTCPPort()) password='S3cret PW' dbname=vitals connect_timeout=2"] {
            let error = #expect(throws: PostgresError.self) { try PostgresConnection(url: url) }
            #expect(error.map { !$0.description.contains("S3cret") } == true, "\(error?.description ?? "")")
        }
    }

    @Test("a database set to synchronous_commit = off gets it on for the engine's sessions: what the engine acknowledges is on disk")
    func synchronousCommitIsOn() throws {
        let url = try TestPostgres.database()
        let admin = try PostgresConnection(url: url)
        defer { admin.close() }
        let database = try admin.execute("SELECT current_database()").scalar ?? ""
        try admin.execute("ALTER DATABASE \(try admin.quoteIdentifier(database)) SET synchronous_commit = off")
        let connection = try PostgresConnection(url: url)
        defer { connection.close() }
        #expect(try connection.execute("SHOW synchronous_commit").scalar == "on")
        try admin.execute("ALTER DATABASE \(try admin.quoteIdentifier(database)) SET synchronous_commit = remote_write")
        let other = try PostgresConnection(url: url)
        defer { other.close() }
        #expect(try other.execute("SHOW synchronous_commit").scalar == "remote_write")
    }

    @Test("parameterised queries pass NULLs and return them as nil")
    func parametersWithNulls() throws {
        let connection = try PostgresConnection(url: try TestPostgres.database())
        defer { connection.close() }
        try connection.execute("CREATE TABLE p (a text, b integer, c text)")
        let inserted = try connection.query("INSERT INTO p VALUES ($1, $2::integer, $3), ($4, NULL, $5)",
                                            ["x", nil, "it's \"quoted\"", nil, "ünïcødé ✓"])
        #expect(inserted.affectedRows == 2)
        let result = try connection.query("SELECT a, b, c, $1::text IS NULL AS param_null FROM p ORDER BY c", [nil])
        #expect(result.columns == ["a", "b", "c", "param_null"])
        #expect(result.rows == [
            ["x", nil, "it's \"quoted\"", "t"],
            [nil, nil, "ünïcødé ✓", "t"],
        ])
        #expect(result.value(1, "c") == "ünïcødé ✓")
        #expect(result.affectedRows == 2)
    }

    @Test("execute runs several statements and returns the last result")
    func multipleStatements() throws {
        let connection = try PostgresConnection(url: try TestPostgres.database())
        defer { connection.close() }
        let result = try connection.execute("CREATE TABLE m (v int); INSERT INTO m SELECT generate_series(1, 5); SELECT sum(v) FROM m")
        #expect(result.scalar == "15")
    }

    @Test("connecting to a port where nothing listens fails with the endpoint in the error")
    func connectionRefused() throws {
        let port = freeTCPPort()
        let error = #expect(throws: PostgresError.self) {
            _ = try PostgresConnection(url: "postgresql://postgres@127.0.0.1:\(port)/postgres?connect_timeout=5")
        }
        #expect(error?.context.contains("127.0.0.1:\(port)") == true)
        #expect(error?.isConnectionFailure == true)
    }

    @Test("a closed connection refuses work with a clear error")
    func closedConnection() throws {
        let connection = try PostgresConnection(url: try TestPostgres.database())
        connection.close()
        connection.close()
        #expect(!connection.isConnected)
        let error = #expect(throws: PostgresError.self) { try connection.execute("SELECT 1") }
        #expect(error?.message.contains("closed") == true)
    }

    @Test("a transaction left open by an error is visible and can be rolled back")
    func transactionState() throws {
        let connection = try PostgresConnection(url: try TestPostgres.database())
        defer { connection.close() }
        try connection.execute("BEGIN")
        #expect(connection.isInTransaction)
        #expect(throws: PostgresError.self) { try connection.execute("SELECT 1/0") }
        let error = #expect(throws: PostgresError.self) { try connection.execute("SELECT 1") }
        #expect(error?.sqlState == "25P02")  // in failed transaction
        try connection.execute("ROLLBACK")
        #expect(!connection.isInTransaction)
    }

    @Test("a server WARNING is logged at warning level (maintenance leaves a partition so), other notices at debug")
    func serverWarningsReachTheLog() throws {
        let logs = LogRecorder()
        var logger = Logger(label: "notices") { _ in logs.handler() }
        logger.logLevel = .info
        let connection = try PostgresConnection(url: try TestPostgres.database(), logger: logger)
        defer { connection.close() }
        try connection.execute("DO $$ BEGIN RAISE NOTICE 'just so'; RAISE WARNING 'partition left for the next run'; END $$")
        #expect(logs.all.map(\.level) == [.warning])
        #expect(logs.all.first?.message == "postgres warning: partition left for the next run")
    }

    @Test("quoting helpers produce identifiers and literals the server accepts")
    func quoting() throws {
        let connection = try PostgresConnection(url: try TestPostgres.database())
        defer { connection.close() }
        let table = try connection.quoteIdentifier("Ward \"3\"")
        try connection.execute("CREATE TABLE \(table) (v text)")
        try connection.execute("INSERT INTO \(table) VALUES (\(try connection.quoteLiteral("it's")))")
        #expect(try connection.execute("SELECT v FROM \(table)").scalar == "it's")
    }
}

@Suite struct PreparedStatementTests {
    @Test("a prepared statement deallocated behind the connection's back (DISCARD ALL, a pooler) fails once, then is prepared again")
    func aDeallocatedPreparedStatementIsPreparedAgain() throws {
        let connection = try PostgresConnection(url: try TestPostgres.database())
        defer { connection.close() }
        #expect(try connection.query("SELECT $1::int + 1", ["1"], prepared: true).scalar == "2")
        try connection.execute("DEALLOCATE ALL")
        let error = #expect(throws: PostgresError.self) { try connection.query("SELECT $1::int + 1", ["2"], prepared: true) }
        #expect(error?.sqlState == "26000")
        #expect(try connection.query("SELECT $1::int + 1", ["3"], prepared: true).scalar == "4")
    }

    @Test("after one statement was deallocated, preparing it again never reuses a name the session still holds")
    func aStatementPreparedAgainGetsANewName() throws {
        let connection = try PostgresConnection(url: try TestPostgres.database())
        defer { connection.close() }
        #expect(try connection.query("SELECT $1::int + 1", ["1"], prepared: true).scalar == "2")
        #expect(try connection.query("SELECT $1::int * 10", ["1"], prepared: true).scalar == "10")
        // Only the second goes: the first still holds its name on the server.
        let second = try #require(try connection.query("SELECT name FROM pg_prepared_statements WHERE statement LIKE '%* 10'").scalar)
        try connection.execute("DEALLOCATE \(try connection.quoteIdentifier(second))")
        let error = #expect(throws: PostgresError.self) { try connection.query("SELECT $1::int * 10", ["2"], prepared: true) }
        #expect(error?.sqlState == "26000")
        #expect(try connection.query("SELECT $1::int * 10", ["3"], prepared: true).scalar == "30")
        #expect(try connection.query("SELECT $1::int + 1", ["4"], prepared: true).scalar == "5")
    }

    @Test func aPreparedQueryIsPlannedOnceAndSurvivesErrors() throws {
        let connection = try PostgresConnection(url: try TestPostgres.database())
        defer { connection.close() }
        let sql = "SELECT $1::int + 1"
        #expect(try connection.query(sql, ["41"], prepared: true).scalar == "42")
        #expect(try connection.query(sql, ["1"], prepared: true).scalar == "2")
        let statements = try connection.query("SELECT count(*) FROM pg_prepared_statements").scalar
        #expect(statements == "1")
        // A failing execution carries its SQLSTATE and leaves the statement usable.
        let error = #expect(throws: PostgresError.self) { try connection.query(sql, ["x"], prepared: true) }
        #expect(error?.sqlState == "22P02")
        #expect(try connection.query(sql, ["9"], prepared: true).scalar == "10")
    }
}
