import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// A blocking TCP socket connected to `port` on 127.0.0.1; `configure` runs on it before the
/// connection (socket options that must be set first, such as a small receive buffer).
public func loopbackSocket(port: Int, configure: (Int32) throws -> Void = { _ in }) throws -> Int32 {
    let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard descriptor >= 0 else { throw TestSupportError("socket: \(String(cString: strerror(errno)))") }
    do {
        try configure(descriptor)
    } catch {
        Glibc.close(descriptor)
        throw error
    }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_port = in_port_t(UInt16(port).bigEndian)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    let result = withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
    }
    guard result == 0 else {
        let reason = String(cString: strerror(errno))
        Glibc.close(descriptor)
        throw TestSupportError("connect to 127.0.0.1:\(port): \(reason)")
    }
    return descriptor
}
