import Foundation
@testable import Ingest
import Storage
import TestSupport
import Testing
import VitalSigns

/// A port's spool on disk: what goes in reads back whole; what does not is counted and kept aside.
@Suite struct SerialJournalTests {
    let folder = NSTemporaryDirectory() + "nilecare-journal-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"

    func batch(_ id: String, _ values: [Double]) -> SerialSpool.Batch {
        let time = Timestamp(microsecondsSinceEpoch: 1_796_000_000_123_456)
        return SerialSpool.Batch(
            key: MessageKey(sendingApplication: "SERIAL", sendingFacility: "spo2-icu1a", controlID: id),
            observations: values.map {
                Observation(time: time, patient: PatientIdentifier(id: "MRN-1", assigningAuthority: "KTH"), deviceID: "SN-7", location: "ICU^1^A",
                            kind: .spo2, code: ObservationCode(code: "150456", text: "SpO2", system: "MDC"), value: $0, unit: .percent,
                            hierarchy: "1.1.1", status: .final, isCritical: $0 < 88)
            },
            conditions: [DeviceCondition(time: time, deviceID: "SN-7", patient: nil, location: nil, kind: .spo2, status: .sensorOff)]
        )
    }

    @Test("batches read back whole and in order, marked seen by the rules; a torn last line and a damaged one are counted and the file is copied aside")
    func batchesReadBackAndDamageIsCounted() throws {
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let port = "/dev/serial/by-id/usb-FTDI-if00"
        let written = [batch("A", [97.5, 85]), batch("B", [0.1 + 0.2])]
        let path = try {
            let journal = try SerialJournal(directory: folder, portPath: port, logger: TestPostgres.logger)
            for batch in written { #expect(journal.append(batch)) }
            // Conditions alone are not stored, so not journaled.
            #expect(journal.append(SerialSpool.Batch(key: nil, observations: [], conditions: written[0].conditions)))
            let recovered = journal.recover()
            #expect(recovered.unreadable == 0)
            #expect(recovered.batches.map(\.key) == written.map(\.key))
            #expect(recovered.batches.map(\.observations) == written.map(\.observations))
            #expect(recovered.batches.allSatisfy { $0.evaluated && $0.conditions.isEmpty })
            return journal.path
        }()

        // A line damaged in the middle, and a last line torn by a crash mid-write; the next
        // run opens the journal and goes on appending.
        let handle = try #require(FileHandle(forWritingAtPath: path))
        handle.seekToEndOfFile()
        handle.write(Data("not a record\n".utf8))
        handle.write(Data(#"{"sendingApplication":"SERIAL","sendingFac"#.utf8))
        try handle.close()
        let nextRun = try SerialJournal(directory: folder, portPath: port, logger: TestPostgres.logger)
        #expect(nextRun.append(batch("C", [99])))
        let recovered = nextRun.recover()
        #expect(recovered.unreadable == 2)
        #expect(recovered.batches.map(\.key?.controlID) == ["A", "B", "C"])
        let copies = try FileManager.default.contentsOfDirectory(atPath: folder).filter { $0.contains(".damaged-") }
        #expect(copies.count == 1)

        nextRun.clear()
        #expect(nextRun.recover().batches.isEmpty)
    }

    @Test("a port's journal is refused to a second engine while one has it: it would store and empty it under the first")
    func aJournalInUseIsRefused() throws {
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let first = try SerialJournal(directory: folder, portPath: "/dev/ttyUSB0", logger: TestPostgres.logger)
        let error = #expect(throws: SerialConfigurationError.self) {
            _ = try SerialJournal(directory: folder, portPath: "/dev/ttyUSB0", logger: TestPostgres.logger)
        }
        #expect(error?.description.contains("another process has it open") == true)
        withExtendedLifetime(first) {}
    }

    @Test("a value JSON cannot hold is refused by the journal, not written half")
    func aNonFiniteValueIsNotJournaled() throws {
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let journal = try SerialJournal(directory: folder, portPath: "/dev/ttyUSB0", logger: TestPostgres.logger)
        #expect(!journal.append(batch("NAN", [.nan])))
        let recovered = journal.recover()
        #expect(recovered.batches.isEmpty && recovered.unreadable == 0)
    }

    @Test("each port path has a journal of its own, also paths that differ only in their separators")
    func portsDoNotShareAJournal() throws {
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let paths = ["/dev/ttyUSB0", "/dev_ttyUSB0", "/dev/tty/USB0"]
        let journals = try paths.map { try SerialJournal(directory: folder, portPath: $0, logger: TestPostgres.logger) }
        #expect(Set(journals.map(\.path)).count == paths.count)
        #expect(journals.allSatisfy { ($0.path as NSString).deletingLastPathComponent == folder })
    }

    @Test("a journal folder that cannot be created is a clear configuration error")
    func anUnusableFolderIsRefused() throws {
        let file = folder + "-file"
        FileManager.default.createFile(atPath: file, contents: Data())
        defer { try? FileManager.default.removeItem(atPath: file) }
        #expect(throws: SerialConfigurationError.self) {
            _ = try SerialJournal(directory: file + "/journal", portPath: "/dev/ttyUSB0", logger: TestPostgres.logger)
        }
    }
}
