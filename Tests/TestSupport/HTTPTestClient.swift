import Foundation
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// A response as the test saw it on the wire.
public struct HTTPTestResponse: Sendable {
    public var status: Int
    /// Lower-cased names.
    public var headers: [String: String]
    public var body: String

    public var json: Any? { try? JSONSerialization.jsonObject(with: Data(body.utf8)) }
}

/// A plain HTTP/1.1 client over a real TCP socket on loopback: enough to exercise the daemon's
/// API exactly as a browser or curl would, including chunked and streamed bodies.
///
/// The socket calls block, so they run on a thread of their own: blocking Swift concurrency's
/// few pool threads would starve the very server under test.
public enum HTTPTestClient {
    public static func request(
        _ method: String, port: Int, path: String, headers: [String: String] = [:], body: String? = nil
    ) async throws -> HTTPTestResponse {
        try await onOwnThread { try blockingRequest(method, port: port, path: path, headers: headers, body: body) }
    }

    private static func blockingRequest(
        _ method: String, port: Int, path: String, headers: [String: String], body: String?
    ) throws -> HTTPTestResponse {
        let connection = try HTTPConnection(port: port)
        defer { connection.close() }
        try connection.send(method: method, path: path, headers: headers, body: body)
        let (status, responseHeaders) = try connection.readHead()
        var text = ""
        if responseHeaders["transfer-encoding"]?.lowercased() == "chunked" {
            while let chunk = try connection.readChunk() { text += chunk }
        } else if let length = responseHeaders["content-length"].flatMap({ Int($0) }) {
            text = try connection.read(count: length)
        }
        return HTTPTestResponse(status: status, headers: responseHeaders, body: text)
    }
}

/// One server-sent event.
public struct ServerSentEvent: Sendable, Hashable {
    public var id: String?
    public var event: String?
    public var data: String
}

/// Reads a `text/event-stream` on its own thread and keeps every event it parsed.
public final class SSETestClient: Sendable {
    public let status: Int
    /// The response's header fields, names in lower case.
    public let headers: [String: String]
    private let connection: HTTPConnection
    private let received = Mutex<[(event: ServerSentEvent, arrived: ContinuousClock.Instant)]>([])
    private let ended = Atomic<Bool>(false)

    private init(connection: HTTPConnection, status: Int, headers: [String: String]) {
        self.connection = connection
        self.status = status
        self.headers = headers
    }

    /// Connects, sends the request and reads the response head; events are then read in the background.
    public static func connect(port: Int, path: String, headers: [String: String] = [:]) async throws -> SSETestClient {
        let (connection, head) = try await onOwnThread {
            let connection = try HTTPConnection(port: port)
            try connection.send(method: "GET", path: path, headers: headers.merging(["Accept": "text/event-stream"]) { a, _ in a }, body: nil)
            return (connection, try connection.readHead())
        }
        let client = SSETestClient(connection: connection, status: head.0, headers: head.1)
        let thread = Thread { client.readEvents() }
        thread.name = "sse-test-client"
        thread.start()
        return client
    }

    public var events: [ServerSentEvent] { received.withLock { $0.map(\.event) } }
    /// Each event with when its last line was read.
    public var timedEvents: [(event: ServerSentEvent, arrived: ContinuousClock.Instant)] { received.withLock { $0 } }
    public var isEnded: Bool { ended.load(ordering: .acquiring) }

    public func close() { connection.close() }

    private func readEvents() {
        var pending = ""
        var current = ServerSentEvent(id: nil, event: nil, data: "")
        var hasData = false
        while let chunk = try? connection.readChunk() {
            pending += chunk
            while let newline = pending.firstIndex(of: "\n") {
                let line = String(pending[..<newline])
                pending = String(pending[pending.index(after: newline)...])
                if line.isEmpty {
                    if hasData {
                        let event = current
                        received.withLock { $0.append((event, ContinuousClock.now)) }
                    }
                    current = ServerSentEvent(id: nil, event: nil, data: "")
                    hasData = false
                } else if line.hasPrefix("id: ") {
                    current.id = String(line.dropFirst(4))
                } else if line.hasPrefix("event: ") {
                    current.event = String(line.dropFirst(7))
                } else if line.hasPrefix("data: ") {
                    current.data += (hasData ? "\n" : "") + line.dropFirst(6)
                    hasData = true
                }
            }
        }
        ended.store(true, ordering: .releasing)
    }
}

/// Runs blocking `work` on a new thread and waits for it without holding a pool thread.
public func onOwnThread<Value: Sendable>(_ work: @escaping @Sendable () throws -> Value) async throws -> Value {
    try await withCheckedThrowingContinuation { continuation in
        let thread = Thread { continuation.resume(with: Result { try work() }) }
        thread.name = "http-test-client"
        thread.start()
    }
}

/// A blocking socket with a read buffer. `@unchecked Sendable`: one reader thread at a time;
/// `close` may come from another thread (it only shuts the socket down).
final class HTTPConnection: @unchecked Sendable {
    private let descriptor: Int32
    private var buffer: [UInt8] = []
    private let closed = Atomic<Bool>(false)

    init(port: Int) throws {
        descriptor = try loopbackSocket(port: port)
    }

    func send(method: String, path: String, headers: [String: String], body: String?) throws {
        var head = "\(method) \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        for (name, value) in headers { head += "\(name): \(value)\r\n" }
        let bodyBytes = Array((body ?? "").utf8)
        if body != nil || method == "POST" { head += "Content-Length: \(bodyBytes.count)\r\n" }
        head += "\r\n"
        let bytes = Array(head.utf8) + bodyBytes
        var offset = 0
        while offset < bytes.count {
            let written = bytes[offset...].withUnsafeBytes { Glibc.send(descriptor, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            guard written > 0 else { throw TestSupportError("send: \(String(cString: strerror(errno)))") }
            offset += written
        }
    }

    func readHead() throws -> (Int, [String: String]) {
        let statusLine = try readLine()
        let parts = statusLine.split(separator: " ")
        guard parts.count >= 2, let status = Int(parts[1]) else { throw TestSupportError("bad status line: \(statusLine)") }
        var headers: [String: String] = [:]
        while true {
            let line = try readLine()
            if line.isEmpty { break }
            if let colon = line.firstIndex(of: ":") {
                headers[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
            }
        }
        return (status, headers)
    }

    /// The next chunk of a chunked body; nil at its end (the 0-size chunk). A connection that
    /// closes before it throws: a body cut short is not a whole one.
    func readChunk() throws -> String? {
        let sizeLine = try readLine()
        guard let size = Int(sizeLine.split(separator: ";").first ?? "", radix: 16) else {
            throw TestSupportError("bad chunk size line: \(sizeLine.prefix(40))")
        }
        if size == 0 { return nil }
        let text = try read(count: size)
        _ = try readLine()
        return text
    }

    func read(count: Int) throws -> String {
        while buffer.count < count { try fill() }
        let text = String(decoding: buffer[..<count], as: UTF8.self)
        buffer.removeFirst(count)
        return text
    }

    private func readLine() throws -> String {
        while true {
            if let newline = buffer.firstIndex(of: UInt8(ascii: "\n")) {
                var line = Array(buffer[..<newline])
                buffer.removeFirst(newline + 1)
                if line.last == UInt8(ascii: "\r") { line.removeLast() }
                return String(decoding: line, as: UTF8.self)
            }
            try fill()
        }
    }

    private func fill() throws {
        var chunk = [UInt8](repeating: 0, count: 16_384)
        let count = chunk.withUnsafeMutableBytes { recv(descriptor, $0.baseAddress, $0.count, 0) }
        guard count > 0 else { throw TestSupportError("connection closed") }
        buffer += chunk[..<count]
    }

    /// Ends the connection; a reader blocked in `recv` returns. The descriptor itself is closed
    /// in `deinit`, once no reader can use it any more.
    func close() {
        if !closed.exchange(true, ordering: .acquiringAndReleasing) {
            shutdown(descriptor, Int32(SHUT_RDWR))
        }
    }

    deinit { Glibc.close(descriptor) }
}
