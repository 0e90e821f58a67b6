import Foundation
import TestSupport

#if canImport(Glibc)
import Glibc
#endif

/// A plain non-blocking TCP socket for senders that misbehave at the socket level (one that
/// stops reading, with a small receive buffer so that its unread data backs up quickly).
/// `@unchecked Sendable`: used by one thread at a time (a test hands it to a sending thread and
/// takes it back when that thread is done).
final class RawTCPClient: @unchecked Sendable {
    /// -1 once closed: a descriptor closed twice could close one the process has opened since
    /// (an event loop's socket, which then fails with EBADF).
    private var descriptor: Int32

    /// From `source`, another loopback address (127.0.0.2) for a second peer.
    init(port: Int, receiveBuffer: Int32 = 65_536, from source: String = "127.0.0.1") throws {
        // The buffer is set before connecting, so that the window the server sees is small from the start.
        descriptor = try loopbackSocket(port: port) { descriptor in
            var size = receiveBuffer
            setsockopt(descriptor, SOL_SOCKET, SO_RCVBUF, &size, socklen_t(MemoryLayout<Int32>.size))
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_addr.s_addr = inet_addr(source)
            let bound = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
            guard bound == 0 else { throw TestSupportError("bind to \(source): \(String(cString: strerror(errno)))") }
        }
        _ = fcntl(descriptor, F_SETFL, fcntl(descriptor, F_GETFL) | O_NONBLOCK)
    }

    /// Whether the server has closed the connection (and everything it sent before was read).
    var isClosedByServer: Bool {
        var byte: UInt8 = 0
        return recv(descriptor, &byte, 1, Int32(MSG_PEEK)) == 0
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

    /// Waits until the socket takes more bytes, at most `milliseconds`; whether it does.
    func waitUntilWritable(milliseconds: Int32) -> Bool {
        var entry = pollfd(fd: descriptor, events: Int16(POLLOUT), revents: 0)
        return poll(&entry, 1, milliseconds) > 0
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

    /// Closes the socket; later calls do nothing.
    func close() {
        guard descriptor >= 0 else { return }
        Glibc.close(descriptor)
        descriptor = -1
    }
}
