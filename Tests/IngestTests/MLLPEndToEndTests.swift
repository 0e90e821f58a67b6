import DeviceSimulator
import Foundation
import HL7v2
import NIOCore
import Storage
import TestSupport
import Testing
import VitalSigns

/// MLLP into PostgreSQL over real TCP, against a real PostgreSQL started by the tests.
@Suite(.timeLimit(.minutes(3))) struct MLLPEndToEndTests {
    /// The key of a stored value: which device, when, which vital.
    struct RowKey: Hashable { var device: String; var micros: Int64; var kind: Int16 }

    @Test func thousandMessagesOnFourConnectionsAreAcknowledgedOnlyOnceVisible() async throws {
        let engine = try await TestEngine.start()
        defer { engine.stop() }
        let base: Int64 = 1_796_000_000_000_000

        var expected: [RowKey: Double] = [:]
        try await withThrowingTaskGroup(of: [(RowKey, Double)].self) { group in
            for connectionIndex in 0..<4 {
                group.addTask {
                    let client = try await MLLPClient.connect(host: "127.0.0.1", port: engine.port)
                    defer { Task { await client.close() } }
                    // Another client of the database, to look the moment each ACK arrives.
                    let observer = try PostgresConnection(url: engine.databaseURL)
                    defer { observer.close() }
                    var monitor = SimulatedMonitor(index: 100 + connectionIndex)
                    var sent: [(RowKey, Double)] = []
                    for step in 0..<250 {
                        let micros = base + Int64(step) * 1_000_000
                        let report = monitor.nextReport(at: Timestamp(microsecondsSinceEpoch: micros), criticalKind: step % 50 == 0 ? .heartRate : nil)
                        let ack = try HL7Message(parsing: try await client.send(report.bytes))
                        #expect(ack.firstSegment(named: "MSA")?[1].value == "AA")
                        #expect(ack.firstSegment(named: "MSA")?[2].value == report.controlID)
                        let visible = try observer.query("""
                            SELECT count(*) FROM vital_signs v JOIN devices d ON d.id = v.device_id
                            WHERE d.identifier = $1 AND v.observation_time = to_timestamp($2::double precision / 1000000)
                            """, [monitor.deviceID, "\(micros)"]).rows.first?.first ?? nil
                        #expect(visible == "12", "message \(report.controlID) ACKed before its rows were visible")
                        for value in report.values {
                            sent.append((RowKey(device: monitor.deviceID, micros: micros, kind: value.kind.rawValue), value.value))
                        }
                    }
                    return sent
                }
            }
            for try await rows in group {
                for (key, value) in rows { expected[key] = value }
            }
        }
        #expect(expected.count == 4 * 250 * 12)

        let rows = try engine.query("""
            SELECT d.identifier, (extract(epoch FROM v.observation_time) * 1000000)::bigint, v.vital_kind, v.value
            FROM vital_signs v JOIN devices d ON d.id = v.device_id
            """)
        #expect(rows.count == expected.count)
        var stored: [RowKey: Double] = [:]
        for row in rows {
            let key = RowKey(device: row[0] ?? "", micros: Int64(row[1] ?? "") ?? 0, kind: Int16(row[2] ?? "") ?? -1)
            #expect(stored[key] == nil, "stored twice: \(key)")
            stored[key] = Double(row[3] ?? "")
        }
        #expect(stored == expected)
        #expect(try engine.count("SELECT count(*) FROM vital_signs WHERE is_critical AND vital_kind = 1") == 4 * 5)
        #expect(try engine.count("SELECT count(*) FROM ingested_messages") == 1000)
    }

    @Test func aRetransmissionIsAcknowledgedAgainAndStoredOnce() async throws {
        let engine = try await TestEngine.start()
        defer { engine.stop() }
        var monitor = SimulatedMonitor(index: 400)
        let report = monitor.nextReport(at: Timestamp(microsecondsSinceEpoch: 1_796_200_000_000_000))
        let first = try await MLLPClient.connect(host: "127.0.0.1", port: engine.port)
        let second = try await MLLPClient.connect(host: "127.0.0.1", port: engine.port)
        defer { Task { await first.close(); await second.close() } }
        // Twice on one connection back to back (the second while the first may be in flight), once more on another.
        async let a = first.send(report.bytes)
        async let b = first.send(report.bytes)
        let acks = try await [a, b, second.send(report.bytes)].map { try HL7Message(parsing: $0) }
        for ack in acks {
            #expect(ack.firstSegment(named: "MSA")?[1].value == "AA")
            #expect(ack.firstSegment(named: "MSA")?[2].value == report.controlID)
        }
        #expect(try engine.count("SELECT count(*) FROM vital_signs") == 12)
        #expect(try engine.count("SELECT count(*) FROM ingested_messages") == 1)
        // Each ACK has its own MSH-10, which names the second this run built its first ACK (then
        // two random characters): the next run's ACKs do not repeat this one's.
        let ackIDs = acks.map { $0.controlID }
        #expect(Set(ackIDs).count == 3)
        for id in ackIDs {
            let parts = id.split(separator: "-")
            let started = parts.first.flatMap { Int($0.dropLast(2), radix: 36) }.map { Date(timeIntervalSince1970: Double($0)) }
            #expect(parts.count == 2 && UInt64(parts[1]) != nil && id.count <= 20, "ACK control id \(id)")
            #expect(started.map { $0 <= Date() && $0 > Date(timeIntervalSinceNow: -86_400) } == true, "ACK control id \(id)")
        }
    }

    /// A gateway's ORU^R01 with control id 1 and one heart-rate row that names no device.
    static func gatewayMessage(gateway: String, time: String = "20261129101500+0000", heartRate: Int) -> [UInt8] {
        Array(("MSH|^~\\&|ACME^\(gateway)^EUI-64||||\(time)||ORU^R01|1|P|2.6\r"
            + "PID|||77^^^H\rOBX|1|NM|147842^MDC_ECG_HEART_RATE^MDC|1.1.1.1|\(heartRate)|264864^MDC_DIM_BEAT_PER_MIN^MDC|||||R").utf8)
    }

    /// PCD-01 gateways of one model share MSH-3's namespace and tell themselves apart by its
    /// universal id (their EUI-64); each counts its own MSH-10 from 1. Two of them sending the
    /// same control id are two messages, not a retransmission.
    @Test func gatewaysOfOneModelWithTheSameControlIDAreTwoMessages() async throws {
        let engine = try await TestEngine.start()
        defer { engine.stop() }
        let client = try await MLLPClient.connect(host: "127.0.0.1", port: engine.port)
        defer { Task { await client.close() } }
        for (gateway, heartRate) in [("0012A1FFFE000001", 80), ("0012A1FFFE000002", 120)] {
            let ack = try HL7Message(parsing: await client.send(Self.gatewayMessage(gateway: gateway, heartRate: heartRate)))
            #expect(ack.firstSegment(named: "MSA")?[1].value == "AA")
        }
        // Rows that name no device in OBX-18 are the gateway's own.
        let rows = try engine.query("SELECT d.identifier, v.value FROM vital_signs v JOIN devices d ON d.id = v.device_id ORDER BY v.value")
        #expect(rows == [["0012A1FFFE000001", "80"], ["0012A1FFFE000002", "120"]])
        #expect(try engine.count("SELECT count(*) FROM ingested_messages") == 2)
    }

    /// A gateway that counts MSH-10 from 1 again after a reboot sends new messages under old
    /// control ids; MSH-7, the time each was created, tells them from retransmissions.
    @Test("a control id reused with another MSH-7 (a gateway counting from 1 again after a reboot) is a new message, stored; a resend of either is not")
    func aReusedControlIDWithAnotherTimeIsANewMessage() async throws {
        let engine = try await TestEngine.start()
        defer { engine.stop() }
        let client = try await MLLPClient.connect(host: "127.0.0.1", port: engine.port)
        defer { Task { await client.close() } }
        let beforeReboot = Self.gatewayMessage(gateway: "0012A1FFFE000009", time: "20261129101500+0000", heartRate: 80)
        let afterReboot = Self.gatewayMessage(gateway: "0012A1FFFE000009", time: "20261129113000+0000", heartRate: 95)
        for bytes in [beforeReboot, afterReboot, afterReboot, beforeReboot] {
            let ack = try HL7Message(parsing: await client.send(bytes))
            #expect(ack.firstSegment(named: "MSA")?[1].value == "AA")
        }
        #expect(try engine.query("SELECT value FROM vital_signs ORDER BY observation_time") == [["80"], ["95"]])
        #expect(try engine.count("SELECT count(*) FROM ingested_messages") == 2)
        // The log of a resend names the time that tells it from a new message under the same id.
        let resends = engine.logs.all.filter { $0.metadata["control_id"] == "1" && $0.metadata["message_time"] != nil }
        #expect(Set(resends.compactMap { $0.metadata["message_time"] }) == ["20261129101500+0000", "20261129113000+0000"])
        #expect(MessageKey(sendingApplication: "A", sendingFacility: "F", controlID: "1", messageTime: "20261129").description == "A|F|1@20261129")
    }
}
