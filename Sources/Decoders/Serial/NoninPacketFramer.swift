/// Cuts a Nonin data format #2 stream into 25-frame packets (see NoninBinaryDecoder for the
/// layout). A packet starts at a valid frame with the SYNC bit; a frame is valid when its first
/// byte is 0x01, its status byte has bit 7 set and its checksum matches.
///
/// Resynchronisation: bytes that do not form a valid frame are skipped one at a time and reported
/// as `no_sync` garbage when the next valid frame is found; a frame with a bad checksum drops the
/// packet it belongs to (`bad_checksum`), and so does a packet cut short by the next SYNC
/// (`incomplete_packet`). Valid frames seen before the first SYNC (joining a stream mid-packet)
/// are skipped silently: they are good data whose packet start was missed, not garbage.
public struct NoninPacketFramer: SerialFramer {
    public static let frameLength = 5
    public static let framesPerPacket = 25
    public static let packetLength = frameLength * framesPerPacket
    /// Garbage is reported in chunks of at most this many bytes.
    static let maxGarbage = 1024

    private var pending: [UInt8] = []
    private var start = 0
    private var packet: [UInt8] = []
    private var garbage: [UInt8] = []

    public init() {
        packet.reserveCapacity(Self.packetLength)
    }

    public mutating func push(_ bytes: some Collection<UInt8>, _ emit: (FramedBytes) -> Void) {
        pending.append(contentsOf: bytes)
        while pending.count - start >= Self.frameLength {
            let frame = pending[start..<start + Self.frameLength]
            switch Self.check(frame) {
            case .valid(let sync):
                flushGarbage(emit)
                if sync {
                    if !packet.isEmpty {
                        emit(.discarded(packet, reason: "incomplete_packet",
                                        detail: "packet cut short after \(packet.count / Self.frameLength) of \(Self.framesPerPacket) frames by the next SYNC frame"))
                    }
                    packet.removeAll(keepingCapacity: true)
                    packet.append(contentsOf: frame)
                } else if !packet.isEmpty {
                    packet.append(contentsOf: frame)
                }
                start += Self.frameLength
                if packet.count == Self.packetLength {
                    emit(.frame(packet))
                    packet.removeAll(keepingCapacity: true)
                }
            case .badChecksum(let expected):
                flushGarbage(emit)
                let frameNumber = packet.count / Self.frameLength + 1
                emit(.discarded(packet + frame, reason: "bad_checksum",
                                detail: "frame \(frameNumber) has checksum \(frame.last ?? 0), expected \(expected); packet dropped"))
                packet.removeAll(keepingCapacity: true)
                start += Self.frameLength
            case .notAFrame:
                if !packet.isEmpty {
                    let frameNumber = packet.count / Self.frameLength + 1
                    emit(.discarded(packet, reason: "lost_sync",
                                    detail: "frame \(frameNumber) of a packet does not start with 0x01 and a status byte; resynchronising"))
                    packet.removeAll(keepingCapacity: true)
                }
                garbage.append(pending[start])
                start += 1
                if garbage.count >= Self.maxGarbage { flushGarbage(emit) }
            }
        }
        if start > 4096 || start == pending.count {
            pending.removeFirst(start)
            start = 0
        }
    }

    private mutating func flushGarbage(_ emit: (FramedBytes) -> Void) {
        guard !garbage.isEmpty else { return }
        emit(.discarded(garbage, reason: "no_sync", detail: "\(garbage.count) bytes that are not Nonin frames skipped"))
        garbage.removeAll(keepingCapacity: true)
    }

    enum FrameCheck: Equatable {
        case valid(sync: Bool)
        case badChecksum(expected: UInt8)
        case notAFrame
    }

    /// Whether five bytes are a format #2 frame.
    static func check(_ frame: ArraySlice<UInt8>) -> FrameCheck {
        let base = frame.startIndex
        let status = frame[base + 1]
        guard frame[base] == 0x01, status & 0x80 != 0 else { return .notAFrame }
        let sum = frame[base] &+ status &+ frame[base + 2] &+ frame[base + 3]
        guard sum == frame[base + 4] else { return .badChecksum(expected: sum) }
        return .valid(sync: status & 0x01 != 0)
    }
}
