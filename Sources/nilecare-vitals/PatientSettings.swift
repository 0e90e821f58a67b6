import Alerts
import ArgumentParser
import Foundation
import Storage
import VitalSigns

/// Which patient a settings command is about.
struct PatientOptions: ParsableArguments {
    @Option(help: "The patient's identifier (MRN).") var patient: String
    @Option(help: "The authority that assigned the identifier.") var authority: String = ""
    @Option(help: "Who makes the change (default: $USER).") var by: String?

    var identifier: PatientIdentifier { PatientIdentifier(id: patient, assigningAuthority: authority) }
    var user: String { by ?? ProcessInfo.processInfo.environment["USER"] ?? "cli" }
}

extension VitalKind: ExpressibleByArgument {
    public init?(argument: String) { self.init(name: argument) }
}

/// A clinician's alerting settings for one patient; the running daemon picks them up within
/// ten seconds.
struct Thresholds: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Per-patient alert settings: threshold overrides and NEWS2 context.",
        subcommands: [Set.self, Clear.self, NEWS2.self]
    )

    struct Set: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Replace the profile's bands of one vital for one patient (canonical units).")

        @OptionGroup var who: PatientOptions
        @Option(help: "The vital kind (spo2, heart_rate, respiration_rate, nibp_systolic, temperature, …).") var vital: VitalKind
        @Option var criticalLow: Double?
        @Option var warningLow: Double?
        @Option var warningHigh: Double?
        @Option var criticalHigh: Double?
        @OptionGroup var database: DatabaseOptions

        func run() async throws {
            let band = ThresholdBand(criticalLow: criticalLow, warningLow: warningLow, warningHigh: warningHigh, criticalHigh: criticalHigh)
            let connection = try PostgresConnection(url: try database.resolvedURL())
            defer { connection.close() }
            do {
                try PatientSettingsStore(connection: connection).setThresholds(band, vital: vital, patient: who.identifier, by: who.user)
            } catch let error as PatientAlertSettingsError {
                throw ValidationError("\(error)")
            }
            print("\(vital.name) bands set for the patient by \(who.user)")
        }
    }

    struct Clear: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Back to the device profile's bands for one vital.")

        @OptionGroup var who: PatientOptions
        @Option var vital: VitalKind
        @OptionGroup var database: DatabaseOptions

        func run() async throws {
            let connection = try PostgresConnection(url: try database.resolvedURL())
            defer { connection.close() }
            let cleared = try PatientSettingsStore(connection: connection).clearThresholds(vital: vital, patient: who.identifier)
            print(cleared ? "\(vital.name) override removed" : "no \(vital.name) override for that patient")
        }
    }

    struct NEWS2: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "news2", abstract: "Record NEWS2 context: SpO2 scale 2 (hypercapnic), supplemental oxygen, consciousness (ACVPU).")

        @OptionGroup var who: PatientOptions
        @Option(help: "true: score SpO2 on scale 2 (hypercapnic respiratory failure).") var hypercapnic: Bool?
        @Option(help: "true when the patient is on supplemental oxygen.") var oxygen: Bool?
        @Option(help: "alert, new_confusion, voice, pain or unresponsive.") var consciousness: Consciousness?
        @OptionGroup var database: DatabaseOptions

        func run() async throws {
            let connection = try PostgresConnection(url: try database.resolvedURL())
            defer { connection.close() }
            try PatientSettingsStore(connection: connection).setNEWS2Context(
                patient: who.identifier, hypercapnic: hypercapnic, onOxygen: oxygen, consciousness: consciousness, by: who.user)
            print("NEWS2 context recorded by \(who.user)")
        }
    }
}

extension Consciousness: ExpressibleByArgument {}
