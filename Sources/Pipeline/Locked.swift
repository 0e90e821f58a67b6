import Foundation

/// A value behind a lock, for the pipelines' cold paths (topology, room callbacks, the ingest
/// backlog). It uses `NSLock` (a pthread mutex) rather than `Synchronization.Mutex`, whose
/// futex-based lock ThreadSanitizer does not see, so that the stress tests run race-checked
/// without suppressions.
public final class Locked<Value>: @unchecked Sendable {
    private let lock = NSLock()
    private var value: Value

    public init(_ value: Value) {
        self.value = value
    }

    public func withLock<Result>(_ body: (inout Value) throws -> Result) rethrows -> Result {
        lock.lock()
        defer { lock.unlock() }
        return try body(&value)
    }
}
