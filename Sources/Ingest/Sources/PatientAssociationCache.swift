import Foundation
import Logging
import NamedThreads
import Storage
import Synchronization
import VitalSigns

/// The patient associations of beds and devices, held in memory for the sources that look one up
/// per observation. A dedicated thread reloads them from `patient_associations` every
/// `refreshInterval`, so an association set by the CLI in another process takes effect within
/// that time; when the database is unreachable the last loaded set stays in use.
public final class PatientAssociationCache: Sendable {
    private let snapshot = Mutex<[AssociationSubject: [PatientAssociation]]>([:])
    private let stopping: StopSignal
    /// Signalled once, after the first load: until then every lookup would say "no patient".
    private let firstLoad = DispatchSemaphore(value: 0)
    private let loadedOnce = Atomic<Bool>(false)

    /// Associations that ended more than this long ago are not loaded. Late readings do come:
    /// a broker keeps a gateway's messages through an engine or database outage and delivers
    /// them hours later, each to be given the patient of its own time (a week of a hospital's
    /// bed changes is a few thousand rows).
    static let history: TimeInterval = 7 * 86_400

    public init(url: String, refreshInterval: Duration = .seconds(5), logger: Logger) {
        stopping = StopSignal()
        let stopping = stopping
        startThread(named: "nc-associations") { [weak self] in
            var connection: PostgresConnection?
            var failing = false
            repeat {
                guard let self else { return }
                do throws(PostgresError) {
                    let open: PostgresConnection
                    if let connection { open = connection } else { open = try PostgresConnection(url: url, logger: logger) }
                    connection = open
                    try self.reload(from: AssociationStore(connection: open))
                    if !self.loadedOnce.exchange(true, ordering: .relaxed) { self.firstLoad.signal() }
                    if failing { logger.info("patient associations reloaded again") }
                    failing = false
                } catch {
                    if !failing {
                        logger.warning("patient associations not reloaded; using the last ones", metadata: ["error": "\(error.redactedDescription)"])
                    }
                    failing = true
                    if error.isConnectionFailure { connection?.close(); connection = nil }
                }
            } while !stopping.wait(for: refreshInterval)
            connection?.close()
        }
    }

    deinit { stop() }

    public func stop() { stopping.signal() }

    /// Waits up to `timeout` for the first load; true once the associations are known.
    public func waitForFirstLoad(timeout: Duration) -> Bool {
        if loadedOnce.load(ordering: .relaxed) { return true }
        guard firstLoad.wait(timeout: .now() + timeout.seconds) == .success else { return false }
        firstLoad.signal()  // for any other waiter
        return true
    }

    /// The patient of `device` at `time`, else that of `bed`.
    public func patient(device: String, bed: String?, at time: Timestamp) -> PatientIdentifier? {
        let date = Date(timeIntervalSince1970: time.secondsSinceEpoch)
        return snapshot.withLock { associations in
            if let found = associations[.device(device)]?.last(where: { $0.covers(date) }) { return found.patient }
            guard let bed else { return nil }
            return associations[.bed(bed)]?.last(where: { $0.covers(date) })?.patient
        }
    }

    private func reload(from store: AssociationStore) throws(PostgresError) {
        let rows = try store.list(endedAfter: Date(timeIntervalSinceNow: -Self.history))
        let grouped = Dictionary(grouping: rows, by: \.subject)
        snapshot.withLock { $0 = grouped }
    }
}

/// A stop flag a thread can sleep on.
final class StopSignal: Sendable {
    private let condition = Mutex<Bool>(false)
    private let waiter = NSCondition()

    /// Sleeps up to `duration`; true when stopped (now or meanwhile).
    func wait(for duration: Duration) -> Bool {
        waiter.withLock {
            if condition.withLock({ $0 }) { return true }
            _ = waiter.wait(until: Date(timeIntervalSinceNow: duration.seconds))
            return condition.withLock { $0 }
        }
    }

    var isStopped: Bool { condition.withLock { $0 } }

    func signal() {
        waiter.withLock {
            condition.withLock { $0 = true }
            waiter.broadcast()
        }
    }
}
