/// A subscription topic filter (`devices/+/vitals`, `site/#`), possibly shared between
/// several daemons (`$share/GROUP/devices/+/vitals`: the broker gives each message to one of
/// the group's members). Received topics are matched against the filter without the share
/// prefix.
public struct MQTTTopicFilter: Sendable, Hashable, CustomStringConvertible {
    /// The filter as subscribed, `$share/GROUP/` included.
    public let subscription: String
    /// The shared-subscription group, if any.
    public let shareGroup: String?
    /// The filter topics are matched against.
    public let filter: String
    private let levels: [Substring]

    public init(_ text: String) throws(MQTTError) {
        func bad(_ why: String) -> MQTTError { MQTTError(.configuration, "topic filter '\(text)': \(why)") }
        subscription = text
        var rest = Substring(text)
        if rest.hasPrefix("$share/") {
            let parts = rest.split(separator: "/", maxSplits: 2, omittingEmptySubsequences: false)
            guard parts.count == 3, !parts[1].isEmpty, !parts[2].isEmpty else { throw bad("expected $share/GROUP/filter") }
            guard !parts[1].contains(where: { $0 == "+" || $0 == "#" }) else { throw bad("the share group may not contain + or #") }
            shareGroup = String(parts[1])
            rest = parts[2]
        } else {
            shareGroup = nil
        }
        guard !rest.isEmpty else { throw bad("empty") }
        filter = String(rest)
        levels = rest.split(separator: "/", omittingEmptySubsequences: false)
        for (index, level) in levels.enumerated() {
            if level.contains("#") && (level != "#" || index != levels.count - 1) { throw bad("'#' must be a whole level and the last one") }
            if level.contains("+") && level != "+" { throw bad("'+' must be a whole level") }
        }
    }

    /// The levels matched by `+` (in order) when `topic` matches, else nil. A `#` adds the rest
    /// of the topic as one last element.
    /// The device id among a match's captures: the level the filter's first `+` matched, by this
    /// engine's convention. nil when the filter has no `+` (a `#` matches the rest of a topic,
    /// which names no device).
    public func device(from captures: [Substring]) -> String? {
        levels.contains("+") ? captures.first.map(String.init) : nil
    }

    public func match(_ topic: String) -> [Substring]? {
        let topicLevels = topic.split(separator: "/", omittingEmptySubsequences: false)
        // Wildcards at the first level do not match topics starting with `$` (MQTT 4.7.2).
        if topic.hasPrefix("$"), let first = levels.first, first == "+" || first == "#" { return nil }
        var captures: [Substring] = []
        for (index, level) in levels.enumerated() {
            if level == "#" {
                if index < topicLevels.count { captures.append(topic.split(separator: "/", maxSplits: index, omittingEmptySubsequences: false).last ?? "") }
                return captures
            }
            guard index < topicLevels.count else { return nil }
            if level == "+" {
                captures.append(topicLevels[index])
            } else if level != topicLevels[index] {
                return nil
            }
        }
        return topicLevels.count == levels.count ? captures : nil
    }

    public var description: String { subscription }
}
