/// Reads MSH-1 and MSH-2 so the rest of the message can be scanned with the sender's delimiters.
enum HeaderReader {
    static func readDelimiters(_ input: UnsafeBufferPointer<UInt8>) throws(HL7ParseError) -> (start: Int, HL7Delimiters) {
        let n = input.count
        var start = 0
        while start < n, isTerminator(input[start]) { start += 1 }
        guard start < n else { throw HL7ParseError(kind: .empty, byteOffset: start) }
        guard start + 3 <= n, input[start] == UInt8(ascii: "M"), input[start + 1] == UInt8(ascii: "S"),
              input[start + 2] == UInt8(ascii: "H")
        else { throw HL7ParseError(kind: .missingMSH, segmentIndex: 0, byteOffset: start) }

        func failure(_ kind: HL7ParseError.Kind, field: Int, at offset: Int) -> HL7ParseError {
            HL7ParseError(kind: kind, segmentIndex: 0, segmentID: "MSH", segmentSequence: 1, field: field, byteOffset: offset)
        }
        let separatorOffset = start + 3
        guard separatorOffset < n, !isTerminator(input[separatorOffset]) else {
            throw failure(.headerTooShort, field: 1, at: separatorOffset)
        }
        let separator = input[separatorOffset]
        guard HL7Delimiters.isAllowed(separator) else { throw failure(.invalidDelimiters, field: 1, at: separatorOffset) }

        let first = separatorOffset + 1
        var end = first
        while end < n, input[end] != separator, !isTerminator(input[end]) { end += 1 }
        let count = end - first
        if count < 4 {
            let reachedSegmentEnd = end == n || isTerminator(input[end])
            throw failure(reachedSegmentEnd ? .headerTooShort : .invalidDelimiters, field: 2, at: end)
        }
        guard count <= 5 else { throw failure(.invalidDelimiters, field: 2, at: first + 5) }
        for offset in first..<end {
            let character = input[offset]
            let isRepeat = character == separator || (first..<offset).contains { input[$0] == character }
            guard HL7Delimiters.isAllowed(character), !isRepeat else {
                throw failure(.invalidDelimiters, field: 2, at: offset)
            }
        }
        let delimiters = HL7Delimiters(
            field: separator, component: input[first], repetition: input[first + 1],
            escape: input[first + 2], subcomponent: input[first + 3],
            truncation: count == 5 ? input[first + 4] : nil
        )
        return (start, delimiters)
    }

    static func isTerminator(_ byte: UInt8) -> Bool { byte == 0x0D || byte == 0x0A }
}
