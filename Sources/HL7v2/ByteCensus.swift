/// Counts taken in one branch-free (vectorisable) pass before scanning.
struct ByteCensus {
    /// Every index entry follows a field separator, except each segment's ID start and end sentinel.
    let maxFieldEntries: Int
    /// Every segment but the last ends at a CR or LF.
    let maxSegments: Int
    /// Whether any byte needs checking against the charset.
    let hasHighBytes: Bool

    init(_ input: UnsafeBufferPointer<UInt8>, fieldSeparator: UInt8) {
        var separators = 0
        var terminators = 0
        var highBytes = false
        var i = 0
        if let base = input.baseAddress {
            // 16 bytes at a time; UInt8 lane counters are folded into the totals before they can wrap.
            let raw = UnsafeRawPointer(base)
            let separator = SIMD16<UInt8>(repeating: fieldSeparator)
            let cr = SIMD16<UInt8>(repeating: 0x0D)
            let lf = SIMD16<UInt8>(repeating: 0x0A)
            let zero = SIMD16<UInt8>()
            let one = SIMD16<UInt8>(repeating: 1)
            var allBits = zero
            while i + 16 <= input.count {
                var separatorLanes = zero
                var terminatorLanes = zero
                var chunks = 0
                while chunks < 255, i + 16 <= input.count {
                    let chunk = raw.loadUnaligned(fromByteOffset: i, as: SIMD16<UInt8>.self)
                    separatorLanes &+= zero.replacing(with: one, where: chunk .== separator)
                    terminatorLanes &+= zero.replacing(with: one, where: (chunk .== cr) .| (chunk .== lf))
                    allBits |= chunk
                    i += 16
                    chunks += 1
                }
                separators += Int(SIMD16<UInt16>(truncatingIfNeeded: separatorLanes).wrappedSum())
                terminators += Int(SIMD16<UInt16>(truncatingIfNeeded: terminatorLanes).wrappedSum())
            }
            highBytes = any(allBits .>= 0x80)
        }
        for byte in input[i...] {
            separators += byte == fieldSeparator ? 1 : 0
            terminators += byte == 0x0D || byte == 0x0A ? 1 : 0
            highBytes = highBytes || byte >= 0x80
        }
        maxSegments = terminators + 1
        maxFieldEntries = separators + 2 * maxSegments
        hasHighBytes = highBytes
    }
}
