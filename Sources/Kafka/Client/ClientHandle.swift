import CRdKafka
import Logging

/// Creates librdkafka client handles (`rd_kafka_t`) from string properties, with the log and
/// error callbacks wired to a `ClientContext`.
enum ClientHandle {
    /// A new handle. `configure` may set further callbacks on the configuration before the
    /// handle takes it over. The context is retained by the handle: release it with `destroy`.
    static func make(
        _ type: rd_kafka_type_t,
        properties: [(String, String)],
        context: ClientContext,
        what: String,
        configure: (OpaquePointer) -> Void = { _ in }
    ) throws(KafkaError) -> OpaquePointer {
        guard let configuration = rd_kafka_conf_new() else {
            throw KafkaError(code: .invalidArgument, message: "out of memory", context: "create \(what) configuration")
        }
        var errorText = [CChar](repeating: 0, count: 512)
        for (name, value) in properties {
            let result = rd_kafka_conf_set(configuration, name, value, &errorText, errorText.count)
            guard result == RD_KAFKA_CONF_OK else {
                rd_kafka_conf_destroy(configuration)
                let reason = result == RD_KAFKA_CONF_UNKNOWN ? "unknown configuration property" : "invalid value"
                let detail = KafkaProperties.isSecret(name) ? reason : text(of: errorText)
                throw KafkaError(code: .invalidArgument, message: detail,
                                 context: "set \(what) configuration property '\(name)'")
            }
        }
        let opaque = Unmanaged.passRetained(context).toOpaque()
        rd_kafka_conf_set_opaque(configuration, opaque)
        rd_kafka_conf_set_log_cb(configuration, kafkaLogCallback)
        rd_kafka_conf_set_error_cb(configuration, kafkaErrorCallback)
        configure(configuration)

        guard let handle = rd_kafka_new(type, configuration, &errorText, errorText.count) else {
            // On failure the configuration is still ours.
            rd_kafka_conf_destroy(configuration)
            Unmanaged<ClientContext>.fromOpaque(opaque).release()
            throw KafkaError(code: .invalidArgument, message: text(of: errorText), context: "create \(what)")
        }
        return handle
    }

    /// Destroys the handle (waiting for its threads), then releases its context.
    static func destroy(_ handle: OpaquePointer) {
        let opaque = rd_kafka_opaque(handle)
        rd_kafka_destroy(handle)
        if let opaque { Unmanaged<ClientContext>.fromOpaque(opaque).release() }
    }
}

/// The NUL-terminated text librdkafka wrote into `buffer`.
func text(of buffer: [CChar]) -> String {
    String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
}

/// A client handle that may cross threads: librdkafka's API is thread-safe; the owners say who
/// may destroy it and when.
struct SendableHandle: @unchecked Sendable {
    let pointer: OpaquePointer
}
