import Alerts
import ArgumentParser
import Foundation
import Storage
import VitalSigns

/// Which patient a settings or association command is about.
struct PatientOptions: ParsableArguments {
    @Option(help: "The patient's identifier (MRN).") var patient: String
    @Option(help: "The authority that assigned the identifier, as the monitors send it in PID-3 (e.g. KTH); \"\" where identifiers carry none.")
    var authority: String
    @Option(help: "Who makes the change (default: $USER).") var by: String?

    var identifier: PatientIdentifier { PatientIdentifier(id: patient, assigningAuthority: authority) }
    var user: String { by ?? ProcessInfo.processInfo.environment["USER"] ?? "cli" }

    /// Refuses an identifier the database knows only under other authorities: settings or an
    /// association saved under the wrong pair would never reach the patient the monitors name.
    /// An identifier not seen yet (a patient admitted before any reading) is accepted.
    func confirmKnown(on connection: PostgresConnection) throws {
        let known = try connection.query(
            "SELECT assigning_authority FROM patients WHERE identifier = $1 ORDER BY assigning_authority", [patient]
        ).rows.compactMap { $0.first ?? nil }
        guard !known.isEmpty, !known.contains(authority) else { return }
        let names = known.map { $0.isEmpty ? "\"\"" : $0 }.joined(separator: ", ")
        throw ValidationError("patient \(patient) is known under authority \(names), not \(authority.isEmpty ? "\"\"" : authority): pass that --authority")
    }
}

extension VitalKind: ExpressibleByArgument {
    public init?(argument: String) { self.init(name: argument) }
}

/// A clinician's alerting settings for one patient; the running daemon picks them up within
/// ten seconds.
struct Thresholds: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Per-patient alert settings: threshold overrides, population and NEWS2 context.",
        subcommands: [Set.self, Clear.self, PopulationCommand.self, NEWS2.self]
    )

    struct Set: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Replace the profile's bands of one vital for one patient (canonical units).",
            discussion: "All four bounds are required, each a number or 'none': the override replaces the profile's whole band, so a bound left out would silently stop alerting on that side."
        )

        @OptionGroup var who: PatientOptions
        @Option(help: "The vital kind (spo2, heart_rate, respiration_rate, nibp_systolic, temperature, …).") var vital: VitalKind
        @Option(help: "A number, or none.") var criticalLow: ThresholdBound
        @Option(help: "A number, or none.") var warningLow: ThresholdBound
        @Option(help: "A number, or none.") var warningHigh: ThresholdBound
        @Option(help: "A number, or none.") var criticalHigh: ThresholdBound
        @OptionGroup var database: DatabaseOptions

        var band: ThresholdBand {
            ThresholdBand(criticalLow: criticalLow.value, warningLow: warningLow.value, warningHigh: warningHigh.value, criticalHigh: criticalHigh.value)
        }

        func run() async throws {
            let connection = try PostgresConnection(url: try database.resolvedURL())
            defer { connection.close() }
            try who.confirmKnown(on: connection)
            do {
                try PatientSettingsStore(connection: connection).setThresholds(band, vital: vital, patient: who.identifier, by: who.user)
            } catch let error as PatientAlertSettingsError {
                throw ValidationError("\(error)")
            }
            let bounds = ThresholdBand.Bound.allCases.map { "\($0.rawValue) \(band[$0].map { "\($0)" } ?? "none")" }
            print("\(vital.name) bands set for the patient by \(who.user): \(bounds.joined(separator: ", "))")
        }
    }

    /// One bound of `thresholds set`: a number, or `none` for no bound on that side.
    struct ThresholdBound: ExpressibleByArgument {
        var value: Double?

        init?(argument: String) {
            if argument.lowercased() == "none" {
                value = nil
            } else if let number = Double(argument), number.isFinite {
                value = number
            } else {
                return nil
            }
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
            // Removing an override is safe under any pair, a wrongly keyed one above all.
            let cleared = try PatientSettingsStore(connection: connection).clearThresholds(vital: vital, patient: who.identifier)
            print(cleared ? "\(vital.name) override removed" : "no \(vital.name) override for that patient")
        }
    }

    struct PopulationCommand: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "population",
            abstract: "Judge one patient's vitals by the bands of a population (adult, paediatric, neonatal), or by the device profile's default again.",
            discussion: "A neonate on a monitor whose profile defaults to adults: its heart rate of 85 is critical by the neonatal bands and normal by the adult ones. NEWS2 scores adults only."
        )

        @OptionGroup var who: PatientOptions
        @Option(help: "adult, paediatric, neonatal, or default (the device profile's).") var population: PopulationChoice
        @OptionGroup var database: DatabaseOptions

        func run() async throws {
            let connection = try PostgresConnection(url: try database.resolvedURL())
            defer { connection.close() }
            try who.confirmKnown(on: connection)
            let changed = try PatientSettingsStore(connection: connection).setPopulation(population.population, patient: who.identifier, by: who.user)
            if let chosen = population.population {
                print("population \(chosen.rawValue) recorded by \(who.user)")
            } else {
                print(changed ? "population removed: the device profile's default applies" : "no population recorded for that patient")
            }
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
            try who.confirmKnown(on: connection)
            try PatientSettingsStore(connection: connection).setNEWS2Context(
                patient: who.identifier, hypercapnic: hypercapnic, onOxygen: oxygen, consciousness: consciousness, by: who.user)
            print("NEWS2 context recorded by \(who.user)")
        }
    }
}

extension Consciousness: ExpressibleByArgument {}

/// A population, or `default`: the device profile's.
struct PopulationChoice: ExpressibleByArgument {
    var population: Population?

    init?(argument: String) {
        if argument == "default" {
            population = nil
        } else if let population = Population(rawValue: argument) {
            self.population = population
        } else {
            return nil
        }
    }

    static var allValueStrings: [String] { Population.allCases.map(\.rawValue) + ["default"] }
}
