import MQTT
import Testing

@Suite struct MQTTAddressingTests {
    @Test func brokerURLs() throws {
        let plain = try MQTTBrokerURL(parsing: "mqtt://broker.local")
        #expect(plain == MQTTBrokerURL(host: "broker.local", port: 1883))
        let secure = try MQTTBrokerURL(parsing: "mqtts://ingest@10.0.0.5:8884")
        #expect(secure == MQTTBrokerURL(host: "10.0.0.5", port: 8884, username: "ingest", usesTLS: true))
        #expect(try MQTTBrokerURL(parsing: "mqtts://[::1]").port == 8883)
        #expect(try MQTTBrokerURL(parsing: "mqtt://a%40b@h:1").username == "a@b")
    }

    @Test(arguments: [
        ("http://host", "use mqtt://"),
        ("mqtt://user:secret@host", "put no password in the URL"),
        ("mqtt://host:99999", "port '99999'"),
        ("mqtt://host/path", "a path"),
        ("mqtt://", "no host"),
    ])
    func badBrokerURLsSayWhy(_ text: String, _ expected: String) {
        #expect {
            try MQTTBrokerURL(parsing: text)
        } throws: { error in
            (error as? MQTTError)?.message.contains(expected) == true
        }
    }

    @Test func topicFiltersCaptureTheDeviceLevel() throws {
        let filter = try MQTTTopicFilter("devices/+/vitals")
        #expect(filter.match("devices/GW1/vitals") == ["GW1"])
        #expect(filter.match("devices/GW1/status") == nil)
        #expect(filter.match("devices/GW1/vitals/extra") == nil)
        #expect(filter.match("devices//vitals") == [""])
        let everything = try MQTTTopicFilter("site/#")
        #expect(everything.match("site/a/b") == ["a/b"])
        #expect(everything.match("site") == [])
        #expect(try MQTTTopicFilter("#").match("$SYS/broker") == nil)
        // The device is what the first `+` matches; the rest a `#` matches names none.
        #expect(filter.match("devices/GW1/vitals").flatMap(filter.device(from:)) == "GW1")
        #expect(everything.match("site/icu/vitals").flatMap(everything.device(from:)) == nil)
        let gateway = try MQTTTopicFilter("site/+/#")
        #expect(gateway.match("site/GW2/icu/vitals").flatMap(gateway.device(from:)) == "GW2")
    }

    @Test func sharedSubscriptionsMatchWithoutTheirPrefix() throws {
        let shared = try MQTTTopicFilter("$share/ingest/devices/+/vitals")
        #expect(shared.shareGroup == "ingest")
        #expect(shared.filter == "devices/+/vitals")
        #expect(shared.subscription == "$share/ingest/devices/+/vitals")
        #expect(shared.match("devices/GW7/vitals") == ["GW7"])
    }

    @Test(arguments: ["", "devices/a+/x", "devices/#/x", "$share/g", "$share//x", "$share/g+/x"])
    func badTopicFiltersAreRefused(_ text: String) {
        #expect(throws: MQTTError.self) { try MQTTTopicFilter(text) }
    }
}
