/// A read-only map from short texts (a code within its code system, a unit code) looked up
/// straight from a message's bytes, for the decoding hot path: no String is built for the lookup,
/// and the hash is FNV-1a over a few bytes where a `Dictionary<String, _>` runs SipHash.
///
/// A key is one part (a code) or two (system and code); two parts are kept apart by the unit
/// separator 0x1F, so texts holding that byte are left out when the table is made (they are
/// found the slow way, by String).
struct TextCodeTable<Value: Sendable>: Sendable {
    private let slots: [(key: [UInt8], value: Value)?]
    private let mask: Int

    private static var partSeparator: UInt8 { 0x1F }

    /// `entries` with distinct keys; a key is `[code]` or `[system, code]`.
    init(_ entries: [(key: [String], value: Value)]) {
        let usable = entries.filter { entry in entry.key.allSatisfy { !$0.utf8.contains(Self.partSeparator) } }
        // At most half full, so probe runs stay short.
        var count = 1
        while count < 2 * usable.count { count <<= 1 }
        var slots = [(key: [UInt8], value: Value)?](repeating: nil, count: count)
        for entry in usable {
            let key = Array(entry.key.joined(separator: "\u{1F}").utf8)
            var slot = key.withUnsafeBufferPointer { Self.hash($0, nil) } & (count - 1)
            while slots[slot] != nil { slot = (slot + 1) & (count - 1) }
            slots[slot] = (key, entry.value)
        }
        self.slots = slots
        mask = count - 1
    }

    /// The value for `code` (of `system`, for a table of two-part keys).
    func value(system: UnsafeBufferPointer<UInt8>? = nil, code: UnsafeBufferPointer<UInt8>) -> Value? {
        let length = (system.map { $0.count + 1 } ?? 0) + code.count
        var slot = Self.hash(system, code) & mask
        while let entry = slots[slot] {
            if entry.key.count == length, Self.matches(entry.key, system, code) { return entry.value }
            slot = (slot + 1) & mask
        }
        return nil
    }

    /// FNV-1a over the parts as a key holds them: the first, the separator, the second.
    private static func hash(_ first: UnsafeBufferPointer<UInt8>?, _ second: UnsafeBufferPointer<UInt8>?) -> Int {
        var hash: UInt64 = 0xCBF2_9CE4_8422_2325
        func mix(_ byte: UInt8) { hash = (hash ^ UInt64(byte)) &* 0x0000_0100_0000_01B3 }
        if let first { for byte in first { mix(byte) } }
        if let second {
            if first != nil { mix(partSeparator) }
            for byte in second { mix(byte) }
        }
        return Int(truncatingIfNeeded: hash ^ (hash >> 32))
    }

    private static func matches(_ key: [UInt8], _ system: UnsafeBufferPointer<UInt8>?, _ code: UnsafeBufferPointer<UInt8>) -> Bool {
        key.withUnsafeBufferPointer { key in
            var offset = 0
            if let system {
                guard holds(key, at: 0, system), key[system.count] == partSeparator else { return false }
                offset = system.count + 1
            }
            return holds(key, at: offset, code)
        }
    }

    private static func holds(_ key: UnsafeBufferPointer<UInt8>, at offset: Int, _ part: UnsafeBufferPointer<UInt8>) -> Bool {
        for index in 0..<part.count where key[offset + index] != part[index] { return false }
        return true
    }
}
