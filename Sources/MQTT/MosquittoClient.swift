import CMosquitto
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// One libmosquitto client, driven from a thread its owner runs (no `mosquitto_loop_start`).
///
/// The client is put in libmosquitto's threaded mode: packets it queues (PUBACKs, PINGREQs,
/// publishes from other threads) are only written when the owner calls `writePending()` or
/// `loop(timeout:)`. The MQTT source relies on this to hold back PUBACKs until their data is
/// durable.
///
/// Callbacks run on the thread that called into libmosquitto; they reach this object through
/// the `Unmanaged` context pointer handed to `mosquitto_new`, which lives exactly as long as the
/// handle (destroyed in `deinit`).
///
/// `@unchecked Sendable`: libmosquitto guards its own state with mutexes, so `publish` may be
/// called from any thread; the event closures are set once before the first connect.
public final class MosquittoClient: @unchecked Sendable {
    public struct Message {
        public var topic: String
        public var payload: [UInt8]
        public var qos: Int32
        public var retain: Bool
    }

    /// CONNACK: `code` 0 is accepted; `sessionPresent` says the broker kept our session.
    public var onConnect: (_ code: Int32, _ sessionPresent: Bool) -> Void = { _, _ in }
    /// The connection ended; `code` 0 after our own disconnect.
    public var onDisconnect: (_ code: Int32) -> Void = { _ in }
    public var onMessage: (Message) -> Void = { _ in }
    /// The broker acknowledged our QoS 1 publish with message id `mid`.
    public var onPublish: (_ mid: Int32) -> Void = { _ in }
    /// SUBACK for the subscription `mid`: the QoS granted to each filter, or a failure code
    /// (0x80 and above: refused).
    public var onSubscribe: (_ mid: Int32, _ granted: [Int32]) -> Void = { _, _ in }
    /// UNSUBACK for the unsubscription `mid`.
    public var onUnsubscribe: (_ mid: Int32) -> Void = { _ in }

    public let options: MQTTConnectionOptions
    private var handle: OpaquePointer?

    private static let libraryReady: Bool = {
        mosquitto_lib_init() == Int32(MOSQ_ERR_SUCCESS.rawValue)
    }()

    /// Where Debian (and most Linux distributions) keep the trusted authorities, hashed.
    static let systemCertificateFolder = "/etc/ssl/certs"

    public init(options: MQTTConnectionOptions) throws(MQTTError) {
        self.options = options
        guard Self.libraryReady else { throw MQTTError(.client, "libmosquitto could not be initialised") }
        guard let handle = mosquitto_new(options.clientID, options.cleanSession, nil) else {
            throw MQTTError(.client, "could not create an MQTT client '\(options.clientID)': \(String(cString: strerror(errno)))")
        }
        self.handle = handle
        mosquitto_user_data_set(handle, Unmanaged.passUnretained(self).toOpaque())
        try configure(handle)
    }

    deinit {
        if let handle { mosquitto_destroy(handle) }
    }

    private func configure(_ handle: OpaquePointer) throws(MQTTError) {
        func check(_ code: Int32, _ what: String) throws(MQTTError) {
            guard code == Int32(MOSQ_ERR_SUCCESS.rawValue) else { throw MQTTError(.configuration, what, code: code) }
        }
        try check(mosquitto_threaded_set(handle, true), "threaded mode")
        let version = options.protocolVersion == .v5 ? MQTT_PROTOCOL_V5 : MQTT_PROTOCOL_V311
        try check(mosquitto_int_option(handle, MOSQ_OPT_PROTOCOL_VERSION, version), "MQTT protocol \(options.protocolVersion.rawValue)")
        if let sendMaximum = options.sendMaximum {
            try check(mosquitto_int_option(handle, MOSQ_OPT_SEND_MAXIMUM, sendMaximum), "send maximum")
        }
        if let receiveMaximum = options.receiveMaximum {
            try check(mosquitto_int_option(handle, MOSQ_OPT_RECEIVE_MAXIMUM, receiveMaximum), "receive maximum")
        }
        if let username = options.broker.username {
            try check(mosquitto_username_pw_set(handle, username, options.password), "user name and password")
        }
        if options.broker.usesTLS {
            let tls = options.tls
            guard (tls.certificateFile == nil) == (tls.keyFile == nil) else {
                throw MQTTError(.configuration, "TLS: a client certificate needs its key file and the key its certificate")
            }
            for file in [tls.caFile, tls.certificateFile, tls.keyFile].compactMap({ $0 }) where access(file, R_OK) != 0 {
                throw MQTTError(.configuration, "TLS: cannot read '\(file)': \(String(cString: strerror(errno)))")
            }
            // Without a CA file, the system's authorities: libmosquitto refuses `tls_set` with
            // neither a CA file nor a CA folder, so the system's folder is named as well.
            if tls.caFile == nil {
                try check(mosquitto_int_option(handle, MOSQ_OPT_TLS_USE_OS_CERTS, 1), "TLS: the system's certificate authorities")
            }
            let caFolder = tls.caFile == nil ? Self.systemCertificateFolder : nil
            try check(mosquitto_tls_set(handle, tls.caFile, caFolder, tls.certificateFile, tls.keyFile, nil), "TLS files")
        }
        if let will = options.will {
            try check(will.payload.withUnsafeBytes { bytes in
                mosquitto_will_set(handle, will.topic, Int32(bytes.count), bytes.baseAddress, 1, will.retain)
            }, "last will on \(will.topic)")
        }
        mosquitto_connect_with_flags_callback_set(handle) { _, context, code, flags in
            guard let context else { return }
            Unmanaged<MosquittoClient>.fromOpaque(context).takeUnretainedValue().onConnect(code, flags & 1 == 1)
        }
        mosquitto_disconnect_callback_set(handle) { _, context, code in
            guard let context else { return }
            Unmanaged<MosquittoClient>.fromOpaque(context).takeUnretainedValue().onDisconnect(code)
        }
        mosquitto_publish_callback_set(handle) { _, context, mid in
            guard let context else { return }
            Unmanaged<MosquittoClient>.fromOpaque(context).takeUnretainedValue().onPublish(mid)
        }
        mosquitto_subscribe_callback_set(handle) { _, context, mid, count, granted in
            guard let context else { return }
            let codes = granted.map { Array(UnsafeBufferPointer(start: $0, count: Int(max(count, 0)))) } ?? []
            Unmanaged<MosquittoClient>.fromOpaque(context).takeUnretainedValue().onSubscribe(mid, codes)
        }
        mosquitto_unsubscribe_callback_set(handle) { _, context, mid in
            guard let context else { return }
            Unmanaged<MosquittoClient>.fromOpaque(context).takeUnretainedValue().onUnsubscribe(mid)
        }
        mosquitto_message_callback_set(handle) { _, context, message in
            guard let context, let message else { return }
            let raw = message.pointee
            let payload = raw.payloadlen > 0 && raw.payload != nil
                ? Array(UnsafeRawBufferPointer(start: raw.payload, count: Int(raw.payloadlen)))
                : []
            let topic = raw.topic.map { String(cString: $0) } ?? ""
            Unmanaged<MosquittoClient>.fromOpaque(context).takeUnretainedValue()
                .onMessage(Message(topic: topic, payload: payload, qos: raw.qos, retain: raw.retain))
        }
    }

    private var connectedOnce = false

    /// Opens the TCP (and TLS) connection and queues CONNECT; the CONNACK arrives through
    /// `onConnect` once the loop reads it. Blocks for the TCP connect only.
    public func connect() throws(MQTTError) {
        guard let handle else { return }
        let code: Int32
        if connectedOnce {
            code = mosquitto_reconnect(handle)
        } else {
            var properties: OpaquePointer?
            defer { mosquitto_property_free_all(&properties) }
            if options.protocolVersion == .v5 && !options.cleanSession {
                _ = mosquitto_property_add_int32(&properties, Int32(MQTT_PROP_SESSION_EXPIRY_INTERVAL.rawValue), options.sessionExpirySeconds)
            }
            code = mosquitto_connect_bind_v5(handle, options.broker.host, Int32(options.broker.port), options.keepAliveSeconds, nil, properties)
            // Later attempts reuse host, port and properties.
            if code != Int32(MOSQ_ERR_INVAL.rawValue) { connectedOnce = true }
        }
        guard code == Int32(MOSQ_ERR_SUCCESS.rawValue) else {
            throw MQTTError(.connection, "connect to \(options.broker)", code: code)
        }
    }

    /// The connection's socket, or -1 when there is none.
    public var socket: Int32 { handle.map { mosquitto_socket($0) } ?? -1 }

    /// Reads one packet (calling `onMessage`/`onConnect` for it). Errors mean the connection is gone.
    public func readPacket() throws(MQTTError) {
        guard let handle else { return }
        let code = mosquitto_loop_read(handle, 1)
        guard code == Int32(MOSQ_ERR_SUCCESS.rawValue) else { throw MQTTError(.connection, "read from \(options.broker)", code: code) }
    }

    public var wantsToWrite: Bool { handle.map { mosquitto_want_write($0) } ?? false }

    /// Writes the queued packets (acknowledgements, subscriptions, publishes) as far as the socket takes them.
    public func writePending() throws(MQTTError) {
        guard let handle else { return }
        while mosquitto_want_write(handle) {
            errno = 0
            let code = mosquitto_loop_write(handle, 64)
            guard code == Int32(MOSQ_ERR_SUCCESS.rawValue) else { throw MQTTError(.connection, "write to \(options.broker)", code: code) }
            if errno == EAGAIN || errno == EWOULDBLOCK { break }
        }
    }

    /// Keep-alive pings and timeouts; call at least once a second.
    public func maintain() throws(MQTTError) {
        guard let handle else { return }
        let code = mosquitto_loop_misc(handle)
        guard code == Int32(MOSQ_ERR_SUCCESS.rawValue) else { throw MQTTError(.connection, "keep-alive with \(options.broker)", code: code) }
    }

    /// libmosquitto's own loop: waits up to `timeout` for traffic, reads, writes, keeps alive.
    /// For clients that may acknowledge as soon as they read (the simulator's publisher).
    public func loop(timeout: Duration) throws(MQTTError) {
        guard let handle else { return }
        let milliseconds = Int32(timeout.components.seconds * 1000 + timeout.components.attoseconds / 1_000_000_000_000_000)
        let code = mosquitto_loop(handle, milliseconds, 1)
        guard code == Int32(MOSQ_ERR_SUCCESS.rawValue) else { throw MQTTError(.connection, "loop with \(options.broker)", code: code) }
    }

    /// The QoS every subscription asks for: acknowledgements held until commit need QoS 1.
    public static let subscriptionQoS: Int32 = 1

    /// Queues a subscription at `subscriptionQoS`; returns its message id, which `onSubscribe`
    /// reports the broker's answer under.
    @discardableResult
    public func subscribe(_ filter: MQTTTopicFilter) throws(MQTTError) -> Int32 {
        guard let handle else { throw MQTTError(.client, "subscribe on a closed client") }
        var mid: Int32 = 0
        let code = mosquitto_subscribe(handle, &mid, filter.subscription, Self.subscriptionQoS)
        guard code == Int32(MOSQ_ERR_SUCCESS.rawValue) else { throw MQTTError(.client, "subscribe to \(filter)", code: code) }
        return mid
    }

    /// Queues an unsubscription from `subscription` as it was subscribed (`$share/…` included);
    /// returns its message id, which `onUnsubscribe` reports the broker's answer under.
    @discardableResult
    public func unsubscribe(_ subscription: String) throws(MQTTError) -> Int32 {
        guard let handle else { throw MQTTError(.client, "unsubscribe on a closed client") }
        var mid: Int32 = 0
        let code = mosquitto_unsubscribe(handle, &mid, subscription)
        guard code == Int32(MOSQ_ERR_SUCCESS.rawValue) else { throw MQTTError(.client, "unsubscribe from \(subscription)", code: code) }
        return mid
    }

    /// Queues a publish; returns its message id (matched by `onPublish` for QoS 1).
    @discardableResult
    public func publish(topic: String, payload: [UInt8], qos: Int32 = 1, retain: Bool = false) throws(MQTTError) -> Int32 {
        guard let handle else { throw MQTTError(.client, "publish on a closed client") }
        var mid: Int32 = 0
        let code = payload.withUnsafeBytes { bytes in
            mosquitto_publish(handle, &mid, topic, Int32(bytes.count), bytes.baseAddress, qos, retain)
        }
        // While disconnected libmosquitto keeps QoS 1 messages and sends them after reconnecting.
        let queued = code == Int32(MOSQ_ERR_NO_CONN.rawValue) && qos > 0 && mid != 0
        guard code == Int32(MOSQ_ERR_SUCCESS.rawValue) || queued else { throw MQTTError(.client, "publish to \(topic)", code: code) }
        return mid
    }

    /// Queues a DISCONNECT (the broker then discards our will); write it with `writePending()`.
    public func disconnect() {
        guard let handle else { return }
        _ = mosquitto_disconnect(handle)
    }

    /// Waits until the socket is readable (or writable, if `writing`) or `timeout` passes.
    /// Returns true when it is readable.
    public func waitForTraffic(timeout: Duration, writing: Bool) -> Bool {
        let fd = socket
        guard fd >= 0 else { return false }
        var descriptor = pollfd(fd: fd, events: Int16(POLLIN) | (writing ? Int16(POLLOUT) : 0), revents: 0)
        let milliseconds = Int32(timeout.components.seconds * 1000 + timeout.components.attoseconds / 1_000_000_000_000_000)
        guard poll(&descriptor, 1, milliseconds) > 0 else { return false }
        return descriptor.revents & Int16(POLLIN | POLLERR | POLLHUP) != 0
    }

    /// libmosquitto's text for a CONNACK code (3.1.1) or reason code (5).
    public func connackText(_ code: Int32) -> String {
        options.protocolVersion == .v5 ? String(cString: mosquitto_reason_string(code)) : String(cString: mosquitto_connack_string(code))
    }
}
