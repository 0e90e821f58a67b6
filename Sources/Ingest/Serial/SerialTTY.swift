import Foundation
import VitalSigns

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Why a serial port could not be used: the path, the step and the system's error.
public struct SerialPortError: Error, Sendable, CustomStringConvertible {
    public var path: String
    public var step: String
    public var errno: Int32

    public var description: String { "\(path): \(step) failed: \(String(cString: strerror(errno))) (errno \(errno))" }
}

/// Opens a serial device and applies a profile's line settings with termios: raw mode (no echo,
/// no line editing, no character translation, no signals), speed, character size, parity, stop
/// bits, flow control and VMIN/VTIME. The path is opened anew each time, so a symlink such as
/// `/dev/serial/by-id/...` is followed to wherever it points now.
enum SerialTTY {
    /// The device a path names now, links followed; the path itself when it names none yet (a
    /// device not plugged in).
    static func devicePath(_ path: String) -> String {
        guard let resolved = realpath(path, nil) else { return path }
        defer { free(resolved) }
        return String(cString: resolved)
    }

    static func open(_ path: String, settings: SerialSettings) throws(SerialPortError) -> Int32 {
        // O_NONBLOCK only for the open itself: without it, opening a port whose modem lines say
        // "no carrier" can block. Reads are blocking (after poll), so VMIN/VTIME apply.
        let fd = Glibc.open(path, O_RDWR | O_NOCTTY | O_NONBLOCK | O_CLOEXEC)
        guard fd >= 0 else { throw SerialPortError(path: path, step: "open", errno: errno) }
        do throws(SerialPortError) {
            // One reader a port: two (another engine, a second path to the same adapter) would
            // split the byte stream between them and rebuild lines from pieces that do not
            // belong together. The lock keeps out other engines; TIOCEXCL other programs'
            // opens, unless they run as root.
            guard flock(fd, LOCK_EX | LOCK_NB) == 0 else {
                throw SerialPortError(path: path, step: "lock (another reader has the port)", errno: errno)
            }
            _ = ioctl(fd, UInt(TIOCEXCL))
            try configure(fd, path: path, settings: settings)
            let flags = fcntl(fd, F_GETFL)
            guard flags >= 0, fcntl(fd, F_SETFL, flags & ~O_NONBLOCK) == 0 else {
                throw SerialPortError(path: path, step: "clear O_NONBLOCK", errno: errno)
            }
            return fd
        } catch {
            close(fd)
            throw error
        }
    }

    static func configure(_ fd: Int32, path: String, settings: SerialSettings) throws(SerialPortError) {
        guard isatty(fd) == 1 else { throw SerialPortError(path: path, step: "isatty (not a terminal device)", errno: ENOTTY) }
        var options = termios()
        guard tcgetattr(fd, &options) == 0 else { throw SerialPortError(path: path, step: "tcgetattr", errno: errno) }
        cfmakeraw(&options)
        options.c_cflag &= ~tcflag_t(CSIZE | PARENB | PARODD | CSTOPB)
        options.c_cflag &= ~crtscts
        options.c_cflag |= tcflag_t(CLOCAL | CREAD)
        options.c_cflag |= characterSize(settings.dataBits)
        switch settings.parity {
        case .none: break
        case .even: options.c_cflag |= tcflag_t(PARENB)
        case .odd: options.c_cflag |= tcflag_t(PARENB | PARODD)
        }
        if settings.parity != .none { options.c_iflag |= tcflag_t(INPCK) }
        if settings.stopBits == 2 { options.c_cflag |= tcflag_t(CSTOPB) }
        options.c_iflag &= ~tcflag_t(IXON | IXOFF | IXANY)
        switch settings.flowControl {
        case .none: break
        case .rtsCts: options.c_cflag |= crtscts
        case .xonXoff: options.c_iflag |= tcflag_t(IXON | IXOFF)
        }
        withUnsafeMutableBytes(of: &options.c_cc) { characters in
            characters[Int(VMIN)] = UInt8(clamping: settings.vmin)
            characters[Int(VTIME)] = UInt8(clamping: settings.vtime)
        }
        let speed = speedConstant(settings.baud)
        guard cfsetispeed(&options, speed) == 0, cfsetospeed(&options, speed) == 0 else {
            throw SerialPortError(path: path, step: "cfsetspeed \(settings.baud)", errno: errno)
        }
        guard tcsetattr(fd, TCSANOW, &options) == 0 else { throw SerialPortError(path: path, step: "tcsetattr", errno: errno) }
    }

    /// Drops what the device sent before the port was opened (queued in the tty, the UART or a
    /// USB adapter while the engine was stopped or backing off): read now, it would be stamped
    /// with the time of reading and judged as the patient's current values. Returns the bytes dropped.
    static func discardPendingInput(_ fd: Int32) -> Int {
        var pending: Int32 = 0
        if ioctl(fd, UInt(FIONREAD), &pending) != 0 { pending = 0 }
        tcflush(fd, TCIFLUSH)
        return Int(pending)
    }

    static let crtscts = tcflag_t(truncatingIfNeeded: CRTSCTS)

    static func characterSize(_ bits: Int) -> tcflag_t {
        switch bits {
        case 5: tcflag_t(CS5)
        case 6: tcflag_t(CS6)
        case 7: tcflag_t(CS7)
        default: tcflag_t(CS8)
        }
    }

    /// The termios constant of a speed the profile loader accepted (`SerialSettings.supportedBaudRates`).
    static func speedConstant(_ baud: Int) -> speed_t {
        switch baud {
        case 1200: speed_t(B1200)
        case 2400: speed_t(B2400)
        case 4800: speed_t(B4800)
        case 19200: speed_t(B19200)
        case 38400: speed_t(B38400)
        case 57600: speed_t(B57600)
        case 115200: speed_t(B115200)
        case 230400: speed_t(B230400)
        default: speed_t(B9600)
        }
    }
}
