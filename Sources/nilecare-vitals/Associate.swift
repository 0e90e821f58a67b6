import ArgumentParser
import Foundation
import Storage
import VitalSigns

/// Which bed or device an `associate` command is about.
struct AssociationSubjectOptions: ParsableArguments {
    @Option(help: "The bed, as PV1-3 text (ICU^1^A).")
    var bed: String?

    @Option(help: "The device identifier (a Masimo serial number, a configured #DEVICE id).")
    var device: String?

    func validate() throws {
        guard (bed == nil) != (device == nil) else { throw ValidationError("give exactly one of --bed and --device") }
        if bed?.isEmpty == true || device?.isEmpty == true { throw ValidationError("--bed and --device must not be empty") }
    }

    var subject: AssociationSubject {
        if let bed { return .bed(bed) }
        return .device(device ?? "")
    }
}

/// A time on the command line: `now` or ISO 8601 with an offset (2026-11-29T09:00:00+02:00).
struct CommandTime: ExpressibleByArgument {
    var date: Date

    init?(argument: String) {
        if argument == "now" {
            date = Date()
            return
        }
        let formatter = ISO8601DateFormatter()
        if let date = formatter.date(from: argument) {
            self.date = date
            return
        }
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        guard let date = formatter.date(from: argument) else { return nil }
        self.date = date
    }
}

struct Associate: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Bind beds and devices to patients, so serial and other patient-less observations get their patient.",
        subcommands: [Set.self, End.self, List.self]
    )

    struct Set: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Associate a bed or device with a patient (ends its current association).")

        @OptionGroup var subject: AssociationSubjectOptions
        @OptionGroup var who: PatientOptions
        @Option(help: "Start of the association: now or ISO 8601 with offset.") var from: CommandTime = CommandTime(argument: "now")!
        @OptionGroup var database: DatabaseOptions

        func run() async throws {
            let connection = try PostgresConnection(url: try database.resolvedURL())
            defer { connection.close() }
            try who.confirmKnown(on: connection)
            let association = try AssociationStore(connection: connection).set(subject.subject, patient: who.identifier, from: from.date, by: who.user)
            print("associated \(association.subject) with patient \(who.patient) from \(Self.text(from.date)) (association \(association.id))")
        }

        static func text(_ date: Date) -> String { ISO8601DateFormatter().string(from: date) }
    }

    struct End: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "End a bed's or device's current association.")

        @OptionGroup var subject: AssociationSubjectOptions
        @Option(help: "When it ends: now or ISO 8601 with offset.") var at: CommandTime = CommandTime(argument: "now")!
        @OptionGroup var database: DatabaseOptions

        func run() async throws {
            let connection = try PostgresConnection(url: try database.resolvedURL())
            defer { connection.close() }
            let ended = try AssociationStore(connection: connection).end(subject.subject, at: at.date)
            if ended == 0 {
                print("\(subject.subject) has no current association")
                throw ExitCode.failure
            }
            print("ended the association of \(subject.subject) at \(Set.text(at.date))")
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List current associations (and, with --ended-since, recent ones).")

        @Option(help: "Also list associations ended after this time: ISO 8601 with offset.") var endedSince: CommandTime?
        @OptionGroup var database: DatabaseOptions

        func run() async throws {
            let connection = try PostgresConnection(url: try database.resolvedURL())
            defer { connection.close() }
            let associations = try AssociationStore(connection: connection).list(endedAfter: endedSince?.date)
            if associations.isEmpty { print("no associations") }
            for association in associations {
                let patient = association.patient.assigningAuthority.isEmpty
                    ? association.patient.id : "\(association.patient.id)^^^\(association.patient.assigningAuthority)"
                let until = association.validTo.map(Set.text) ?? "open"
                print("\(association.subject.kind)\t\(association.subject.identifier)\t\(patient)\t\(Set.text(association.validFrom)) – \(until)\tby \(association.setBy)")
            }
        }
    }
}
