import Logging
import Synchronization

/// Keeps what was logged, so tests can check what was reported and at which level.
public final class LogRecorder: Sendable {
    public struct Entry: Sendable {
        public var level: Logger.Level
        public var message: String
        public var metadata: [String: String]
    }

    private let entries = Mutex<[Entry]>([])

    public init() {}

    public var all: [Entry] { entries.withLock { $0 } }

    public func entries(withReason reason: String) -> [Entry] {
        all.filter { $0.metadata["reason"] == reason }
    }

    /// How many entries have `reason`, counted in place: cheap enough to poll while thousands
    /// are logged.
    public func count(withReason reason: String) -> Int {
        entries.withLock { $0.count { $0.metadata["reason"] == reason } }
    }

    public func handler() -> some LogHandler { Handler(recorder: self) }

    fileprivate func append(_ entry: Entry) { entries.withLock { $0.append(entry) } }

    private struct Handler: LogHandler {
        let recorder: LogRecorder
        var metadata: Logger.Metadata = [:]
        var logLevel: Logger.Level = .debug

        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { metadata[key] }
            set { metadata[key] = newValue }
        }

        func log(event: LogEvent) {
            var flat: [String: String] = [:]
            for (key, value) in metadata.merging(event.metadata ?? [:], uniquingKeysWith: { $1 }) { flat[key] = "\(value)" }
            recorder.append(Entry(level: event.level, message: "\(event.message)", metadata: flat))
        }
    }
}
