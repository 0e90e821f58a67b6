import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// A pseudo-terminal pair standing in for a serial cable: the engine opens `slavePath` as it
/// would `/dev/ttyUSB0`, the simulated device writes to the master. Closing the master is
/// unplugging the cable: the slave's reader sees a hang-up.
public final class PseudoTerminal: @unchecked Sendable {
    // @unchecked: `master` is written only by `close()`; callers do not write after closing.
    public private(set) var master: Int32
    public let slavePath: String
    /// Kept open so the slave side exists until the engine opens it (a pty without any open
    /// slave descriptor reports hang-up to the master's writes on some kernels).
    private var slave: Int32

    public init() throws {
        var master: Int32 = -1
        var slave: Int32 = -1
        guard openpty(&master, &slave, nil, nil, nil) == 0 else {
            throw SimulatorError("openpty failed: \(String(cString: strerror(errno)))")
        }
        guard let name = ttyname(slave) else {
            Glibc.close(master)
            Glibc.close(slave)
            throw SimulatorError("ttyname of the pty slave failed")
        }
        // Raw on both ends, so the line discipline passes every byte (CR, XON, 0x7F) untouched.
        var options = termios()
        tcgetattr(slave, &options)
        cfmakeraw(&options)
        tcsetattr(slave, TCSANOW, &options)
        self.master = master
        self.slave = slave
        self.slavePath = String(cString: name)
    }

    deinit { close() }

    /// Writes all of `bytes` to the master; false when the pty is closed.
    @discardableResult
    public func write(_ bytes: [UInt8]) -> Bool {
        var offset = 0
        while offset < bytes.count {
            let written = bytes[offset...].withUnsafeBytes { Glibc.write(master, $0.baseAddress, $0.count) }
            if written < 0 {
                if errno == EINTR || errno == EAGAIN { continue }
                return false
            }
            offset += written
        }
        return true
    }

    /// Closes the simulator's ends (unplugs the cable).
    public func close() {
        if slave >= 0 { Glibc.close(slave); slave = -1 }
        if master >= 0 { Glibc.close(master); master = -1 }
    }

    /// Points `link` (replacing what is there) at the slave, like a udev `by-id` link.
    public func link(_ link: String) throws {
        let temporary = link + ".tmp-\(getpid())"
        unlink(temporary)
        guard symlink(slavePath, temporary) == 0, rename(temporary, link) == 0 else {
            throw SimulatorError("cannot link \(link) to \(slavePath): \(String(cString: strerror(errno)))")
        }
    }
}

public struct SimulatorError: Error, CustomStringConvertible, Sendable {
    public var description: String
    public init(_ description: String) { self.description = description }
}
