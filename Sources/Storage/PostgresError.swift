/// An error from PostgreSQL or from talking to it.
///
/// `sqlState` is the five-character SQLSTATE the server reported (for example `42601` for a syntax
/// error, `23505` for a unique violation); it is nil when the failure happened on the client side
/// (connection refused, broken socket, a COPY the client aborted). `context` says what we were
/// doing, so a log line or a test failure can be read without the call stack.
public struct PostgresError: Error, Sendable, CustomStringConvertible, Equatable {
    public var sqlState: String?
    public var message: String
    public var detail: String?
    public var hint: String?
    /// What we were doing, e.g. `"COPY vital_signs"` or `"connect to 127.0.0.1:5432/postgres"`.
    public var context: String

    public init(sqlState: String? = nil, message: String, detail: String? = nil, hint: String? = nil, context: String) {
        self.sqlState = sqlState
        self.message = message
        self.detail = detail
        self.hint = hint
        self.context = context
    }

    public var description: String {
        var text = "\(context): \(message)"
        if let sqlState { text += " (SQLSTATE \(sqlState))" }
        if let detail, !detail.isEmpty { text += "; detail: \(detail)" }
        if let hint, !hint.isEmpty { text += "; hint: \(hint)" }
        return text
    }

    /// The description without `detail`, which can quote row values (a unique violation on
    /// `patients` names the identifier): use this in logs above debug level.
    public var redactedDescription: String {
        var text = "\(context): \(message)"
        if let sqlState { text += " (SQLSTATE \(sqlState))" }
        return text
    }

    /// True when the server rolled the transaction back for concurrency (class 40: a deadlock, a
    /// serialization failure): the same statements may well succeed when run again.
    public var isRolledBackForConcurrency: Bool {
        sqlState?.hasPrefix("40") ?? false
    }

    /// True when the server ran out of shared memory (53200), typically of lock slots: one
    /// transaction's rows spread over more new chunks or partitions than the lock table holds (a
    /// device whose clock sent a thousand different days). The connection is still usable, and
    /// the same rows without the message that spread them would succeed.
    public var isOutOfSharedMemory: Bool {
        sqlState == "53200"
    }

    /// True when the error means the connection (or the server) is gone or unusable, rather than
    /// that one statement was refused: the caller should reconnect instead of retrying the
    /// statement on the same connection.
    public var isConnectionFailure: Bool {
        guard let sqlState else { return true }
        // 08: connection exception; 57P01-57P05: admin/crash shutdown, cannot connect now;
        // 53: insufficient resources (out of memory, too many connections, disk full); 25006: a
        // write on a standby, the session left on the old primary after a failover (a new
        // connection with `target_session_attrs=read-write` finds the new one).
        return sqlState.hasPrefix("08") || sqlState.hasPrefix("57P") || sqlState.hasPrefix("53") || sqlState == "25006"
    }

    /// True when the statement cannot run on the database as it is, whatever its data (class 42:
    /// a table or column missing, a privilege not granted; class 0A: a feature not supported):
    /// it fails every time until an operator changes the database.
    public var isStatementRefused: Bool {
        guard let sqlState else { return false }
        return sqlState.hasPrefix("42") || sqlState.hasPrefix("0A")
    }

    /// True when the statement was refused because of the data it carried (class 22 data
    /// exception, class 23 integrity constraint violation, class 54 program limit exceeded: a
    /// value too large for an index row, say). The same data is refused every time.
    public var isDataError: Bool {
        guard let sqlState else { return false }
        return sqlState.hasPrefix("22") || sqlState.hasPrefix("23") || sqlState.hasPrefix("54")
    }
}

extension Error {
    /// The error as a log line above debug level may show it: a `PostgresError` (alone or in a
    /// `MigrationError`) without its `detail`, any other error as it describes itself.
    public var redactedDescription: String {
        if let error = self as? PostgresError { return error.redactedDescription }
        return "\(self)"
    }
}
