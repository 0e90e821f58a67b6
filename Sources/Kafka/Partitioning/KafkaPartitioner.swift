/// The partition Kafka's Java default partitioner picks for a keyed record:
/// `toPositive(murmur2(keyBytes)) % numPartitions`. librdkafka's `murmur2_random` partitioner
/// (the producer's default here) agrees with it, so a device's events land on the partition
/// Java services expect.
public enum KafkaPartitioner {
    /// The partition for `key` in a topic of `partitionCount` partitions (> 0).
    public static func partition(forKey key: some Collection<UInt8>, partitionCount: Int) -> Int32 {
        precondition(partitionCount > 0, "a topic has at least one partition")
        let positive = UInt32(bitPattern: murmur2(key)) & 0x7fff_ffff
        return Int32(positive % UInt32(partitionCount))
    }

    public static func partition(forKey key: String, partitionCount: Int) -> Int32 {
        partition(forKey: Array(key.utf8), partitionCount: partitionCount)
    }

    /// MurmurHash2 (32-bit) with Kafka's seed, as `org.apache.kafka.common.utils.Utils.murmur2`
    /// computes it: little-endian 4-byte blocks, then the 1–3 byte tail, then the final mix.
    public static func murmur2(_ data: some Collection<UInt8>) -> Int32 {
        let bytes = Array(data)
        let m: UInt32 = 0x5bd1_e995
        let r: UInt32 = 24
        var h: UInt32 = 0x9747_b28c ^ UInt32(truncatingIfNeeded: bytes.count)

        let blockEnd = bytes.count & ~3
        var index = 0
        while index < blockEnd {
            var k = UInt32(bytes[index]) | UInt32(bytes[index + 1]) << 8
                | UInt32(bytes[index + 2]) << 16 | UInt32(bytes[index + 3]) << 24
            k &*= m
            k ^= k >> r
            k &*= m
            h &*= m
            h ^= k
            index += 4
        }

        let tail = bytes.count & 3
        if tail == 3 { h ^= UInt32(bytes[blockEnd + 2]) << 16 }
        if tail >= 2 { h ^= UInt32(bytes[blockEnd + 1]) << 8 }
        if tail >= 1 {
            h ^= UInt32(bytes[blockEnd])
            h &*= m
        }

        h ^= h >> 13
        h &*= m
        h ^= h >> 15
        return Int32(bitPattern: h)
    }
}
