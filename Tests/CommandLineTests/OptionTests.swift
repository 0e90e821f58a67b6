import ArgumentParser
import Foundation
import Testing
import Storage
import TestSupport
import VitalSigns
@testable import nilecare_vitals

@Suite("Command-line options")
struct OptionTests {
    @Test("--accept-processing-id adds to production's P")
    func processingIDsWiden() throws {
        #expect(try IngestOptions.parse([]).processingIDs == ["P"])
        #expect(try IngestOptions.parse(["--accept-processing-id", "T"]).processingIDs == ["P", "T"])
    }

    @Test("a duration in seconds of inf, nan, 1e20 or below zero is a validation error, not a trap at start", arguments: ["inf", "nan", "1e20", "-1"])
    func secondsAreBounded(value: String) throws {
        #expect(throws: (any Error).self) { try SerialOptions.parse(["--association-refresh-seconds=\(value)"]) }
        #expect(throws: (any Error).self) { try Demo.parse(["--interval-seconds=\(value)"]) }
        #expect(throws: (any Error).self) { try Simulate.parse(["--interval-seconds=\(value)"]) }
        #expect(throws: (any Error).self) { try Simulate.parse(["--rate=\(value == "1e20" ? "inf" : value)"]) }
        // The message names the option and what it takes.
        let error = #expect(throws: (any Error).self) { try SerialOptions.parse(["--association-refresh-seconds=\(value)"]) }
        let message = error.map { SerialOptions.message(for: $0) } ?? ""
        #expect(message.contains("--association-refresh-seconds must be"), "\(message)")
        #expect(try SerialOptions.parse(["--association-refresh-seconds=0.5"]).associationRefreshSeconds == 0.5)
        #expect(try Demo.parse(["--interval-seconds=0"]).intervalSeconds == 0)
    }

    @Test("--serial-journal-dir is a folder (var/serial-journal by default) or none; empty is refused")
    func serialJournalFolder() throws {
        #expect(try SerialOptions.parse([]).journalDirectory == "var/serial-journal")
        #expect(try SerialOptions.parse(["--serial-journal-dir", "/var/lib/nilecare/journal"]).journalDirectory == "/var/lib/nilecare/journal")
        #expect(try SerialOptions.parse(["--serial-journal-dir", "none"]).journalDirectory == nil)
        let error = #expect(throws: (any Error).self) { try SerialOptions.parse(["--serial-journal-dir", ""]) }
        #expect(error.map { SerialOptions.message(for: $0) }?.contains("--serial-journal-dir") == true)
    }

    @Test("--retention is a positive number of years, months, weeks or days")
    func retention() throws {
        #expect(try Serve.parse([]).retention == "7 years")
        #expect(try Serve.parse(["--retention", "10 years"]).retention == "10 years")
        #expect(try Serve.parse(["--retention", "400 days"]).retention == "400 days")
        for refused in ["", "7", "years", "0 days", "-1 years", "7 years; DROP TABLE vital_signs", "1 fortnight", "1.5 years"] {
            #expect(throws: (any Error).self, "\(refused)") { try Serve.parse(["--retention", refused]) }
        }
    }

    @Test("--max-connections must be positive")
    func maxConnections() throws {
        #expect(try IngestOptions.parse([]).maxConnections == 1_000)
        #expect(try IngestOptions.parse(["--max-connections", "20"]).maxConnections == 20)
        #expect(throws: (any Error).self) { try IngestOptions.parse(["--max-connections", "0"]) }
        #expect(try IngestOptions.parse([]).maxConnectionsPerPeer == 256)
        #expect(try IngestOptions.parse(["--max-connections-per-peer", "8"]).maxConnectionsPerPeer == 8)
        #expect(throws: (any Error).self) { try IngestOptions.parse(["--max-connections-per-peer", "0"]) }
    }

    @Test("--hl7-default-charset takes HL7's names (as devices spell them) and refuses others")
    func defaultCharset() throws {
        #expect(try IngestOptions.parse([]).defaultCharset == .utf8)
        #expect(try IngestOptions.parse(["--hl7-default-charset", "8859/1"]).defaultCharset == .iso8859_1)
        #expect(throws: (any Error).self) { try IngestOptions.parse(["--hl7-default-charset", "8859/6"]) }
    }
}

@Suite("thresholds set")
struct ThresholdOptionTests {
    let patient = ["--patient", "NB-7", "--authority", "KTH", "--vital", "heart_rate"]

    @Test("every bound must be given, a number or none: a bound left out would stop alerting on that side")
    func allFourBoundsAreRequired() throws {
        #expect(throws: (any Error).self) { try Thresholds.Set.parse(patient + ["--warning-high", "190"]) }
        let set = try Thresholds.Set.parse(patient + ["--critical-low", "90", "--warning-low", "100", "--warning-high", "190", "--critical-high", "none"])
        #expect(set.band == ThresholdBand(criticalLow: 90, warningLow: 100, warningHigh: 190, criticalHigh: nil))
    }

    @Test func aBoundIsANumberOrNone() {
        #expect(throws: (any Error).self) {
            try Thresholds.Set.parse(patient + ["--critical-low", "ninety", "--warning-low", "100", "--warning-high", "190", "--critical-high", "none"])
        }
        #expect(throws: (any Error).self) {
            try Thresholds.Set.parse(patient + ["--critical-low", "nan", "--warning-low", "100", "--warning-high", "190", "--critical-high", "none"])
        }
    }
}

@Suite("thresholds population")
struct PopulationOptionTests {
    let patient = ["--patient", "NB-7", "--authority", "KTH"]

    @Test("a population is adult, paediatric, neonatal or default (the profile's); anything else is refused")
    func aPopulationIsOneOfTheProfiles() throws {
        #expect(try Thresholds.PopulationCommand.parse(patient + ["--population", "neonatal"]).population.population == .neonatal)
        #expect(try Thresholds.PopulationCommand.parse(patient + ["--population", "default"]).population.population == nil)
        #expect(throws: (any Error).self) { try Thresholds.PopulationCommand.parse(patient + ["--population", "infant"]) }
        #expect(throws: (any Error).self) { try Thresholds.PopulationCommand.parse(patient) }
    }
}

@Suite("Which patient a command names")
struct PatientOptionTests {
    @Test("the assigning authority is never assumed: leaving it out is an error")
    func authorityIsRequired() {
        #expect(throws: (any Error).self) { try PatientOptions.parse(["--patient", "MRN-1"]) }
        #expect(throws: (any Error).self) { try Associate.Set.parse(["--bed", "ICU^1^A", "--patient", "MRN-1"]) }
        #expect((try? PatientOptions.parse(["--patient", "MRN-1", "--authority", ""]))?.identifier == PatientIdentifier(id: "MRN-1"))
    }

    @Test("an identifier the database knows only under another authority is refused, naming the authorities it has")
    func anotherAuthorityIsRefused() throws {
        let connection = try PostgresConnection(url: try TestPostgres.migratedDatabase())
        defer { connection.close() }
        _ = try connection.query("INSERT INTO patients (identifier, assigning_authority) VALUES ('MRN-1', 'KTH')")
        do {
            try PatientOptions.parse(["--patient", "MRN-1", "--authority", ""]).confirmKnown(on: connection)
            Issue.record("MRN-1 without its authority was accepted")
        } catch {
            #expect("\(error)".contains("known under authority KTH"))
        }
        try PatientOptions.parse(["--patient", "MRN-1", "--authority", "KTH"]).confirmKnown(on: connection)
        // A patient admitted before any reading is not in the table yet.
        try PatientOptions.parse(["--patient", "MRN-2", "--authority", "KTH"]).confirmKnown(on: connection)
    }
}

@Suite("Kafka properties file")
struct KafkaPropertiesTests {
    @Test("a file written on Windows (CRLF), starting with a comment, gives every property")
    func crlfLineEndings() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("kafka-\(UUID().uuidString).properties").path
        try "# cluster\r\nsecurity.protocol=SASL_SSL\r\nsasl.username = vitals\r\n".write(toFile: path, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: path) }
        let options = try AlertOptions.parse(["--kafka-properties-file", path])
        #expect(try options.kafkaProperties() == ["security.protocol": "SASL_SSL", "sasl.username": "vitals"])
    }
}

@Suite("Connections named on the command line")
struct ConnectionOptionTests {
    @Test("certificate files for a plain mqtt:// broker are refused: they would be ignored and the traffic go in clear")
    func tlsFilesNeedMQTTS() throws {
        #expect(throws: (any Error).self) { try MQTTOptions.parse(["--mqtt-url", "mqtt://broker:1883", "--mqtt-ca-file", "/etc/ca.pem"]) }
        #expect(throws: (any Error).self) { try MQTTOptions.parse(["--mqtt-url", "mqtt://broker:1883", "--mqtt-cert-file", "/etc/c.pem"]) }
        _ = try MQTTOptions.parse(["--mqtt-url", "mqtts://broker:8883", "--mqtt-ca-file", "/etc/ca.pem"])
    }

    @Test("an empty database URL file is refused, not taken as libpq's defaults")
    func emptyDatabaseURLFile() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("url-\(UUID().uuidString)").path
        try "\n".write(toFile: path, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: path) }
        #expect(throws: (any Error).self) { try DatabaseOptions.parse(["--database-url-file", path]).resolvedURL() }
        try "postgresql:///vitals\n".write(toFile: path, atomically: true, encoding: .utf8)
        #expect(try DatabaseOptions.parse(["--database-url-file", path]).resolvedURL() == "postgresql:///vitals")
    }

    @Test("a password in --database-url is refused (the process list shows it to every user); in the file it is taken")
    func aPasswordOnTheCommandLineIsRefused() throws {
        for url in ["postgresql://nilecare:S3cret@db/vitals", "host=db password=S3cret dbname=vitals"] {
            let error = #expect(throws: ValidationError.self) { try DatabaseOptions.parse(["--database-url", url]).resolvedURL() }
            #expect(error.map { "\($0)".contains("--database-url-file") && !"\($0)".contains("S3cret") } == true)
        }
        #expect(try DatabaseOptions.parse(["--database-url", "postgresql://nilecare@db/vitals"]).resolvedURL() == "postgresql://nilecare@db/vitals")
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("url-\(UUID().uuidString)").path
        try "postgresql://nilecare:S3cret@db/vitals\n".write(toFile: path, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: path) }
        #expect(try DatabaseOptions.parse(["--database-url-file", path]).resolvedURL() == "postgresql://nilecare:S3cret@db/vitals")
    }
}
