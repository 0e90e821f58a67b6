import Logging
import ServiceLifecycle
import Storage

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
        while !Task.isShuttingDownGracefully {
            do {
                let connection = try PostgresConnection(url: databaseURL)
                defer { connection.close() }
                _ = try maintenance.run(on: connection)
            } catch {
                logger.error("storage maintenance failed, retrying next round", metadata: ["error": "\(error)"])
            }
            try? await cancelWhenGracefulShutdown { try await Task.sleep(for: interval) }
        }
    }
}
