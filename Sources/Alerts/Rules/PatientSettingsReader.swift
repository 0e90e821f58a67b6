import Foundation
import Logging
import NamedThreads
import Storage
import Synchronization
import VitalSigns

/// Reads clinicians' per-patient settings on a thread of its own, so that the alert stage never
/// waits for a query (a read can stall for tens of milliseconds behind the observation writer's
/// I/O, and every critical value behind it would wait too). The stage takes the latest snapshot
/// on its next clock tick.
final class PatientSettingsReader: Sendable {
    private let latest = Mutex<PatientSettingsStore.Snapshot?>(nil)
    private let stopped = Atomic<Bool>(false)
    private let wake = NSCondition()

    /// Reads once before returning (so the first observations already see the settings), then
    /// every `interval` until `stop()`.
    init(url: String, every interval: Duration, logger: Logger) {
        let worker = Worker(url: url, logger: logger)
        latest.withLock { $0 = worker.read() }
        let seconds = max(0.01, Double(interval.microseconds) / 1e6)
        startThread(named: "nc-patient-settings") { [self] in
            while waitForNextRead(seconds: seconds) {
                if let snapshot = worker.read() { latest.withLock { $0 = snapshot } }
            }
        }
    }

    /// The snapshot read since the last call, if any.
    func takeLatest() -> PatientSettingsStore.Snapshot? {
        latest.withLock { snapshot in
            defer { snapshot = nil }
            return snapshot
        }
    }

    func stop() {
        stopped.store(true, ordering: .releasing)
        wake.withLock { wake.broadcast() }
    }

    /// Sleeps for `seconds` unless stopped; false once stopped.
    private func waitForNextRead(seconds: Double) -> Bool {
        wake.withLock {
            if !stopped.load(ordering: .acquiring) { _ = wake.wait(until: Date(timeIntervalSinceNow: seconds)) }
        }
        return !stopped.load(ordering: .acquiring)
    }

    /// The reading thread's connection; reconnects after a failure.
    private final class Worker: @unchecked Sendable {
        // Confined to the reader's thread (and its initialiser before the thread starts).
        private var store: PatientSettingsStore?
        private let url: String
        private let logger: Logger

        init(url: String, logger: Logger) {
            self.url = url
            self.logger = logger
        }

        func read() -> PatientSettingsStore.Snapshot? {
            do throws(PostgresError) {
                if store == nil || store?.connection.isConnected == false {
                    store = PatientSettingsStore(connection: try PostgresConnection(url: url))
                }
                return try store?.load()
            } catch {
                logger.warning("patient alert settings not refreshed; keeping the previous ones", metadata: ["error": "\(error.redactedDescription)"])
                store?.connection.close()
                store = nil
                return nil
            }
        }
    }
}
