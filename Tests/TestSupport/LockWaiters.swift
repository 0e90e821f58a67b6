import Storage

extension PostgresConnection {
    /// Sessions waiting for a lock on `table`: how a test knows the code under test is held behind
    /// the lock it took, rather than hoping it got there.
    public func lockWaiters(on table: String) throws -> Int {
        Int(try query("SELECT count(*) FROM pg_locks WHERE NOT granted AND relation = $1::regclass", [table]).scalar ?? "") ?? 0
    }
}
