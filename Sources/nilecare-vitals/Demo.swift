import ArgumentParser
import DeviceSimulator
import Engine
import Foundation
import Logging
import MQTT
import ServiceLifecycle
import Storage
import Synchronization
import Telemetry
import UnixSignals

struct Demo: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "The whole engine on its embedded default: a private PostgreSQL and mosquitto, simulated monitors over MLLP, MQTT and serial, alerts to the nurses' page and a mock Kafka."
    )

    @Option(help: "Data folder of the private PostgreSQL cluster (reused on the next run).")
    var dataDir: String = "var/demo"

    @Option(help: "Folder of ordered SQL migrations.")
    var migrations: String = RepositoryPaths.locate("timescale")

    @Option(help: "How many simulated bedside monitors.")
    var monitors: Int = 8

    @Option(help: "Seconds between two reports of one monitor.")
    var intervalSeconds: Double = 1

    @OptionGroup var ingest: IngestOptions
    @OptionGroup var alerts: AlertOptions
    @OptionGroup var telemetry: TelemetryOptions
    @OptionGroup var logging: LoggingOptions

    func validate() throws {
        guard monitors > 0 else { throw ValidationError("--monitors must be positive") }
        try validateSeconds(intervalSeconds, "interval-seconds", mayBeZero: true)
    }

    func run() async throws {
        let logger = logging.bootstrap()
        // Trapped before anything starts: start-up takes seconds (initdb, migrations, the broker),
        // and a signal's default action there would leave PostgreSQL and mosquitto running.
        let stop = await StopSignals.trap()
        let processes = DemoProcesses()
        var failure: (any Error)?
        do {
            try await startAndRun(processes, stop: stop, logger: logger)
        } catch is StopSignals.Interrupted {
            say("interrupted during start-up; stopping what was started")
        } catch {
            failure = error
        }
        do {
            try await processes.stop()
        } catch {
            // The failure that ended the demo is the one to report, not a stop's after it.
            guard failure != nil else { throw error }
            logger.error("stopping after the failure failed too", metadata: ["error": "\(error.redactedDescription)"])
        }
        if let failure { throw failure }
        say("stopped; data kept in \(dataDir) for the next run")
    }

    /// Starts everything into `processes` (which the caller stops, whatever happens here), then
    /// runs the services until a signal or a failure.
    private func startAndRun(_ processes: DemoProcesses, stop: StopSignals, logger: Logger) async throws {
        MetricsEndpoint.bootstrapMetrics()
        let metrics = MetricsEndpoint(host: telemetry.metricsHost, port: telemetry.metricsPort == 9464 ? 0 : telemetry.metricsPort, logger: logger)
        let metricsPort = try await metrics.start()
        let postgres = EmbeddedPostgres(dataDirectory: (dataDir as NSString).appendingPathComponent("postgres"), logger: logger)
        processes.postgres = postgres
        _ = try postgres.start()
        try stop.checkStartup()
        let tcpURL = try postgres.createDatabase("nilecare")
        // The engine runs beside its private cluster: the unix socket spares every row the
        // loopback TCP stack.
        let databaseURL = postgres.unixSocketURL(database: "nilecare") ?? tcpURL
        var ingest = ingest
        if ingest.mllpPort == 2575 { ingest.mllpPort = 0 }  // never collide with a real listener
        // Kafka is librdkafka's mock cluster, in this process; the page gets a token of its own.
        let kafka = try KafkaDemo.start(topic: alerts.kafkaTopic, logger: logger)
        processes.kafka = kafka
        var alerts = alerts
        if alerts.apiPort == 8080 { alerts.apiPort = 0 }
        alerts.kafkaBootstrapServers = alerts.kafkaBootstrapServers ?? kafka.cluster.bootstrapServers
        // A tokens file of the caller's own replaces the demo's token: the page's address then
        // names no token (one of that file's opens it).
        let token = alerts.apiTokensFile == nil ? try KafkaDemo.demoToken(dataDir: dataDir, facility: alerts.facility) : nil
        if let token { alerts.apiTokensFile = token.file }
        let mosquitto = try EmbeddedMosquitto(folder: (dataDir as NSString).appendingPathComponent("mosquitto"), port: EmbeddedPostgres.freeTCPPort())
        processes.mosquitto = mosquitto
        var mqtt = try MQTTOptions.parse([])
        mqtt.mqttURL = mosquitto.url
        mqtt.mqttClientID = "nilecare-demo"

        try mosquitto.start()
        try stop.checkStartup()
        let started = try await EngineStartup.start(databaseURL: databaseURL, migrations: migrations, options: ingest, alerts: alerts, logger: logger)
        let engine = started.engine
        processes.engine = engine
        try stop.checkStartup()
        let mqttIngest = try mqtt.configuration(profiles: started.profiles).map { configuration in
            try MQTTIngest.start(configuration, databaseURL: databaseURL, sink: engine.sink, logger: logger)
        }
        processes.mqttIngest = mqttIngest
        let serial = try SerialDemo.start(dataDir: dataDir, profilesFolder: ingest.profiles, databaseURL: databaseURL, sink: engine.sink, logger: logger)
        processes.serial = serial

        var ward = WardSimulator.Configuration()
        ward.port = engine.mllpPort
        ward.monitors = monitors
        ward.interval = .milliseconds(Int64(intervalSeconds * 1000))
        ward.criticalEvery = 15
        var gateways = MQTTGatewaySimulator.Configuration()
        gateways.devices = monitors
        gateways.rate = intervalSeconds > 0 ? 1 / intervalSeconds : nil
        var gatewayConnection = MQTTConnectionOptions(broker: try MQTTBrokerURL(parsing: mosquitto.url), clientID: "nilecare-demo-gateways")
        gatewayConnection.cleanSession = true
        let gatewaySimulator = try MQTTGatewaySimulator(configuration: gateways, options: gatewayConnection)
        processes.gatewaySimulator = gatewaySimulator

        say("""
            NileCare Vitals demo
              storage:   PostgreSQL in \(dataDir)/postgres, \(started.storageMode.rawValue) mode
              MLLP:      127.0.0.1:\(engine.mllpPort), \(monitors) simulated monitors (a critical value every 15 reports)
              MQTT:      \(mosquitto.url) (mosquitto in \(dataDir)/mosquitto), \(monitors) simulated gateway devices on devices/+/vitals
              serial:    \(serial.summary)
              kafka:     mock cluster \(kafka.cluster.bootstrapServers), topic \(alerts.kafkaTopic) (forwarded events print below)
              metrics:   http://\(telemetry.metricsHost):\(metricsPort)/metrics
              look:      psql '\(databaseURL)' -c 'SELECT * FROM vital_signs ORDER BY observation_time DESC LIMIT 20'
              stop:      Ctrl-C
            """)
        DaemonHealth.register(on: metrics, engine: engine, mqtt: mqttIngest, serial: serial.ingest)
        let group = ServiceGroup(configuration: .init(
            services: [
                .init(service: engine.server),
                .init(service: engine.api),
                .init(service: metrics),
                .init(service: kafka.tail),
                .init(service: NursesPageAnnouncer(host: alerts.apiHost, engine: engine, token: token?.value, tokensFile: alerts.apiTokensFile ?? "")),
                .init(service: SimulatorService(ward: WardSimulator(configuration: ward))),
                .init(service: GatewaySimulatorService(simulator: gatewaySimulator)),
                .init(service: RowCountReporter(databaseURL: databaseURL)),
                .init(service: MaintenanceService(databaseURL: databaseURL, interval: .seconds(3600), logger: logger)),
            ] + serial.services,
            logger: logger
        ))
        await stop.shutDown(group)
        do {
            try await group.run()
        } catch {
            logger.error("demo stopped on an error", metadata: ["error": "\(error.redactedDescription)"])
        }
    }
}

/// What the demo has started, stopped in the reverse order whatever ends it: an error or a
/// signal at any step of start-up must not leave the private PostgreSQL or mosquitto running.
final class DemoProcesses {
    var postgres: EmbeddedPostgres?
    var kafka: KafkaDemo?
    var mosquitto: EmbeddedMosquitto?
    var engine: VitalsEngine?
    var mqttIngest: MQTTIngest?
    var serial: SerialDemo?
    var gatewaySimulator: MQTTGatewaySimulator?

    func stop() async throws {
        gatewaySimulator?.publisher.stop()
        serial?.ingest.stop()
        mqttIngest?.stop()
        await engine?.stop()
        kafka?.cluster.shutdown()
        mosquitto?.stop()
        try postgres?.stop()
    }
}

/// Ctrl-C, SIGTERM or SIGHUP, from the moment they are trapped: a signal during start-up is
/// remembered, so that start-up stops at its next step, and once the services run it shuts
/// them down gracefully. A second one ends the process at once (a step can take minutes:
/// `pg_ctl start` waits up to 120 s), leaving what runs for the next start to adopt.
final class StopSignals: Sendable {
    struct Interrupted: Error {}

    private let state = Mutex<(requested: Bool, group: ServiceGroup?)>((false, nil))

    static func trap(_ trapped: [UnixSignal] = [.sigint, .sigterm, .sighup]) async -> StopSignals {
        let signals = await UnixSignalsSequence(trapping: trapped)
        let stop = StopSignals()
        Task {
            for await signal in signals {
                if stop.isRequested {
                    say("second \(signal): exiting without waiting; the next start adopts what still runs")
                    exit(130)
                }
                await stop.received()
            }
        }
        return stop
    }

    private var isRequested: Bool { state.withLock { $0.requested } }

    /// Throws `Interrupted` when a signal came during start-up.
    func checkStartup() throws {
        if isRequested { throw Interrupted() }
    }

    /// From now on a signal shuts `group` down; one that came already does so as it starts.
    func shutDown(_ group: ServiceGroup) async {
        let requested = state.withLock { state in
            state.group = group
            return state.requested
        }
        if requested { await group.triggerGracefulShutdown() }
    }

    private func received() async {
        let group = state.withLock { state in
            state.requested = true
            return state.group
        }
        await group?.triggerGracefulShutdown()
    }
}

/// Runs the simulated ward until the demo shuts down.
struct SimulatorService: Service {
    let ward: WardSimulator

    func run() async throws {
        try? await cancelWhenGracefulShutdown { try await ward.run() }
    }
}

/// Runs the simulated MQTT gateways until the demo shuts down.
struct GatewaySimulatorService: Service {
    let simulator: MQTTGatewaySimulator

    func run() async throws {
        try? await cancelWhenGracefulShutdown {
            try await withTaskCancellationHandler { try await simulator.run() } onCancel: { simulator.stop() }
        }
    }
}

/// Prints how many rows the database holds, every few seconds.
struct RowCountReporter: Service {
    let databaseURL: String

    func run() async throws {
        let connection = try PostgresConnection(url: databaseURL)
        defer { connection.close() }
        while !Task.serviceIsStopping {
            let result = try connection.query("SELECT count(*), count(*) FILTER (WHERE is_critical) FROM vital_signs", [])
            let row = result.rows.first
            say("rows so far: \(row?[0] ?? "0") observations, \(row?[1] ?? "0") critical")
            try? await cancelWhenGracefulShutdown { try await Task.sleep(for: .seconds(5)) }
        }
    }
}

/// Writes a line to standard output at once (print buffers when the output is a pipe).
func say(_ line: String) {
    FileHandle.standardOutput.write(Data((line + "\n").utf8))
}
