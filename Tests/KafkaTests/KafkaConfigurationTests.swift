import Kafka
import TestSupport
import Testing

@Suite struct KafkaConfigurationTests {
    static func producer(_ properties: [String: String], bootstrap: String = "127.0.0.1:\(freeTCPPort())") throws(KafkaError) -> KafkaProducer {
        try KafkaProducer(configuration: KafkaProducerConfiguration(bootstrapServers: bootstrap, properties: properties),
                          logger: TestPostgres.logger)
    }

    static func error(_ properties: [String: String], bootstrap: String = "127.0.0.1:\(freeTCPPort())") -> KafkaError? {
        do {
            _ = try producer(properties, bootstrap: bootstrap)
            return nil
        } catch {
            return error
        }
    }

    @Test func anUnknownPropertyIsNamed() throws {
        let error = try #require(Self.error(["no.such.property": "1"]))
        #expect(error.code == .invalidArgument)
        #expect(error.context == "set producer configuration property 'no.such.property'")
        #expect(error.message.contains("No such configuration property"))
    }

    @Test func anInvalidValueIsNamed() throws {
        let error = try #require(Self.error(["linger.ms": "soon"]))
        #expect(error.context == "set producer configuration property 'linger.ms'")
        #expect(error.message.hasPrefix("Invalid value"))
    }

    @Test(arguments: [
        ("enable.idempotence", "false"), ("acks", "1"), ("acks", "0"), ("request.required.acks", "1"),
    ])
    func contradictingTheDeliveryGuaranteesIsRefused(property: String, value: String) throws {
        let error = try #require(Self.error([property: value]))
        #expect(error.code == .invalidArgument)
        #expect(error.context == "configure producer")
        #expect(error.message.contains("'\(property)=\(value)' contradicts"))
    }

    @Test func agreeingWithTheGuaranteesIsAccepted() async throws {
        let producer = try Self.producer(["enable.idempotence": "true", "acks": "-1", "client.id": "vitals-forwarder"])
        await producer.shutdown()
    }

    @Test func librdkafkasOwnChecksAtCreationCarryContext() throws {
        // Idempotence allows at most 5 requests in flight per connection.
        let error = try #require(Self.error(["max.in.flight": "10"]))
        #expect(error.context == "create producer")
        #expect(error.message.contains("max.in.flight"))
    }

    @Test func emptyBootstrapServersAreRefused() throws {
        let error = try #require(Self.error([:], bootstrap: " "))
        #expect(error.message.contains("bootstrap.servers"))
    }

    @Test func theConsumerNamesBadPropertiesToo() throws {
        #expect {
            _ = try KafkaConsumer(configuration: KafkaConsumerConfiguration(bootstrapServers: "127.0.0.1:\(freeTCPPort())",
                                                                           properties: ["auto.offset.reset": "sometimes"]),
                                  logger: TestPostgres.logger)
        } throws: { error in
            (error as? KafkaError)?.context == "set consumer configuration property 'auto.offset.reset'"
        }
    }

    @Test func subscribingWithoutAGroupIsExplained() throws {
        let consumer = try KafkaConsumer(configuration: KafkaConsumerConfiguration(bootstrapServers: "127.0.0.1:\(freeTCPPort())"),
                                         logger: TestPostgres.logger)
        defer { consumer.close() }
        #expect {
            try consumer.subscribe(topics: ["device-events"])
        } throws: { error in
            (error as? KafkaError)?.message.contains("consumer group") == true
        }
    }
}

@Suite struct KafkaConfigurationSecretsTests {
    @Test func descriptionsMaskSecrets() {
        let configuration = KafkaProducerConfiguration(bootstrapServers: "kafka-1:9093", properties: [
            "security.protocol": "SASL_SSL", "sasl.mechanisms": "SCRAM-SHA-512",
            "sasl.username": "vitals", "sasl.password": "hunter2", "ssl.key.password": "s3cret",
        ])
        #expect(!configuration.description.contains("hunter2"))
        #expect(!configuration.description.contains("s3cret"))
        #expect(configuration.description.contains("sasl.password=***"))
        #expect(configuration.description.contains("sasl.username=vitals"))
    }
}
