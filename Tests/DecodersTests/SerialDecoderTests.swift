import Decoders
import DeviceProfiles
import DeviceSimulator
import Foundation
import Testing
import VitalSigns

private func profile(_ id: String) throws -> DeviceProfile {
    try DeviceProfileLoader.loadFile(profilesFolder + "/\(id).yaml")
}

private let context = FrameContext(deviceID: "port-7", receivedAt: Timestamp(microsecondsSinceEpoch: 1_790_000_000_000_000), location: "ICU^1^A")

/// Everything a framer and decoder make of a byte stream pushed in pieces of `chunk` bytes.
private struct StreamResult {
    var frames: [DecodedFrame] = []
    var rejections: [(reason: String, bytes: Int)] = []
    var reasons: [String] { rejections.map(\.reason) }
}

private func run(_ stream: [UInt8], framer: some SerialFramer, decoder: some FrameDecoder, chunk: Int = 7) -> StreamResult {
    var framer = framer
    var result = StreamResult()
    var offset = 0
    while offset < stream.count {
        let piece = stream[offset..<min(offset + chunk, stream.count)]
        offset += chunk
        framer.push(piece) { output in
            switch output {
            case .frame(let frame):
                do throws(FrameDecodeError) {
                    result.frames.append(try decoder.decode(frame, context: context))
                } catch {
                    result.rejections.append((error.reason, frame.count))
                }
            case .discarded(let bytes, let reason, _):
                result.rejections.append((reason, bytes.count))
            }
        }
    }
    return result
}

private func values(_ frame: DecodedFrame) -> [VitalKind: Double] {
    Dictionary(frame.observations.map { ($0.kind, $0.value) }) { first, _ in first }
}

@Suite struct SerialProfileTests {
    @Test func serialProfilesLoadWithTheirLineSettings() throws {
        let masimo = try profile("masimo-radical7")
        #expect(masimo.protocolFamily == .masimoASCII)
        #expect(masimo.serial == SerialSettings(baud: 9600, dataBits: 8, parity: .none, stopBits: 1, flowControl: .none, vmin: 1, vtime: 0))
        let nonin = try profile("nonin-pulse-oximeter")
        #expect(nonin.protocolFamily == .noninBinary)
        #expect(nonin.samplingInterval == .milliseconds(333))
        let line = try profile("generic-serial-line")
        #expect(line.serial?.baud == 115200)
        #expect(line.lineProtocol?.style == .keyValue)
        #expect(line.lineProtocol?.fields.first { $0.name == "TEMP" }?.unit == .degreeFahrenheit)
        #expect(line.isCritical(.spo2, value: 80, population: .neonatal))
    }

    @Test func everySerialProblemNamesLineAndKey() {
        let yaml = """
            id: bad-serial
            protocol: line
            serial:
              baud: 9601
              data_bits: 9
              parity: mark
              stop_bits: 3
              flow_control: dtr
              vmin: 10
              speed: fast
            line:
              separator: ","
              style: tabular
              fields:
                SPO2: { kind: spo2, unit: "%", index: 1 }
                HR: { kind: heart_rte, unit: /min }
                TEMP: { kind: temperature, unit: "mm[Hg]" }
            """
        let error = #expect(throws: ProfileValidationErrors.self) { try DeviceProfileLoader.parse(yaml, file: "bad.yaml") }
        let problems = error?.errors ?? []
        func line(_ key: String) -> Int? { problems.first { $0.key == key }?.line }
        #expect(line("serial.baud") == 4)
        #expect(line("serial.data_bits") == 5)
        #expect(line("serial.parity") == 6)
        #expect(line("serial.stop_bits") == 7)
        #expect(line("serial.flow_control") == 8)
        #expect(line("serial.vmin") == 9)
        #expect(line("serial.speed") == 10)
        #expect(line("line.style") == 13)
        #expect(line("line.fields.HR.kind") == 16)
        #expect(line("line.fields.TEMP.unit") == 17)
        #expect(problems.allSatisfy { $0.file == "bad.yaml" })
    }

    @Test func serialSectionsBelongToSerialProtocolsOnly() {
        let missing = #expect(throws: ProfileValidationErrors.self) {
            try DeviceProfileLoader.parse("id: n\nprotocol: nonin-binary\n", file: "n.yaml")
        }
        #expect(missing?.errors.contains { $0.key == "serial" && $0.reason.contains("required") } == true)
        let misplaced = #expect(throws: ProfileValidationErrors.self) {
            try DeviceProfileLoader.parse("id: p\nprotocol: pcd-01\nserial: { baud: 9600 }\nline: { fields: {} }\n", file: "p.yaml")
        }
        #expect(misplaced?.errors.map(\.key).sorted() == ["line", "serial"])
        let positional = #expect(throws: ProfileValidationErrors.self) {
            try DeviceProfileLoader.parse("""
                id: l
                protocol: line
                serial: { baud: 9600 }
                line:
                  style: positional
                  fields:
                    SPO2: { kind: spo2, unit: "%" }
                    HR: { kind: heart_rate, unit: /min, index: 1 }
                    PR: { kind: pulse_rate, unit: /min, index: 1 }
                """, file: "l.yaml")
        }
        let keys = positional?.errors.map(\.key) ?? []
        #expect(keys.contains("line.fields.SPO2.index"))
        #expect(keys.contains { $0 == "line.fields.PR.index" || $0 == "line.fields.HR.index" })
    }
}

@Suite struct MasimoASCIIDecoderTests {
    @Test func decodesTheManualsLine() throws {
        let decoder = MasimoASCIIDecoder(profile: try profile("masimo-radical7"))
        let line = "11/29/26 09:00:00 SN=0000123456 SPO2=097% BPM=072 PI=03.50 SPCO=--.-% SPMET=--.-% DESAT=-- PIDELTA=+-- ALARM=0000 EXC=000000"
        let decoded = try decoder.decode(Array(line.utf8), context: context)
        #expect(values(decoded) == [.spo2: 97, .pulseRate: 72, .perfusionIndex: 3.5])
        let spo2 = try #require(decoded.observations.first { $0.kind == .spo2 })
        #expect(spo2.deviceID == "0000123456")  // the instrument's SN wins over the port's id
        #expect(spo2.time == context.receivedAt)  // the device clock is ignored
        #expect(spo2.location == "ICU^1^A")
        #expect(spo2.patient == nil)
        #expect(spo2.unit == .percent)
        #expect(criticalFlags([spo2], profileID: "masimo-radical7") == [false])
        #expect(decoded.statusReports.isEmpty)  // SPCO etc. are not mapped: their dashes are not reported
    }

    @Test func dashesAlarmsAndExceptionsBecomeStatusReports() throws {
        let decoder = MasimoASCIIDecoder(profile: try profile("masimo-radical7"))
        let decoded = try decoder.decode(SerialFrames.masimoLine(spo2: nil, pulseRate: nil, perfusionIndex: nil, serialNumber: nil,
                                                                 alarm: 0x0012, exceptions: 0x000424).dropLast(2).map { $0 }, context: context)
        #expect(decoded.observations.isEmpty)
        let conditions = decoded.statusReports.map(\.condition)
        #expect(conditions.filter { $0 == .noValue }.count == 3)
        #expect(decoded.statusReports.contains { $0.condition == .deviceAlarm && $0.detail == "ALARM=0012" })
        #expect(decoded.statusReports.contains { $0.condition == .sensorOff && $0.detail.contains("sensor off") })
        #expect(decoded.statusReports.contains { $0.condition == .noSignal && $0.detail.contains("low perfusion") && $0.detail.contains("low signal IQ") })
        #expect(decoded.statusReports.allSatisfy { $0.deviceID == "port-7" })  // no SN: the port's device
    }

    @Test func criticalValuesAreFlaggedByTheProfile() throws {
        let decoder = MasimoASCIIDecoder(profile: try profile("masimo-radical7"))
        let decoded = try decoder.decode(Array(SerialFrames.masimoLine(spo2: 82, pulseRate: 150, perfusionIndex: 1).dropLast(2)), context: context)
        let flags = criticalFlags(decoded.observations, profileID: "masimo-radical7")
        let critical: [VitalKind] = zip(decoded.observations, flags).filter { $0.1 }.map { $0.0.kind }
        #expect(Set(critical) == [.pulseRate, .spo2])
    }

    @Test(arguments: [
        ("", "empty_frame"),
        ("11/29/26 09:00:00 SPO2=097\u{1}%", "not_text"),
        ("SPO2=097% BPM=072", "missing_timestamp"),
        ("11/29/26 9:00:00 SPO2=097%", "missing_timestamp"),
        ("11/29/26 09:00:00 SPO2 097%", "malformed_field"),
        ("11/29/26 09:00:00 =97", "malformed_field"),
        ("11/29/26 09:00:00 PI=03.50", "missing_field"),
        ("11/29/26 09:00:00 SPO2=9x7%", "bad_value"),
        ("11/29/26 09:00:00 SPO2=097% ALARM=00G0", "bad_value"),
        ("11/29/26 09:00:00 SPO2=097% EXC=", "bad_value"),
    ])
    func everyRejectionReason(line: String, reason: String) throws {
        let decoder = MasimoASCIIDecoder(profile: try profile("masimo-radical7"))
        let error = #expect(throws: FrameDecodeError.self) { try decoder.decode(Array(line.utf8), context: context) }
        #expect(error?.reason == reason)
        #expect(error?.detail.isEmpty == false)
    }

    @Test func noDeviceIdentityIsRefused() throws {
        let decoder = MasimoASCIIDecoder(profile: try profile("masimo-radical7"))
        let error = #expect(throws: FrameDecodeError.self) {
            try decoder.decode(Array("11/29/26 09:00:00 SPO2=097%".utf8), context: FrameContext(receivedAt: context.receivedAt))
        }
        #expect(error?.reason == "no_device_id")
    }

    @Test func garbageAndOverlongLinesAreSkippedAndTheNextLineDecodes() throws {
        let decoder = MasimoASCIIDecoder(profile: try profile("masimo-radical7"))
        let good = SerialFrames.masimoLine(spo2: 95, pulseRate: 60, perfusionIndex: 2)
        var stream: [UInt8] = Array(good.suffix(30))  // joined mid-line
        stream += good
        stream += [0xFF, 0x00, 0x13, 0x0A]  // line noise
        stream += Array(repeating: UInt8(ascii: "A"), count: 2000) + [0x0D, 0x0A]  // no line end for too long
        stream += SerialFrames.masimoLine(spo2: 96, pulseRate: 61, perfusionIndex: 2)
        let result = run(stream, framer: LineFramer(maxLength: 512), decoder: decoder)
        #expect(result.frames.map { values($0)[.spo2] } == [95, 96])
        #expect(result.reasons == ["missing_timestamp", "not_text", "line_too_long"])
    }
}

@Suite struct NoninBinaryDecoderTests {
    @Test func decodesAPacket() throws {
        let decoder = NoninBinaryDecoder(profile: try profile("nonin-pulse-oximeter"))
        let decoded = try decoder.decode(SerialFrames.noninPacket(spo2: 96, heartRate: 300), context: context)
        #expect(values(decoded) == [.spo2: 96, .pulseRate: 300])  // 300 needs the MSB frame's bits
        #expect(decoded.observations.allSatisfy { $0.deviceID == "port-7" && $0.time == context.receivedAt && $0.location == "ICU^1^A" })
        #expect(criticalFlags(decoded.observations, profileID: "nonin-pulse-oximeter") == decoded.observations.map { $0.kind == .pulseRate })
        #expect(decoded.statusReports.isEmpty)
    }

    @Test func statusBitsAndMissingValuesBecomeStatusReports() throws {
        let decoder = NoninBinaryDecoder(profile: try profile("nonin-pulse-oximeter"))
        let off = try decoder.decode(SerialFrames.noninPacket(spo2: nil, heartRate: nil, status: SerialFrames.NoninStatus.sensorDisconnect), context: context)
        #expect(off.observations.isEmpty)
        #expect(off.statusReports.map(\.condition) == [.sensorOff])
        let poor = try decoder.decode(SerialFrames.noninPacket(
            spo2: nil, heartRate: 80,
            status: SerialFrames.NoninStatus.outOfTrack | SerialFrames.NoninStatus.artifact | SerialFrames.NoninStatus.sensorAlarm | 0x04), context: context)
        #expect(values(poor) == [.pulseRate: 80])
        #expect(Set(poor.statusReports.map(\.detail)) == ["OOT", "ARTF", "RPRF", "SNSA", "SpO2=127"])
    }

    @Test func everyRejectionReason() throws {
        let decoder = NoninBinaryDecoder(profile: try profile("nonin-pulse-oximeter"))
        let good = SerialFrames.noninPacket(spo2: 96, heartRate: 70)
        var badChecksum = good
        badChecksum[14] &+= 1
        var badHeader = good
        badHeader[10] = 0x02
        var noSync = good
        noSync[1] &-= 1
        noSync[4] &-= 1
        var extraSync = good
        extraSync[6] |= 1
        extraSync[9] &+= 1
        let cases: [([UInt8], String, FrameContext)] = [
            (Array(good.prefix(120)), "wrong_length", context),
            (badChecksum, "bad_checksum", context),
            (badHeader, "bad_frame_header", context),
            (noSync, "missing_sync", context),
            (extraSync, "unexpected_sync", context),
            (good, "no_device_id", FrameContext(receivedAt: context.receivedAt)),
        ]
        for (packet, reason, frameContext) in cases {
            let error = #expect(throws: FrameDecodeError.self) { try decoder.decode(packet, context: frameContext) }
            #expect(error?.reason == reason)
        }
    }

    @Test func garbageAndBadChecksumsAreSkippedAndTheNextPacketDecodes() throws {
        let decoder = NoninBinaryDecoder(profile: try profile("nonin-pulse-oximeter"))
        let first = SerialFrames.noninPacket(spo2: 90, heartRate: 60)
        var corrupt = SerialFrames.noninPacket(spo2: 91, heartRate: 61)
        corrupt[42] &+= 3  // frame 9's data byte: its checksum no longer matches
        var stream = Array(first.suffix(48))  // joined mid-packet: 3 bytes of a frame, then 9 whole frames skipped quietly
        stream += first
        stream += [0x55, 0x01, 0x00, 0xAA, 0x01, 0x7F]  // line noise
        stream += SerialFrames.noninPacket(spo2: 92, heartRate: 62)
        stream += corrupt
        stream += SerialFrames.noninPacket(spo2: 93, heartRate: 63)
        stream += Array(SerialFrames.noninPacket(spo2: 94, heartRate: 64).prefix(60))  // cut short by the next packet
        stream += SerialFrames.noninPacket(spo2: 95, heartRate: 65)
        let result = run(stream, framer: NoninPacketFramer(), decoder: decoder, chunk: 11)
        #expect(result.frames.map { values($0)[.spo2] } == [90, 92, 93, 95])
        #expect(result.reasons == ["no_sync", "no_sync", "bad_checksum", "incomplete_packet"])
        #expect(result.rejections.first?.bytes == 3)
    }
}

@Suite struct LineProtocolDecoderTests {
    @Test func decodesKeyValueLinesAndConvertsUnits() throws {
        let decoder = try #require(LineProtocolDecoder(profile: try profile("generic-serial-line")))
        let decoded = try decoder.decode(Array("SPO2=97, HR=72,RR=---,TEMP=98.6,EXTRA=1".utf8), context: context)
        let read = values(decoded)
        #expect(read[.spo2] == 97)
        #expect(read[.heartRate] == 72)
        #expect(abs((read[.temperature] ?? 0) - 37.0) < 0.001)
        #expect(read[.respirationRate] == nil)
        #expect(decoded.statusReports.map(\.detail) == ["RR=---"])
        #expect(decoded.observations.allSatisfy { $0.deviceID == "port-7" && $0.code.system == "generic-serial-line" })
    }

    @Test func decodesPositionalLines() throws {
        let yaml = """
            id: positional
            protocol: line
            serial: { baud: 9600 }
            line:
              separator: ";"
              style: positional
              no_value: "?"
              fields:
                SPO2: { kind: spo2, unit: "%", index: 0 }
                PR: { kind: pulse_rate, unit: /min, index: 2 }
            """
        let decoder = try #require(LineProtocolDecoder(profile: try DeviceProfileLoader.parse(yaml, file: "positional.yaml")))
        #expect(values(try decoder.decode(Array("98;x;64".utf8), context: context)) == [.spo2: 98, .pulseRate: 64])
        #expect(try decoder.decode(Array("?;x;64".utf8), context: context).statusReports.map(\.condition) == [.noValue])
        let error = #expect(throws: FrameDecodeError.self) { try decoder.decode(Array("98;x".utf8), context: context) }
        #expect(error?.reason == "missing_field")
    }

    @Test(arguments: [
        ("", "empty_frame"),
        ("SPO2=97\u{7},HR=70", "not_text"),
        ("SPO2:97", "malformed_field"),
        ("FOO=1,BAR=2", "no_known_field"),
        ("SPO2=ninety", "bad_value"),
    ])
    func everyRejectionReason(line: String, reason: String) throws {
        let decoder = try #require(LineProtocolDecoder(profile: try profile("generic-serial-line")))
        let error = #expect(throws: FrameDecodeError.self) { try decoder.decode(Array(line.utf8), context: context) }
        #expect(error?.reason == reason)
    }

    @Test func invalidUTF8AndNoDeviceAreRefused() throws {
        let decoder = try #require(LineProtocolDecoder(profile: try profile("generic-serial-line")))
        let utf8 = #expect(throws: FrameDecodeError.self) { try decoder.decode([0x53, 0xC3, 0x28], context: context) }
        #expect(utf8?.reason == "not_text")
        let device = #expect(throws: FrameDecodeError.self) {
            try decoder.decode(Array("SPO2=97".utf8), context: FrameContext(receivedAt: context.receivedAt))
        }
        #expect(device?.reason == "no_device_id")
    }
}

@Suite struct SerialFuzzTests {
    /// Random bytes, and valid streams with random bytes flipped, never trap a framer or decoder;
    /// everything pushed is either framed or discarded, and frames decode or fail with a reason.
    @Test func randomAndMutatedStreamsNeverTrap() throws {
        var generator = SplitMix64(seed: 0x5E21A1)
        let masimo = MasimoASCIIDecoder(profile: try profile("masimo-radical7"))
        let nonin = NoninBinaryDecoder(profile: try profile("nonin-pulse-oximeter"))
        let line = try #require(LineProtocolDecoder(profile: try profile("generic-serial-line")))
        for round in 0..<300 {
            var stream: [UInt8]
            switch round % 3 {
            case 0: stream = (0..<Int.random(in: 0...600, using: &generator)).map { _ in UInt8.random(in: 0...255, using: &generator) }
            case 1: stream = (0..<4).flatMap { _ in SerialFrames.noninPacket(spo2: Int.random(in: 0...127, using: &generator), heartRate: Int.random(in: 0...511, using: &generator)) }
            default: stream = (0..<4).flatMap { _ in SerialFrames.masimoLine(spo2: 97, pulseRate: 70, perfusionIndex: 2) + SerialFrames.genericLine(spo2: 97, heartRate: 70, respirationRate: 12, temperatureFahrenheit: 99) }
            }
            for _ in 0..<Int.random(in: 0...8, using: &generator) where !stream.isEmpty {
                stream[Int.random(in: 0..<stream.count, using: &generator)] = UInt8.random(in: 0...255, using: &generator)
            }
            let chunk = Int.random(in: 1...64, using: &generator)
            expectSound(run(stream, framer: NoninPacketFramer(), decoder: nonin, chunk: chunk))
            expectSound(run(stream, framer: LineFramer(maxLength: 128), decoder: masimo, chunk: chunk))
            expectSound(run(stream, framer: LineFramer(maxLength: 128), decoder: line, chunk: chunk))
            for decoder in [masimo, nonin, line] as [any FrameDecoder] {
                do throws(FrameDecodeError) {
                    expectSound(StreamResult(frames: [try decoder.decode(stream, context: context)]))
                } catch {
                    #expect(!error.reason.isEmpty && !error.detail.isEmpty)
                }
            }
        }
    }

    /// What corrupted bytes may never become: a rejection without a reason, or a value a vital
    /// cannot have stored as one.
    private func expectSound(_ result: StreamResult) {
        #expect(result.rejections.allSatisfy { !$0.reason.isEmpty })
        for observation in result.frames.flatMap(\.observations) {
            #expect(observation.value.isFinite)
            #expect(observation.kind == .unknown || observation.kind.plausibleBounds.contains(observation.value),
                    "\(observation.kind) \(observation.value)")
        }
    }
}
