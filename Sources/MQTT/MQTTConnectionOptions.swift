/// How to connect to a broker: who we are, how we authenticate, how the session lives.
public struct MQTTConnectionOptions: Sendable {
    public enum ProtocolVersion: String, Sendable, CaseIterable {
        case v311 = "3.1.1"
        case v5 = "5"
    }

    /// Client certificate authentication and the authorities trusted for the broker's certificate.
    public struct TLS: Sendable, Hashable {
        /// PEM file of the certificate authorities; nil uses the system's default store.
        public var caFile: String?
        public var certificateFile: String?
        public var keyFile: String?

        public init(caFile: String? = nil, certificateFile: String? = nil, keyFile: String? = nil) {
            self.caFile = caFile
            self.certificateFile = certificateFile
            self.keyFile = keyFile
        }
    }

    /// A message the broker publishes for us when our connection ends without a DISCONNECT.
    public struct Will: Sendable, Hashable {
        public var topic: String
        public var payload: [UInt8]
        public var retain: Bool

        public init(topic: String, payload: [UInt8], retain: Bool) {
            self.topic = topic
            self.payload = payload
            self.retain = retain
        }
    }

    public var broker: MQTTBrokerURL
    /// Read from the environment or a file by the caller, never from the command line.
    public var password: String?
    /// Fixed for a persistent session: the broker keeps the session under this id.
    public var clientID: String
    public var protocolVersion: ProtocolVersion = .v311
    /// TLS settings; used when the URL is `mqtts://` (an empty value trusts the system store).
    public var tls = TLS()
    /// False keeps the session (subscriptions and unacknowledged QoS 1 messages) while we are away.
    public var cleanSession = false
    /// MQTT 5 only: how long the broker keeps the session after a disconnect (5 has no
    /// "forever" without it; 3.1.1 sessions have no expiry of their own).
    public var sessionExpirySeconds: UInt32 = 7 * 24 * 3600
    public var keepAliveSeconds: Int32 = 30
    public var will: Will?
    /// QoS 1 publishes awaiting PUBACK at once (libmosquitto's default is 20).
    public var sendMaximum: Int32?
    /// MQTT 5: QoS 1 messages the broker may send before we acknowledge (default 20). For 3.1.1
    /// the broker's `max_inflight_messages` decides.
    public var receiveMaximum: Int32?

    public init(broker: MQTTBrokerURL, clientID: String) {
        self.broker = broker
        self.clientID = clientID
    }
}
