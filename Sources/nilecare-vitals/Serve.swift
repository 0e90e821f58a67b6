import ArgumentParser
import DeviceProfiles
import Logging
import ServiceLifecycle
import Storage
import Telemetry

struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Run the ingest daemon against a PostgreSQL database.")

    @OptionGroup var database: DatabaseOptions
    @OptionGroup var ingest: IngestOptions
    @OptionGroup var serial: SerialOptions
    @OptionGroup var alerts: AlertOptions
    @OptionGroup(title: "MQTT") var mqtt: MQTTOptions
    @OptionGroup var telemetry: TelemetryOptions
    @OptionGroup var logging: LoggingOptions

    @Option(help: "How long observations are kept, counted from when each arrived: years, months, weeks or days (\"7 years\", \"10 years\", \"400 days\").")
    var retention: String = StorageMaintenance.defaultRetention

    func validate() throws {
        guard StorageMaintenance.isRetention(retention) else {
            throw ValidationError("--retention '\(retention)' is not a number of years, months, weeks or days (such as \"7 years\")")
        }
    }

    func run() async throws {
        let logger = logging.bootstrap()
        MetricsEndpoint.bootstrapMetrics()
        let metrics = MetricsEndpoint(host: telemetry.metricsHost, port: telemetry.metricsPort, logger: logger)
        try await metrics.start()
        let databaseURL = try database.resolvedURL()
        let engine = try await EngineStartup.start(databaseURL: databaseURL, migrations: database.migrations, options: ingest, alerts: alerts, logger: logger).engine
        // From here on the engine holds accepted data: whatever fails (a port, the broker, a
        // service of the group), it is drained and stopped before the error is reported.
        var serialIngest: SerialIngest?
        var mqttIngest: MQTTIngest?
        var failure: (any Error)?
        do {
            serialIngest = try serial.ports.isEmpty ? nil : SerialIngest.start(
                ports: serial.configurations(profiles: DeviceProfileLoader.loadDirectory(ingest.profiles)),
                refresh: .milliseconds(Int64(serial.associationRefreshSeconds * 1000)), journalDirectory: serial.journalDirectory,
                databaseURL: databaseURL, sink: engine.sink, logger: logger)
            mqttIngest = try mqtt.configuration(profiles: DeviceProfileLoader.loadDirectory(ingest.profiles)).map { configuration in
                try MQTTIngest.start(configuration, databaseURL: databaseURL, sink: engine.sink, logger: logger)
            }
            DaemonHealth.register(on: metrics, engine: engine, mqtt: mqttIngest, serial: serialIngest)
            let group = ServiceGroup(configuration: .init(
                services: (serialIngest.map { [ServiceGroupConfiguration.ServiceConfiguration(service: $0.source)] } ?? []) + [
                    .init(service: engine.server),
                    .init(service: engine.api),
                    .init(service: metrics),
                    .init(service: MaintenanceService(databaseURL: databaseURL, interval: .seconds(3600), retention: retention, logger: logger)),
                ],
                gracefulShutdownSignals: [.sigterm, .sigint],
                logger: logger
            ))
            try await group.run()
        } catch {
            logger.error("stopping on an error; draining what was accepted", metadata: ["error": "\(error.redactedDescription)"])
            failure = error
        }
        serialIngest?.stop()
        mqttIngest?.stop()
        await engine.stop()
        if let failure { throw failure }
        logger.info("stopped")
    }
}
