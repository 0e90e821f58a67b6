import ArgumentParser
import Logging
import ServiceLifecycle
import Telemetry

struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Run the ingest daemon against a PostgreSQL database.")

    @OptionGroup var database: DatabaseOptions
    @OptionGroup var ingest: IngestOptions
    @OptionGroup(title: "MQTT") var mqtt: MQTTOptions
    @OptionGroup var telemetry: TelemetryOptions
    @OptionGroup var logging: LoggingOptions

    func run() async throws {
        let logger = logging.bootstrap()
        MetricsEndpoint.bootstrapMetrics()
        let metrics = MetricsEndpoint(host: telemetry.metricsHost, port: telemetry.metricsPort, logger: logger)
        try await metrics.start()
        let databaseURL = try database.resolvedURL()
        let engine = try await IngestEngine.start(databaseURL: databaseURL, migrations: database.migrations, options: ingest, mqtt: mqtt, logger: logger)
        let group = ServiceGroup(configuration: .init(
            services: [
                .init(service: engine.server),
                .init(service: metrics),
                .init(service: MaintenanceService(databaseURL: databaseURL, interval: .seconds(3600), logger: logger)),
            ],
            gracefulShutdownSignals: [.sigterm, .sigint],
            logger: logger
        ))
        try await group.run()
        engine.stop()
        logger.info("stopped")
    }
}
