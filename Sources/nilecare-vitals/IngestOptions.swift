import ArgumentParser
import Decoders
import Engine
import DeviceProfiles
import Foundation
import Ingest
import Logging
import Storage
import VitalSigns

/// How the daemon ingests: where it listens, how it decodes, how it batches.
struct IngestOptions: ParsableArguments {
    @Option(help: "Address the MLLP listener binds to.")
    var mllpHost: String = "127.0.0.1"

    @Option(help: "MLLP port (2575 is HL7's registered port; 0 picks a free one).")
    var mllpPort: Int = 2575

    @Option(help: "Largest accepted MLLP frame, in bytes.")
    var maxFrameBytes: Int = 1 << 20

    @Option(help: "Close an MLLP connection silent for this many seconds.")
    var idleTimeoutSeconds: Int = 300

    @Option(help: "Folder of device profiles (*.yaml).")
    var profiles: String = RepositoryPaths.locate("device-profiles")

    @Option(help: "Time zone of HL7 timestamps that carry no offset (IANA name).")
    var facilityTimeZone: String = "Africa/Khartoum"

    @Option(help: "Most observation rows in one database commit.")
    var maxBatchRows: Int = 20_000

    func validate() throws {
        guard TimeZone(identifier: facilityTimeZone) != nil else {
            throw ValidationError("unknown time zone '\(facilityTimeZone)' (use an IANA name such as Africa/Khartoum)")
        }
        guard maxFrameBytes >= 1024 else { throw ValidationError("--max-frame-bytes must be at least 1024") }
        guard idleTimeoutSeconds > 0 else { throw ValidationError("--idle-timeout-seconds must be positive") }
        guard maxBatchRows > 0 else { throw ValidationError("--max-batch-rows must be positive") }
    }
}

/// The daemon's start-up: migrations, profiles and options checked, then the engine.
enum EngineStartup {
    struct Started {
        let engine: VitalsEngine
        let storageMode: StorageMode
        let profiles: [DeviceProfile]
    }

    static func start(databaseURL: String, migrations: String, options: IngestOptions, alerts: AlertOptions, logger: Logger) async throws -> Started {
        let connection = try PostgresConnection(url: databaseURL)
        let report = try Migrator(directory: migrations, logger: logger).migrate(connection)
        connection.close()
        logger.info("storage ready", metadata: [
            "mode": "\(report.mode.rawValue)",
            "migrations_applied": "\(report.applied.count)",
        ])

        let profiles: [DeviceProfile]
        do {
            profiles = try DeviceProfileLoader.loadDirectory(options.profiles)
        } catch {
            throw ValidationError("invalid device profiles, not starting:\n\(error)")
        }
        logger.info("device profiles loaded", metadata: ["profiles": "\(profiles.map(\.id).joined(separator: ","))"])

        var configuration = VitalsEngine.Configuration(
            databaseURL: databaseURL, profiles: DeviceProfileCatalog(profiles: profiles), facility: alerts.facility,
            facilityZone: TimeZone(identifier: options.facilityTimeZone) ?? .gmt
        )
        configuration.writer.maxBatchRows = options.maxBatchRows
        configuration.mllp.host = options.mllpHost
        configuration.mllp.port = options.mllpPort
        configuration.mllp.maximumFrameBytes = options.maxFrameBytes
        configuration.mllp.idleTimeout = .seconds(Int64(options.idleTimeoutSeconds))
        configuration.api.host = alerts.apiHost
        configuration.api.port = alerts.apiPort
        configuration.tokens = try alerts.tokens(logger: logger)
        if let servers = alerts.kafkaBootstrapServers {
            configuration.kafka = VitalsEngine.KafkaSettings(bootstrapServers: servers, topic: alerts.kafkaTopic, properties: try alerts.kafkaProperties())
        }
        let engine = try await VitalsEngine(configuration: configuration, logger: logger)
        return Started(engine: engine, storageMode: report.mode, profiles: profiles)
    }
}
