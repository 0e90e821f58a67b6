/// Where a broker is: `mqtt://[user@]host[:port]` or `mqtts://…` for TLS. The password never
/// appears in the URL (it would end up in shell history and process listings).
public struct MQTTBrokerURL: Sendable, Hashable, CustomStringConvertible {
    public var host: String
    public var port: Int
    public var username: String?
    public var usesTLS: Bool

    public init(host: String, port: Int, username: String? = nil, usesTLS: Bool = false) {
        self.host = host
        self.port = port
        self.username = username
        self.usesTLS = usesTLS
    }

    public init(parsing text: String) throws(MQTTError) {
        func bad(_ why: String) -> MQTTError { MQTTError(.configuration, "broker URL '\(text)': \(why)") }
        let rest: Substring
        if text.hasPrefix("mqtt://") {
            usesTLS = false
            rest = text.dropFirst("mqtt://".count)
        } else if text.hasPrefix("mqtts://") {
            usesTLS = true
            rest = text.dropFirst("mqtts://".count)
        } else {
            throw bad("use mqtt://host:port or mqtts://host:port")
        }
        var authority = rest.prefix { $0 != "/" }
        guard rest.dropFirst(authority.count).allSatisfy({ $0 == "/" }) else { throw bad("a path means nothing to MQTT") }
        username = nil
        if let at = authority.lastIndex(of: "@") {
            let user = authority[..<at]
            guard !user.contains(":") else { throw bad("put no password in the URL; use NILECARE_MQTT_PASSWORD or a password file") }
            guard !user.isEmpty else { throw bad("empty user name before '@'") }
            username = user.removingPercentEncoding
            authority = authority[authority.index(after: at)...]
        }
        port = usesTLS ? 8883 : 1883
        if authority.hasPrefix("[") {
            // [IPv6]:port
            guard let close = authority.firstIndex(of: "]") else { throw bad("unclosed '[' in the host") }
            host = String(authority[authority.index(after: authority.startIndex)..<close])
            authority = authority[authority.index(after: close)...]
            if !authority.isEmpty {
                guard authority.first == ":" else { throw bad("expected ':port' after the address") }
                port = try Self.port(authority.dropFirst(), bad)
            }
        } else if let colon = authority.lastIndex(of: ":") {
            host = String(authority[..<colon])
            port = try Self.port(authority[authority.index(after: colon)...], bad)
        } else {
            host = String(authority)
        }
        guard !host.isEmpty else { throw bad("no host") }
    }

    private static func port(_ text: Substring, _ bad: (String) -> MQTTError) throws(MQTTError) -> Int {
        guard let port = Int(text), (1...65_535).contains(port) else { throw bad("port '\(text)' is not 1-65535") }
        return port
    }

    public var description: String {
        let user = username.map { "\($0)@" } ?? ""
        let shownHost = host.contains(":") ? "[\(host)]" : host
        return "\(usesTLS ? "mqtts" : "mqtt")://\(user)\(shownHost):\(port)"
    }
}

extension Substring {
    /// `%40` → `@` in a user name (no Foundation in this target).
    fileprivate var removingPercentEncoding: String {
        var bytes: [UInt8] = []
        var iterator = utf8.makeIterator()
        while let byte = iterator.next() {
            if byte == UInt8(ascii: "%"), let high = iterator.next(), let low = iterator.next(),
               let value = UInt8(String(decoding: [high, low], as: UTF8.self), radix: 16) {
                bytes.append(value)
            } else {
                bytes.append(byte)
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}
