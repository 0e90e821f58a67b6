import CLibPQ
import Foundation
import Logging

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// The rows and counts one statement returned, in text format.
public struct PostgresResult: Sendable, Equatable {
    public var columns: [String]
    public var rows: [[String?]]
    /// Rows inserted, updated, deleted, copied or selected, as the command tag says; 0 when the
    /// command reports no count.
    public var affectedRows: Int

    public init(columns: [String] = [], rows: [[String?]] = [], affectedRows: Int = 0) {
        self.columns = columns
        self.rows = rows
        self.affectedRows = affectedRows
    }

    /// The value in `row` under the column named `column`, nil when NULL or absent.
    public func value(_ row: Int, _ column: String) -> String? {
        guard row >= 0, row < rows.count, let index = columns.firstIndex(of: column) else { return nil }
        return rows[row][index]
    }

    /// The first column of the first row: handy for `SELECT count(*) ...`.
    public var scalar: String? { rows.first?.first ?? nil }
}

/// One libpq connection.
///
/// A connection is owned by one thread at a time: it is deliberately not `Sendable`, and no
/// method is safe to call concurrently with another. Hand a connection to another thread only by
/// giving up every reference to it (the `ObservationWriter` opens its own on its own thread).
public final class PostgresConnection {
    private var handle: OpaquePointer?
    private let noticeSink: NoticeSink
    /// Server-side prepared statements of this session, by their SQL text.
    private var preparedNames: [String: String] = [:]
    /// Statements this object has prepared, never reset: a name is never given twice, so one the
    /// server still holds after `preparedNames` was emptied (one statement deallocated, a pooler's
    /// other session) cannot collide with a new statement and fail it with 42P05 forever.
    private var statementsPrepared = 0
    /// `host:port/database` of the server, without user or password, for messages.
    public let endpoint: String

    /// Opens a connection. `url` is a `postgresql://` URL or a libpq conninfo string
    /// (`host=... port=... dbname=...`). Defaults the URL may override: `connect_timeout` 10 s;
    /// TCP keepalives after 30 s idle, every 10 s, 3 unanswered closing it, and data unacknowledged
    /// for 60 s closing it too (`tcp_user_timeout`): a server that vanished is noticed in about a
    /// minute, not the kernel's two hours or fifteen minutes, while a statement waits or a COPY
    /// sends. Always: `client_encoding` UTF8, the encoding of every text the engine sends; and,
    /// set after connecting (so that `PGOPTIONS` and a URL's `options` still apply to the rest),
    /// DateStyle ISO, so that timestamps as text read the same whatever the server's default,
    /// and the same keepalives on the server's side of the connection: a client that vanished in
    /// the middle of a transaction (a network cut during a commit) would otherwise hold its
    /// locks, the message keys other writers wait on, for the server kernel's two hours. A
    /// server configured with `synchronous_commit = off` gets `on` for this session: the engine
    /// acknowledges what it committed, which must then be on disk (stronger settings are kept).
    /// Notices
    /// (e.g. "relation already exists, skipping") go to `logger` at debug level when one is
    /// given, and are dropped otherwise.
    public init(url: String, logger: Logger? = nil) throws(PostgresError) {
        noticeSink = NoticeSink(logger: logger)
        // Keywords before `dbname` are defaults that the URL / conninfo may override; those after
        // it override the URL.
        let keywords = [
            "connect_timeout", "keepalives_idle", "keepalives_interval", "keepalives_count", "tcp_user_timeout",
            "dbname", "client_encoding", "fallback_application_name",
        ]
        let values = ["10", "30", "10", "3", "60000", url, "UTF8", "nilecare-vitals"]
        let connection: OpaquePointer? = withCStringArray(keywords) { keywordPointers in
            withCStringArray(values) { valuePointers in
                PQconnectdbParams(keywordPointers, valuePointers, 1)
            }
        }
        guard let connection else {
            endpoint = "postgres"
            throw PostgresError(message: "out of memory allocating a libpq connection", context: "connect")
        }
        endpoint = Self.describe(connection)
        guard PQstatus(connection) == CONNECTION_OK else {
            // libpq quotes a URL it cannot parse, password and all; the message reaches the logs.
            let message = Self.withoutPasswords(Self.trimmed(PQerrorMessage(connection)), of: url)
            PQfinish(connection)
            throw PostgresError(message: message, context: "connect to \(endpoint)")
        }
        handle = connection
        PQsetNoticeReceiver(connection, noticeReceiver, Unmanaged.passUnretained(noticeSink).toOpaque())
        try execute("""
            SET DateStyle = 'ISO, YMD'; SET tcp_keepalives_idle = 30; SET tcp_keepalives_interval = 10;
            SET tcp_keepalives_count = 3; SET tcp_user_timeout = 60000;
            SELECT set_config('synchronous_commit', 'on', false) WHERE current_setting('synchronous_commit') = 'off'
            """)
    }

    deinit {
        if let handle { PQfinish(handle) }
    }

    /// `text` with the password of `url` (a URL's `user:password@` or a conninfo's `password=`)
    /// replaced by `***` wherever it appears.
    static func withoutPasswords(_ text: String, of url: String) -> String {
        var redacted = text
        for password in passwords(in: url) {
            redacted = redacted.replacingOccurrences(of: password, with: "***")
        }
        return redacted
    }

    /// Whether `url` carries a password (`user:password@` or `password=`).
    public static func hasPassword(_ url: String) -> Bool {
        !passwords(in: url).isEmpty
    }

    private static func passwords(in url: String) -> [Substring] {
        var passwords: [Substring] = []
        if let scheme = url.range(of: "://"), let at = url[scheme.upperBound...].firstIndex(of: "@") {
            let credentials = url[scheme.upperBound..<at]
            if let colon = credentials.firstIndex(of: ":") { passwords.append(credentials[credentials.index(after: colon)...]) }
        }
        if let key = url.range(of: "password=") {
            let rest = url[key.upperBound...]
            let quoted = rest.first == "'"
            let value = quoted ? rest.dropFirst().prefix { $0 != "'" } : rest.prefix { $0 != " " && $0 != "&" }
            passwords.append(value)
        }
        return passwords.filter { !$0.isEmpty }
    }

    /// Closes the connection; later calls fail with a clear error. Calling it twice is harmless.
    public func close() {
        if let handle { PQfinish(handle) }
        handle = nil
        preparedNames.removeAll()
    }

    /// True while the connection is open and libpq considers it healthy.
    public var isConnected: Bool {
        guard let handle else { return false }
        return PQstatus(handle) == CONNECTION_OK
    }

    /// True when a transaction block is open (idle in transaction, or failed in transaction).
    public var isInTransaction: Bool {
        guard let handle else { return false }
        let status = PQtransactionStatus(handle)
        return status == PQTRANS_INTRANS || status == PQTRANS_INERROR || status == PQTRANS_ACTIVE
    }

    /// The server's version as an integer, e.g. 150020 for 15.20; 0 when closed.
    public var serverVersion: Int {
        guard let handle else { return 0 }
        return Int(PQserverVersion(handle))
    }

    /// Whether the server is reached through a unix socket (a folder, or `@name` in the abstract
    /// namespace) or a loopback address, so runs on this host; false when closed.
    public var serverIsOnThisHost: Bool {
        guard let handle, let pointer = PQhost(handle) else { return false }
        let host = String(cString: pointer)
        return host.hasPrefix("/") || host.hasPrefix("@") || host == "localhost"
            || host.hasPrefix("127.") || host.hasPrefix("::ffff:127.") || host == "::1"
    }

    /// The backend process id serving this connection; 0 when closed.
    public var backendPID: Int {
        guard let handle else { return 0 }
        return Int(PQbackendPID(handle))
    }

    /// Runs `sql` with the simple query protocol. It may hold several statements separated by
    /// semicolons; they run as one implicit transaction unless `sql` contains its own
    /// `BEGIN`/`COMMIT`, and the result is the last statement's.
    @discardableResult
    public func execute(_ sql: String) throws(PostgresError) -> PostgresResult {
        let connection = try open(context: Self.summary(of: sql))
        let result = PQexec(connection, sql)
        return try consume(result, connection: connection, context: Self.summary(of: sql))
    }

    /// Runs one statement with the extended protocol: `$1`, `$2`, ... take `parameters` in text
    /// format, nil meaning NULL. Types are inferred by the server; cast in SQL where needed
    /// (`$1::text[]`).
    ///
    /// With `prepared`, the statement is parsed and planned once per session (`PQprepare`) and
    /// only executed afterwards: for statements a hot path runs again and again.
    @discardableResult
    public func query(_ sql: String, _ parameters: [String?] = [], prepared: Bool = false) throws(PostgresError) -> PostgresResult {
        // Errors only: the summary is not built for statements that succeed.
        func context() -> String { Self.summary(of: sql) }
        let connection = try open(context: context())
        // A C string ends at NUL: the parameter would be cut short, and stored so, without a word.
        if let position = parameters.firstIndex(where: { $0?.utf8.contains(0) == true }) {
            throw PostgresError(
                sqlState: "22021", message: "parameter $\(position + 1) holds a NUL byte, which PostgreSQL text cannot store", context: context()
            )
        }
        guard prepared else {
            let result: OpaquePointer? = withOptionalCStringArray(parameters) { values in
                PQexecParams(connection, sql, Int32(parameters.count), nil, values, nil, nil, 0)
            }
            return try consume(result, connection: connection, context: context())
        }
        let name: String
        if let known = preparedNames[sql] {
            name = known
        } else {
            statementsPrepared += 1
            name = "nc_stmt_\(statementsPrepared)"
            _ = try consume(PQprepare(connection, name, sql, Int32(parameters.count), nil), connection: connection, context: "prepare " + context())
            preparedNames[sql] = name
        }
        let result: OpaquePointer? = withOptionalCStringArray(parameters) { values in
            PQexecPrepared(connection, name, Int32(parameters.count), values, nil, nil, 0)
        }
        do {
            return try consume(result, connection: connection, context: context())
        } catch where error.sqlState == Self.unknownPreparedStatement {
            // Deallocated behind our back (`DISCARD ALL`, a pooler handing us another server
            // session): all of them, so each is prepared again on its next call rather than
            // failing once more (every later call would fail alike if nothing were forgotten).
            preparedNames.removeAll()
            throw error
        }
    }

    private static let unknownPreparedStatement = "26000"

    /// Runs a `COPY ... FROM STDIN` statement (text, CSV or binary format) and streams `data` to
    /// the server in chunks. Returns the number of rows the server copied.
    @discardableResult
    public func copyIn(_ copyStatement: String, data: [UInt8], chunkSize: Int = 1 << 20) throws(PostgresError) -> Int {
        try copyIn(script: copyStatement, streams: [data], chunkSize: chunkSize)[0]
    }

    /// Runs `script`, statements separated by semicolons, with the simple query protocol, and
    /// streams `streams` in order to the `COPY ... FROM STDIN` statements in it. The whole script
    /// costs one round trip per COPY plus one, however many statements it holds: a writer's
    /// commit is `BEGIN; COPY ...; COPY ...; COMMIT`. The first statement to fail ends the
    /// script (inside `BEGIN`, the transaction is then left failed, for the caller to roll back).
    /// Returns the rows each COPY copied.
    @discardableResult
    public func copyIn(script: String, streams: [[UInt8]], chunkSize: Int = 1 << 20) throws(PostgresError) -> [Int] {
        // Errors only: the summary is not built for the writer's every commit.
        func context() -> String { Self.summary(of: script) }
        let connection = try open(context: context())
        guard PQsendQuery(connection, script) == 1 else { throw connectionError(connection, context: context()) }
        var copied: [Int] = []
        var firstError: PostgresError?
        var awaitingCopyResult = false
        while let result = PQgetResult(connection) {
            let status = PQresultStatus(result)
            if status == PGRES_COPY_IN {
                awaitingCopyResult = true
                if firstError == nil, copied.count < streams.count {
                    if let failure = Self.send(streams[copied.count], on: connection, chunkSize: chunkSize) {
                        firstError = PostgresError(message: failure, context: context())
                    }
                } else {
                    PQputCopyEnd(connection, "no data for this COPY")
                    firstError = firstError ?? PostgresError(
                        message: "the script has more COPY ... FROM STDIN statements than the \(streams.count) streams given", context: context())
                }
            } else if status == PGRES_COPY_OUT {
                drainCopyOut(connection)
            } else if status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK || status == PGRES_EMPTY_QUERY {
                if awaitingCopyResult { copied.append(Self.affectedRows(result)) }
                awaitingCopyResult = false
            } else {
                firstError = firstError ?? Self.error(from: result, connection: connection, context: context())
                awaitingCopyResult = false
            }
            PQclear(result)
        }
        if let firstError { throw firstError }
        guard copied.count == streams.count else {
            throw PostgresError(message: "statement is not a COPY ... FROM STDIN", context: context())
        }
        return copied
    }

    /// Streams `data` as the COPY data of the current statement, in chunks, and ends it; the
    /// client-side failure if any (the server then fails the COPY with it).
    private static func send(_ data: [UInt8], on connection: OpaquePointer, chunkSize: Int) -> String? {
        let step = max(1, min(chunkSize, Int(Int32.max)))
        var sendFailure: String?
        data.withUnsafeBufferPointer { buffer in
            guard let base = buffer.baseAddress else { return }
            var offset = 0
            while offset < buffer.count {
                let length = min(step, buffer.count - offset)
                let pointer = UnsafeRawPointer(base + offset).assumingMemoryBound(to: CChar.self)
                if PQputCopyData(connection, pointer, Int32(length)) != 1 {
                    sendFailure = trimmed(PQerrorMessage(connection))
                    return
                }
                offset += length
            }
        }
        let endCode: Int32
        if let sendFailure {
            endCode = PQputCopyEnd(connection, "client failed sending data: \(sendFailure)")
        } else {
            endCode = PQputCopyEnd(connection, nil)
        }
        if endCode != 1 && sendFailure == nil {
            sendFailure = trimmed(PQerrorMessage(connection))
        }
        return sendFailure
    }

    /// Reconnects with the same parameters (libpq `PQreset`). Returns true when healthy again.
    @discardableResult
    public func reset() -> Bool {
        guard let handle else { return false }
        preparedNames.removeAll()  // a new session has none
        PQreset(handle)
        return PQstatus(handle) == CONNECTION_OK
    }

    /// `identifier` quoted for use as an SQL identifier (`"Ward 3"`).
    public func quoteIdentifier(_ identifier: String) throws(PostgresError) -> String {
        let connection = try open(context: "quote identifier")
        guard let quoted = PQescapeIdentifier(connection, identifier, identifier.utf8.count) else {
            throw connectionError(connection, context: "quote identifier")
        }
        defer { PQfreemem(quoted) }
        return String(cString: quoted)
    }

    /// `text` quoted as an SQL string literal (`'it''s'`).
    public func quoteLiteral(_ text: String) throws(PostgresError) -> String {
        let connection = try open(context: "quote literal")
        guard let quoted = PQescapeLiteral(connection, text, text.utf8.count) else {
            throw connectionError(connection, context: "quote literal")
        }
        defer { PQfreemem(quoted) }
        return String(cString: quoted)
    }

    /// `password` hashed for `role` as the server stores it (SCRAM-SHA-256 unless the server's
    /// `password_encryption` says otherwise), for `ALTER ROLE ... PASSWORD`: the password itself
    /// then never travels in a statement, which the server may log and an error may quote.
    public func encryptedPassword(_ password: String, role: String) throws(PostgresError) -> String {
        let connection = try open(context: "hash a password")
        guard let hashed = PQencryptPasswordConn(connection, password, role, nil) else {
            throw connectionError(connection, context: "hash a password")
        }
        defer { PQfreemem(hashed) }
        return String(cString: hashed)
    }

    // MARK: - Internals

    private func open(context: @autoclosure () -> String) throws(PostgresError) -> OpaquePointer {
        guard let handle else {
            throw PostgresError(message: "connection is closed", context: context())
        }
        return handle
    }

    private func connectionError(_ connection: OpaquePointer, context: @autoclosure () -> String) -> PostgresError {
        PostgresError(message: Self.trimmed(PQerrorMessage(connection)), context: "\(context()) on \(endpoint)")
    }

    private func consume(_ result: OpaquePointer?, connection: OpaquePointer, context: @autoclosure () -> String) throws(PostgresError) -> PostgresResult {
        guard let result else {
            throw connectionError(connection, context: context())
        }
        defer { PQclear(result) }
        let status = PQresultStatus(result)
        switch status {
        case PGRES_COMMAND_OK, PGRES_EMPTY_QUERY:
            return PostgresResult(affectedRows: Self.affectedRows(result))
        case PGRES_TUPLES_OK, PGRES_SINGLE_TUPLE:
            return Self.rows(of: result)
        case PGRES_COPY_IN:
            PQputCopyEnd(connection, "COPY FROM STDIN must go through copyIn(_:data:)")
            drainResults(connection)
            throw PostgresError(message: "COPY FROM STDIN must go through copyIn(_:data:)", context: context())
        case PGRES_COPY_OUT, PGRES_COPY_BOTH:
            drainCopyOut(connection)
            throw PostgresError(message: "COPY TO STDOUT is not supported by execute/query", context: context())
        default:
            let error = Self.error(from: result, connection: connection, context: context())
            throw error
        }
    }

    private func drainResults(_ connection: OpaquePointer) {
        while let result = PQgetResult(connection) {
            let status = PQresultStatus(result)
            PQclear(result)
            if status == PGRES_COPY_IN {
                PQputCopyEnd(connection, "aborted")
            } else if status == PGRES_COPY_OUT {
                drainCopyOut(connection)
            }
        }
    }

    private func drainCopyOut(_ connection: OpaquePointer) {
        var buffer: UnsafeMutablePointer<CChar>?
        while PQgetCopyData(connection, &buffer, 0) > 0 {
            if let buffer { PQfreemem(buffer) }
            buffer = nil
        }
        drainResults(connection)
    }

    private static func rows(of result: OpaquePointer) -> PostgresResult {
        let rowCount = Int(PQntuples(result))
        let fieldCount = Int(PQnfields(result))
        var columns: [String] = []
        columns.reserveCapacity(fieldCount)
        for field in 0..<fieldCount {
            columns.append(PQfname(result, Int32(field)).map { String(cString: $0) } ?? "?column?")
        }
        var rows: [[String?]] = []
        rows.reserveCapacity(rowCount)
        for row in 0..<rowCount {
            var values: [String?] = []
            values.reserveCapacity(fieldCount)
            for field in 0..<fieldCount {
                if PQgetisnull(result, Int32(row), Int32(field)) != 0 {
                    values.append(nil)
                } else if let pointer = PQgetvalue(result, Int32(row), Int32(field)) {
                    values.append(String(cString: pointer))
                } else {
                    values.append(nil)
                }
            }
            rows.append(values)
        }
        return PostgresResult(columns: columns, rows: rows, affectedRows: affectedRows(result) == 0 ? rowCount : affectedRows(result))
    }

    private static func affectedRows(_ result: OpaquePointer) -> Int {
        guard let tuples = PQcmdTuples(result) else { return 0 }
        return Int(String(cString: tuples)) ?? 0
    }

    static func error(from result: OpaquePointer, connection: OpaquePointer?, context: String) -> PostgresError {
        func field(_ code: UInt8) -> String? {
            guard let pointer = PQresultErrorField(result, Int32(code)) else { return nil }
            return String(cString: pointer)
        }
        let sqlState = field(UInt8(ascii: "C"))
        var message = field(UInt8(ascii: "M"))
        if message == nil {
            let text = PQresultErrorMessage(result).map { trimmed($0) } ?? ""
            message = text.isEmpty ? (connection.map { trimmed(PQerrorMessage($0)) } ?? "unknown error") : text
        }
        var where_ = context
        if let position = field(UInt8(ascii: "P")) { where_ += " (at character \(position))" }
        return PostgresError(
            sqlState: sqlState,
            message: message ?? "unknown error",
            detail: field(UInt8(ascii: "D")),
            hint: field(UInt8(ascii: "H")),
            context: where_
        )
    }

    /// The first line of a statement, shortened: enough to say what we were doing.
    static func summary(of sql: String) -> String {
        var line = Substring(sql)
        // Skip leading blank lines and comment lines.
        while let newline = line.firstIndex(of: "\n") {
            let head = line[..<newline].trimmingSpaces()
            if head.isEmpty || head.hasPrefix("--") {
                line = line[line.index(after: newline)...]
            } else {
                break
            }
        }
        let firstLine = line.prefix { $0 != "\n" }.trimmingSpaces()
        if firstLine.count > 80 {
            return String(firstLine.prefix(77)) + "..."
        }
        return String(firstLine)
    }

    private static func describe(_ connection: OpaquePointer) -> String {
        let host = PQhost(connection).map { String(cString: $0) } ?? ""
        let port = PQport(connection).map { String(cString: $0) } ?? ""
        let database = PQdb(connection).map { String(cString: $0) } ?? ""
        let displayHost = host.hasPrefix("/") ? "socket \(host)" : host
        return "\(displayHost):\(port)/\(database)"
    }

    static func trimmed(_ pointer: UnsafePointer<CChar>?) -> String {
        guard let pointer else { return "" }
        return String(String(cString: pointer).trimmingSpaces())
    }
}

extension StringProtocol {
    func trimmingSpaces() -> Substring {
        let isSpace: (Character) -> Bool = { $0 == " " || $0 == "\n" || $0 == "\t" || $0 == "\r" }
        guard let first = firstIndex(where: { !isSpace($0) }), let last = lastIndex(where: { !isSpace($0) }) else {
            return Substring()
        }
        return Substring(self[first...last])
    }
}

/// Receives server notices for one connection; its address is libpq's `arg`.
private final class NoticeSink {
    let logger: Logger?
    init(logger: Logger?) { self.logger = logger }
}

/// Server notices go to the connection's logger: a WARNING at warning level (maintenance raises
/// them for a partition it left for the next run, and nothing else would tell the operator), the
/// rest at debug. Only the message: a notice's detail may quote row values.
private func noticeReceiver(_ argument: UnsafeMutableRawPointer?, _ result: OpaquePointer?) {
    guard let argument, let result else { return }
    let sink = Unmanaged<NoticeSink>.fromOpaque(argument).takeUnretainedValue()
    guard let logger = sink.logger else { return }
    let severity = PQresultErrorField(result, Int32(UInt8(ascii: "V"))).map { String(cString: $0) } ?? "NOTICE"
    let isWarning = severity == "WARNING"
    guard isWarning || logger.logLevel <= .debug else { return }
    let message = PQresultErrorField(result, Int32(UInt8(ascii: "M"))).map { String(cString: $0) } ?? ""
    logger.log(level: isWarning ? .warning : .debug, "postgres \(severity.lowercased()): \(message)")
}

/// Calls `body` with a NULL-free array of C strings that live for the duration of the call.
func withCStringArray<R>(_ strings: [String], _ body: ([UnsafePointer<CChar>?]) -> R) -> R {
    let copies = strings.map { strdup($0) }
    defer { copies.forEach { free($0) } }
    var pointers = copies.map { UnsafePointer($0) }
    pointers.append(nil)  // libpq's keyword arrays are NULL-terminated
    return body(pointers)
}

/// Like `withCStringArray`, with nil elements passed as NULL pointers (SQL NULL parameters).
func withOptionalCStringArray<R>(_ strings: [String?], _ body: ([UnsafePointer<CChar>?]) -> R) -> R {
    let copies: [UnsafeMutablePointer<CChar>?] = strings.map { $0.flatMap { strdup($0) } }
    defer { copies.forEach { free($0) } }
    return body(copies.map { UnsafePointer($0) })
}
