import Kafka
import TestSupport
import Testing

@Suite struct KafkaMockClusterTests {
    @Test func itListensOnOneLoopbackPortPerBroker() throws {
        let cluster = try KafkaMockCluster(brokers: 3, logger: TestPostgres.logger)
        defer { cluster.shutdown() }
        let servers = cluster.bootstrapServers.split(separator: ",")
        #expect(servers.count == 3)
        #expect(servers.allSatisfy { $0.hasPrefix("127.0.0.1:") })
    }

    @Test func badRequestsAreRefusedWithContext() throws {
        let cluster = try KafkaMockCluster(brokers: 3, logger: TestPostgres.logger)
        #expect {
            try cluster.createTopic("t", partitions: 3, replicationFactor: 4)
        } throws: { error in
            (error as? KafkaError)?.context == "create mock topic 't' (3 partitions, replication factor 4)"
        }
        #expect {
            try cluster.setBrokerDown(9)
        } throws: { error in
            (error as? KafkaError)?.context == "take mock broker 9 down"
        }
        cluster.shutdown()
        cluster.shutdown()
        #expect {
            try cluster.createTopic("t", partitions: 1, replicationFactor: 1)
        } throws: { error in
            (error as? KafkaError)?.message == "mock cluster is shut down"
        }
        #expect(throws: KafkaError.self) { try KafkaMockCluster(brokers: 0, logger: TestPostgres.logger) }
    }
}
