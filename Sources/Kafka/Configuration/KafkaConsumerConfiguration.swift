/// How to create a `KafkaConsumer`: librdkafka properties passed through as given, with
/// `auto.offset.reset=earliest` (read from the beginning when there is no committed offset)
/// unless set. A `groupID` is needed to `subscribe`; manual `assign` works without one.
public struct KafkaConsumerConfiguration: Sendable, CustomStringConvertible {
    public var properties: [String: String]

    public init(bootstrapServers: String, groupID: String? = nil, properties: [String: String] = [:]) {
        var properties = properties
        properties["bootstrap.servers"] = bootstrapServers
        if let groupID { properties["group.id"] = groupID }
        self.properties = properties
    }

    public subscript(property: String) -> String? {
        get { properties[property] }
        set { properties[property] = newValue }
    }

    public var groupID: String? { properties["group.id"] }

    /// The properties, with secret values masked.
    public var description: String { KafkaProperties.describe(properties) }

    static let defaults: [String: String] = [
        "auto.offset.reset": "earliest",
        "enable.partition.eof": "false",
        "log.connection.close": "false",
    ]

    func librdkafkaProperties() throws(KafkaError) -> [(String, String)] {
        try KafkaProperties.requireBootstrapServers(properties, client: "consumer")
        var resolved = Self.defaults.merging(properties) { _, given in given }
        if groupID == nil {
            // librdkafka assigns partitions through its group machinery even without a group:
            // give it a private group that never commits.
            resolved["group.id"] = "nilecare-assign-\(UInt64.random(in: 0...UInt64.max))"
            resolved["enable.auto.commit"] = "false"
        }
        return resolved.sorted { $0.key < $1.key }
    }
}
