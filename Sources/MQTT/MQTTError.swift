import CMosquitto

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// A failure of the MQTT client: what went wrong and, when libmosquitto said so, its own words.
public struct MQTTError: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Kind: String, Sendable {
        /// Options that cannot work (bad URL, unreadable certificate file, bad topic filter).
        case configuration
        /// The broker cannot be reached or the connection broke.
        case connection
        /// The broker refused the connection (CONNACK with an error code).
        case refused
        /// libmosquitto refused a call (out of memory, payload too large, …).
        case client
    }

    public var kind: Kind
    public var message: String

    public init(_ kind: Kind, _ message: String) {
        self.kind = kind
        self.message = message
    }

    /// `what` and libmosquitto's explanation of `code` (a `MOSQ_ERR_*`).
    public init(_ kind: Kind, _ what: String, code: Int32) {
        // For MOSQ_ERR_ERRNO libmosquitto's text is errno's own.
        let reason: String
        if code == Int32(MOSQ_ERR_ERRNO.rawValue) {
            reason = String(cString: strerror(errno))
        } else {
            reason = String(cString: mosquitto_strerror(code))
        }
        self.init(kind, "\(what): \(reason)")
    }

    public var description: String { message }
}
