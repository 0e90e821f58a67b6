/// A read-only map from integer codes (numeric MDC codes and dimensions) for the decoding hot
/// path: open addressing with a multiplicative hash, so a lookup costs a multiply and a compare
/// or two where a `Dictionary<Int, _>` runs SipHash over the key.
struct IntCodeTable<Value: Sendable>: Sendable {
    private let slots: [(key: Int, value: Value)?]
    /// 64 minus log2 of the slot count: the hash keeps its top bits.
    private let shift: UInt64

    init(_ entries: [Int: Value]) {
        // At most half full, so probe runs stay short.
        var bits: UInt64 = 1
        while 1 << bits < 2 * entries.count { bits += 1 }
        shift = 64 - bits
        var slots = [(key: Int, value: Value)?](repeating: nil, count: 1 << bits)
        for (key, value) in entries {
            var slot = Self.slot(of: key, shift: shift)
            while slots[slot] != nil { slot = (slot + 1) & (slots.count - 1) }
            slots[slot] = (key, value)
        }
        self.slots = slots
    }

    subscript(key: Int) -> Value? {
        var slot = Self.slot(of: key, shift: shift)
        while let entry = slots[slot] {
            if entry.key == key { return entry.value }
            slot = (slot + 1) & (slots.count - 1)
        }
        return nil
    }

    private static func slot(of key: Int, shift: UInt64) -> Int {
        Int(truncatingIfNeeded: (UInt64(truncatingIfNeeded: key) &* 0x9E37_79B9_7F4A_7C15) >> shift)
    }
}
