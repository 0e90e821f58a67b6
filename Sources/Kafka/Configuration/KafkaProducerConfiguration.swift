/// How to create a `KafkaProducer`: librdkafka properties passed through as given
/// (`bootstrap.servers`, `security.protocol`, `sasl.*`, `ssl.*`, `linger.ms`, …; see librdkafka's
/// CONFIGURATION.md), plus the guarantees this producer always keeps:
///
/// - `enable.idempotence=true`: retries never duplicate or reorder records of a partition;
/// - `acks=all`: a delivery is reported only when all in-sync replicas have the record;
/// - `partitioner=murmur2_random` unless set: keys land where Java clients would put them
///   (`KafkaPartitioner`).
///
/// A configuration that contradicts a guarantee is refused with a clear error, not overridden.
public struct KafkaProducerConfiguration: Sendable, CustomStringConvertible {
    public var properties: [String: String]
    /// Name of the thread that serves delivery reports (Linux keeps the first 15 characters).
    public var pollThreadName: String

    public init(bootstrapServers: String, properties: [String: String] = [:], pollThreadName: String = "kafka-producer") {
        var properties = properties
        properties["bootstrap.servers"] = bootstrapServers
        self.properties = properties
        self.pollThreadName = pollThreadName
    }

    public subscript(property: String) -> String? {
        get { properties[property] }
        set { properties[property] = newValue }
    }

    /// The properties, with secret values (`sasl.password`, `ssl.key.password`, …) masked.
    public var description: String { KafkaProperties.describe(properties) }

    static let defaults: [String: String] = [
        "partitioner": "murmur2_random",
        // Idle connections closed by brokers are reconnected on demand; no need to log each.
        "log.connection.close": "false",
    ]

    /// The properties handed to librdkafka, in a stable order, after checking the guarantees.
    func librdkafkaProperties() throws(KafkaError) -> [(String, String)] {
        try KafkaProperties.requireBootstrapServers(properties, client: "producer")
        try require(["enable.idempotence"], oneOf: ["true", "1"], shownAs: "true")
        try require(["acks", "request.required.acks"], oneOf: ["all", "-1"], shownAs: "all")
        var resolved = Self.defaults.merging(properties) { _, given in given }
        resolved["enable.idempotence"] = "true"
        if resolved["request.required.acks"] == nil { resolved["acks"] = "all" }
        return resolved.sorted { $0.key < $1.key }
    }

    private func require(_ names: [String], oneOf accepted: Set<String>, shownAs expected: String) throws(KafkaError) {
        for name in names {
            guard let value = properties[name] else { continue }
            guard accepted.contains(value.lowercased()) else {
                throw KafkaError(
                    code: .invalidArgument,
                    message: "'\(name)=\(value)' contradicts the producer's delivery guarantee '\(name)=\(expected)'; remove it or set it to \(expected)",
                    context: "configure producer")
            }
        }
    }
}
