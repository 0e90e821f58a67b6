import Foundation

/// A value behind a lock, for the pipeline's cold paths (topology, room callbacks). It uses
/// `NSLock` (a pthread mutex) rather than `Synchronization.Mutex`, whose futex-based lock
/// ThreadSanitizer does not see, so that the stress tests run race-checked without suppressions.
final class Locked<Value>: @unchecked Sendable {
    private let lock = NSLock()
    private var value: Value

    init(_ value: Value) {
        self.value = value
    }

    func withLock<Result>(_ body: (inout Value) throws -> Result) rethrows -> Result {
        lock.lock()
        defer { lock.unlock() }
        return try body(&value)
    }
}
