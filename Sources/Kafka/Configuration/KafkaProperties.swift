/// What the client configurations share about librdkafka's string properties.
enum KafkaProperties {
    /// Property names whose values are secrets: never quoted in errors or descriptions.
    static func isSecret(_ property: String) -> Bool {
        let name = property.lowercased()
        return name.contains("password") || name.contains("secret") || name.hasSuffix(".pem")
            || name.hasPrefix("sasl.oauthbearer.config")
    }

    /// `name=value, …` in name order, secrets shown as `***`.
    static func describe(_ properties: [String: String]) -> String {
        properties.sorted { $0.key < $1.key }
            .map { "\($0.key)=\(isSecret($0.key) ? "***" : $0.value)" }
            .joined(separator: ", ")
    }

    /// Every client needs brokers to talk to.
    static func requireBootstrapServers(_ properties: [String: String], client: String) throws(KafkaError) {
        let servers = properties["bootstrap.servers"] ?? properties["metadata.broker.list"] ?? ""
        guard !servers.allSatisfy(\.isWhitespace) else {
            throw KafkaError(code: .invalidArgument, message: "'bootstrap.servers' is empty; give host:port[,host:port…]",
                             context: "configure \(client)")
        }
    }
}
