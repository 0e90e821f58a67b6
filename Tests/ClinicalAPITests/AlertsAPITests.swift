import Alerts
import ClinicalAPI
import Foundation
import Logging
import ServiceLifecycle
import Storage
import Synchronization
import TestSupport
import Testing
import VitalSigns

/// The API over real HTTP on loopback, in front of a real hub and PostgreSQL.
final class APIHarness: Sendable {
    let hub: AlertHub
    let port: Int
    /// The hub's database.
    let url: String
    private let group: ServiceGroup
    private let server: Task<Void, any Error>
    static let nurseToken = "nurse-token-icu-0123456789"
    static let otherWardToken = "nurse-token-ccu-0123456789"
    static let facilityToken = "charge-nurse-token-0123456789"
    static let corridorToken = "corridor-display-token-0123456789"
    static let studentToken = "student-nurse-token-0123456789"

    private init(hub: AlertHub, port: Int, url: String, group: ServiceGroup, server: Task<Void, any Error>) {
        self.hub = hub
        self.port = port
        self.url = url
        self.group = group
        self.server = server
    }

    /// `log`: where the API's own log goes (nowhere by default).
    static func start(
        keepAlive: Duration = .seconds(15), replayLimit: Int = 1_000, idleTimeout: Duration = .seconds(60),
        streamLimits: StreamLimits = StreamLimits(total: 500, perUser: 20), log: LogRecorder? = nil,
        streamWriteTimeout: Duration = .seconds(30)
    ) async throws -> APIHarness {
        let url = try TestPostgres.migratedDatabase()
        var hubConfiguration = AlertHub.Configuration(facility: "KTH")
        hubConfiguration.replayLimit = replayLimit
        hubConfiguration.streamLimits = streamLimits
        let hub = try AlertHub(url: url, configuration: hubConfiguration, logger: TestPostgres.logger)
        let tokens = try APITokens(parsing: """
            # token user facility [ward]
            \(nurseToken) nurse.amina KTH ICU
            \(otherWardToken) nurse.omar KTH CCU
            \(facilityToken) charge.huda KTH
            \(corridorToken) icu.corridor KTH ICU can=view
            \(studentToken) student.sara KTH ICU can=view,acknowledge
            """)
        var configuration = ClinicalAPIServer.Configuration()
        configuration.port = 0
        configuration.keepAliveInterval = keepAlive
        configuration.idleTimeout = idleTimeout
        configuration.streamWriteTimeout = streamWriteTimeout
        let bound = Mutex<Int?>(nil)
        let logger = log.map { log in Logger(label: "test.api") { _ in log.handler() } } ?? Logger(label: "test.api")
        let application = try ClinicalAPIServer.application(
            hub: hub, tokens: tokens, configuration: configuration, logger: logger
        ) { port in bound.withLock { $0 = port } }
        let group = ServiceGroup(services: [application], logger: Logger(label: "test.api"))
        let server = Task { try await group.run() }
        try await waitUntil(timeout: .seconds(30), "API listening") { bound.withLock { $0 } != nil }
        return APIHarness(hub: hub, port: bound.withLock { $0 } ?? 0, url: url, group: group, server: server)
    }

    func stop() {
        server.cancel()
        hub.shutdown()
    }

    /// As the daemon stops on SIGTERM; returns when the server has stopped.
    func stopGracefully() async throws {
        await group.triggerGracefulShutdown()
        try await server.value
    }

    func get(_ path: String, token: String? = nurseToken, headers: [String: String] = [:]) async throws -> HTTPTestResponse {
        var all = headers
        if let token { all["Authorization"] = "Bearer \(token)" }
        return try await HTTPTestClient.request("GET", port: port, path: path, headers: all)
    }

    func post(_ path: String, token: String? = nurseToken) async throws -> HTTPTestResponse {
        try await HTTPTestClient.request("POST", port: port, path: path, headers: token.map { ["Authorization": "Bearer \($0)"] } ?? [:])
    }

    /// Raises a critical SpO2 alert on device A in ICU and returns its id once it is open.
    func raiseOne() async throws -> Int64 {
        raise("spo2", device: "A", location: "ICU^1^A")
        try await waitUntil(timeout: .seconds(10), "the alert open") { !hub.openAlerts(in: AlertScope(facility: "KTH")).isEmpty }
        return hub.openAlerts(in: AlertScope(facility: "KTH"))[0].id
    }

    func raise(_ vital: String, device: String, location: String, severity: AlertSeverity = .critical) {
        hub.submit([AlertTrigger(
            action: .raise(severity), key: "d:\(device)|\(vital)|threshold", rule: "threshold.\(vital)", vital: vital, value: 81, unit: "%",
            device: device, location: location, observedAt: Timestamp(microsecondsSinceEpoch: 1_790_000_000_000_000)
        )])
    }
}

@Suite(.timeLimit(.minutes(2))) struct AlertsAPITests {
    @Test("GET /alerts needs a known token and shows only the caller's ward")
    func listing() async throws {
        let api = try await APIHarness.start()
        defer { api.stop() }
        api.raise("spo2", device: "A", location: "ICU^1^A")
        api.raise("heart_rate", device: "B", location: "CCU^2^B", severity: .warning)
        try await waitUntil(timeout: .seconds(10)) { api.hub.openAlerts(in: AlertScope(facility: "KTH")).count == 2 }

        #expect(try await api.get("/alerts", token: nil).status == 401)
        let unknown = try await api.get("/alerts", token: "not-a-real-token-000000")
        #expect(unknown.status == 401)
        #expect((unknown.json as? [String: Any])?["error"] as? String == "unknown token")

        let icu = try await api.get("/alerts")
        #expect(icu.status == 200)
        #expect(icu.headers["content-type"]?.hasPrefix("application/json") == true)
        let icuAlerts = try #require((icu.json as? [String: Any])?["alerts"] as? [[String: Any]])
        #expect(icuAlerts.map { $0["location"] as? String } == ["ICU^1^A"])
        #expect(icuAlerts.first?["severity"] as? String == "critical")
        #expect(icuAlerts.first?["acknowledgedBy"] is NSNull)

        let everything = try await api.get("/alerts", token: APIHarness.facilityToken)
        let all = try #require((everything.json as? [String: Any])?["alerts"] as? [[String: Any]])
        #expect(all.map { $0["severity"] as? String } == ["critical", "warning"])
    }

    @Test("POST /alerts/{id}/ack records the caller; 404 outside the scope, 409 once resolved, 400 for a bad id")
    func acknowledge() async throws {
        let api = try await APIHarness.start()
        defer { api.stop() }
        let id = try await api.raiseOne()

        #expect(try await api.post("/alerts/\(id)/ack", token: APIHarness.otherWardToken).status == 404)
        #expect(try await api.post("/alerts/abc/ack").status == 400)
        #expect(try await api.post("/alerts/0/resolve").status == 404)
        #expect(try await api.post("/alerts/-1/ack").status == 404)
        let acknowledged = try await api.post("/alerts/\(id)/ack")
        #expect(acknowledged.status == 200)
        let alert = try #require(acknowledged.json as? [String: Any])
        #expect(alert["state"] as? String == "acknowledged")
        #expect(alert["acknowledgedBy"] as? String == "nurse.amina")
        #expect(try await api.post("/alerts/\(id)/resolve", token: APIHarness.facilityToken).status == 200)
        #expect(try await api.post("/alerts/\(id)/ack").status == 409)
        #expect(try await api.post("/alerts/\(id + 1000)/ack").status == 404)
    }

    /// The hub holds open alerts; an id it does not hold (resolved, stale, made up) is looked up
    /// in the database, which the hub's own thread did before, holding up alert decisions.
    @Test("an action on an alert the hub does not hold is looked up beside the hub: the hub answers others while that read waits")
    func unknownIDsDoNotHoldUpTheHub() async throws {
        let api = try await APIHarness.start()
        defer { api.stop() }
        let id = try await api.raiseOne()
        #expect(try await api.post("/alerts/\(id)/ack").status == 200)
        // Another session holds the table the lookup reads, so the lookup waits.
        let blocker = try PostgresConnection(url: api.url)
        defer { blocker.close() }
        try blocker.execute("BEGIN; LOCK TABLE critical_events IN ACCESS EXCLUSIVE MODE")
        let unknown = Task { try await api.post("/alerts/\(id + 1000)/ack").status }
        try await waitUntil(timeout: .seconds(10), "the lookup waiting on the lock") {
            try blocker.lockWaiters(on: "critical_events") == 1
        }
        // The hub answers an action it needs no database for (acknowledged already).
        #expect(try await api.post("/alerts/\(id)/ack").status == 200)
        try blocker.execute("COMMIT")
        #expect(try await unknown.value == 404)
    }

    @Test("the stream delivers each event once; Last-Event-ID resumes without gaps or repeats")
    func stream() async throws {
        let api = try await APIHarness.start(keepAlive: .milliseconds(200))
        defer { api.stop() }
        #expect(try await SSETestClient.connect(port: api.port, path: "/alerts/stream").status == 401)
        let first = try await SSETestClient.connect(port: api.port, path: "/alerts/stream?access_token=\(APIHarness.nurseToken)")
        defer { first.close() }
        #expect(first.status == 200)

        api.raise("spo2", device: "A", location: "ICU^1^A")
        api.raise("heart_rate", device: "B", location: "CCU^2^B")
        api.raise("resp_rate", device: "C", location: "ICU^3^A")
        try await waitUntil(timeout: .seconds(10)) { first.events.count == 2 }
        let payloads = first.events.compactMap { try? JSONSerialization.jsonObject(with: Data($0.data.utf8)) as? [String: Any] }
        #expect(payloads.map { $0["type"] as? String } == ["raised", "raised"])
        #expect(payloads.map { ($0["alert"] as? [String: Any])?["location"] as? String } == ["ICU^1^A", "ICU^3^A"])
        #expect(first.events.allSatisfy { $0.event == "alert" && $0.id != nil })
        first.close()

        // Events while disconnected, then a reconnect with the last id seen.
        let lastSeen = try #require(first.events.first?.id)
        let id = api.hub.openAlerts(in: AlertScope(facility: "KTH", ward: "ICU")).first { $0.vital == "resp_rate" }?.id ?? 0
        _ = try await api.hub.acknowledge(id: id, by: "nurse.amina", in: AlertScope(facility: "KTH"))
        let resumed = try await SSETestClient.connect(port: api.port, path: "/alerts/stream", headers: [
            "Authorization": "Bearer \(APIHarness.nurseToken)", "Last-Event-ID": lastSeen,
        ])
        defer { resumed.close() }
        api.raise("temperature", device: "D", location: "ICU^4^A")
        try await waitUntil(timeout: .seconds(10)) { resumed.events.count == 3 }
        let types = resumed.events.compactMap { (try? JSONSerialization.jsonObject(with: Data($0.data.utf8)) as? [String: Any])?["type"] as? String }
        #expect(types == ["raised", "acknowledged", "raised"])
        let ids = resumed.events.compactMap { $0.id.flatMap { Int64($0) } }
        #expect(ids == ids.sorted() && Set(ids).count == ids.count && ids.first! > Int64(lastSeen)!)
        #expect(try await SSETestClient.connect(port: api.port, path: "/alerts/stream?access_token=\(APIHarness.nurseToken)&lastEventId=x").status == 400)
    }

    @Test("a stream resumed from further back than the replay limit, or from past the newest event, is answered 410, so the page reloads instead")
    func resumeTooFarBack() async throws {
        let api = try await APIHarness.start(replayLimit: 3)
        defer { api.stop() }
        for device in ["A", "B", "C", "D", "E"] { api.raise("spo2", device: device, location: "ICU^1^A") }
        try await waitUntil(timeout: .seconds(10)) { api.hub.latestEventID == 5 }
        let auth = "Bearer \(APIHarness.nurseToken)"
        let tooFar = try await SSETestClient.connect(port: api.port, path: "/alerts/stream", headers: ["Authorization": auth, "Last-Event-ID": "0"])
        defer { tooFar.close() }
        #expect(tooFar.status == 410)
        let near = try await SSETestClient.connect(port: api.port, path: "/alerts/stream", headers: ["Authorization": auth, "Last-Event-ID": "2"])
        defer { near.close() }
        #expect(near.status == 200)
        try await waitUntil(timeout: .seconds(10)) { near.events.count == 3 }
        #expect(near.events.compactMap(\.id) == ["3", "4", "5"])
        // Past every event id the database has handed out (ids are reserved 64 at a time; the
        // database restored from a backup since the page saw it): resumed from there, the
        // stream would pass over the next events in silence.
        let ahead = try await SSETestClient.connect(port: api.port, path: "/alerts/stream", headers: ["Authorization": auth, "Last-Event-ID": "1000"])
        defer { ahead.close() }
        #expect(ahead.status == 410)
    }

    @Test("a stream whose client reads nothing is closed once a write has waited for the timeout: a frozen screen does not hold its connection and lines for ever")
    func aStreamThatIsNotReadIsClosed() async throws {
        let logs = LogRecorder()
        let api = try await APIHarness.start(log: logs, streamWriteTimeout: .seconds(1))
        defer { api.stop() }
        // A client that asks for the stream and never reads, with a small receive window.
        let socket = try loopbackSocket(port: api.port) { descriptor in
            var size: Int32 = 4096
            setsockopt(descriptor, SOL_SOCKET, SO_RCVBUF, &size, socklen_t(MemoryLayout<Int32>.size))
        }
        defer { close(socket) }
        let request = Array("GET /alerts/stream HTTP/1.1\r\nHost: test\r\nAuthorization: Bearer \(APIHarness.nurseToken)\r\n\r\n".utf8)
        #expect(request.withUnsafeBytes { send(socket, $0.baseAddress, $0.count, 0) } == request.count)
        // The first event tells the stream is open; then, in steps the stream keeps up with,
        // more than the server's socket send buffer can grow to (about 540 bytes an event).
        api.raise("spo2", device: "FIRST", location: "ICU^1^A")
        try await waitUntil(timeout: .seconds(10), "the first event written") { Self.unread(socket) >= 200 }
        let sendBufferLimit = try String(contentsOfFile: "/proc/sys/net/ipv4/tcp_wmem", encoding: .utf8).split(separator: "\t").last
            .flatMap { Int($0.trimmingCharacters(in: .whitespacesAndNewlines)) } ?? 4_194_304
        func closed() -> Bool {
            logs.all.contains { $0.message == "closing an alert stream whose client reads nothing" && $0.metadata["user"] == "nurse.amina" }
        }
        var raised = 1
        while !closed(), raised < sendBufferLimit / 500 + 4_000 {
            for _ in 0..<500 {
                api.raise("spo2", device: "FILL-\(raised)", location: "ICU^1^A")
                raised += 1
            }
            try await waitUntil(timeout: .seconds(30), "\(raised) events announced") { api.hub.latestEventID >= Int64(raised) }
        }
        try await waitUntil(timeout: .seconds(30), "the stalled stream closed", closed)
        // What the kernel still held goes out as the client reads, then the end of the connection.
        _ = fcntl(socket, F_SETFL, fcntl(socket, F_GETFL) | O_NONBLOCK)
        var buffer = [UInt8](repeating: 0, count: 65_536)
        try await waitUntil(timeout: .seconds(30), "the connection's end") {
            while true {
                let count = recv(socket, &buffer, buffer.count, 0)
                if count == 0 { return true }
                if count < 0 { return false }
            }
        }
    }

    /// Bytes waiting unread in the socket's receive queue.
    private static func unread(_ socket: Int32) -> Int32 {
        var queued: Int32 = 0
        return ioctl(socket, UInt(FIONREAD), &queued) == 0 ? queued : -1
    }

    @Test("stopping the daemon ends open streams instead of waiting on them")
    func gracefulShutdownEndsStreams() async throws {
        let api = try await APIHarness.start()
        defer { api.stop() }
        let stream = try await SSETestClient.connect(port: api.port, path: "/alerts/stream", headers: ["Authorization": "Bearer \(APIHarness.nurseToken)"])
        defer { stream.close() }
        api.raise("spo2", device: "A", location: "ICU^1^A")
        try await waitUntil(timeout: .seconds(10), "the event before the shutdown") { stream.events.count == 1 }

        let stopped = Task { try await api.stopGracefully() }
        try await waitUntil(timeout: .seconds(10), "the stream ended by the shutdown") { stream.isEnded }
        try await stopped.value
        #expect(stream.events.count == 1)
    }

    @Test("the page and its assets are served")
    func page() async throws {
        let api = try await APIHarness.start()
        defer { api.stop() }
        let page = try await api.get("/", token: nil)
        #expect(page.status == 200)
        #expect(page.headers["content-type"]?.hasPrefix("text/html") == true)
        #expect(page.body.contains("nurses-station.js"))
        #expect(try await api.get("/nurses-station.js", token: nil).status == 200)
        #expect(try await api.get("/nurses-station.css", token: nil).status == 200)
    }

    @Test("the page forbids other origins' scripts and framing; the page, the list and the stream are never stored by a cache")
    func browserHardening() async throws {
        let api = try await APIHarness.start()
        defer { api.stop() }
        for path in ["/", "/nurses-station.js", "/nurses-station.css"] {
            let asset = try await api.get(path, token: nil)
            #expect(asset.headers["content-security-policy"]?.contains("default-src 'self'") == true, "\(path)")
            #expect(asset.headers["content-security-policy"]?.contains("frame-ancestors 'none'") == true, "\(path)")
            #expect(asset.headers["x-content-type-options"] == "nosniff", "\(path)")
        }
        #expect(try await api.get("/alerts").headers["cache-control"] == "no-store")
        let stream = try await SSETestClient.connect(port: api.port, path: "/alerts/stream", headers: ["Authorization": "Bearer \(APIHarness.nurseToken)"])
        defer { stream.close() }
        #expect(stream.status == 200)
        #expect(stream.headers["cache-control"] == "no-store")
    }

    /// A token in a URL ends up in proxies' and browsers' logs: only the stream, which a
    /// browser's EventSource opens without headers, takes one there.
    @Test("a token in the query string is refused on every route but the stream")
    func queryTokenOnlyForTheStream() async throws {
        let api = try await APIHarness.start()
        defer { api.stop() }
        let id = try await api.raiseOne()
        let query = "access_token=\(APIHarness.nurseToken)"
        #expect(try await api.get("/alerts?\(query)", token: nil).status == 401)
        #expect(try await api.post("/alerts/\(id)/ack?\(query)", token: nil).status == 401)
        #expect(try await api.post("/alerts/\(id)/resolve?\(query)", token: nil).status == 401)
        #expect(api.hub.openAlerts(in: AlertScope(facility: "KTH")).first?.acknowledgedBy == nil)
        let stream = try await SSETestClient.connect(port: api.port, path: "/alerts/stream?\(query)")
        defer { stream.close() }
        #expect(stream.status == 200)
    }

    @Test("a view-only token sees and streams but may neither acknowledge nor resolve (403, logged); can=view,acknowledge may acknowledge only")
    func permissions() async throws {
        let log = LogRecorder()
        let api = try await APIHarness.start(log: log)
        defer { api.stop() }
        let id = try await api.raiseOne()
        let corridor = APIHarness.corridorToken
        let corridorList = try await api.get("/alerts", token: corridor).body
        #expect(corridorList.contains("\"id\":\(id)") && corridorList.contains(#""permissions":["view"]"#))
        #expect(try await api.get("/alerts", token: APIHarness.studentToken).body.contains(#""permissions":["view","acknowledge"]"#))
        #expect(try await api.get("/alerts").body.contains(#""permissions":["view","acknowledge","resolve"]"#))
        let stream = try await SSETestClient.connect(port: api.port, path: "/alerts/stream", headers: ["Authorization": "Bearer \(corridor)"])
        defer { stream.close() }
        #expect(stream.status == 200)

        let refusedAck = try await api.post("/alerts/\(id)/ack", token: corridor)
        #expect(refusedAck.status == 403)
        #expect(refusedAck.body.contains("this token may not acknowledge alerts"))
        #expect(try await api.post("/alerts/\(id)/resolve", token: corridor).status == 403)
        #expect(try await api.post("/alerts/\(id)/resolve", token: APIHarness.studentToken).status == 403)
        #expect(api.hub.openAlerts(in: AlertScope(facility: "KTH")).first?.acknowledgedBy == nil, "nothing was done")
        #expect(log.all.contains {
            $0.level == .warning && $0.metadata["reason"] == "token may not acknowledge" && $0.metadata["user"] == "icu.corridor"
        })

        #expect(try await api.post("/alerts/\(id)/ack", token: APIHarness.studentToken).status == 200)
        #expect(api.hub.openAlerts(in: AlertScope(facility: "KTH")).first?.acknowledgedBy == "student.sara")
        #expect(try await api.post("/alerts/\(id)/resolve").status == 200, "a token without can= may do everything")
    }

    @Test("each request is on record with its user and action, refusals with their reason; no token or patient in the log")
    func accessRecord() async throws {
        let log = LogRecorder()
        let api = try await APIHarness.start(log: log)
        defer { api.stop() }
        api.hub.submit([AlertTrigger(
            action: .raise(.critical), key: "d:A|spo2|threshold", rule: "threshold.spo2", vital: "spo2", value: 81, unit: "%",
            patient: PatientIdentifier(id: "MRN-555123", assigningAuthority: "KTH"), device: "A", location: "ICU^1^A",
            observedAt: Timestamp(microsecondsSinceEpoch: 1_790_000_000_000_000)
        )])
        try await waitUntil(timeout: .seconds(10)) { !api.hub.openAlerts(in: AlertScope(facility: "KTH")).isEmpty }
        let id = api.hub.openAlerts(in: AlertScope(facility: "KTH"))[0].id
        #expect(try await api.get("/alerts").body.contains("MRN-555123"))
        #expect(try await api.post("/alerts/\(id)/ack").status == 200)
        #expect(try await api.get("/alerts", token: "not-a-token-of-this-ward").status == 401)
        let stream = try await SSETestClient.connect(port: api.port, path: "/alerts/stream", headers: ["Authorization": "Bearer \(APIHarness.nurseToken)"])
        defer { stream.close() }
        try await waitUntil(timeout: .seconds(10), "the stream on record") { log.all.contains { $0.metadata["action"] == "stream" } }

        let record = log.all.filter { $0.message == "alert API request" }
        #expect(record.map { $0.metadata["action"] } == ["list", "acknowledge", "stream"])
        #expect(record.allSatisfy { $0.level == .info && $0.metadata["user"] == "nurse.amina" })
        #expect(record.first { $0.metadata["action"] == "acknowledge" }?.metadata["alert"] == String(id))
        #expect(log.all.contains { $0.level == .warning && $0.metadata["reason"] == "unknown token" && $0.metadata["path"] == "/alerts" })
        for entry in log.all {
            let text = entry.message + entry.metadata.values.joined(separator: " ")
            #expect(!text.contains("MRN-555123") && !text.contains("not-a-token") && !text.contains(APIHarness.nurseToken), "\(entry.message)")
        }
    }

    @Test("a stream over the user's limit is answered 429, over the engine's 503, and the refusal is logged with the user")
    func streamLimits() async throws {
        let log = LogRecorder()
        let api = try await APIHarness.start(streamLimits: StreamLimits(total: 2, perUser: 1), log: log)
        defer { api.stop() }
        func open(_ token: String) async throws -> SSETestClient {
            try await SSETestClient.connect(port: api.port, path: "/alerts/stream", headers: ["Authorization": "Bearer \(token)"])
        }
        // Streams, refused or not, are opened as a browser does, so that a stream wrongly served
        // fails the status check rather than waiting for a body that never ends.
        let first = try await open(APIHarness.nurseToken)
        let overUser = try await open(APIHarness.nurseToken)
        let other = try await open(APIHarness.otherWardToken)
        let overEngine = try await open(APIHarness.facilityToken)
        defer { for stream in [first, overUser, other, overEngine] { stream.close() } }
        #expect([first.status, overUser.status, other.status, overEngine.status] == [Int]([200, 429, 200, 503]))
        #expect(log.all.contains { $0.level == .warning && $0.metadata["reason"] == "stream limit of the user" && $0.metadata["user"] == "nurse.amina" })
    }

    @Test("a connection that sends no request, or half of one, is closed after the idle timeout; an open stream is not")
    func idleConnectionsAreClosed() async throws {
        let api = try await APIHarness.start(idleTimeout: .seconds(1))
        defer { api.stop() }
        let stream = try await SSETestClient.connect(port: api.port, path: "/alerts/stream", headers: ["Authorization": "Bearer \(APIHarness.nurseToken)"])
        defer { stream.close() }
        let silent = try loopbackSocket(port: api.port)
        let halfSent = try loopbackSocket(port: api.port)
        defer { close(silent); close(halfSent) }
        let head = Array("GET /alerts HTTP/1.1\r\nHost: 127.0.0.1\r\n".utf8)
        #expect(send(halfSent, head, head.count, 0) == head.count)
        try await waitUntil(timeout: .seconds(10), "both idle connections closed by the server") {
            Self.closedByPeer(silent) && Self.closedByPeer(halfSent)
        }
        // The stream, quiet as long (no keep-alive within the timeout), still delivers.
        api.raise("spo2", device: "A", location: "ICU^1^A")
        try await waitUntil(timeout: .seconds(10), "the alert on the stream") { stream.events.count == 1 }
        #expect(!stream.isEnded)
    }

    /// Whether the peer has closed `socket` (a read would return end of file), without blocking.
    static func closedByPeer(_ socket: Int32) -> Bool {
        var byte: UInt8 = 0
        return recv(socket, &byte, 1, Int32(MSG_PEEK | MSG_DONTWAIT)) == 0
    }

    @Test("a tokens file written on Windows (CRLF) gives every token, after a comment line too")
    func tokensFileWithCRLF() throws {
        let tokens = try APITokens(parsing: "# ward tokens\r\nabcdefghijklmnopqrstu nurse.amina KTH ICU1\r\nzyxwvutsrqponmlkjihg dr.omer KTH\r\n")
        #expect(tokens.caller(forToken: "abcdefghijklmnopqrstu")?.user == "nurse.amina")
        #expect(tokens.caller(forToken: "abcdefghijklmnopqrstu")?.scope == AlertScope(facility: "KTH", ward: "ICU1"))
        #expect(tokens.caller(forToken: "zyxwvutsrqponmlkjihg")?.user == "dr.omer")
        // Only the whole token: not a prefix, an extension, one byte changed, or a NUL-padded copy.
        for guess in ["abcdefghijklmnopqrst", "abcdefghijklmnopqrstuv", "abcdefghijklmnopqrstU", "", "abcdefghijklmnopqrstu\0"] {
            #expect(tokens.caller(forToken: guess) == nil, "\(guess)")
        }
    }

    @Test("a tokens file with a short, repeated or malformed token is refused with its line")
    func tokensFile() throws {
        #expect(throws: APITokensError.self) { try APITokens(parsing: "short nurse KTH") }
        do {
            _ = try APITokens(parsing: "# header\nabcdefghijklmnopqrstu nurse KTH\nabcdefghijklmnopqrstu other KTH")
            Issue.record("a repeated token was accepted")
        } catch {
            #expect(error.description == "tokens:3: token repeated")
        }
        do {
            _ = try APITokens(parsing: "abcdefghijklmnopqrstu nurse")
            Issue.record("a line without a facility was accepted")
        } catch {
            #expect(error.line == 1)
        }
        // Permissions: `can=` last, known words only, not empty.
        #expect(try APITokens(parsing: "abcdefghijklmnopqrstu wall KTH ICU can=view").caller(forToken: "abcdefghijklmnopqrstu")?.permissions == [])
        #expect(try APITokens(parsing: "abcdefghijklmnopqrstu nurse KTH can=acknowledge,view")
            .caller(forToken: "abcdefghijklmnopqrstu")?.permissions == .acknowledge)
        #expect(try APITokens(parsing: "abcdefghijklmnopqrstu nurse KTH").caller(forToken: "abcdefghijklmnopqrstu")?.permissions == .all)
        for (line, message) in [
            ("abcdefghijklmnopqrstu wall KTH ICU can=view,delete", "tokens:1: unknown permission `delete` in `can=`; known: view, acknowledge, resolve"),
            ("abcdefghijklmnopqrstu wall KTH can=", "tokens:1: `can=` names nothing; list some of view, acknowledge, resolve"),
            ("abcdefghijklmnopqrstu wall KTH can=view,,resolve", "tokens:1: unknown permission `` in `can=`; known: view, acknowledge, resolve"),
            ("abcdefghijklmnopqrstu wall KTH can=view,resolve", "tokens:1: `resolve` needs `acknowledge` in the same `can=` list"),
            ("abcdefghijklmnopqrstu wall KTH can=view, acknowledge", "tokens:1: `can=…` must be the line's last word, with no spaces in its list"),
            ("abcdefghijklmnopqrstu wall can=view", "tokens:1: expected `token user facility [ward] [can=…]`, found 2 words before `can=`"),
        ] {
            do {
                _ = try APITokens(parsing: line)
                Issue.record("accepted: \(line)")
            } catch {
                #expect(error.description == message)
            }
        }
        // Users scoped to a facility the engine does not serve are named, so it can refuse to start.
        let tokens = try APITokens(parsing: "abcdefghijklmnopqrstu nurse.a KTH ICU\nbcdefghijklmnopqrstuv nurse.b OMD\ncdefghijklmnopqrstuvw dr.c KTH")
        #expect(tokens.users(outside: "KTH") == ["nurse.b"])
        #expect(tokens.users(outside: "OMD") == ["dr.c", "nurse.a"])
    }
}
