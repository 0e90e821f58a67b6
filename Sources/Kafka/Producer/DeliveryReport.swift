import CRdKafka

/// The Swift side of one queued record: retained into the message's opaque when produced,
/// taken back exactly once by its delivery report.
final class DeliveryCallback: Sendable {
    let body: @Sendable (Result<KafkaDelivery, KafkaError>) -> Void

    init(_ body: @escaping @Sendable (Result<KafkaDelivery, KafkaError>) -> Void) {
        self.body = body
    }
}

/// librdkafka's delivery report callback; runs on whichever thread serves the producer's
/// queue (the poll thread).
let deliveryReportCallback: @convention(c) (OpaquePointer?, UnsafePointer<rd_kafka_message_t>?, UnsafeMutableRawPointer?) -> Void = { _, message, _ in
    guard let message, let opaque = message.pointee._private else { return }
    let callback = Unmanaged<DeliveryCallback>.fromOpaque(opaque).takeRetainedValue()
    callback.body(deliveryResult(message))
}

func deliveryResult(_ message: UnsafePointer<rd_kafka_message_t>) -> Result<KafkaDelivery, KafkaError> {
    let fields = message.pointee
    let topic = fields.rkt.map { String(cString: rd_kafka_topic_name($0)) } ?? "?"
    guard fields.err != RD_KAFKA_RESP_ERR_NO_ERROR else {
        return .success(KafkaDelivery(topic: topic, partition: fields.partition, offset: fields.offset))
    }
    var text = String(cString: rd_kafka_message_errstr(message))
    if rd_kafka_message_status(message) == RD_KAFKA_MSG_STATUS_POSSIBLY_PERSISTED {
        text += " (the broker may have stored the record)"
    }
    let partition = fields.partition >= 0 ? " [partition \(fields.partition)]" : ""
    return .failure(KafkaError(code: KafkaErrorCode(fields.err), message: text,
                               context: "deliver record to \(topic)\(partition)"))
}

/// Queues one record with `rd_kafka_produceva` (librdkafka copies topic, key, value and
/// headers). On failure nothing stays queued and `callback` is released unused.
func produceRecord(_ record: KafkaProducerRecord, on handle: OpaquePointer, callback: DeliveryCallback) throws(KafkaError) {
    let context = "send record to \(record.topic)"
    guard let headers = rd_kafka_headers_new(record.headers.count) else {
        throw KafkaError(code: .invalidArgument, message: "out of memory for headers", context: context)
    }
    for header in record.headers {
        if let value = header.value {
            _ = withBytes(value) { rd_kafka_header_add(headers, header.key, -1, $0, $1) }
        } else {
            _ = rd_kafka_header_add(headers, header.key, -1, nil, 0)
        }
    }
    let opaque = Unmanaged.passRetained(callback).toOpaque()

    let failure: OpaquePointer? = record.topic.withCString { topic in
        withBytes(record.value) { value, valueCount in
            withBytes(record.key ?? []) { key, keyCount in
                var values = [
                    vu(RD_KAFKA_VTYPE_TOPIC) { $0.u.cstr = topic },
                    vu(RD_KAFKA_VTYPE_VALUE) { $0.u.mem = .init(ptr: UnsafeMutableRawPointer(mutating: value), size: valueCount) },
                    vu(RD_KAFKA_VTYPE_HEADERS) { $0.u.headers = headers },
                    vu(RD_KAFKA_VTYPE_OPAQUE) { $0.u.ptr = opaque },
                    vu(RD_KAFKA_VTYPE_MSGFLAGS) { $0.u.i = RD_KAFKA_MSG_F_COPY },
                ]
                if record.key != nil {
                    values.append(vu(RD_KAFKA_VTYPE_KEY) { $0.u.mem = .init(ptr: UnsafeMutableRawPointer(mutating: key), size: keyCount) })
                }
                return rd_kafka_produceva(handle, &values, values.count)
            }
        }
    }
    guard let failure else { return }  // the handle owns the headers now
    rd_kafka_headers_destroy(headers)
    Unmanaged<DeliveryCallback>.fromOpaque(opaque).release()
    var error = KafkaError(consuming: failure, context: context)
    if error.code == .queueFull {
        error.message = "the producer's local queue is full (queue.buffering.max.messages / queue.buffering.max.kbytes): "
            + "brokers are not acknowledging fast enough or are unreachable; retry later"
    }
    throw error
}

private func vu(_ type: rd_kafka_vtype_t, _ set: (inout rd_kafka_vu_t) -> Void) -> rd_kafka_vu_t {
    var value = rd_kafka_vu_t()
    value.vtype = type
    set(&value)
    return value
}

/// `bytes` as a pointer and count; the pointer is non-null even when empty, so that librdkafka
/// tells an empty key or value from an absent one.
func withBytes<R>(_ bytes: [UInt8], _ body: (UnsafeRawPointer?, Int) -> R) -> R {
    let storage = bytes.isEmpty ? [0] : bytes
    return storage.withUnsafeBytes { body($0.baseAddress, bytes.count) }
}
