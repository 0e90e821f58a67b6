import DeviceProfiles
import DeviceSimulator
import Foundation
import Ingest
import Logging
import Storage
import Synchronization
import Testing
import TestSupport
import VitalSigns

#if canImport(Glibc)
import Glibc
#endif

/// The serial source as the daemon wires it, over real pseudo-terminals and a fresh database:
/// writer, rejection recorder, presence recorder and association cache.
private final class SerialRig: QueriesDatabase, Sendable {
    let databaseURL: String
    let writer: ObservationWriter
    /// The pipeline in front of the writer, when the rig has an alert stage.
    let pipeline: IngestPipeline?
    let recorder: RejectedFrameRecorder
    let presence: DevicePresenceRecorder
    let associations: PatientAssociationCache
    let source: SerialSource
    let folder: String

    init(
        ports: (String) throws -> [SerialPortConfiguration], databaseURL: String? = nil, folder: String? = nil,
        configure: (inout SerialSource.Options) -> Void = { _ in },
        alertStage: IngestPipeline.AlertStage? = nil
    ) throws {
        let url = try databaseURL ?? TestPostgres.migratedDatabase()
        let logger = TestPostgres.logger
        // Given: a rig that reads the ports of one before it, at the same paths.
        let folder = folder ?? NSTemporaryDirectory() + "nilecare-serial-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        self.folder = folder
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        self.databaseURL = url
        let writer = try ObservationWriter(url: url, logger: logger)
        self.writer = writer
        recorder = RejectedFrameRecorder(url: url, logger: logger)
        presence = DevicePresenceRecorder(url: url, logger: logger)
        associations = PatientAssociationCache(url: url, refreshInterval: .milliseconds(100), logger: logger)
        var options = SerialSource.Options()
        options.reopenDelay = .milliseconds(50)
        options.maxReopenDelay = .milliseconds(400)
        options.workingOpenDuration = .milliseconds(400)
        options.pollInterval = .milliseconds(50)
        configure(&options)
        let configurations = try ports(folder)
        pipeline = alertStage.map { stage in
            IngestPipeline(profiles: DeviceProfileCatalog(profiles: configurations.map(\.profile)), writer: writer, alertStage: stage)
        }
        source = try SerialSource(ports: configurations, sink: pipeline ?? writer, associations: associations,
                                  rejections: RejectionReporter(recorder: recorder, logger: logger), presence: presence,
                                  options: options, logger: logger)
    }

    func stop() {
        source.stop()
        associations.stop()
        pipeline?.shutdown()
        writer.shutdown()
        recorder.shutdown()
        presence.shutdown()
        try? FileManager.default.removeItem(atPath: folder)
    }

    /// Sets an association as the CLI would (another connection) and waits until the cache has
    /// reloaded since (two loads: one may have started before the change committed).
    func associate(_ subject: AssociationSubject, _ patient: String) async throws {
        let connection = try PostgresConnection(url: databaseURL)
        defer { connection.close() }
        let expected = PatientIdentifier(id: patient, assigningAuthority: "KTH")
        try AssociationStore(connection: connection).set(subject, patient: expected, from: Date(timeIntervalSinceNow: -60), by: "test")
        // Until the cache answers with it (counting reloads from before the commit let reloads
        // that finished while this connected and wrote pass for fresh ones).
        try await waitUntil(timeout: .seconds(10), "association \(subject) loaded") {
            let now = Timestamp(secondsSinceEpoch: Date().timeIntervalSince1970)
            return switch subject {
            case .device(let device): associations.patient(device: device, bed: nil, at: now) == expected
            case .bed(let bed): associations.patient(device: "", bed: bed, at: now) == expected
            }
        }
    }

    /// `kind value patient location` of a device's rows, oldest first.
    func rows(device: String) throws -> [String] {
        try query("""
            SELECT v.vital_kind, v.value, coalesce(p.identifier, '-'), coalesce(v.location, '-')
            FROM vital_signs v JOIN devices d ON d.id = v.device_id LEFT JOIN patients p ON p.id = v.patient_id
            WHERE d.identifier = $1 ORDER BY v.observation_time, v.vital_kind
            """, [device]).map { $0.map { $0 ?? "" }.joined(separator: " ") }
    }

    func presenceStatus(_ device: String) throws -> String? {
        try query("SELECT status FROM device_presence WHERE device_identifier = $1", [device]).first?.first ?? nil
    }
}

private func profile(_ id: String) throws -> DeviceProfile {
    try DeviceProfileLoader.loadFile(repositoryRoot.appendingPathComponent("device-profiles/\(id).yaml").path)
}

@Suite(.serialized) struct SerialSourceTests {
    @Test func masimoAndNoninStreamsAreStoredWithTheirSettingsApplied() async throws {
        let masimo = try PseudoTerminal()
        let nonin = try PseudoTerminal()
        var noninProfile = try profile("nonin-pulse-oximeter")
        noninProfile.serial = SerialSettings(baud: 19200, dataBits: 8, parity: .none, stopBits: 2, flowControl: .rtsCts, vmin: 1, vtime: 5)
        let rig = try SerialRig { folder in
            try masimo.link(folder + "/masimo")
            try nonin.link(folder + "/nonin")
            return [
                SerialPortConfiguration(path: folder + "/masimo", profile: try profile("masimo-radical7"), bed: "ICU^1^A"),
                SerialPortConfiguration(path: folder + "/nonin", profile: noninProfile, bed: "ICU^1^B", deviceID: "nonin-7"),
            ]
        }
        defer { rig.stop() }
        try await rig.associate(.bed("ICU^1^A"), "MRN-1")
        rig.source.start()
        let noninPath = rig.folder + "/nonin"
        try await waitUntil(timeout: .seconds(10), "both ports open") {
            rig.source.statistics(port: noninPath)?.isOpen == true && rig.source.statistics(port: rig.folder + "/masimo")?.isOpen == true
        }

        // The settings are the tty's, whoever asks: read them back through a descriptor of our own.
        let fd = open(nonin.slavePath, O_RDWR | O_NOCTTY | O_NONBLOCK)
        #expect(fd >= 0)
        var options = termios()
        #expect(tcgetattr(fd, &options) == 0)
        close(fd)
        #expect(cfgetispeed(&options) == speed_t(B19200))
        // Linux ptys force CS8 and no parity whatever is set (pty_set_termios), so data bits
        // and parity cannot be checked here; the rest of the line settings can.
        #expect(options.c_cflag & tcflag_t(CSIZE) == tcflag_t(CS8))
        #expect(options.c_cflag & tcflag_t(CSTOPB | CLOCAL | CREAD) == tcflag_t(CSTOPB | CLOCAL | CREAD))
        #expect(options.c_cflag & tcflag_t(truncatingIfNeeded: CRTSCTS) != 0)
        #expect(options.c_lflag & tcflag_t(ICANON | ECHO | ISIG) == 0)
        let vtime = withUnsafeBytes(of: options.c_cc) { $0[Int(VTIME)] }
        #expect(vtime == 5)

        for (spo2, rate) in [(95, 70), (96, 71), (97, 72)] {
            masimo.write(SerialFrames.masimoLine(spo2: spo2, pulseRate: rate, perfusionIndex: 2.5, serialNumber: "SN42"))
            nonin.write(SerialFrames.noninPacket(spo2: spo2 - 5, heartRate: rate + 200))
        }
        try await waitUntil(timeout: .seconds(15), "rows stored") {
            try rig.count("SELECT count(*) FROM vital_signs") == 3 * 3 + 3 * 2
        }
        let masimoRows = try rig.rows(device: "SN42")
        #expect(masimoRows.filter { $0.hasPrefix("3 ") }.sorted() == ["3 95 MRN-1 ICU^1^A", "3 96 MRN-1 ICU^1^A", "3 97 MRN-1 ICU^1^A"])
        #expect(masimoRows.filter { $0.hasPrefix("2 ") }.map { $0.split(separator: " ")[1] }.sorted() == ["70", "71", "72"])
        // Packets that arrive in one read share their arrival time: compare without order.
        #expect(try rig.rows(device: "nonin-7").sorted() == [
            "2 270 - ICU^1^B", "2 271 - ICU^1^B", "2 272 - ICU^1^B", "3 90 - ICU^1^B", "3 91 - ICU^1^B", "3 92 - ICU^1^B",
        ])
        let noninStatistics = try #require(rig.source.statistics(port: noninPath))
        #expect(noninStatistics.observationsUnassociated == 6)
        #expect(rig.source.statistics(port: rig.folder + "/masimo")?.observationsUnassociated == 0)
        try await waitUntil(timeout: .seconds(10), "presence recorded") { try rig.presenceStatus("nonin-7") == "online" }

        // The probe comes off and goes back on: the port's conditions follow, no values meanwhile.
        nonin.write(SerialFrames.noninPacket(spo2: nil, heartRate: nil, status: SerialFrames.NoninStatus.sensorDisconnect))
        try await waitUntil(timeout: .seconds(10), "sensor off seen") { rig.source.statistics(port: noninPath)?.currentConditions == [.sensorOff] }
        nonin.write(SerialFrames.noninPacket(spo2: 94, heartRate: 74))
        try await waitUntil(timeout: .seconds(10), "sensor back") { rig.source.statistics(port: noninPath)?.currentConditions == [] }
        #expect(rig.source.statistics(port: noninPath)?.statusReports[.sensorOff] == 1)
    }

    @Test("bytes the device sent before the port was opened are dropped, not stored as readings of the moment it opens")
    func bytesFromBeforeTheOpenAreDropped() async throws {
        let terminal = try PseudoTerminal()
        let rig = try SerialRig { folder in
            try terminal.link(folder + "/spo2")
            return [SerialPortConfiguration(path: folder + "/spo2", profile: try profile("masimo-radical7"), bed: "ICU^3^A", deviceID: "early-spo2")]
        }
        defer { rig.stop() }
        // Queued in the tty while the engine was stopped.
        terminal.write(SerialFrames.masimoLine(spo2: 81, pulseRate: 130, perfusionIndex: 1, serialNumber: nil))
        rig.source.start()
        try await waitUntil(timeout: .seconds(10), "port open") { rig.source.statistics(port: rig.folder + "/spo2")?.isOpen == true }
        terminal.write(SerialFrames.masimoLine(spo2: 97, pulseRate: 72, perfusionIndex: 1, serialNumber: nil))
        try await waitUntil(timeout: .seconds(10), "the reading sent after the open") { try rig.rows(device: "early-spo2").count == 3 }
        #expect(try rig.rows(device: "early-spo2").filter { $0.hasPrefix("3 ") } == ["3 97 - ICU^3^A"])
    }

    @Test("a batch whose commit was lost with its connection (committed, but the answer never came) is stored once when it is retried")
    func aRetryAfterALostCommitAnswerStoresNothingTwice() async throws {
        // Commits wait for their flush here (the shared cluster's do not), and so for a standby.
        var settings = TestPostgres.fastSettings
        settings["synchronous_commit"] = "on"
        let cluster = try TestPostgres.privateCluster(port: freeTCPPort(), settings: settings)
        let url = try cluster.start(database: "vitals")
        defer { try? cluster.stop() }
        try TestPostgres.migrate(url)
        let terminal = try PseudoTerminal()
        let rig = try SerialRig(ports: { folder in
            try terminal.link(folder + "/spo2")
            return [SerialPortConfiguration(path: folder + "/spo2", profile: try profile("masimo-radical7"), bed: "ICU^4^A", deviceID: "sync-spo2")]
        }, databaseURL: url)
        defer { rig.stop() }
        rig.source.start()
        let path = rig.folder + "/spo2"
        try await waitUntil(timeout: .seconds(10), "port open") { rig.source.statistics(port: path)?.isOpen == true }

        // Commits now wait for a standby that does not exist: the writer's commit is durable
        // here, but its answer is held back until the session is ended under it.
        let admin = try PostgresConnection(url: cluster.url(database: "postgres"))
        defer { admin.close() }
        try admin.execute("ALTER SYSTEM SET synchronous_standby_names = 'ghost'")
        _ = try admin.query("SELECT pg_reload_conf()")
        terminal.write(SerialFrames.masimoLine(spo2: 88, pulseRate: 120, perfusionIndex: 1, serialNumber: nil))
        let waiting = "SELECT pid FROM pg_stat_activity WHERE datname = 'vitals' AND wait_event = 'SyncRep'"
        try await waitUntil(timeout: .seconds(10), "the commit waiting for the standby") { try !admin.query(waiting).rows.isEmpty }
        _ = try admin.query("SELECT pg_terminate_backend(pid) FROM (\(waiting)) AS committing")
        try admin.execute("ALTER SYSTEM RESET synchronous_standby_names")
        _ = try admin.query("SELECT pg_reload_conf()")

        try await waitUntil(timeout: .seconds(20), "the batch retried and answered") { rig.source.statistics(port: path)?.observationsStored == 3 }
        #expect(try rig.rows(device: "sync-spo2").count == 3)
    }

    @Test func anUnpluggedPortIsReopenedWhenItsLinkPointsAtANewDevice() async throws {
        var first: PseudoTerminal? = try PseudoTerminal()
        let rig = try SerialRig { folder in
            try first?.link(folder + "/spo2")
            return [SerialPortConfiguration(path: folder + "/spo2", profile: try profile("masimo-radical7"), bed: "WARD^2^C", deviceID: "port-spo2")]
        }
        defer { rig.stop() }
        let path = rig.folder + "/spo2"
        rig.source.start()
        try await waitUntil(timeout: .seconds(10), "port open") { rig.source.statistics(port: path)?.isOpen == true }
        first?.write(SerialFrames.masimoLine(spo2: 93, pulseRate: 80, perfusionIndex: 1, serialNumber: nil))
        try await waitUntil(timeout: .seconds(10), "first row") { try rig.rows(device: "port-spo2").count == 3 }

        first?.close()  // unplugged: udev removes the by-id link with the device
        first = nil
        unlink(path)
        try await waitUntil(timeout: .seconds(10), "outage seen") {
            try rig.source.statistics(port: path)?.isOpen == false && rig.presenceStatus("port-spo2") == "offline"
        }
        try await waitUntil(timeout: .seconds(10), "reopen attempts fail while nothing is plugged in") {
            (rig.source.statistics(port: path)?.openFailures ?? 0) >= 2
        }
        let second = try PseudoTerminal()
        try second.link(path)  // plugged in again: udev points the by-id link at the new tty
        try await waitUntil(timeout: .seconds(10), "port reopened") { rig.source.statistics(port: path)?.reopens == 1 }
        second.write(SerialFrames.masimoLine(spo2: 94, pulseRate: 81, perfusionIndex: 1, serialNumber: nil))
        try await waitUntil(timeout: .seconds(10), "second row") { try rig.rows(device: "port-spo2").count == 6 }
        #expect(try rig.rows(device: "port-spo2").filter { $0.hasPrefix("3 ") } == ["3 93 - WARD^2^C", "3 94 - WARD^2^C"])
        try await waitUntil(timeout: .seconds(10), "online again") { try rig.presenceStatus("port-spo2") == "online" }
    }

    @Test("a port that fails as soon as it opens is reopened with growing backoff, not at every first delay")
    func aPortFailingRightAfterOpeningBacksOff() async throws {
        var terminal = try PseudoTerminal()
        // Each open counts as failing at once however long this test takes to close it: a loaded
        // machine once held the test past 400 ms, and the source rightly started over.
        let rig = try SerialRig(ports: { folder in
            try terminal.link(folder + "/flaky")
            return [SerialPortConfiguration(path: folder + "/flaky", profile: try profile("masimo-radical7"), deviceID: "port-flaky")]
        }, configure: { $0.workingOpenDuration = .seconds(60) })
        defer { rig.stop() }
        let path = rig.folder + "/flaky"
        rig.source.start()
        // Each time the port opens, the device goes away at once and another takes its link, so
        // every reopen succeeds and fails again: the delays (50 ms doubling to 400 ms) must grow.
        var gaps: [Duration] = []
        try await waitUntil(timeout: .seconds(10), "first open") { rig.source.statistics(port: path)?.opens == 1 }
        for cycle in 1...5 {
            terminal.close()
            let closed = ContinuousClock.now
            terminal = try PseudoTerminal()
            try terminal.link(path)
            try await waitUntil(timeout: .seconds(10), pollEvery: .milliseconds(5), "open number \(cycle + 1)") {
                rig.source.statistics(port: path)?.opens == cycle + 1
            }
            gaps.append(ContinuousClock.now - closed)
        }
        terminal.close()
        // Without the backoff each gap is the first delay plus the poll that sees the loss (~100 ms).
        #expect(gaps.last ?? .zero >= .milliseconds(350), "gaps between loss and reopen: \(gaps)")
    }

    @Test func garbageAndBadChecksumsAreSkippedCountedKeptAndFollowedByGoodFrames() async throws {
        let nonin = try PseudoTerminal()
        let masimo = try PseudoTerminal()
        let rig = try SerialRig { folder in
            try nonin.link(folder + "/nonin")
            try masimo.link(folder + "/masimo")
            return [
                SerialPortConfiguration(path: folder + "/nonin", profile: try profile("nonin-pulse-oximeter"), deviceID: "nonin-9"),
                SerialPortConfiguration(path: folder + "/masimo", profile: try profile("masimo-radical7"), deviceID: "masimo-9"),
            ]
        }
        defer { rig.stop() }
        rig.source.start()
        try await waitUntil(timeout: .seconds(10), "ports open") {
            rig.source.statistics(port: rig.folder + "/nonin")?.isOpen == true && rig.source.statistics(port: rig.folder + "/masimo")?.isOpen == true
        }
        var corrupt = SerialFrames.noninPacket(spo2: 80, heartRate: 80)
        corrupt[22] ^= 0x10
        nonin.write([0x13, 0x37, 0xFF, 0x00, 0x42] + corrupt + SerialFrames.noninPacket(spo2: 91, heartRate: 61))
        masimo.write(Array("\u{1}\u{2}garbage\r\n".utf8) + Array("11/29/26 09:00:00 SPO2=9z%\r\n".utf8)
                     + SerialFrames.masimoLine(spo2: 92, pulseRate: 62, perfusionIndex: 1, serialNumber: nil))
        try await waitUntil(timeout: .seconds(15), "good frames stored") {
            try rig.rows(device: "nonin-9").count == 2 && rig.rows(device: "masimo-9").count == 3
        }
        #expect(try rig.rows(device: "nonin-9") == ["2 61 - -", "3 91 - -"])
        #expect(rig.source.statistics(port: rig.folder + "/nonin")?.framesRejected == ["no_sync": 1, "bad_checksum": 1])
        #expect(rig.source.statistics(port: rig.folder + "/masimo")?.framesRejected == ["not_text": 1, "bad_value": 1])
        try await waitUntil(timeout: .seconds(10), "rejections stored") { try rig.count("SELECT count(*) FROM rejected_frames") == 4 }
        let stored = try rig.query("SELECT origin, device, reason, length(raw) FROM rejected_frames ORDER BY reason")
            .map { $0.map { $0 ?? "" }.joined(separator: " ") }
        #expect(stored == [
            "\(rig.folder)/nonin nonin-9 bad_checksum 25",
            "\(rig.folder)/masimo masimo-9 bad_value 26",
            "\(rig.folder)/nonin nonin-9 no_sync 5",
            "\(rig.folder)/masimo masimo-9 not_text 9",
        ])
    }

    @Test("one reader a port: a second path to the same device is refused at start, a second engine's reader cannot open it")
    func aPortHasOneReader() async throws {
        let device = try PseudoTerminal()
        let profile = try profile("generic-serial-line")
        let folder = NSTemporaryDirectory() + "nilecare-serial-one-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        try device.link(folder + "/by-id")
        let writer = try ObservationWriter(url: try TestPostgres.migratedDatabase(), logger: TestPostgres.logger)
        defer { writer.shutdown() }
        let twice = #expect(throws: SerialConfigurationError.self) {
            _ = try SerialSource(
                ports: [SerialPortConfiguration(path: device.slavePath, profile: profile, deviceID: "a"),
                        SerialPortConfiguration(path: folder + "/by-id", profile: profile, deviceID: "b")],
                sink: writer, associations: nil, rejections: RejectionReporter(recorder: nil, logger: TestPostgres.logger),
                presence: nil, logger: TestPostgres.logger)
        }
        #expect(twice?.description.contains("configured twice") == true)

        let first = try SerialRig { folder in
            try device.link(folder + "/first")
            return [SerialPortConfiguration(path: folder + "/first", profile: profile, deviceID: "first")]
        }
        defer { first.stop() }
        first.source.start()
        try await waitUntil(timeout: .seconds(10), "the first reader's port open") { first.source.statistics(port: first.folder + "/first")?.isOpen == true }
        let second = try SerialRig { folder in
            try device.link(folder + "/second")
            return [SerialPortConfiguration(path: folder + "/second", profile: profile, deviceID: "second")]
        }
        defer { second.stop() }
        second.source.start()
        try await waitUntil(timeout: .seconds(10), "the second reader refused") { (second.source.statistics(port: second.folder + "/second")?.openFailures ?? 0) >= 1 }
        #expect(second.source.statistics(port: second.folder + "/second")?.isOpen == false)
        // Every line goes to the first reader, whole.
        device.write(SerialFrames.genericLine(spo2: 97, heartRate: 70, respirationRate: 14, temperatureFahrenheit: 98.6))
        try await waitUntil(timeout: .seconds(10), "the first reader's rows") { try first.rows(device: "first").count == 4 }
    }

    @Test func aPortThatCannotBeOpenedKeepsRetryingWhileOthersWork() async throws {
        let working = try PseudoTerminal()
        let rig = try SerialRig { folder in
            try working.link(folder + "/working")
            return [
                SerialPortConfiguration(path: folder + "/missing", profile: try profile("masimo-radical7"), deviceID: "missing-1"),
                SerialPortConfiguration(path: folder + "/working", profile: try profile("generic-serial-line"), deviceID: "line-1"),
            ]
        }
        defer { rig.stop() }
        let missing = rig.folder + "/missing"
        rig.source.start()
        try await waitUntil(timeout: .seconds(10), "working port open") { rig.source.statistics(port: rig.folder + "/working")?.isOpen == true }
        working.write(SerialFrames.genericLine(spo2: 97, heartRate: 70, respirationRate: 14, temperatureFahrenheit: 98.6))
        try await waitUntil(timeout: .seconds(10), "working port's rows") { try rig.rows(device: "line-1").count == 4 }
        try await waitUntil(timeout: .seconds(10), "missing port retried") { (rig.source.statistics(port: missing)?.openFailures ?? 0) >= 3 }
        #expect(rig.source.statistics(port: missing)?.isOpen == false)
        try await waitUntil(timeout: .seconds(10), "missing device offline") { try rig.presenceStatus("missing-1") == "offline" }

        let late = try PseudoTerminal()
        try late.link(missing)
        try await waitUntil(timeout: .seconds(10), "late port open") { rig.source.statistics(port: missing)?.isOpen == true }
        late.write(SerialFrames.masimoLine(spo2: 99, pulseRate: 66, perfusionIndex: 4, serialNumber: nil))
        try await waitUntil(timeout: .seconds(10), "late port's rows") { try rig.rows(device: "missing-1").count == 3 }
    }

    @Test func observationsTakeTheDeviceAssociationFirstThenTheBeds() async throws {
        let masimo = try PseudoTerminal()
        let nonin = try PseudoTerminal()
        let rig = try SerialRig { folder in
            try masimo.link(folder + "/masimo")
            try nonin.link(folder + "/nonin")
            return [
                SerialPortConfiguration(path: folder + "/masimo", profile: try profile("masimo-radical7"), bed: "ICU^3^A"),
                SerialPortConfiguration(path: folder + "/nonin", profile: try profile("nonin-pulse-oximeter"), bed: "ICU^3^B", deviceID: "nonin-3"),
            ]
        }
        defer { rig.stop() }
        try await rig.associate(.bed("ICU^3^A"), "MRN-BED")
        try await rig.associate(.device("SN-77"), "MRN-DEVICE")
        rig.source.start()
        try await waitUntil(timeout: .seconds(10), "ports open") {
            rig.source.statistics(port: rig.folder + "/masimo")?.isOpen == true && rig.source.statistics(port: rig.folder + "/nonin")?.isOpen == true
        }
        masimo.write(SerialFrames.masimoLine(spo2: 90, pulseRate: 70, perfusionIndex: 1, serialNumber: "SN-77"))
        masimo.write(SerialFrames.masimoLine(spo2: 91, pulseRate: 71, perfusionIndex: 1, serialNumber: "SN-78"))
        nonin.write(SerialFrames.noninPacket(spo2: 92, heartRate: 72))
        try await waitUntil(timeout: .seconds(10), "rows") {
            try rig.rows(device: "SN-77").count == 3 && rig.rows(device: "SN-78").count == 3 && rig.rows(device: "nonin-3").count == 2
        }
        #expect(Set(try rig.rows(device: "SN-77").map { $0.split(separator: " ")[2] }) == ["MRN-DEVICE"])
        #expect(Set(try rig.rows(device: "SN-78").map { $0.split(separator: " ")[2] }) == ["MRN-BED"])
        #expect(Set(try rig.rows(device: "nonin-3").map { $0.split(separator: " ")[2] }) == ["-"])
        #expect(rig.source.statistics(port: rig.folder + "/nonin")?.observationsUnassociated == 2)

        // Associating the bed later (as the CLI does from another process) takes effect on refresh.
        try await rig.associate(.bed("ICU^3^B"), "MRN-LATE")
        nonin.write(SerialFrames.noninPacket(spo2: 93, heartRate: 73))
        try await waitUntil(timeout: .seconds(10), "late rows") { try rig.rows(device: "nonin-3").count == 4 }
        #expect(try rig.rows(device: "nonin-3").suffix(2) == ["2 73 MRN-LATE ICU^3^B", "3 93 MRN-LATE ICU^3^B"])
        #expect(rig.source.statistics(port: rig.folder + "/nonin")?.observationsUnassociated == 2)
    }
}

/// The database goes away while a device keeps sending: the port keeps reading, stamping each
/// line as it arrives; beyond its bound of batches in flight what it reads waits in its spool;
/// once the database is back every reading is stored exactly once, at the time it was read.
@Suite(.timeLimit(.minutes(3))) struct SerialDatabaseOutageTests {
    /// A private cluster with a Masimo port whose first line is stored, and the cluster stopped.
    private func rigInOutage(
        device: String, configure: (inout SerialSource.Options) -> Void = { _ in }, alertStage: IngestPipeline.AlertStage? = nil
    )
        async throws -> (cluster: EmbeddedPostgres, rig: SerialRig, masimo: PseudoTerminal, path: String) {
        let cluster = try TestPostgres.privateCluster(port: freeTCPPort())
        let url = try cluster.start(database: "vitals")
        try TestPostgres.migrate(url)
        let masimo = try PseudoTerminal()
        let rig = try SerialRig(ports: { folder in
            try masimo.link(folder + "/masimo")
            return [SerialPortConfiguration(path: folder + "/masimo", profile: try profile("masimo-radical7"), deviceID: device)]
        }, databaseURL: url, configure: configure, alertStage: alertStage)
        let path = rig.folder + "/masimo"
        rig.source.start()
        try await waitUntil(timeout: .seconds(10), "port open") { rig.source.statistics(port: path)?.isOpen == true }
        masimo.write(SerialFrames.masimoLine(spo2: 90, pulseRate: 60, perfusionIndex: 1, serialNumber: nil))
        try await waitUntil(timeout: .seconds(10), "first row") { try rig.rows(device: device).count == 3 }
        try cluster.stop()
        return (cluster, rig, masimo, path)
    }

    /// Writes lines with pulse rates 61, 62, ... one at a time, each once the port has read the
    /// one before, as a device paced in seconds would be read.
    private func writeLines(_ count: Int, to masimo: PseudoTerminal, rig: SerialRig, path: String) async throws {
        let before = rig.source.statistics(port: path)?.framesDecoded ?? 0
        for index in 1...count {
            masimo.write(SerialFrames.masimoLine(spo2: 90 + index % 10, pulseRate: 60 + index, perfusionIndex: 1, serialNumber: nil))
            try await waitUntil(timeout: .seconds(10), "line \(index) read during the outage") {
                rig.source.statistics(port: path)?.framesDecoded == before + index
            }
        }
    }

    private func storedPulseRates(_ rig: SerialRig) throws -> [String?] {
        try rig.query("SELECT value FROM vital_signs WHERE vital_kind = 2 ORDER BY value").map { $0.first ?? nil }
    }

    @Test func anOutageSpoolsEveryReadingAtItsArrivalTimeAndLosesNothing() async throws {
        let (cluster, rig, masimo, path) = try await rigInOutage(device: "outage-1")
        defer { try? cluster.stop() }
        defer { rig.stop() }
        try await writeLines(20, to: masimo, rig: rig, path: path)
        // One batch stored before, then SerialSource.Options.maxBatchesInFlight (4) submitted; the rest wait.
        let during = try #require(rig.source.statistics(port: path))
        #expect(during.batchesSubmitted == 5)
        #expect(during.batchesWaiting == 16)

        try cluster.start()
        try await waitUntil(timeout: .seconds(60), "every reading stored") { try rig.rows(device: "outage-1").count == 21 * 3 }
        let statistics = try #require(rig.source.statistics(port: path))
        #expect(statistics.framesDecoded == 21)
        #expect(statistics.batchesFailed == 0)
        #expect(statistics.observationsStored == 21 * 3)
        #expect(statistics.observationsDropped == 0)
        #expect(statistics.batchesWaiting == 0)
        // Each line has its own pulse rate: all there, none twice.
        #expect(try storedPulseRates(rig) == (60...80).map { String($0) })
        // And its own arrival time, not the time the database came back.
        #expect(try rig.count("SELECT count(DISTINCT observation_time) FROM vital_signs") == 21)
    }

    @Test("readings read during a database outage outlive a stop in the journal: the next start stores them, each once, at their arrival times")
    func readingsNotStoredOutliveAStopInTheJournal() async throws {
        let journalFolder = NSTemporaryDirectory() + "nilecare-serial-journal-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        defer { try? FileManager.default.removeItem(atPath: journalFolder) }
        let (cluster, rig, masimo, path) = try await rigInOutage(device: "journal-1") { $0.journalDirectory = journalFolder }
        defer { try? cluster.stop() }
        try await writeLines(6, to: masimo, rig: rig, path: path)
        rig.stop()
        // Four batches were in flight and two waited: none counted lost, all six on disk.
        #expect(rig.source.statistics(port: path)?.observationsDropped == 0)
        let journal = try #require(try FileManager.default.contentsOfDirectory(atPath: journalFolder).first)
        let lines = try String(contentsOfFile: journalFolder + "/" + journal, encoding: .utf8).split(separator: "\n")
        #expect(lines.count == 6)

        try cluster.start()
        let next = try SerialRig(ports: { folder in
            try masimo.link(folder + "/masimo")
            return [SerialPortConfiguration(path: folder + "/masimo", profile: try profile("masimo-radical7"), deviceID: "journal-1")]
        }, databaseURL: rig.databaseURL, folder: rig.folder) { $0.journalDirectory = journalFolder }
        defer { next.stop() }
        next.source.start()
        try await waitUntil(timeout: .seconds(60), "the journaled readings stored") { try next.rows(device: "journal-1").count == 7 * 3 }
        #expect(try storedPulseRates(next) == (60...66).map { String($0) })
        // Each at the time it was read, not when the next start stored it.
        #expect(try next.count("SELECT count(DISTINCT observation_time) FROM vital_signs") == 7)
        #expect(next.source.statistics(port: path)?.observationsFromJournal == 6 * 3)
        try await waitUntil(timeout: .seconds(10), "the journal emptied once all is stored") {
            (try? FileManager.default.attributesOfItem(atPath: journalFolder + "/" + journal)[.size] as? Int) == 0
        }
    }

    @Test("an outage beyond the spool's bound drops the oldest waiting readings, counted, and keeps the newest")
    func anOutageBeyondTheBoundDropsTheOldestCounted() async throws {
        let (cluster, rig, masimo, path) = try await rigInOutage(device: "outage-2") { options in
            options.maxBatchesInFlight = 1
            options.maxWaitingObservations = 6  // two lines of three readings
        }
        defer { try? cluster.stop() }
        defer { rig.stop() }
        try await writeLines(10, to: masimo, rig: rig, path: path)
        // Line 1 is in flight (retrying), lines 9 and 10 wait: lines 2 to 8 were dropped.
        let during = try #require(rig.source.statistics(port: path))
        #expect(during.observationsDropped == 7 * 3)
        #expect(during.batchesWaiting == 2)

        try cluster.start()
        try await waitUntil(timeout: .seconds(60), "the kept readings stored") { try rig.rows(device: "outage-2").count == 4 * 3 }
        #expect(try storedPulseRates(rig) == ["60", "61", "69", "70"])
        #expect(rig.source.statistics(port: path)?.batchesFailed == 0)
    }

    @Test("during an outage the alert rules see every reading as it is read, and each only once")
    func theRulesSeeReadingsDuringAnOutageOnce() async throws {
        let seen = Mutex<[Double]>([])
        let (cluster, rig, masimo, path) = try await rigInOutage(device: "outage-3", alertStage: { entry, alertsStored in
            let pulseRates = entry.batch.observations.filter { $0.kind == .pulseRate }.map(\.value)
            seen.withLock { $0 += pulseRates }
            alertsStored(true)
        })
        defer { try? cluster.stop() }
        defer { rig.stop() }
        try await writeLines(8, to: masimo, rig: rig, path: path)
        // Four batches in flight (retrying), four waiting: the rules have seen all of them.
        try await waitUntil(timeout: .seconds(10), "every reading seen by the rules") {
            Set(seen.withLock { $0 }) == Set((60...68).map(Double.init))
        }
        #expect(rig.source.statistics(port: path)?.batchesWaiting == 4)

        try cluster.start()
        try await waitUntil(timeout: .seconds(60), "every reading stored") { try rig.rows(device: "outage-3").count == 9 * 3 }
        // Retries and the waiting batches' storing passed the rules by.
        #expect(seen.withLock { $0 } == (60...68).map(Double.init))
    }

    @Test("a batch the database turns away for a while (a lock timeout) is retried, not dropped")
    func aPassingRefusalIsRetried() async throws {
        let url = try TestPostgres.migratedDatabase()
        let locker = try PostgresConnection(url: url)
        defer { locker.close() }
        // The writer's sessions give up on a lock after 100 ms (SQLSTATE 55P03).
        try locker.execute("DO $$ BEGIN EXECUTE format('ALTER DATABASE %I SET lock_timeout = %L', current_database(), '100ms'); END $$")
        let masimo = try PseudoTerminal()
        let rig = try SerialRig(ports: { folder in
            try masimo.link(folder + "/masimo")
            return [SerialPortConfiguration(path: folder + "/masimo", profile: try profile("masimo-radical7"), deviceID: "locked-1")]
        }, databaseURL: url)
        defer { rig.stop() }
        let path = rig.folder + "/masimo"
        rig.source.start()
        try await waitUntil(timeout: .seconds(10), "port open") { rig.source.statistics(port: path)?.isOpen == true }
        let rollbacksBefore = try rollbacks(locker)
        try locker.execute("BEGIN; LOCK TABLE vital_signs IN ACCESS EXCLUSIVE MODE")
        masimo.write(SerialFrames.masimoLine(spo2: 91, pulseRate: 61, perfusionIndex: 1, serialNumber: nil))
        // Statistics of other sessions reach pg_stat_database when they commit or roll back.
        try await waitUntil(timeout: .seconds(10), "the batch refused at least once") { try rollbacks(locker) > rollbacksBefore }
        try locker.execute("COMMIT")
        try await waitUntil(timeout: .seconds(20), "the reading stored") { try rig.rows(device: "locked-1").count == 3 }
        #expect(rig.source.statistics(port: path)?.batchesFailed == 0)
    }

    private func rollbacks(_ connection: PostgresConnection) throws -> Int {
        _ = try connection.execute("SELECT pg_stat_clear_snapshot()")
        return Int(try connection.execute("SELECT xact_rollback FROM pg_stat_database WHERE datname = current_database()").scalar ?? "") ?? 0
    }
}


@Suite struct AssociationStoreTests {
    @Test("the association cache says when its first load is done, so the serial source reads no frame before it")
    func associationsAreKnownBeforeTheFirstFrame() throws {
        let url = try TestPostgres.migratedDatabase()
        let connection = try PostgresConnection(url: url)
        defer { connection.close() }
        let patient = PatientIdentifier(id: "FIRST-FRAME", assigningAuthority: "KTH")
        try AssociationStore(connection: connection).set(.device("DEV-FIRST"), patient: patient, from: Date(timeIntervalSinceNow: -60), by: "test")
        let cache = PatientAssociationCache(url: url, refreshInterval: .seconds(60), logger: TestPostgres.logger)
        defer { cache.stop() }
        #expect(cache.waitForFirstLoad(timeout: .seconds(10)))
        #expect(cache.patient(device: "DEV-FIRST", bed: nil, at: Timestamp(secondsSinceEpoch: Date().timeIntervalSince1970)) == patient)
        #expect(cache.waitForFirstLoad(timeout: .milliseconds(1)))

        let unreachable = PatientAssociationCache(url: "postgresql://nobody@127.0.0.1:\(freeTCPPort())/none", refreshInterval: .seconds(60), logger: TestPostgres.logger)
        defer { unreachable.stop() }
        #expect(!unreachable.waitForFirstLoad(timeout: .milliseconds(300)))
    }

    @Test("a reading delivered hours late gets the patient of its own time, from an association that has ended since")
    func lateReadingsGetThePatientOfTheirTime() throws {
        let url = try TestPostgres.migratedDatabase()
        let connection = try PostgresConnection(url: url)
        defer { connection.close() }
        let store = AssociationStore(connection: connection)
        let discharged = PatientIdentifier(id: "DISCHARGED", assigningAuthority: "KTH")
        try store.set(.bed("ICU^9^A"), patient: discharged, from: Date(timeIntervalSinceNow: -4 * 3600), by: "test")
        _ = try store.end(.bed("ICU^9^A"), at: Date(timeIntervalSinceNow: -2 * 3600))
        let cache = PatientAssociationCache(url: url, refreshInterval: .seconds(60), logger: TestPostgres.logger)
        defer { cache.stop() }
        #expect(cache.waitForFirstLoad(timeout: .seconds(10)))
        let measured = Timestamp(secondsSinceEpoch: Date().timeIntervalSince1970 - 2.5 * 3600)
        #expect(cache.patient(device: "GW-LATE", bed: "ICU^9^A", at: measured) == discharged)
        #expect(cache.patient(device: "GW-LATE", bed: "ICU^9^A", at: Timestamp(secondsSinceEpoch: Date().timeIntervalSince1970)) == nil)
    }

    @Test func settingClosesThePreviousAssociationAndEndCloses() throws {
        let connection = try PostgresConnection(url: try TestPostgres.migratedDatabase())
        defer { connection.close() }
        let store = AssociationStore(connection: connection)
        let start = Date(timeIntervalSince1970: 1_790_000_000)
        try store.set(.bed("ICU^1^A"), patient: PatientIdentifier(id: "MRN-1", assigningAuthority: "KTH"), from: start, by: "nurse1")
        try store.set(.bed("ICU^1^A"), patient: PatientIdentifier(id: "MRN-2", assigningAuthority: "KTH"), from: start + 3600, by: "nurse2")
        #expect(try store.lookup(.bed("ICU^1^A"), at: start + 10)?.id == "MRN-1")
        #expect(try store.lookup(.bed("ICU^1^A"), at: start + 3700)?.id == "MRN-2")
        #expect(try store.lookup(.bed("ICU^1^B"), at: start + 3700) == nil)
        #expect(try store.list().map(\.patient.id) == ["MRN-2"])
        #expect(try store.list(endedAfter: start).map(\.patient.id) == ["MRN-1", "MRN-2"])
        #expect(try store.list(endedAfter: start).first?.validTo == start + 3600)
        let error = #expect(throws: PostgresError.self) {
            try store.set(.bed("ICU^1^A"), patient: PatientIdentifier(id: "MRN-3"), from: start + 1800, by: "nurse3")
        }
        #expect(error?.message.contains("already has an association") == true)
        #expect(try store.end(.bed("ICU^1^A"), at: start + 7200) == 1)
        #expect(try store.end(.bed("ICU^1^A"), at: start + 7300) == 0)
        #expect(try store.lookup(.bed("ICU^1^A"), at: start + 7201) == nil)
        #expect(try store.list().isEmpty)
    }
}
