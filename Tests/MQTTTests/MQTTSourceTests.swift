import DeviceSimulator
import Foundation
import Ingest
import Logging
import MQTT
import Storage
import Synchronization
import TestSupport
import Testing
import VitalSigns

/// The MQTT source against a real mosquitto and a real PostgreSQL: every message acknowledged by
/// the broker is stored exactly once, whatever restarts in between.
@Suite(.serialized, .timeLimit(.minutes(5))) struct MQTTSourceTests {
    @Test func hundredThousandMessagesFromFiveHundredDevicesLandExactlyOnce() async throws {
        let setup = try await MQTTTestSetup.start()
        defer { setup.stop() }
        let (broker, database, daemon) = (setup.broker, setup.database, setup.daemon)

        let simulator = try gateways(broker, devices: 500, messagesPerDevice: 200)
        defer { simulator.publisher.stop() }
        try await simulator.run()
        #expect(simulator.publisher.acknowledgedCount == 500 + 100_000)  // status announcements + readings

        try await waitUntil(timeout: .seconds(240), pollEvery: .milliseconds(100), "100,000 messages stored") {
            try count(database, "SELECT count(*) FROM ingested_messages") >= 100_000
        }
        #expect(try count(database, "SELECT count(*) FROM ingested_messages") == 100_000)
        #expect(try count(database, "SELECT count(*) FROM vital_signs") == 400_000)
        #expect(try duplicates(database) == 0)
        #expect(try count(database, "SELECT count(DISTINCT sending_facility) FROM ingested_messages") == 500)
        try await waitUntil(timeout: .seconds(30), pollEvery: .milliseconds(100), "presence of 500 devices") {
            try count(database, "SELECT count(*) FROM device_presence WHERE status = 'online'") == 500
        }
        #expect(daemon.source.statistics.current.rejected == 0)
    }

    @Test func brokerRestartMidStreamLosesNothing() async throws {
        let setup = try await MQTTTestSetup.start()
        defer { setup.stop() }
        let (broker, database, daemon) = (setup.broker, setup.database, setup.daemon)

        let simulator = try gateways(broker, devices: 20, messagesPerDevice: 400)
        defer { simulator.publisher.stop() }
        let publishing = Task { try await simulator.run() }
        try await waitUntil(timeout: .seconds(60), "first messages stored") { daemon.source.statistics.current.stored >= 1_000 }
        try await broker.restart()
        try await publishing.value
        #expect(simulator.published == 8_000)

        try await waitUntil(timeout: .seconds(120), pollEvery: .milliseconds(100), "every message stored") {
            try count(database, "SELECT count(*) FROM ingested_messages") >= 8_000
        }
        #expect(try count(database, "SELECT count(*) FROM ingested_messages") == 8_000)
        #expect(try count(database, "SELECT count(*) FROM vital_signs") == 32_000)
        #expect(try duplicates(database) == 0)
        #expect(daemon.source.statistics.current.reconnects >= 1)
    }

    @Test(arguments: [MQTTConnectionOptions.ProtocolVersion.v311, .v5])
    func messagesPublishedWhileTheDaemonIsDownArriveWhenItReturns(_ version: MQTTConnectionOptions.ProtocolVersion) async throws {
        let broker = try TestMosquitto()
        try await broker.start()
        defer { broker.stop() }
        let database = try TestPostgres.migratedDatabase()
        let first = try MQTTTestDaemon(broker: broker, databaseURL: database, protocolVersion: version)
        try await waitUntil(timeout: .seconds(30), "source connected") { first.source.health.state == .connected }
        first.stop()

        let simulator = try gateways(broker, devices: 10, messagesPerDevice: 300)
        defer { simulator.publisher.stop() }
        try await simulator.run()
        #expect(simulator.publisher.acknowledgedCount == 10 + 3_000)
        #expect(try count(database, "SELECT count(*) FROM ingested_messages") == 0)

        let second = try MQTTTestDaemon(broker: broker, databaseURL: database, protocolVersion: version)
        defer { second.stop() }
        try await waitUntil(timeout: .seconds(120), pollEvery: .milliseconds(100), "queued messages stored") {
            try count(database, "SELECT count(*) FROM ingested_messages") >= 3_000
        }
        #expect(try count(database, "SELECT count(*) FROM ingested_messages") == 3_000)
        #expect(try count(database, "SELECT count(*) FROM vital_signs") == 12_000)
        #expect(try duplicates(database) == 0)
    }

    @Test func twoDaemonsOnASharedSubscriptionSplitTheStream() async throws {
        let broker = try TestMosquitto()
        try await broker.start()
        defer { broker.stop() }
        let database = try TestPostgres.migratedDatabase()
        let filter = "$share/ingest/devices/+/vitals"
        let one = try MQTTTestDaemon(broker: broker, databaseURL: database, clientID: "nilecare-a", filter: filter)
        defer { one.stop() }
        let two = try MQTTTestDaemon(broker: broker, databaseURL: database, clientID: "nilecare-b", filter: filter)
        defer { two.stop() }
        try await waitUntil(timeout: .seconds(30), "both connected") {
            one.source.health.state == .connected && two.source.health.state == .connected
        }

        let simulator = try gateways(broker, devices: 20, messagesPerDevice: 250)
        defer { simulator.publisher.stop() }
        try await simulator.run()
        try await waitUntil(timeout: .seconds(120), pollEvery: .milliseconds(100), "every message stored") {
            try count(database, "SELECT count(*) FROM ingested_messages") >= 5_000
        }
        let a = one.source.statistics.current, b = two.source.statistics.current
        #expect(a.stored > 0)
        #expect(b.stored > 0)
        #expect(a.stored + b.stored == 5_000)
        #expect(a.duplicates + b.duplicates == 0)
        #expect(try count(database, "SELECT count(*) FROM ingested_messages") == 5_000)
        #expect(try duplicates(database) == 0)
    }

    @Test func badPayloadsAreRejectedAndGoodOnesAfterThemLand() async throws {
        let setup = try await MQTTTestSetup.start()
        defer { setup.stop() }
        let (broker, database, daemon) = (setup.broker, setup.database, setup.daemon)

        let publisher = try MQTTPublisher(options: MQTTConnectionOptions(broker: MQTTBrokerURL(parsing: broker.url), clientID: "bad-gateway"))
        defer { publisher.stop() }
        let bad: [(String, String)] = [
            ("devices/BAD1/vitals", "this is not JSON"),
            ("devices/BAD1/vitals", #"{"version":2,"observations":[]}"#),
            ("devices/BAD2/vitals", #"{"time":"2026-11-29T09:00:00Z"}"#),
            ("devices/BAD2/vitals", #"{"time":"2026-11-29T09:00:00Z","observations":[{"code":"150456","system":"MDC","value":"97","unit":"%"}]}"#),
            ("devices/BAD3/status", "maybe"),
        ]
        for (topic, payload) in bad { try publisher.publish(topic: topic, payload: Array(payload.utf8)) }
        for index in 0..<5 {
            let payload = MQTTGatewaySimulator.payload(device: "GOOD1", id: "good-\(index)", sequence: index,
                                                       time: Date(timeIntervalSince1970: 1_800_000_000 + Double(index)))
            try publisher.publish(topic: "devices/GOOD1/vitals", payload: payload)
        }
        #expect(publisher.flush())

        try await waitUntil(timeout: .seconds(30), pollEvery: .milliseconds(100), "good messages stored and bad ones recorded") {
            try count(database, "SELECT count(*) FROM ingested_messages") == 5
                && count(database, "SELECT count(*) FROM rejected_frames") == 5
        }
        let reasons = try rows(database, "SELECT origin, reason FROM rejected_frames ORDER BY id").map { "\($0[0] ?? "")|\($0[1] ?? "")" }
        #expect(reasons == [
            "devices/BAD1/vitals|invalid_json", "devices/BAD1/vitals|unsupported_version",
            "devices/BAD2/vitals|missing_field", "devices/BAD2/vitals|invalid_value", "devices/BAD3/status|invalid_presence",
        ])
        #expect(try count(database, "SELECT count(*) FROM vital_signs") == 20)
        #expect(daemon.source.statistics.current.rejected == 5)

        // A payload over the source's limit is not decoded; its start is kept.
        let limit = MQTTSource.Configuration(connection: MQTTConnectionOptions(broker: try MQTTBrokerURL(parsing: broker.url), clientID: "x"),
                                             subscriptions: []).maximumPayloadBytes
        try publisher.publish(topic: "devices/BIG1/vitals", payload: Array(repeating: UInt8(ascii: " "), count: limit + 1))
        #expect(publisher.flush())
        try await waitUntil(timeout: .seconds(30), pollEvery: .milliseconds(100), "the oversized payload recorded") {
            try count(database, "SELECT count(*) FROM rejected_frames WHERE reason = 'payload_too_large'") == 1
        }
        #expect(try rows(database, "SELECT origin, length(raw) FROM rejected_frames WHERE reason = 'payload_too_large'").first == ["devices/BIG1/vitals", "4096"])

        // A payload that decodes but that the database refuses (a NUL in the patient id) is
        // kept whole in rejected_frames for a person to look at.
        let refused = #"{"time":"2026-11-29T09:00:00Z","patient":{"id":"P\u0000X"},"observations":[{"code":"150456","system":"MDC","value":97,"unit":"%"}]}"#
        try publisher.publish(topic: "devices/BAD4/vitals", payload: Array(refused.utf8))
        #expect(publisher.flush())
        try await waitUntil(timeout: .seconds(30), pollEvery: .milliseconds(100), "the refused message recorded") {
            try count(database, "SELECT count(*) FROM rejected_frames WHERE reason = 'storage_refused'") == 1
        }
        #expect(try rows(database, "SELECT convert_from(raw, 'UTF8') FROM rejected_frames WHERE reason = 'storage_refused'").first?.first == refused)
    }

    @Test("a rejected message is acknowledged only once its rejected_frames row is written: a stop before leaves it to be delivered again")
    func aRejectedMessageIsAcknowledgedOnceKept() async throws {
        let broker = try TestMosquitto()
        try await broker.start()
        defer { broker.stop() }
        let database = try TestPostgres.migratedDatabase()
        let locker = try PostgresConnection(url: database)
        defer { locker.close() }
        let first = try MQTTTestDaemon(broker: broker, databaseURL: database)
        try await waitUntil(timeout: .seconds(30), "connected") { first.source.health.state == .connected }
        let publisher = try MQTTPublisher(options: MQTTConnectionOptions(broker: MQTTBrokerURL(parsing: broker.url), clientID: "bad-gateway"))
        defer { publisher.stop() }

        // The row cannot be written while the table is locked (as while the database is away).
        try locker.execute("BEGIN; LOCK TABLE rejected_frames IN ACCESS EXCLUSIVE MODE")
        try await waitUntil(timeout: .seconds(30), "the message rejected") {
            try publisher.publish(topic: "devices/BAD1/vitals", payload: Array("kept-or-redelivered".utf8))
            #expect(publisher.flush())
            return first.source.statistics.current.rejected >= 1
        }
        first.source.stop()
        let rejected = first.source.statistics.current.rejected
        try locker.execute("COMMIT")
        first.stop()
        #expect(try count(database, "SELECT count(*) FROM rejected_frames") == rejected)

        // Never acknowledged, they come again to the next run, and are kept again.
        let second = try MQTTTestDaemon(broker: broker, databaseURL: database)
        defer { second.stop() }
        try await waitUntil(timeout: .seconds(30), "the rejected messages delivered again (\(rejected) rejected before, \(second.source.statistics.current.rejected) now)") {
            second.source.statistics.current.rejected >= rejected
        }
    }

    @Test("payloads that name no message id are told apart by their content: each stored once, not the first alone")
    func messagesWithoutAnIDAreNotDuplicatesOfEachOther() async throws {
        let setup = try await MQTTTestSetup.start(filter: "fhir/+/observation", profile: fhirProfile)
        defer { setup.stop() }
        let publisher = try MQTTPublisher(options: MQTTConnectionOptions(broker: MQTTBrokerURL(parsing: setup.broker.url), clientID: "fhir-sender"))
        defer { publisher.stop() }
        func observation(_ value: Int, second: Int) -> [UInt8] {
            Array("""
                { "resourceType": "Observation", "status": "final",
                  "code": { "coding": [ { "system": "http://loinc.org", "code": "8867-4" } ] },
                  "effectiveDateTime": "2026-11-29T09:00:0\(second)Z",
                  "valueQuantity": { "value": \(value), "unit": "/min", "system": "http://unitsofmeasure.org", "code": "/min" } }
                """.utf8)
        }
        try publisher.publish(topic: "fhir/DEV-F/observation", payload: observation(72, second: 1))
        try publisher.publish(topic: "fhir/DEV-F/observation", payload: observation(75, second: 2))
        // The same payload again, as a redelivery would bring it: stored once.
        try publisher.publish(topic: "fhir/DEV-F/observation", payload: observation(72, second: 1))
        #expect(publisher.flush())
        try await setup.waitUntilHandled(3)
        #expect(try count(setup.database, "SELECT count(*) FROM vital_signs") == 2)
        #expect(try rows(setup.database, "SELECT value FROM vital_signs ORDER BY observation_time").map { $0[0] } == ["72", "75"])
        #expect(setup.daemon.source.statistics.current.duplicates == 1)
    }

    @Test("a gateway publishing for several monitors on one topic: the same message id from two devices, or two identifier systems, is two messages")
    func messageIDsAreTheDevicesAndTheirSystems() async throws {
        let setup = try await MQTTTestSetup.start(filter: "fhir/+/observation", profile: fhirProfile)
        defer { setup.stop() }
        let publisher = try MQTTPublisher(options: MQTTConnectionOptions(broker: MQTTBrokerURL(parsing: setup.broker.url), clientID: "fhir-hub"))
        defer { publisher.stop() }
        func observation(device: String, system: String, value: Int) -> [UInt8] {
            Array("""
                { "resourceType": "Observation", "status": "final",
                  "identifier": [ { "system": "\(system)", "value": "1001" } ],
                  "device": { "identifier": { "value": "\(device)" } },
                  "code": { "coding": [ { "system": "http://loinc.org", "code": "8867-4" } ] },
                  "effectiveDateTime": "2026-11-29T09:00:01Z",
                  "valueQuantity": { "value": \(value), "unit": "/min", "system": "http://unitsofmeasure.org", "code": "/min" } }
                """.utf8)
        }
        try publisher.publish(topic: "fhir/HUB-1/observation", payload: observation(device: "MON-A", system: "urn:hub:a", value: 70))
        try publisher.publish(topic: "fhir/HUB-1/observation", payload: observation(device: "MON-B", system: "urn:hub:a", value: 80))
        try publisher.publish(topic: "fhir/HUB-1/observation", payload: observation(device: "MON-B", system: "urn:hub:b", value: 90))
        // A redelivery is still one.
        try publisher.publish(topic: "fhir/HUB-1/observation", payload: observation(device: "MON-B", system: "urn:hub:b", value: 90))
        #expect(publisher.flush())
        try await setup.waitUntilHandled(4)
        #expect(try rows(setup.database, "SELECT value FROM vital_signs ORDER BY value").map { $0[0] } == ["70", "80", "90"])
        #expect(setup.daemon.source.statistics.current.duplicates == 1)
    }

    @Test("a message id used again for another reading (a gateway's counter started again) is a new message; a redelivery is not")
    func aReusedMessageIDWithOtherContentIsStored() async throws {
        let setup = try await MQTTTestSetup.start(filter: "fhir/+/observation", profile: fhirProfile)
        defer { setup.stop() }
        let publisher = try MQTTPublisher(options: MQTTConnectionOptions(broker: MQTTBrokerURL(parsing: setup.broker.url), clientID: "fhir-restarted"))
        defer { publisher.stop() }
        func observation(value: Int, second: Int) -> [UInt8] {
            Array("""
                { "resourceType": "Observation", "status": "final",
                  "identifier": [ { "system": "urn:gateway", "value": "42" } ],
                  "code": { "coding": [ { "system": "http://loinc.org", "code": "8867-4" } ] },
                  "effectiveDateTime": "2026-11-29T09:00:0\(second)Z",
                  "valueQuantity": { "value": \(value), "unit": "/min", "system": "http://unitsofmeasure.org", "code": "/min" } }
                """.utf8)
        }
        try publisher.publish(topic: "fhir/DEV-R/observation", payload: observation(value: 70, second: 1))
        // After the gateway restarted, id 42 again: a critical heart rate, a new reading.
        try publisher.publish(topic: "fhir/DEV-R/observation", payload: observation(value: 35, second: 7))
        try publisher.publish(topic: "fhir/DEV-R/observation", payload: observation(value: 35, second: 7))
        #expect(publisher.flush())
        try await setup.waitUntilHandled(3)
        #expect(try rows(setup.database, "SELECT value FROM vital_signs ORDER BY observation_time").map { $0[0] } == ["70", "35"])
        #expect(setup.daemon.source.statistics.current.duplicates == 1)
    }

    @Test("payloads that name neither an id nor a time are new readings each time, even with the same bytes")
    func identicalPayloadsWithoutATimeAreEachStored() async throws {
        let setup = try await MQTTTestSetup.start(filter: "fhir/+/observation", profile: fhirProfile)
        defer { setup.stop() }
        let publisher = try MQTTPublisher(options: MQTTConnectionOptions(broker: MQTTBrokerURL(parsing: setup.broker.url), clientID: "fhir-timeless"))
        defer { publisher.stop() }
        // No effective time: stamped on arrival. A stable patient's SpO2 of 97, three times.
        let payload = Array("""
            { "resourceType": "Observation", "status": "final",
              "code": { "coding": [ { "system": "http://loinc.org", "code": "59408-5" } ] },
              "valueQuantity": { "value": 97, "unit": "%", "system": "http://unitsofmeasure.org", "code": "%" } }
            """.utf8)
        for sent in 1...3 {
            try publisher.publish(topic: "fhir/DEV-T/observation", payload: payload)
            #expect(publisher.flush())
            // One at a time, so that each has an arrival of its own.
            try await setup.waitUntilHandled(sent, pollEvery: .milliseconds(20))
        }
        #expect(setup.daemon.source.statistics.current.duplicates == 0)
        #expect(try count(setup.database, "SELECT count(*) FROM vital_signs WHERE value = 97") == 3)
    }

    @Test("a retained message that names no time is not stored as a reading of now at each subscription")
    func retainedMessagesWithoutATimeAreRefused() async throws {
        let broker = try TestMosquitto()
        try await broker.start()
        defer { broker.stop() }
        let database = try TestPostgres.migratedDatabase()
        // Retained before the engine subscribes: the broker hands it to each new subscription.
        let publisher = try MQTTPublisher(options: MQTTConnectionOptions(broker: MQTTBrokerURL(parsing: broker.url), clientID: "retaining-gateway"))
        defer { publisher.stop() }
        let timeless = Array("""
            { "resourceType": "Observation", "status": "final",
              "code": { "coding": [ { "system": "http://loinc.org", "code": "59408-5" } ] },
              "valueQuantity": { "value": 97, "unit": "%", "system": "http://unitsofmeasure.org", "code": "%" } }
            """.utf8)
        try publisher.publish(topic: "fhir/DEV-R/observation", payload: timeless, retain: true)
        #expect(publisher.flush())

        let daemon = try MQTTTestDaemon(broker: broker, databaseURL: database, filter: "fhir/+/observation", profile: fhirProfile)
        defer { daemon.stop() }
        try await waitUntil(timeout: .seconds(30), pollEvery: .milliseconds(100), "the retained message refused") {
            try count(database, "SELECT count(*) FROM rejected_frames WHERE reason = 'retained_without_time'") == 1
        }
        #expect(try count(database, "SELECT count(*) FROM vital_signs") == 0)
    }

    @Test("a message that names no patient takes its device's association, else its bed's")
    func associationsApplyToMessagesWithoutAPatient() async throws {
        let broker = try TestMosquitto()
        try await broker.start()
        defer { broker.stop() }
        let database = try TestPostgres.migratedDatabase()
        let connection = try PostgresConnection(url: database)
        defer { connection.close() }
        let store = AssociationStore(connection: connection)
        let since = Date(timeIntervalSince1970: 1_800_000_000 - 3_600)
        try store.set(.device("ASSOC-DEV"), patient: PatientIdentifier(id: "BY-DEVICE", assigningAuthority: "KTH"), from: since, by: "test")
        try store.set(.bed("ICU^9^A"), patient: PatientIdentifier(id: "BY-BED", assigningAuthority: "KTH"), from: since, by: "test")
        let daemon = try MQTTTestDaemon(broker: broker, databaseURL: database)
        defer { daemon.stop() }
        try await waitUntil(timeout: .seconds(30), "source connected") { daemon.source.health.state == .connected }

        let publisher = try MQTTPublisher(options: MQTTConnectionOptions(broker: MQTTBrokerURL(parsing: broker.url), clientID: "assoc-gateway"))
        defer { publisher.stop() }
        func payload(_ id: String, location: String?, patient: String?) -> [UInt8] {
            let bed = location.map { #","location":"\#($0)""# } ?? ""
            let who = patient.map { #","patient":{"id":"\#($0)","authority":"KTH"}"# } ?? ""
            return Array(#"{"id":"\#(id)","time":"2027-01-15T08:00:00Z"\#(bed)\#(who),"observations":[{"code":"150456","system":"MDC","value":97,"unit":"%"}]}"#.utf8)
        }
        try publisher.publish(topic: "devices/ASSOC-DEV/vitals", payload: payload("a1", location: "ICU^9^A", patient: nil))
        try publisher.publish(topic: "devices/OTHER-DEV/vitals", payload: payload("a2", location: "ICU^9^A", patient: nil))
        try publisher.publish(topic: "devices/ASSOC-DEV/vitals", payload: payload("a3", location: nil, patient: "NAMED"))
        #expect(publisher.flush())
        try await waitUntil(timeout: .seconds(30), pollEvery: .milliseconds(100), "three messages stored") {
            try count(database, "SELECT count(*) FROM ingested_messages") == 3
        }
        let patients = try rows(database, """
            SELECT d.identifier, p.identifier FROM vital_signs v JOIN devices d ON d.id = v.device_id
            LEFT JOIN patients p ON p.id = v.patient_id ORDER BY v.received_at, d.identifier, p.identifier
            """).map { "\($0[0] ?? "-")=\($0[1] ?? "-")" }
        #expect(Set(patients) == ["ASSOC-DEV=BY-DEVICE", "OTHER-DEV=BY-BED", "ASSOC-DEV=NAMED"])
    }

    @Test("a device's reported condition takes the payload's patient, else the device's association")
    func conditionsTakeTheirOwnDevicesPatient() async throws {
        let broker = try TestMosquitto()
        try await broker.start()
        defer { broker.stop() }
        let database = try TestPostgres.migratedDatabase()
        let connection = try PostgresConnection(url: database)
        defer { connection.close() }
        try AssociationStore(connection: connection).set(
            .device("HUB-9"), patient: PatientIdentifier(id: "BY-DEVICE", assigningAuthority: "KTH"), from: Date(timeIntervalSince1970: 1_796_000_000), by: "test")
        let conditions = Mutex<[DeviceCondition]>([])
        let daemon = try MQTTTestDaemon(broker: broker, databaseURL: database, filter: "hubs/+/json", profile: repositoryProfile("example-vendor-gateway", else: .mappedJSON),
                                        alertStage: { entry, alertsStored in
                                            conditions.withLock { $0 += entry.conditions }
                                            alertsStored(true)
                                        })
        defer { daemon.stop() }
        try await waitUntil(timeout: .seconds(30), "source connected") { daemon.source.health.state == .connected }
        try await waitUntil(timeout: .seconds(10), "association loaded") {
            daemon.associations.patient(device: "HUB-9", bed: nil, at: Timestamp(microsecondsSinceEpoch: 1_796_029_200_000_000))?.id == "BY-DEVICE"
        }
        let publisher = try MQTTPublisher(options: MQTTConnectionOptions(broker: MQTTBrokerURL(parsing: broker.url), clientID: "hub-sender"))
        defer { publisher.stop() }
        // Only a status (the heart rate could not be measured): no reading to borrow a patient from.
        try publisher.publish(topic: "hubs/HUB-9/json", payload: Array(#"{"deviceId":"HUB-9","ts":1796029200000,"msgId":1,"hr":null}"#.utf8))
        try publisher.publish(topic: "hubs/HUB-9/json", payload: Array(#"{"deviceId":"HUB-9","ts":1796029201000,"msgId":2,"patient":{"mrn":"MRN-7"},"hr":null}"#.utf8))
        #expect(publisher.flush())
        try await waitUntil(timeout: .seconds(30), "both conditions seen") { conditions.withLock { $0.count } == 2 }
        #expect(conditions.withLock { $0 }.map { $0.patient?.id } == ["BY-DEVICE", "MRN-7"])
    }

    @Test("a subscription the broker refuses (its ACL) is an error on the source's health, not a silent absence of data")
    func aRefusedSubscriptionIsReported() async throws {
        // mosquitto's dynamic-security plugin: anonymous clients may subscribe to status topics only.
        let plugin = try #require(["x86_64-linux-gnu", "aarch64-linux-gnu"].map { "/usr/lib/\($0)/mosquitto_dynamic_security.so" }
            .first { FileManager.default.fileExists(atPath: $0) }, "mosquitto's dynamic-security plugin is not installed")
        let folder = try TestPostgres.makeTemporaryFolder()
        try """
            {"defaultACLAccess": {"publishClientSend": true, "publishClientReceive": true, "subscribe": false, "unsubscribe": true},
             "clients": [], "groups": [{"groupname": "anonymous", "roles": [{"rolename": "status-only"}]}],
             "roles": [{"rolename": "status-only", "acls": [{"acltype": "subscribePattern", "topic": "devices/+/status", "allow": true}]}],
             "anonymousGroup": "anonymous"}
            """.write(toFile: folder + "/dynamic-security.json", atomically: true, encoding: .utf8)
        let broker = try TestMosquitto(listenerSettings: ["plugin \(plugin)", "plugin_opt_config_file \(folder)/dynamic-security.json"])
        try await broker.start()
        defer { broker.stop() }
        let database = try TestPostgres.migratedDatabase()
        let daemon = try MQTTTestDaemon(broker: broker, databaseURL: database)
        defer { daemon.stop() }
        try await waitUntil(timeout: .seconds(30), "the refusal reported") { !daemon.source.health.subscriptionProblems.isEmpty }
        let health = daemon.source.health
        #expect(health.state == .connected)
        #expect(health.subscriptionProblems == [
            "the broker refused the subscription to devices/+/vitals (code 0x80): nothing is received for it",
        ])

        // The same source against a broker without the ACL: no problem.
        let unrestricted = try TestMosquitto()
        try await unrestricted.start()
        defer { unrestricted.stop() }
        let other = try MQTTTestDaemon(broker: unrestricted, databaseURL: database, clientID: "nilecare-test-2")
        defer { other.stop() }
        try await waitUntil(timeout: .seconds(30), "connected") { other.source.health.state == .connected }
        let ingested = try gateways(unrestricted, devices: 1, messagesPerDevice: 1)
        defer { ingested.publisher.stop() }
        try await ingested.run()
        try await waitUntil(timeout: .seconds(30), "the message stored") { try count(database, "SELECT count(*) FROM ingested_messages") == 1 }
        #expect(other.source.health.subscriptionProblems.isEmpty)
    }

    @Test("a refused subscription is asked for again on the same connection, an error logged once; once the broker's ACL allows it, the problem leaves the health and data flows")
    func aRefusedSubscriptionIsAskedAgain() async throws {
        // mosquitto's dynamic-security plugin, changed while running by its admin, as an operator
        // fixes an ACL. Anonymous clients may publish anything but subscribe to status topics only.
        let plugin = try #require(["x86_64-linux-gnu", "aarch64-linux-gnu"].map { "/usr/lib/\($0)/mosquitto_dynamic_security.so" }
            .first { FileManager.default.fileExists(atPath: $0) }, "mosquitto's dynamic-security plugin is not installed")
        let folder = try TestPostgres.makeTemporaryFolder()
        let configuration = folder + "/dynamic-security.json"
        try mosquittoControl(["dynsec", "init", configuration, "admin", "admin-password-0123"])
        var settings = try #require(JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: configuration))) as? [String: Any])
        settings["defaultACLAccess"] = ["publishClientSend": true, "publishClientReceive": true, "subscribe": false, "unsubscribe": true]
        settings["groups"] = [["groupname": "anonymous", "roles": [["rolename": "status-only"]]]]
        settings["anonymousGroup"] = "anonymous"
        settings["roles"] = (settings["roles"] as? [Any] ?? []) + [
            ["rolename": "status-only", "acls": [["acltype": "subscribePattern", "topic": "devices/+/status", "allow": true]]],
        ]
        try JSONSerialization.data(withJSONObject: settings).write(to: URL(fileURLWithPath: configuration))
        let broker = try TestMosquitto(listenerSettings: ["plugin \(plugin)", "plugin_opt_config_file \(configuration)"])
        try await broker.start()
        defer { broker.stop() }
        let database = try TestPostgres.migratedDatabase()
        let log = LogRecorder()
        let daemon = try MQTTTestDaemon(broker: broker, databaseURL: database, logger: Logger(label: "test") { _ in log.handler() })
        defer { daemon.stop() }
        try await waitUntil(timeout: .seconds(30), "the refusal reported") { !daemon.source.health.subscriptionProblems.isEmpty }
        #expect(daemon.source.health.subscriptionProblems == [
            "the broker refused the subscription to devices/+/vitals (code 0x80): nothing is received for it",
        ])
        let reconnectsBefore = daemon.source.statistics.current.reconnects

        // Refused again and again on the same connection (asked every 200 ms here), it is an error once.
        try await waitUntil(timeout: .seconds(30), "refused three times") {
            log.all.filter { $0.message == "MQTT subscription refused again" }.count >= 2
        }
        #expect(daemon.source.statistics.current.reconnects == reconnectsBefore)
        #expect(log.all.filter { $0.message == "MQTT subscription not as asked" }.count == 1)

        // mosquitto disconnects the clients of a role whose ACL changes, so with it the grant
        // comes with the reconnect; a broker that does not grants the next ask instead.
        try mosquittoControl([
            "-p", "\(broker.port)", "-u", "admin", "-P", "admin-password-0123",
            "dynsec", "addRoleACL", "status-only", "subscribePattern", "devices/+/vitals", "allow",
        ])
        try await waitUntil(timeout: .seconds(30), "the problem cleared") { daemon.source.health.subscriptionProblems.isEmpty }

        // The problem clears when the connection is made, before the broker grants the
        // subscription, and a message published before the grant is not for us: publish until
        // one is stored.
        var stored = false
        for device in 0..<30 where !stored {
            let gateway = try gateways(broker, devices: 1, messagesPerDevice: 1, firstDevice: device)
            try await gateway.run()
            gateway.publisher.stop()
            stored = (try? await waitUntil(timeout: .seconds(1), "stored") { try count(database, "SELECT count(*) FROM ingested_messages") >= 1 }) != nil
        }
        #expect(stored, "no message stored after the ACL allowed the subscription")
        #expect(daemon.source.health.subscriptionProblems.isEmpty)
    }

    /// Runs mosquitto's own administration tool, `mosquitto_ctrl` (mosquitto-clients).
    private func mosquittoControl(_ arguments: [String]) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/mosquitto_ctrl")
        process.arguments = arguments
        let output = Pipe()
        process.standardOutput = output
        process.standardError = output
        try process.run()
        let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        guard process.terminationStatus == 0 else { throw TestSupportError("mosquitto_ctrl \(arguments.suffix(5).joined(separator: " ")): \(text)") }
    }

    @Test("a filter taken out of the configuration is unsubscribed at the next start: its messages no longer come, to be rejected as unexpected")
    func aRemovedFilterIsUnsubscribed() async throws {
        let broker = try TestMosquitto()
        try await broker.start()
        defer { broker.stop() }
        let database = try TestPostgres.migratedDatabase()
        let publisher = try MQTTPublisher(options: MQTTConnectionOptions(broker: MQTTBrokerURL(parsing: broker.url), clientID: "ward-gateway"))
        defer { publisher.stop() }
        func publish(_ topic: String, _ id: String, second: Double) throws {
            let payload = MQTTGatewaySimulator.payload(device: "GW1", id: id, sequence: 0, time: Date(timeIntervalSince1970: 1_800_000_000 + second))
            try publisher.publish(topic: topic, payload: payload)
            #expect(publisher.flush())
        }

        // The first run subscribes to the old ward's topics (a persistent session), and finding
        // no record of an earlier run, writes its own.
        let firstLog = LogRecorder()
        let first = try MQTTTestDaemon(broker: broker, databaseURL: database, filter: "ward-old/+/vitals", logger: Logger(label: "test") { _ in firstLog.handler() })
        try await waitUntil(timeout: .seconds(30), "its record written") { firstLog.all.contains { $0.message == "MQTT subscription record written" } }
        try await waitUntil(timeout: .seconds(30), "the old topic's message stored") {
            try publish("ward-old/GW1/vitals", "old-\(UUID())", second: 0)
            return first.source.statistics.current.stored >= 1
        }
        first.stop()

        // The next run has only the new filter, under the same client id.
        let log = LogRecorder()
        let second = try MQTTTestDaemon(broker: broker, databaseURL: database, filter: "devices/+/vitals", logger: Logger(label: "test") { _ in log.handler() })
        defer { second.stop() }
        try await waitUntil(timeout: .seconds(30), "the old filter unsubscribed") {
            log.all.contains { $0.message == "MQTT subscription of an earlier configuration removed" && $0.metadata["filter"] == "ward-old/+/vitals" }
        }
        // Its own record replaces the earlier one only once the broker confirmed the removal: a
        // crash before would leave the earlier record, and the next run would remove the filter.
        try await waitUntil(timeout: .seconds(30), "its record written") { log.all.contains { $0.message == "MQTT subscription record written" } }
        let messages = log.all.map(\.message)
        let removed = try #require(messages.firstIndex(of: "MQTT subscription of an earlier configuration removed"))
        #expect(removed < (try #require(messages.firstIndex(of: "MQTT subscription record written"))))
        try publish("ward-old/GW1/vitals", "old-after", second: 1)
        try publish("devices/GW1/vitals", "new-after", second: 2)
        // Delivered in the order published: once the second is stored, the first would have come.
        try await waitUntil(timeout: .seconds(30), "the new topic's message stored") { second.source.statistics.current.stored >= 1 }
        #expect(second.source.health.subscriptionProblems.isEmpty)
        second.stop()  // its rejection recorder writes what it holds
        #expect(try count(database, "SELECT count(*) FROM rejected_frames WHERE position('old-after' IN convert_from(raw, 'UTF8')) > 0") == 0)
    }

    @Test func brokerDownAtStartUpThenStartedConnectsAndIngests() async throws {
        let broker = try TestMosquitto()
        defer { broker.stop() }
        let database = try TestPostgres.migratedDatabase()
        let daemon = try MQTTTestDaemon(broker: broker, databaseURL: database)
        defer { daemon.stop() }
        try await waitUntil(timeout: .seconds(30), "failed attempts reported") {
            daemon.source.health.state == .reconnecting && daemon.source.statistics.current.reconnects >= 2
        }
        #expect(daemon.source.health.lastError?.contains("connect to mqtt://127.0.0.1:\(broker.port)") == true)

        try await broker.start()
        try await waitUntil(timeout: .seconds(30), "source connected") { daemon.source.health.state == .connected }
        let simulator = try gateways(broker, devices: 5, messagesPerDevice: 20)
        defer { simulator.publisher.stop() }
        try await simulator.run()
        try await waitUntil(timeout: .seconds(30), pollEvery: .milliseconds(100), "messages stored") {
            try count(database, "SELECT count(*) FROM ingested_messages") == 100
        }
        #expect(try count(database, "SELECT count(*) FROM vital_signs") == 400)
    }
}
