import ArgumentParser
import DeviceProfiles
import Engine
import Foundation
import Logging
import Storage
import VitalSigns

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
        if connection.serverIsOnThisHost, let writeback = KernelWriteback.current(), writeback.letsCommitsStall {
            logger.warning("commits may stall behind the kernel's writeback", metadata: ["advice": "\(writeback.advice)"])
        }
        connection.close()
        logger.info("storage ready", metadata: [
            "mode": "\(report.mode.rawValue)",
            "migrations_applied": "\(report.applied.count)",
            "migrations": "\(URL(fileURLWithPath: migrations).standardizedFileURL.path)",
        ])

        let profiles: [DeviceProfile]
        do {
            profiles = try DeviceProfileLoader.loadDirectory(options.profiles)
        } catch {
            throw ValidationError("invalid device profiles, not starting:\n\(error)")
        }
        logger.info("device profiles loaded", metadata: [
            "profiles": "\(profiles.map(\.id).joined(separator: ","))",
            "folder": "\(URL(fileURLWithPath: options.profiles).standardizedFileURL.path)",
        ])

        var configuration = VitalsEngine.Configuration(
            databaseURL: databaseURL, profiles: DeviceProfileCatalog(profiles: profiles), facility: alerts.facility,
            facilityZone: TimeZone(identifier: options.facilityTimeZone) ?? .gmt
        )
        configuration.acceptedProcessingIDs = options.processingIDs
        configuration.hl7DefaultCharset = options.defaultCharset
        if configuration.acceptedProcessingIDs != ["P"] {
            logger.notice("HL7 messages of these processing ids (MSH-11) are stored", metadata: ["processing_ids": "\(configuration.acceptedProcessingIDs.sorted().joined(separator: ","))"])
        }
        configuration.writer.maxBatchRows = options.maxBatchRows
        configuration.writer.connections = options.writerConnections
        configuration.mllp.host = options.mllpHost
        configuration.mllp.port = options.mllpPort
        configuration.mllp.maximumFrameBytes = options.maxFrameBytes
        configuration.mllp.idleTimeout = .seconds(Int64(options.idleTimeoutSeconds))
        configuration.mllp.maximumConnections = options.maxConnections
        configuration.mllp.maximumConnectionsPerPeer = options.maxConnectionsPerPeer
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
