import DeviceProfiles
import DeviceSimulator
import Foundation
import Ingest
import Logging
import ServiceLifecycle
import Storage
import VitalSigns

/// The demo's serial part: a simulated Masimo Radical-7 and a Nonin oximeter on pseudo-terminals
/// (linked under the data folder like /dev/serial/by-id links), read by the daemon's serial
/// source, each bound to a bed that is associated with a demo patient.
struct SerialDemo {
    let ingest: SerialIngest
    let simulators: [SerialDeviceSimulator]
    let summary: String

    static func start(dataDir: String, profilesFolder: String, databaseURL: String, sink: any ObservationSink, logger: Logger) throws -> SerialDemo {
        let folder = (dataDir as NSString).appendingPathComponent("serial")
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        let profiles = try DeviceProfileLoader.loadDirectory(profilesFolder)
        let devices: [(SerialDeviceSimulator.Model, bed: String, patient: String)] = [
            (.masimoRadical7, "DEMO^SERIAL^1", "DEMO-MRN-901"),
            (.noninPulseOximeter, "DEMO^SERIAL^2", "DEMO-MRN-902"),
        ]
        let connection = try PostgresConnection(url: databaseURL)
        defer { connection.close() }
        var ports: [SerialPortConfiguration] = []
        var simulators: [SerialDeviceSimulator] = []
        for (model, bed, patient) in devices {
            guard let profile = profiles.first(where: { $0.id == model.rawValue }) else { continue }
            let terminal = try PseudoTerminal()
            let link = (folder as NSString).appendingPathComponent(model.rawValue)
            try terminal.link(link)
            try AssociationStore(connection: connection).set(.bed(bed), patient: PatientIdentifier(id: patient, assigningAuthority: "DEMO"), by: "demo")
            ports.append(SerialPortConfiguration(path: link, profile: profile, bed: bed, deviceID: "demo-\(model.rawValue)"))
            simulators.append(SerialDeviceSimulator(configuration: .init(model: model), terminal: terminal))
        }
        let ingest = try SerialIngest.start(ports: ports, refresh: .seconds(5), journalDirectory: (folder as NSString).appendingPathComponent("journal"),
                                            databaseURL: databaseURL, sink: sink, logger: logger)
        let summary = ports.map { "\($0.profile.id) on \($0.path) at bed \($0.bed ?? "-")" }.joined(separator: "; ")
        return SerialDemo(ingest: ingest, simulators: simulators, summary: summary)
    }

    var services: [ServiceGroupConfiguration.ServiceConfiguration] {
        [.init(service: ingest.source), .init(service: SerialSimulatorService(simulators: simulators))]
    }
}

/// Runs the simulated serial devices until the demo shuts down.
struct SerialSimulatorService: Service {
    let simulators: [SerialDeviceSimulator]

    func run() async throws {
        for simulator in simulators { simulator.start() }
        try? await gracefulShutdown()
        for simulator in simulators {
            simulator.stop()
            simulator.terminal.close()
        }
    }
}
