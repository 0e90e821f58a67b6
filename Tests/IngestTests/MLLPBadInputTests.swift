import DeviceSimulator
import HL7v2
import MLLP
import NIOCore
import Storage
import TestSupport
import Testing
import VitalSigns

/// Bad clients get the right answer or are closed, are logged, and never disturb the others.
@Suite(.timeLimit(.minutes(3))) struct MLLPBadInputTests {
    static let goodMessage = "MSH|^~\\&|MON|ICU|||20261129101500+0000||ORU^R01|G-%@|P|2.6\rPID|||77^^^H\rOBX|1|NM|147842^MDC_ECG_HEART_RATE^MDC|1.1.1.1|80|264864^MDC_DIM_BEAT_PER_MIN^MDC|||||R|||||||DEV-BAD-TESTS"

    static func good(_ id: String) -> [UInt8] {
        Array(goodMessage.replacingOccurrences(of: "%@", with: id).utf8)
    }

    /// Sends messages on `socket`, which reads nothing, until the server pauses the connection;
    /// returns how many were sent whole. Each is answered with an AA carrying 300 warnings (about
    /// 30 kB), so a few hundred unread answers fill the sockets' buffers.
    ///
    /// It sends from a thread of its own: on a cooperative thread, the rest of the suite's
    /// blocking calls could keep it silent for longer than a short idle timeout, and the server
    /// would rightly close it as idle before it was ever paused.
    static func sendUnreadUntilPaused(_ socket: RawTCPClient, engine: TestEngine, controlIDPrefix: String) async throws -> Int {
        let rows = ["OBX|1|NM|147842^MDC_ECG_HEART_RATE^MDC|1.1.1.1|80|264864^MDC_DIM_BEAT_PER_MIN^MDC|||||R|||||||DEV-\(controlIDPrefix)"]
            + (2...301).map { "OBX|\($0)|NM|150456^MDC_PULS_OXIM_SAT_O2^MDC|1.1.1.2|n/a|262688^MDC_DIM_PERCENT^MDC|||||R" }
        @Sendable func frame(_ number: Int) -> [UInt8] {
            let header = "MSH|^~\\&|MON|ICU|||20261129101500+0000||ORU^R01|\(controlIDPrefix)\(number)|P|2.6"
            return [MLLPFraming.startBlock] + Array(([header] + rows).joined(separator: "\r").utf8) + [MLLPFraming.endBlock, MLLPFraming.carriageReturn]
        }
        return try await onOwnThread {
            var sent = 0
            var pendingBytes = frame(0)
            let deadline = ContinuousClock.now + .seconds(60)
            while engine.logs.entries(withReason: "not_reading_replies").isEmpty {
                if let closed = engine.logs.entries(withReason: "idle_timeout").first {
                    throw TestSupportError("the server closed the sender before pausing it (\(closed.message)), after \(sent) messages")
                }
                guard ContinuousClock.now < deadline else {
                    throw TestSupportError("the server did not pause the connection within 60 s; \(sent) messages sent")
                }
                while socket.sendSome(&pendingBytes) {
                    if pendingBytes.isEmpty { sent += 1; pendingBytes = frame(sent) }
                }
                _ = socket.waitUntilWritable(milliseconds: 10)
            }
            return sent
        }
    }

    static func msa(_ ack: [UInt8]) throws -> (code: String, controlID: String, error: HL7Segment?) {
        let message = try HL7Message(parsing: ack)
        let msa = try #require(message.firstSegment(named: "MSA"))
        return (msa[1].value, msa[2].value, message.firstSegment(named: "ERR"))
    }

    /// A well-behaved sender that keeps sending while the bad ones misbehave: the number of its
    /// messages acknowledged `AA`.
    ///
    /// It connects and sends each message from the event loop as the previous ACK arrives. A task
    /// would wait for a cooperative thread before each send, and with the rest of the suite's
    /// blocking calls (initdb, libpq) holding those threads, a sender could stay silent for
    /// longer than an idle timeout and be closed as idle.
    static func steadySender(port: Int, count: Int, prefix: String) async throws -> Int {
        let acknowledged = MLLPClient.connectFuture(host: "127.0.0.1", port: port).flatMap { client in
            send(client, from: 0, of: count, prefix: prefix, acknowledged: 0).always { _ in Task { await client.close() } }
        }
        return try await acknowledged.get()
    }

    private static func send(_ client: MLLPClient, from index: Int, of count: Int, prefix: String, acknowledged: Int) -> EventLoopFuture<Int> {
        guard index < count else { return client.eventLoop.makeSucceededFuture(acknowledged) }
        return client.sendFuture(good("\(prefix)\(index)")).flatMapThrowing { try msa($0).code == "AA" }.flatMap { accepted in
            send(client, from: index + 1, of: count, prefix: prefix, acknowledged: acknowledged + (accepted ? 1 : 0))
        }
    }

    @Test func garbageOutsideFramesIsSkippedCountedAndLogged() async throws {
        let engine = try await TestEngine.start()
        defer { engine.stop() }
        async let steady = Self.steadySender(port: engine.port, count: 200, prefix: "S")
        let client = try await MLLPClient.connect(host: "127.0.0.1", port: engine.port)
        defer { Task { await client.close() } }
        try await client.sendRaw(Array("GET / HTTP/1.1\r\nHost: x\r\n\r\n".utf8) + [0x00, 0xFF, 0x1C, 0x0D])
        // The same connection goes on working after the noise.
        #expect(try Self.msa(await client.send(Self.good("AFTER-NOISE"))).code == "AA")
        #expect(try await steady == 200)
        #expect(engine.logs.entries(withReason: "outside_frame").count == 1)
        #expect(try engine.count("SELECT count(*) FROM vital_signs") == 201)
    }

    @Test("thousands of tiny frames sent in one burst are answered in order, AE each, while the same and other connections' messages are stored")
    func aBurstOfTinyFramesIsAnsweredInOrder() async throws {
        let engine = try await TestEngine.start()
        defer { engine.stop() }
        let client = try await MLLPClient.connect(host: "127.0.0.1", port: engine.port)
        defer { Task { await client.close() } }
        // Frames of one byte, back to back: a few bytes each, thousands in one read.
        let burst = (0..<5_000).map { _ in client.sendFuture([UInt8(ascii: "x")]) }
        let after = client.sendFuture(Self.good("AFTER-BURST"))
        #expect(try await Self.steadySender(port: engine.port, count: 20, prefix: "OTHER") == 20)
        var rejected = 0
        for reply in burst where try Self.msa(await reply.get()).code == "AE" { rejected += 1 }
        #expect(rejected == burst.count)
        #expect(try Self.msa(await after.get()).code == "AA")
        #expect(try engine.count("SELECT count(*) FROM ingested_messages") == 21)
    }

    @Test("a frame over the limit, arriving over many reads, is refused with AE by its control id and the connection goes on; one the sender abandons is dropped; other connections never notice")
    func anOversizedFrameIsRefusedAndTheConnectionGoesOn() async throws {
        let engine = try await TestEngine.start { $0.maximumFrameBytes = 4096 }
        defer { engine.stop() }
        async let steady = Self.steadySender(port: engine.port, count: 200, prefix: "S")
        let client = try await MLLPClient.connect(host: "127.0.0.1", port: engine.port)
        defer { Task { await client.close() } }
        let big = Self.good("BIG") + Array("\rNTE|1||".utf8) + Array(repeating: UInt8(ascii: "A"), count: 100_000)
        let (code, controlID, error) = try Self.msa(await client.send(big))
        #expect(code == "AE" && controlID == "G-BIG")
        #expect(error?[8].value.contains("over this receiver's limit of 4096") == true)
        // A frame abandoned by a new start block is dropped, and the next message answered.
        try await client.sendRaw([MLLPFraming.startBlock] + Array(repeating: UInt8(ascii: "B"), count: 10_000))
        #expect(try Self.msa(await client.send(Self.good("AFTER-BIG"))).code == "AA")
        #expect(try await steady == 200)
        #expect(engine.logs.entries(withReason: "frame_too_large").first?.metadata["peer"] != nil)
        #expect(try engine.query("SELECT control_id FROM ingested_messages WHERE control_id IN ('G-BIG', 'G-AFTER-BIG')") == [["G-AFTER-BIG"]])
    }

    @Test("the frame limit holds for a frame that arrives whole in one read, and a frame of exactly the limit is accepted")
    func aCompleteFrameOverTheLimitIsRefused() async throws {
        let limit = 4096
        let engine = try await TestEngine.start { $0.maximumFrameBytes = limit }
        defer { engine.stop() }
        func padded(_ id: String, to size: Int) -> [UInt8] {
            let message = Self.good(id) + Array("\rNTE|1||".utf8)
            return message + Array(repeating: UInt8(ascii: "x"), count: size - message.count)
        }
        let client = try await MLLPClient.connect(host: "127.0.0.1", port: engine.port)
        defer { Task { await client.close() } }
        #expect(try Self.msa(await client.send(padded("AT-LIMIT", to: limit))).code == "AA")
        let refused = try Self.msa(await client.send(padded("OVER-LIMIT", to: limit + 1)))
        #expect(refused.code == "AE" && refused.controlID == "G-OVER-LIMIT")
        #expect(try engine.count("SELECT count(*) FROM ingested_messages WHERE control_id = 'G-OVER-LIMIT'") == 0)
        #expect(try engine.count("SELECT count(*) FROM ingested_messages WHERE control_id = 'G-AT-LIMIT'") == 1)
    }

    @Test func anEndBlockWithoutItsCarriageReturnDoesNotSwallowTheNextFrame() async throws {
        let engine = try await TestEngine.start()
        defer { engine.stop() }
        let client = try await MLLPClient.connect(host: "127.0.0.1", port: engine.port)
        defer { Task { await client.close() } }
        // `<VT>junk<FS>` and then, without the CR, the next frame's `<VT>`.
        try await client.sendRaw([MLLPFraming.startBlock] + Array("junk".utf8) + [MLLPFraming.endBlock])
        #expect(try Self.msa(await client.send(Self.good("AFTER-BAD-END"), timeout: .seconds(10))).code == "AA")
        #expect(engine.logs.entries(withReason: "bad_end_block").count == 1)
        #expect(engine.logs.entries(withReason: "outside_frame").isEmpty)
    }

    @Test("stopping the listener while a frame is half received closes the connection without blaming its sender: no truncated frame logged or counted")
    func stoppingWithAHalfFrameIsNotTheSendersFault() async throws {
        let engine = try await TestEngine.start()
        defer { engine.stop() }
        let socket = try RawTCPClient(port: engine.port, receiveBuffer: 4096)
        defer { socket.close() }
        // The noise before the frame is logged when it is read, and shows the half frame was read too.
        var unsent = Array("noise".utf8) + [MLLPFraming.startBlock] + Array("MSH|^~\\&|HALF".utf8)
        try await waitUntil(timeout: .seconds(10), "the bytes read") {
            while socket.sendSome(&unsent) {}
            return engine.logs.count(withReason: "outside_frame") == 1
        }
        engine.stop()
        try await waitUntil(timeout: .seconds(10), "the connection closed") {
            engine.logs.all.contains { $0.message == "MLLP connection closed" }
        }
        #expect(engine.logs.entries(withReason: "truncated_frame").isEmpty)
    }

    @Test("a message the database refuses for its data gets AE 207, and the connection goes on")
    func aMessageTheDatabaseRefusesGetsAE() async throws {
        let engine = try await TestEngine.start()
        defer { engine.stop() }
        let client = try await MLLPClient.connect(host: "127.0.0.1", port: engine.port)
        defer { Task { await client.close() } }
        // `\X00\` is a NUL character, which PostgreSQL text cannot hold: resending it would never help.
        let refused = Array(Self.goodMessage.replacingOccurrences(of: "%@", with: "NUL")
            .replacingOccurrences(of: "PID|||77^^^H", with: "PID|||77^^^H\rPV1||I|ICU\\X00\\^1^A").utf8)
        let (code, controlID, error) = try Self.msa(await client.send(refused))
        #expect(code == "AE")
        #expect(controlID == "G-NUL")
        #expect(try #require(error)[3].component(1).value == "207")
        #expect(try Self.msa(await client.send(Self.good("AFTER-NUL"))).code == "AA")
        #expect(engine.logs.entries(withReason: "refused_by_storage").count == 1)
        #expect(try engine.count("SELECT count(*) FROM ingested_messages WHERE control_id = 'G-NUL'") == 0)
        // A large one keeps its header alone while it waits for the database: answered the same.
        let large = Array(Self.goodMessage.replacingOccurrences(of: "%@", with: "NUL-LARGE")
            .replacingOccurrences(of: "PID|||77^^^H", with: "PID|||77^^^H\rNTE|1||\(String(repeating: "x", count: 20_000))\rPV1||I|ICU\\X00\\^1^A").utf8)
        let (largeCode, largeControlID, largeError) = try Self.msa(await client.send(large))
        #expect(largeCode == "AE")
        #expect(largeControlID == "G-NUL-LARGE")
        #expect(try #require(largeError)[3].component(1).value == "207")
    }

    @Test("a sender that never reads its ACKs is paused, not buffered without bound; it gets them all once it reads")
    func aSenderThatDoesNotReadItsAcknowledgementsIsPaused() async throws {
        let engine = try await TestEngine.start()
        defer { engine.stop() }
        let socket = try RawTCPClient(port: engine.port, receiveBuffer: 4096)
        defer { socket.close() }
        let sent = try await Self.sendUnreadUntilPaused(socket, engine: engine, controlIDPrefix: "NR-")
        // Everyone else is unaffected.
        #expect(try await Self.steadySender(port: engine.port, count: 50, prefix: "S") == 50)
        // The sender reads at last: every message it finished sending is answered AA.
        var received: [UInt8] = []
        var answers = 0
        try await waitUntil(timeout: .seconds(60), "all \(sent) answers") {
            received += socket.receiveAvailable()
            answers = received.indices.dropLast().filter { received[$0] == MLLPFraming.endBlock && received[$0 + 1] == MLLPFraming.carriageReturn }.count
            return answers >= sent
        }
        #expect(answers == sent)
        #expect(sent > 0)
        #expect(try engine.count("SELECT count(*) FROM ingested_messages WHERE control_id LIKE 'NR-%'") == sent)
    }

    @Test("a sender that reads none of its acknowledgements for the idle timeout is closed: it would hold its frames and its place for ever")
    func aSenderThatNeverReadsIsClosedAfterTheIdleTimeout() async throws {
        let engine = try await TestEngine.start { $0.idleTimeout = .seconds(3) }
        defer { engine.stop() }
        let socket = try RawTCPClient(port: engine.port, receiveBuffer: 4096)
        defer { socket.close() }
        _ = try await Self.sendUnreadUntilPaused(socket, engine: engine, controlIDPrefix: "HUNG-")
        try await waitUntil(timeout: .seconds(30), "the hung sender closed") {
            !engine.logs.entries(withReason: "replies_unread_timeout").isEmpty
        }
        #expect(engine.logs.entries(withReason: "idle_timeout").isEmpty)
        #expect(try await Self.steadySender(port: engine.port, count: 10, prefix: "S") == 10)
    }

    @Test("a flood of one-byte frames from a sender that reads nothing is answered only as far as its socket takes the answers")
    func aFloodOfTinyFramesIsNotAnsweredIntoMemory() async throws {
        let engine = try await TestEngine.start()
        defer { engine.stop() }
        // 100,000 one-byte frames are 400 kB that one read cycle takes in; each is answered with an
        // AE of about 150 bytes. Answered regardless of the sender, they were 15 MB in memory.
        let frames = 100_000
        var unsent = Array(repeating: [MLLPFraming.startBlock, UInt8(ascii: "x"), MLLPFraming.endBlock, MLLPFraming.carriageReturn], count: frames).flatMap { $0 }
        let socket = try RawTCPClient(port: engine.port, receiveBuffer: 4096)
        defer { socket.close() }
        func answered() -> Int { engine.logs.count(withReason: "unparseable") }
        try await waitUntil(timeout: .seconds(60), "the server pausing the connection") {
            while socket.sendSome(&unsent) {}
            return engine.logs.count(withReason: "not_reading_replies") > 0
        }
        // Quiescence: the count of frames answered holds still for a second.
        var last = (count: answered(), since: ContinuousClock.now)
        try await waitUntil(timeout: .seconds(60), pollEvery: .milliseconds(50), "the answered count holding still") {
            while socket.sendSome(&unsent) {}
            let now = answered()
            if now != last.count { last = (now, .now) }
            return ContinuousClock.now - last.since >= .seconds(1)
        }
        // What the sockets hold (a few MB on loopback) and no more: far from all of them.
        #expect(last.count < frames / 2, "answered \(last.count) of \(frames) frames without the sender reading")
        #expect(try await Self.steadySender(port: engine.port, count: 20, prefix: "S") == 20)
        // The sender reads at last, and the waiting frames are answered again (the test above
        // reads every answer; here the first 5,000 past those held back are enough).
        var first: [UInt8] = []
        var answers = 0
        var previous: UInt8 = 0
        let enough = last.count + 5_000
        // Polled often: the 4 kB receive buffer holds about 25 answers at a time.
        try await waitUntil(timeout: .seconds(120), pollEvery: .milliseconds(1), "\(enough) answers") {
            while socket.sendSome(&unsent) {}
            let chunk = socket.receiveAvailable()
            if first.count < 400 { first += chunk.prefix(400) }
            for byte in chunk {
                if previous == MLLPFraming.endBlock && byte == MLLPFraming.carriageReturn { answers += 1 }
                previous = byte
            }
            return answers >= enough
        }
        #expect(answered() >= enough)
        #expect(String(decoding: first, as: UTF8.self).contains("MSA|AE"))
    }

    @Test("past the connection limit a new connection is closed as it is accepted, logged once; with room again it is served")
    func connectionsPastTheLimitAreClosed() async throws {
        let engine = try await TestEngine.start { $0.maximumConnections = 2 }
        defer { engine.stop() }
        var open: [MLLPClient] = []
        for number in 1...2 {
            let client = try await MLLPClient.connect(host: "127.0.0.1", port: engine.port)
            #expect(try Self.msa(await client.send(Self.good("LIMIT-\(number)"))).code == "AA")
            open.append(client)
        }
        for _ in 1...2 {
            let refused = try await MLLPClient.connect(host: "127.0.0.1", port: engine.port)
            try await refused.closed.get()
        }
        #expect(engine.logs.entries(withReason: "too_many_connections").count == 1)
        // The open ones are served as before.
        #expect(try Self.msa(await open[1].send(Self.good("LIMIT-3"))).code == "AA")
        await open[0].close()
        // Room again once the server has seen the close.
        var served = false
        try await waitUntil(timeout: .seconds(20), "a connection served after one closed") {
            let client = try await MLLPClient.connect(host: "127.0.0.1", port: engine.port)
            defer { Task { await client.close() } }
            served = (try? Self.msa(await client.send(Self.good("LIMIT-4"), timeout: .seconds(5))).code) == "AA"
            return served
        }
        #expect(served)
        await open[1].close()
    }

    @Test("past its own limit an address's new connection is closed as it is accepted, logged once; another address is still served, and the first is again once it has room")
    func connectionsPastTheLimitOfOneAddressAreClosed() async throws {
        let engine = try await TestEngine.start {
            $0.maximumConnections = 6
            $0.maximumConnectionsPerPeer = 2
        }
        defer { engine.stop() }
        /// A connection from `source` that sent a message and has its answer: accepted.
        func answered(from source: String, _ id: String) async throws -> RawTCPClient {
            let socket = try RawTCPClient(port: engine.port, from: source)
            var unsent = Self.framed(Self.good(id))
            var reply: [UInt8] = []
            try await waitUntil(timeout: .seconds(20), "\(id) answered") {
                while socket.sendSome(&unsent) {}
                reply += socket.receiveAvailable()
                return reply.last == MLLPFraming.carriageReturn
            }
            #expect(String(decoding: reply, as: UTF8.self).contains("MSA|AA|G-\(id)"))
            return socket
        }
        let gateway = [try await answered(from: "127.0.0.2", "PEER-1"), try await answered(from: "127.0.0.2", "PEER-2")]
        defer { gateway.forEach { $0.close() } }
        for _ in 1...2 {
            let refused = try RawTCPClient(port: engine.port, from: "127.0.0.2")
            defer { refused.close() }
            try await waitUntil(timeout: .seconds(20), "the third connection from 127.0.0.2 closed") { refused.isClosedByServer }
        }
        let logged = engine.logs.entries(withReason: "too_many_connections_from_peer")
        #expect(logged.count == 1)
        #expect(logged.first?.metadata["peer"]?.contains("127.0.0.2") == true)
        // Another address is served, well below the listener's own limit.
        let monitor = try await MLLPClient.connect(host: "127.0.0.1", port: engine.port)
        #expect(try Self.msa(await monitor.send(Self.good("OTHER-PEER"))).code == "AA")
        await monitor.close()
        // Room for the gateway again once the server has seen one of its connections close.
        gateway[0].close()
        try await waitUntil(timeout: .seconds(20), "a connection from 127.0.0.2 served again") {
            let socket = try RawTCPClient(port: engine.port, from: "127.0.0.2")
            defer { socket.close() }
            var unsent = Self.framed(Self.good("PEER-3"))
            var reply: [UInt8] = []
            try await waitUntil(timeout: .seconds(5), "answered or closed") {
                while socket.sendSome(&unsent) {}
                reply += socket.receiveAvailable()
                return reply.last == MLLPFraming.carriageReturn || socket.isClosedByServer
            }
            return String(decoding: reply, as: UTF8.self).contains("MSA|AA|G-PEER-3")
        }
        #expect(engine.logs.entries(withReason: "too_many_connections").isEmpty)
    }

    @Test func aTruncatedFrameIsReportedAndStoresNothing() async throws {
        let engine = try await TestEngine.start()
        defer { engine.stop() }
        async let steady = Self.steadySender(port: engine.port, count: 100, prefix: "S")
        let client = try await MLLPClient.connect(host: "127.0.0.1", port: engine.port)
        let message = Self.good("HALF")
        try await client.sendRaw([0x0B] + message.prefix(message.count / 2))
        await client.close()
        #expect(try await steady == 100)
        try await waitUntil(timeout: .seconds(10)) { !engine.logs.entries(withReason: "truncated_frame").isEmpty }
        #expect(try engine.count("SELECT count(*) FROM ingested_messages WHERE control_id = 'G-HALF'") == 0)
    }

    @Test func aStalledSocketIsClosedAfterTheIdleTimeout() async throws {
        // 8 s, not 4: on two slow cores running the whole suite (this test took 95 s in one CI
        // run), the steady sender's event loop was once held 4 s between an ACK and its next
        // message, and its connection was rightly closed as idle.
        let engine = try await TestEngine.start { $0.idleTimeout = .seconds(8) }
        defer { engine.stop() }
        let stalled = try await MLLPClient.connect(host: "127.0.0.1", port: engine.port)
        // Half a frame that never completes; on a slow machine the server may already have
        // given up on the silent connection, which is the behaviour under test as well.
        try? await stalled.sendRaw([0x0B] + Self.good("STALL").prefix(20))
        try await stalled.closed.get()
        #expect(try await Self.steadySender(port: engine.port, count: 20, prefix: "S") == 20)
        #expect(engine.logs.entries(withReason: "idle_timeout").count >= 1)
    }

    @Test("a sender answered after a commit slower than the idle timeout is not idle")
    func aSlowCommitDoesNotMakeTheSenderIdle() async throws {
        // Timeout T = 8 s. The first commit is held until about 10 s, so the idle check at 8 s
        // finds the message still being stored; the sender answers its ACK 7 s later (under T),
        // and the check at 16 s falls into that pause. Quiet since its last read, but not since
        // its last reply: the connection must stay open. (With T = 4 s, a connection starved for
        // 4 s by the rest of the suite on two cores was closed before its message was read.)
        let engine = try await TestEngine.start { $0.idleTimeout = .seconds(8) }
        defer { engine.stop() }
        let locker = try PostgresConnection(url: engine.databaseURL)
        defer { locker.close() }
        try locker.execute("BEGIN; LOCK TABLE ingested_messages IN ACCESS EXCLUSIVE MODE")
        let started = ContinuousClock.now
        // Connected and sent in one chain on the event loop: a task resumed after `connect` can
        // wait seconds for a thread while the rest of the suite runs on two cores, and a
        // connection that has sent nothing for the idle timeout is rightly closed. The second
        // message goes 7 s after the first ACK arrives, timed on the event loop too.
        let connected = MLLPClient.connectFuture(host: "127.0.0.1", port: engine.port)
        let first = connected.flatMap { $0.sendFuture(Self.good("SLOW-1")) }
        let second = first.flatMap { _ in connected }.flatMap { client in
            client.eventLoop.scheduleTask(in: .seconds(7)) {}.futureResult.flatMap { client.sendFuture(Self.good("SLOW-2")) }
        }
        defer { Task { try? await connected.get().close() } }
        // 30 s: with the whole suite running on two cores, reaching the lock has taken over 10.
        // Waiters on this table only: TimescaleDB's background jobs may wait on locks of their own.
        try await waitUntil(timeout: .seconds(30), "the commit waiting for the lock (engine said: \(engine.logs.all.map(\.message)); waiting: \((try? engine.query("SELECT wait_event_type, wait_event, left(query, 60) FROM pg_stat_activity WHERE datname = current_database() AND state <> 'idle'")) ?? []))") {
            try engine.count("""
                SELECT count(*) FROM pg_locks l JOIN pg_class c ON c.oid = l.relation
                WHERE NOT l.granted AND c.relname = 'ingested_messages' AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
                """) >= 1
        }
        try await Task.sleep(until: started + .seconds(10))  // holding the lock is the scenario
        try locker.execute("COMMIT")
        #expect(try Self.msa(await first.get()).code == "AA")
        #expect(try Self.msa(await second.get()).code == "AA")
        #expect(engine.logs.entries(withReason: "idle_timeout").isEmpty)
    }

    @Test func aMessageTypeWeDoNotAcceptGetsAR() async throws {
        let engine = try await TestEngine.start()
        defer { engine.stop() }
        let client = try await MLLPClient.connect(host: "127.0.0.1", port: engine.port)
        defer { Task { await client.close() } }
        let adt = Array("MSH|^~\\&|ADT|HOSP|||20261129101500||ADT^A01^ADT_A01|ADT-1|P|2.5\rPID|||1^^^H".utf8)
        let (code, controlID, error) = try Self.msa(await client.send(adt))
        #expect(code == "AR")
        #expect(controlID == "ADT-1")
        let err = try #require(error)
        #expect(err[3].component(1).value == "200")
        #expect(err[3].component(3).value == "HL70357")
        #expect(err[2].component(1).value == "MSH")
        #expect(err[2].component(3).value == "9")
        #expect(try Self.msa(await client.send(Self.good("AFTER-ADT"))).code == "AA")
        #expect(engine.logs.all.contains { $0.metadata["reason"] == "unsupported_message" && $0.metadata["control_id"] == "ADT-1" })
    }

    @Test func anInvalidHeaderGetsAEWithTheErrorLocation() async throws {
        let engine = try await TestEngine.start()
        defer { engine.stop() }
        let client = try await MLLPClient.connect(host: "127.0.0.1", port: engine.port)
        defer { Task { await client.close() } }
        // Not a header at all.
        let (code, controlID, error) = try Self.msa(await client.send(Array("PID|||1\rOBX|1|NM|x".utf8)))
        #expect(code == "AE")
        #expect(controlID == "")
        #expect(try #require(error)[8].value.isEmpty == false)
        // A header whose encoding characters repeat the field separator.
        let (badCode, _, badError) = try Self.msa(await client.send(Array("MSH||||ICU|||20261129||ORU^R01|X-1|P|2.6".utf8)))
        #expect(badCode == "AE")
        #expect(try #require(badError)[2].component(1).value == "MSH")
        // An ORU^R01 without a control id: AE 101 pointing at MSH-10.
        let (missingCode, _, missingError) = try Self.msa(await client.send(Array("MSH|^~\\&|MON|ICU|||20261129101500||ORU^R01||P|2.6".utf8)))
        #expect(missingCode == "AE")
        #expect(try #require(missingError)[3].component(1).value == "101")
        #expect(try #require(missingError)[2].component(3).value == "10")
        // And the connection still works.
        #expect(try Self.msa(await client.send(Self.good("AFTER-BAD-MSH"))).code == "AA")
        #expect(engine.logs.entries(withReason: "unparseable").count >= 2)
    }

    @Test func aBrokenBodyUnderAGoodHeaderIsRefusedByName() async throws {
        let engine = try await TestEngine.start()
        defer { engine.stop() }
        let client = try await MLLPClient.connect(host: "127.0.0.1", port: engine.port)
        defer { Task { await client.close() } }
        let broken = Array("MSH|^~\\&|MON|ICU|||20261129101500||ORU^R01|BODY-1|P|2.6\rOBX|1|NM|147842^HR^MDC|1|8\\F0".utf8)
        let (code, controlID, error) = try Self.msa(await client.send(broken))
        #expect(code == "AE")
        #expect(controlID == "BODY-1")
        #expect(try #require(error)[2].component(1).value == "OBX")
        #expect(try engine.count("SELECT count(*) FROM ingested_messages") == 0)
    }

    @Test func rowsWithoutAStorableValueAreListedAsWarningsOfTheAA() async throws {
        let engine = try await TestEngine.start()
        defer { engine.stop() }
        let client = try await MLLPClient.connect(host: "127.0.0.1", port: engine.port)
        defer { Task { await client.close() } }
        let message = Array("""
            MSH|^~\\&|MON|ICU|||20261129101500+0000||ORU^R01|WARN-1|P|2.6\r\
            OBX|1|NM|147842^MDC_ECG_HEART_RATE^MDC|1.1.1.1|80|264864^MDC_DIM_BEAT_PER_MIN^MDC|||||R|||||||DEV-W\r\
            OBX|2|NM|150456^MDC_PULS_OXIM_SAT_O2^MDC|1.1.1.2|n/a|262688^MDC_DIM_PERCENT^MDC|||||R
            """.utf8)
        let ack = try HL7Message(parsing: try await client.send(message))
        #expect(ack.firstSegment(named: "MSA")?[1].value == "AA")
        let warnings = ack.segments(named: "ERR")
        #expect(warnings.count == 1)
        #expect(warnings.first?[4].value == "W")
        #expect(warnings.first?[2].component(2).value == "2")
        #expect(warnings.first?[2].component(3).value == "5")
        #expect(try engine.count("SELECT count(*) FROM vital_signs") == 1)
    }

    @Test("a row whose value decodes to MLLP's frame bytes (\\X1C\\, \\X0B\\) gets an AA the sender can read, its warning escaped")
    func frameBytesInAWarningDoNotBreakTheReplysFrame() async throws {
        let engine = try await TestEngine.start()
        defer { engine.stop() }
        let client = try await MLLPClient.connect(host: "127.0.0.1", port: engine.port)
        defer { Task { await client.close() } }
        let message = Array(("MSH|^~\\&|MON|ICU|||20261129101500+0000||ORU^R01|WARN-FRAME|P|2.6\r"
            + "OBX|1|NM|147842^MDC_ECG_HEART_RATE^MDC|1.1.1.1|80|264864^MDC_DIM_BEAT_PER_MIN^MDC|||||R|||||||DEV-W\r"
            + "OBX|2|NM|150456^MDC_PULS_OXIM_SAT_O2^MDC|1.1.1.2|9\\X1C0D\\7\\X0B\\|262688^MDC_DIM_PERCENT^MDC|||||R").utf8)
        let ack = try HL7Message(parsing: try await client.send(message))
        #expect(ack.firstSegment(named: "MSA")?[1].value == "AA")
        #expect(ack.firstSegment(named: "ERR")?[8].value == "NM value '9\u{1C}\r7\u{0B}' is not a number")
        #expect(try engine.count("SELECT count(*) FROM vital_signs") == 1)
    }

    @Test("a message of thousands of rows without a value gets an AA of bounded size: 20 rows named, the others counted")
    func manySkippedRowsAreNamedUpToABound() async throws {
        let engine = try await TestEngine.start()
        defer { engine.stop() }
        let client = try await MLLPClient.connect(host: "127.0.0.1", port: engine.port)
        defer { Task { await client.close() } }
        let header = "MSH|^~\\&|MON|ICU|||20261129101500+0000||ORU^R01|WARN-MANY|P|2.6\r"
            + "OBX|1|NM|147842^MDC_ECG_HEART_RATE^MDC|1.1.1.1|80|264864^MDC_DIM_BEAT_PER_MIN^MDC|||||R|||||||DEV-W\r"
        let rows = (2...1_001).map { "OBX|\($0)|ST|X^free text^L|1.1.1.\($0)|text" }.joined(separator: "\r")
        let ack = try HL7Message(parsing: try await client.send(Array((header + rows).utf8)))
        #expect(ack.firstSegment(named: "MSA")?[1].value == "AA")
        let warnings = ack.segments(named: "ERR")
        #expect(warnings.count == 21)
        #expect(warnings.first?[2].component(2).value == "2")
        #expect(warnings.last?[8].value == "and 980 more OBX rows skipped")
        #expect(try engine.count("SELECT count(*) FROM vital_signs") == 1)
    }

    @Test("a message sent in training or debugging mode (MSH-11 T, D) gets AR 202 and stores nothing")
    func trainingAndDebuggingMessagesAreRefused() async throws {
        let engine = try await TestEngine.start()
        defer { engine.stop() }
        let client = try await MLLPClient.connect(host: "127.0.0.1", port: engine.port)
        defer { Task { await client.close() } }
        for mode in ["T", "D"] {
            let message = Self.good("MODE-\(mode)").replacing(Array("|P|2.6".utf8), with: Array("|\(mode)|2.6".utf8))
            let (code, controlID, error) = try Self.msa(await client.send(message))
            #expect(code == "AR")
            #expect(controlID == "G-MODE-\(mode)")
            let err = try #require(error)
            #expect(err[3].component(1).value == "202")
            #expect(err[2].component(3).value == "11")
        }
        #expect(try Self.msa(await client.send(Self.good("MODE-P"))).code == "AA")
        #expect(try engine.count("SELECT count(*) FROM vital_signs") == 1)
        #expect(engine.logs.all.contains { $0.metadata["reason"] == "unsupported_processing_id" && $0.metadata["control_id"] == "G-MODE-T" })
    }

    /// `message` in an MLLP frame, for `sendRaw`: sent without waiting for an answer.
    static func framed(_ message: [UInt8]) -> [UInt8] {
        [MLLPFraming.startBlock] + message + [MLLPFraming.endBlock, MLLPFraming.carriageReturn]
    }

    /// `goodMessage` with MSH-15 and MSH-16 set.
    static func asking(_ id: String, accept: String, application: String, time: String = "20261129101500+0000") -> [UInt8] {
        Array(goodMessage.replacingOccurrences(of: "%@|P|2.6", with: "\(id)|P|2.6|||\(accept)|\(application)")
            .replacingOccurrences(of: "20261129101500+0000", with: time).utf8)
    }

    @Test("a sender asking for no acknowledgement (MSH-15 and MSH-16 NE), or for one on error only, gets none for a stored message, and AE for a bad one; PCD-01's NE/AL and AL/NE get AA")
    func acknowledgementsAsTheSenderAskedForThem() async throws {
        let engine = try await TestEngine.start()
        defer { engine.stop() }
        let client = try await MLLPClient.connect(host: "127.0.0.1", port: engine.port)
        defer { Task { await client.close() } }
        // Sent without waiting: an answer to either would be taken as the next message's.
        try await client.sendRaw(Self.framed(Self.asking("NE-NE", accept: "NE", application: "NE")))
        try await client.sendRaw(Self.framed(Self.asking("ER-OK", accept: "ER", application: "ER")))
        var answer = try Self.msa(await client.send(Self.asking("ER-BAD", accept: "NE", application: "ER", time: "2026-11-29")))
        #expect(answer.code == "AE" && answer.controlID == "G-ER-BAD")
        for (accept, application) in [("NE", "AL"), ("AL", "NE"), ("SU", "NE")] {
            answer = try Self.msa(await client.send(Self.asking("\(accept)-\(application)", accept: accept, application: application)))
            #expect(answer.code == "AA" && answer.controlID == "G-\(accept)-\(application)")
        }
        #expect(try engine.count("SELECT count(*) FROM ingested_messages") == 5)
    }

    @Test("an acknowledgement sent to the listener is not answered (two engines would answer each other for ever)")
    func anAcknowledgementIsNotAnswered() async throws {
        let engine = try await TestEngine.start()
        defer { engine.stop() }
        let client = try await MLLPClient.connect(host: "127.0.0.1", port: engine.port)
        defer { Task { await client.close() } }
        try await client.sendRaw(Self.framed(Array("MSH|^~\\&|OTHER|HOSP|||20261129101500||ACK^R01^ACK|A-1|P|2.6\rMSA|AA|G-1".utf8)))
        // Nor one that does not parse (an odd-length hex escape in ERR-8): its AE would be answered in turn.
        try await client.sendRaw(Self.framed(Array("MSH|^~\\&|OTHER|HOSP|||20261129101500||ACK^R01^ACK|A-2|P|2.6\rMSA|AE|G-2\rERR|||207|E||||bad \\X1\\".utf8)))
        #expect(try Self.msa(await client.send(Self.good("AFTER-ACK"))).controlID == "G-AFTER-ACK")
    }

    @Test("an empty frame (an interface engine's keep-alive) is not answered, and the messages around it are")
    func aKeepAliveFrameIsNotAnswered() async throws {
        let engine = try await TestEngine.start()
        defer { engine.stop() }
        let client = try await MLLPClient.connect(host: "127.0.0.1", port: engine.port)
        defer { Task { await client.close() } }
        #expect(try Self.msa(await client.send(Self.good("BEFORE"))).controlID == "G-BEFORE")
        try await client.sendRaw(Self.framed([]) + Self.framed(Array("\r".utf8)) + Self.framed(Array("\r\n".utf8)))
        // Had any of the three been answered, its AE would be read here in place of the AA.
        #expect(try Self.msa(await client.send(Self.good("AFTER"))).controlID == "G-AFTER")
        #expect(engine.logs.count(withReason: "unparseable") == 0)
        #expect(try engine.count("SELECT count(*) FROM ingested_messages") == 2)
    }

    @Test("a stray escape character in MSH (a DOMAIN\\HOST in MSH-4) gets an AE that still names the message and its sender")
    func aStrayEscapeInTheHeaderIsAnsweredByName() async throws {
        let engine = try await TestEngine.start()
        defer { engine.stop() }
        let client = try await MLLPClient.connect(host: "127.0.0.1", port: engine.port)
        defer { Task { await client.close() } }
        let message = Array("MSH|^~\\&|MON|WARD\\3|NC|HOSP|20261129101500+0000||ORU^R01|STRAY-1|P|2.6".utf8)
        let answer = try await client.send(message)
        let (code, controlID, error) = try Self.msa(answer)
        #expect(code == "AE" && controlID == "STRAY-1")
        #expect(try #require(error)[8].value.contains("escape"))
        let header = try HL7Message(parsing: answer).segment(at: 0)
        #expect(header[5].value == "MON" && header[11].value == "P" && header[12].value == "2.6")
        // Copied so that it parses, and reads back as the sender wrote it.
        #expect(String(decoding: header[6].rawBytes, as: UTF8.self) == "WARD\\E\\3" && header[6].value == "WARD\\3")
        #expect(try engine.count("SELECT count(*) FROM ingested_messages") == 0)
    }

    @Test("a frame holding two messages gets AE naming the second MSH, and stores neither")
    func twoMessagesInOneFrameAreRefused() async throws {
        let engine = try await TestEngine.start()
        defer { engine.stop() }
        let client = try await MLLPClient.connect(host: "127.0.0.1", port: engine.port)
        defer { Task { await client.close() } }
        let two = Self.good("FIRST") + [0x0D] + Self.good("SECOND")
        let (code, controlID, error) = try Self.msa(await client.send(two))
        #expect(code == "AE" && controlID == "G-FIRST")
        let err = try #require(error)
        #expect(err[3].component(1).value == "100")
        #expect(err[8].value.contains("segment 4 is a second MSH"))
        #expect(try engine.count("SELECT count(*) FROM vital_signs") == 0)
    }

    @Test("a device that sends Latin-1 without MSH-18 is read as Latin-1 when the engine is told so; otherwise its message gets AE")
    func aDefaultCharsetForOlderDevices() async throws {
        // "Salle B" with an é (0xE9 in Latin-1, not valid UTF-8) in PV1-3.
        let message = Array("MSH|^~\\&|MON|ICU|||20261129101500+0000||ORU^R01|L1-1|P|2.3\rPID|||77^^^H\rPV1||I|Salle ".utf8) + [0xE9]
            + Array("^1^A\rOBX|1|NM|147842^MDC_ECG_HEART_RATE^MDC|1.1.1.1|80|264864^MDC_DIM_BEAT_PER_MIN^MDC|||||R|||||||DEV-LATIN1".utf8)
        let strict = try await TestEngine.start()
        let refused = try await {
            let client = try await MLLPClient.connect(host: "127.0.0.1", port: strict.port)
            defer { Task { await client.close() } }
            return try Self.msa(await client.send(message)).code
        }()
        strict.stop()
        #expect(refused == "AE")

        let latin1 = try await TestEngine.start(defaultCharset: .iso8859_1)
        defer { latin1.stop() }
        let client = try await MLLPClient.connect(host: "127.0.0.1", port: latin1.port)
        defer { Task { await client.close() } }
        #expect(try Self.msa(await client.send(message)).code == "AA")
        #expect(try latin1.query("SELECT DISTINCT location FROM vital_signs") == [["Salle \u{E9}^1^A"]])
    }
}
