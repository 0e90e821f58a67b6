import MQTT

/// What this daemon subscribes to, kept by the broker as a retained message on a topic of the
/// daemon's own, beside the persistent session it describes. A filter taken out of the
/// configuration stays in that session (MQTT has no way to list a session's subscriptions), and
/// the broker would go on queueing and delivering its messages, each rejected as an unexpected
/// topic. At connect the daemon reads the record its previous run left, unsubscribes what is no
/// longer configured, and records what is.
struct SubscriptionRecord: Sendable {
    let topic: String
    let filter: MQTTTopicFilter
    /// The subscriptions made now, as subscribed (`$share/…` included).
    let current: Set<String>

    init(clientID: String, subscriptions: [MQTTTopicFilter]) throws(MQTTError) {
        topic = "nilecare/daemons/\(clientID)/subscriptions"
        filter = try MQTTTopicFilter(topic)
        current = Set(subscriptions.map(\.subscription) + [filter.subscription])
    }

    /// The record of `current`: one subscription a line.
    var payload: [UInt8] { Array(current.sorted().joined(separator: "\n").utf8) }

    /// The subscriptions a previous run recorded that this one does not make.
    func removed(since recorded: [UInt8]) -> [String] {
        String(decoding: recorded, as: UTF8.self).split(separator: "\n").map(String.init)
            .filter { !current.contains($0) }.sorted()
    }
}
