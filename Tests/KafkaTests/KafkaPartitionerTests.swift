import Kafka
import Testing

@Suite struct KafkaPartitionerTests {
    /// Expected values from Apache Kafka's own tests of `Utils.murmur2` (UtilsTest.testMurmur2)
    /// and from librdkafka's murmur2 unit test, which both check against the Java client.
    @Test(arguments: [
        ("21", -973_932_308),
        ("foobar", -790_332_482),
        ("a-little-bit-long-string", -985_981_536),
        ("a-little-bit-longer-string", -1_486_304_829),
        ("lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8", -58_897_971),
        ("abc", 479_470_107),
        ("1", -1_993_445_489),
        ("12", 126_087_238),
        ("123", -267_702_483),
        ("1234", -1_614_185_708),
        ("12345", -1_188_365_604),
    ])
    func murmur2MatchesJava(key: String, expected: Int32) {
        #expect(KafkaPartitioner.murmur2(Array(key.utf8)) == expected)
    }

    @Test func partitionIsThePositiveHashModuloTheCount() {
        // murmur2("21") is negative: the sign bit is masked off, not the absolute value taken.
        let masked = UInt32(bitPattern: -973_932_308) & 0x7fff_ffff
        #expect(KafkaPartitioner.partition(forKey: "21", partitionCount: 6) == Int32(masked % 6))
        #expect(KafkaPartitioner.partition(forKey: "21", partitionCount: 1) == 0)
        #expect(Int(masked % 6) != Int(abs(-973_932_308) % 6))
    }
}
