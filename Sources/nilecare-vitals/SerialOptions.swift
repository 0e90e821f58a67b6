import ArgumentParser
import DeviceProfiles
import Foundation
import Ingest
import Logging
import Storage
import VitalSigns

/// `--serial PATH=PROFILE[@BED][#DEVICE]`: one serial port, the device profile spoken on it, the
/// bed it is wired to and the device's identifier, e.g.
/// `/dev/serial/by-id/usb-FTDI_FT232R-if00=masimo-radical7@ICU^1^A#spo2-icu1a`.
struct SerialPortSpec: ExpressibleByArgument, Equatable {
    var path: String
    var profileID: String
    var bed: String?
    var device: String?

    init?(argument: String) {
        guard let spec = try? Self.parse(argument) else { return nil }
        self = spec
    }

    init(path: String, profileID: String, bed: String? = nil, device: String? = nil) {
        self.path = path
        self.profileID = profileID
        self.bed = bed
        self.device = device
    }

    static func parse(_ text: String) throws -> SerialPortSpec {
        guard let equals = text.firstIndex(of: "=") else {
            throw ValidationError("--serial '\(text)': expected PATH=PROFILE[@BED][#DEVICE]")
        }
        let path = String(text[..<equals])
        var rest = Substring(text[text.index(after: equals)...])
        var device: String?
        if let hash = rest.firstIndex(of: "#") {
            device = String(rest[rest.index(after: hash)...])
            rest = rest[..<hash]
        }
        var bed: String?
        if let at = rest.firstIndex(of: "@") {
            bed = String(rest[rest.index(after: at)...])
            rest = rest[..<at]
        }
        guard path.hasPrefix("/"), !rest.isEmpty, bed?.isEmpty != true, device?.isEmpty != true else {
            throw ValidationError("--serial '\(text)': expected an absolute PATH, a PROFILE id and non-empty @BED / #DEVICE when given")
        }
        return SerialPortSpec(path: path, profileID: String(rest), bed: bed, device: device)
    }
}

/// How the daemon reads serial devices.
struct SerialOptions: ParsableArguments {
    @Option(name: .customLong("serial"), help: ArgumentHelp(
        "A serial port to read: PATH=PROFILE[@BED][#DEVICE], e.g. /dev/ttyUSB0=masimo-radical7@ICU^1^A#spo2-1 (repeatable).",
        valueName: "port"))
    var ports: [SerialPortSpec] = []

    @Option(help: "Seconds between two reloads of the patient associations (set with `associate`).")
    var associationRefreshSeconds: Double = 5

    @Option(help: ArgumentHelp(
        "Folder where each serial port keeps the readings not stored yet, so that a crash or a stop during a database outage loses none; 'none' keeps them in memory only.",
        valueName: "folder"))
    var serialJournalDir: String = "var/serial-journal"

    /// `--serial-journal-dir`, nil for `none`.
    var journalDirectory: String? { serialJournalDir == "none" ? nil : serialJournalDir }

    func validate() throws {
        try validateSeconds(associationRefreshSeconds, "association-refresh-seconds")
        if serialJournalDir.isEmpty { throw ValidationError("--serial-journal-dir: give a folder, or 'none'") }
        let paths = ports.map(\.path)
        if Set(paths).count != paths.count { throw ValidationError("a --serial port is given twice") }
    }

    /// The port configurations, with their profiles looked up among `profiles`.
    func configurations(profiles: [DeviceProfile]) throws -> [SerialPortConfiguration] {
        try ports.map { spec in
            guard let profile = profiles.first(where: { $0.id == spec.profileID }) else {
                let serial = profiles.filter(\.protocolFamily.isSerial).map(\.id).sorted().joined(separator: ", ")
                throw ValidationError("--serial \(spec.path): no device profile '\(spec.profileID)' (serial profiles: \(serial))")
            }
            guard profile.protocolFamily.isSerial else {
                throw ValidationError("--serial \(spec.path): profile '\(spec.profileID)' speaks \(profile.protocolFamily.rawValue), not a serial protocol")
            }
            return SerialPortConfiguration(path: spec.path, profile: profile, bed: spec.bed, deviceID: spec.device)
        }
    }
}

/// The serial source with what it needs beside the writer: the association cache, the
/// rejection and presence recorders. Nil-free: built only when ports are configured.
struct SerialIngest {
    let source: SerialSource
    let associations: PatientAssociationCache
    let rejections: RejectedFrameRecorder
    let presence: DevicePresenceRecorder

    static func start(
        ports: [SerialPortConfiguration], refresh: Duration, journalDirectory: String?, databaseURL: String, sink: any ObservationSink, logger: Logger
    ) throws -> SerialIngest {
        let associations = PatientAssociationCache(url: databaseURL, refreshInterval: refresh, logger: logger)
        let rejections = RejectedFrameRecorder(url: databaseURL, logger: logger)
        let presence = DevicePresenceRecorder(url: databaseURL, logger: logger)
        var options = SerialSource.Options()
        options.journalDirectory = journalDirectory
        let source = try SerialSource(ports: ports, sink: sink, associations: associations,
                                      rejections: RejectionReporter(recorder: rejections, logger: logger), presence: presence,
                                      options: options, logger: logger)
        return SerialIngest(source: source, associations: associations, rejections: rejections, presence: presence)
    }

    /// Call after the source's service has stopped and before the writer shuts down.
    func stop() {
        source.stop()
        associations.stop()
        rejections.shutdown()
        presence.shutdown()
    }
}
