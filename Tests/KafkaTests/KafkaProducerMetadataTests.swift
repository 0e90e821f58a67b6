import Kafka
import TestSupport
import Testing

@Suite(.timeLimit(.minutes(2))) struct KafkaProducerMetadataTests {
    @Test func theProducerReadsATopicsPartitionCountFromTheCluster() throws {
        for partitions in [1, 5] {
            let fixture = try KafkaFixture.start(partitions: partitions)
            defer { fixture.cluster.shutdown() }
            let producer = try fixture.producer()
            #expect(try producer.partitionCount(of: fixture.topic, timeout: .seconds(10)) == partitions)
        }
    }

    @Test func noReachableBrokerOrAShutDownProducerSayWhy() async throws {
        let unreachable = try KafkaProducer(
            configuration: KafkaProducerConfiguration(bootstrapServers: "127.0.0.1:\(freeTCPPort())"),
            logger: TestPostgres.logger)
        #expect {
            _ = try unreachable.partitionCount(of: "vitals.critical", timeout: .milliseconds(300))
        } throws: { error in
            let error = error as? KafkaError
            // `_TRANSPORT` or `_TIMED_OUT`, depending on whether the refused connection is seen in time.
            return error?.context == "read metadata of topic vitals.critical" && error?.code != KafkaErrorCode.noError
        }
        await unreachable.shutdown()
        #expect {
            _ = try unreachable.partitionCount(of: "vitals.critical", timeout: .seconds(1))
        } throws: { error in
            (error as? KafkaError)?.code == .state
        }
    }
}
