import CRdKafka
import Logging

/// What librdkafka's callbacks for one client handle need: the logger. It is the handle's
/// opaque, retained from creation until after `rd_kafka_destroy` returns.
final class ClientContext: Sendable {
    let logger: Logger
    /// Caps every librdkafka log line at this level (the mock cluster's handle logs at debug).
    let ceiling: Logger.Level?

    init(logger: Logger, ceiling: Logger.Level? = nil) {
        self.logger = logger
        self.ceiling = ceiling
    }

    static func from(_ handle: OpaquePointer?) -> ClientContext? {
        guard let handle, let opaque = rd_kafka_opaque(handle) else { return nil }
        return Unmanaged<ClientContext>.fromOpaque(opaque).takeUnretainedValue()
    }

    func log(_ level: Logger.Level, _ message: String, _ metadata: Logger.Metadata) {
        var level = level
        if let ceiling, ceiling < level { level = ceiling }
        logger.log(level: level, "\(message)", metadata: metadata)
    }

    // MARK: - Levels

    /// Facilities of connection churn: a broker that is down or restarting makes librdkafka
    /// repeat these on every reconnect attempt, and it recovers on its own.
    static let reconnectFacilities: Set<String> = ["FAIL", "BROKERFAIL", "CONNECT", "REQTMOUT", "DISCONNECT", "TERMINATE"]

    /// swift-log's level for a librdkafka (syslog) level.
    static func level(syslog: Int32, facility: String) -> Logger.Level {
        if reconnectFacilities.contains(facility) { return .debug }
        switch syslog {
        case ...2: return .critical
        case 3: return .error
        case 4: return .warning
        case 5: return .info
        case 6: return .debug
        default: return .trace
        }
    }

    /// The level for an error event. Transport errors are retried by librdkafka itself.
    static func level(error: KafkaErrorCode) -> Logger.Level {
        switch error {
        case .fatal: return .critical
        case KafkaErrorCode(RD_KAFKA_RESP_ERR__TRANSPORT), KafkaErrorCode(RD_KAFKA_RESP_ERR__RESOLVE): return .debug
        case KafkaErrorCode(RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN): return .warning
        default: return .error
        }
    }
}

/// librdkafka's log callback: into swift-log with the facility and the client's name.
let kafkaLogCallback: @convention(c) (OpaquePointer?, Int32, UnsafePointer<CChar>?, UnsafePointer<CChar>?) -> Void = { handle, level, facility, text in
    guard let context = ClientContext.from(handle) else { return }
    let facilityName = facility.map { String(cString: $0) } ?? ""
    let name = handle.map { String(cString: rd_kafka_name($0)) } ?? ""
    context.log(ClientContext.level(syslog: level, facility: facilityName),
                text.map { String(cString: $0) } ?? "",
                ["kafka.facility": "\(facilityName)", "kafka.client": "\(name)"])
}

/// librdkafka's error callback: client-level errors (brokers unreachable, fatal producer errors).
let kafkaErrorCallback: @convention(c) (OpaquePointer?, Int32, UnsafePointer<CChar>?, UnsafeMutableRawPointer?) -> Void = { handle, code, reason, _ in
    guard let handle, let context = ClientContext.from(handle) else { return }
    var error = KafkaErrorCode(rawValue: code)
    var message = reason.map { String(cString: $0) } ?? error.message
    var level = ClientContext.level(error: error)
    if error == .fatal {
        // The callback's code only says "fatal"; the client keeps the real one.
        var buffer = [CChar](repeating: 0, count: 512)
        error = KafkaErrorCode(rd_kafka_fatal_error(handle, &buffer, buffer.count))
        message = "fatal error, the client can no longer be used: " + text(of: buffer)
        level = .critical
    }
    context.log(level, message, ["kafka.error": "\(error.name)", "kafka.client": "\(String(cString: rd_kafka_name(handle)))"])
}
