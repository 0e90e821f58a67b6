/// What a framer cut from a byte stream: a whole frame for the decoder, or bytes it had to throw
/// away (with a short reason for counting and a detail for the engineer).
public enum FramedBytes: Sendable, Equatable {
    case frame([UInt8])
    case discarded([UInt8], reason: String, detail: String)
}

/// Cuts a serial byte stream into frames. Serial lines have no packet boundaries: reads split
/// and join frames arbitrarily, a device can be plugged in mid-frame and line noise corrupts
/// bytes, so a framer keeps what it has not cut yet between pushes and always finds its way back
/// to the next good frame after garbage.
public protocol SerialFramer: Sendable {
    /// Feeds `bytes`; `emit` is called for every frame completed and every chunk discarded.
    mutating func push(_ bytes: some Collection<UInt8>, _ emit: (FramedBytes) -> Void)
}

/// Text lines ended by CR, LF or CR LF (empty lines are skipped). A line longer than
/// `maxLength` is discarded up to its end, so a device spewing bytes without line ends cannot
/// grow the buffer; the first `maxLength` bytes are kept for the record.
public struct LineFramer: SerialFramer {
    public let maxLength: Int
    private var line: [UInt8] = []
    private var overflowBytes = 0

    public init(maxLength: Int) {
        self.maxLength = max(1, maxLength)
        line.reserveCapacity(self.maxLength)
    }

    public mutating func push(_ bytes: some Collection<UInt8>, _ emit: (FramedBytes) -> Void) {
        for byte in bytes {
            if byte == 0x0A || byte == 0x0D {
                finishLine(emit)
            } else if line.count < maxLength {
                line.append(byte)
            } else {
                overflowBytes += 1
            }
        }
    }

    private mutating func finishLine(_ emit: (FramedBytes) -> Void) {
        if overflowBytes > 0 {
            emit(.discarded(line, reason: "line_too_long", detail: "a line of \(line.count + overflowBytes) bytes exceeds the limit of \(maxLength) bytes"))
        } else if !line.isEmpty {
            emit(.frame(line))
        }
        line.removeAll(keepingCapacity: true)
        overflowBytes = 0
    }
}
