import ArgumentParser
import Decoders
import DeviceProfiles
import Foundation
import Ingest
import Logging
import NIOCore
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

/// The running ingest path: the writer, the MLLP listener and the MQTT source, wired together.
struct IngestEngine {
    let writer: ObservationWriter
    let server: MLLPServer
    let mqtt: MQTTIngest?
    let storageMode: StorageMode

    /// Migrates, loads and validates the device profiles, then starts writer, listener and sources.
    static func start(databaseURL: String, migrations: String, options: IngestOptions, mqtt: MQTTOptions? = nil, logger: Logger) async throws -> IngestEngine {
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
        let decoder = PCD01Decoder(
            profiles: DeviceProfileCatalog(profiles: profiles),
            facilityZone: TimeZone(identifier: options.facilityTimeZone) ?? .gmt
        )

        var writerConfiguration = ObservationWriter.Configuration()
        writerConfiguration.maxBatchRows = options.maxBatchRows
        let writer = try ObservationWriter(url: databaseURL, configuration: writerConfiguration, logger: logger)

        var serverConfiguration = MLLPServer.Configuration()
        serverConfiguration.host = options.mllpHost
        serverConfiguration.port = options.mllpPort
        serverConfiguration.maximumFrameBytes = options.maxFrameBytes
        serverConfiguration.idleTimeout = .seconds(Int64(options.idleTimeoutSeconds))
        let ingestor = MessageIngestor(decoder: decoder, writer: writer, logger: logger)
        let server = MLLPServer(configuration: serverConfiguration, ingestor: ingestor, logger: logger)
        try await server.start()
        let mqttIngest = try mqtt?.configuration(profiles: profiles).map { configuration in
            try MQTTIngest.start(configuration, databaseURL: databaseURL, sink: writer, logger: logger)
        }
        return IngestEngine(writer: writer, server: server, mqtt: mqttIngest, storageMode: report.mode)
    }

    /// Stops the sources first, then lets the writer finish what it was given.
    func stop() {
        mqtt?.stop()
        server.stop()
        writer.shutdown()
    }
}
