/// A JSON object's members in the order they were sent, each key once.
///
/// Payload objects have a handful of members, and comparing a few short keys is cheaper than
/// hashing them (hashing was a quarter of decoding a gateway payload into dictionaries). An
/// object that outgrows `linearLimit` members also keeps positions by key, so a huge object
/// stays linear to build and constant to look up.
struct JSONObject: Sendable, Equatable, ExpressibleByDictionaryLiteral {
    struct Member: Sendable, Equatable {
        var key: String
        var value: JSONValue
    }

    static let linearLimit = 16

    private(set) var members: [Member] = []
    private var positions: [String: Int]?

    init() {}

    init(dictionaryLiteral elements: (String, JSONValue)...) {
        for (key, value) in elements {
            let added = append(key, value)
            assert(added, "duplicate key '\(key)' in a JSONObject literal")
        }
    }

    /// Adds a member; false (and no change) when the object already has the key.
    mutating func append(_ key: String, _ value: JSONValue) -> Bool {
        guard position(of: key) == nil else { return false }
        // Room for a typical payload object at once, rather than growing 1, 2, 4.
        if members.isEmpty { members.reserveCapacity(4) }
        if positions == nil && members.count == Self.linearLimit {
            positions = Dictionary(uniqueKeysWithValues: members.indices.map { (members[$0].key, $0) })
        }
        positions?[key] = members.count
        members.append(Member(key: key, value: value))
        return true
    }

    subscript(key: String) -> JSONValue? {
        position(of: key).map { members[$0].value }
    }

    var keys: LazyMapSequence<[Member], String> { members.lazy.map(\.key) }
    var count: Int { members.count }
    var isEmpty: Bool { members.isEmpty }

    private func position(of key: String) -> Int? {
        if let positions { return positions[key] }
        return members.firstIndex { $0.key == key }
    }

    /// The same members, in any order (JSON objects are unordered).
    static func == (lhs: JSONObject, rhs: JSONObject) -> Bool {
        lhs.count == rhs.count && lhs.members.allSatisfy { rhs[$0.key] == $0.value }
    }
}
