import Logging
import ServiceLifecycle
import Storage

extension Task where Success == Never, Failure == Never {
    /// Whether a service's loop must end: its group shuts down gracefully, or it was cancelled.
    /// When one service fails, ServiceGroup cancels the others rather than shutting them down,
    /// and a loop that waited for the shutdown alone would spin for ever (its sleeps throwing at
    /// once) while the group waited for it, and the daemon never reported the failure.
    static var serviceIsStopping: Bool { Task.isShuttingDownGracefully || Task.isCancelled }
}

/// Runs storage maintenance at start and then every `interval`; a failure is logged and
/// retried at the next round, never fatal to ingest.
struct MaintenanceService: Service {
    let databaseURL: String
    let interval: Duration
    var retention = StorageMaintenance.defaultRetention
    let logger: Logger

    func run() async throws {
        var maintenance = StorageMaintenance(logger: logger)
        maintenance.retention = retention
        while !Task.serviceIsStopping {
            do {
                let connection = try PostgresConnection(url: databaseURL, logger: logger)
                defer { connection.close() }
                _ = try maintenance.run(on: connection)
            } catch {
                logger.error("storage maintenance failed, retrying next round", metadata: ["error": "\(error.redactedDescription)"])
            }
            try? await cancelWhenGracefulShutdown { try await Task.sleep(for: interval) }
        }
    }
}
