import Foundation
import TestSupport

#if canImport(Glibc)
import Glibc
#endif

/// A plain non-blocking TCP socket for senders that misbehave at the socket level (one that
/// stops reading, with a small receive buffer so that its unread data backs up quickly).
final class RawTCPClient {
    private let descriptor: Int32

    init(port: Int, receiveBuffer: Int32) throws {
        // The buffer is set before connecting, so that the window the server sees is small from the start.
        descriptor = try loopbackSocket(port: port) { descriptor in
            var size = receiveBuffer
            setsockopt(descriptor, SOL_SOCKET, SO_RCVBUF, &size, socklen_t(MemoryLayout<Int32>.size))
        }
        _ = fcntl(descriptor, F_SETFL, fcntl(descriptor, F_GETFL) | O_NONBLOCK)
    }

    /// Sends what the socket takes now from the front of `bytes`, removing it; false when it
    /// took nothing (its buffer is full) or there was nothing to send.
    func sendSome(_ bytes: inout [UInt8]) -> Bool {
        guard !bytes.isEmpty else { return false }
        let sent = bytes.withUnsafeBytes { send(descriptor, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
        guard sent > 0 else { return false }
        bytes.removeFirst(sent)
        return true
    }

    /// Everything that has arrived so far.
    func receiveAvailable() -> [UInt8] {
        var received: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65_536)
        while true {
            let count = chunk.withUnsafeMutableBytes { recv(descriptor, $0.baseAddress, $0.count, 0) }
            guard count > 0 else { return received }
            received += chunk[..<count]
        }
    }

    func close() {
        Glibc.close(descriptor)
    }
}
