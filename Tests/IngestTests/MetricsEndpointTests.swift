import DeviceSimulator
import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import Telemetry
import TestSupport
import Synchronization
import Testing

/// What the MLLP source counts is visible to Prometheus.
@Suite(.timeLimit(.minutes(3))) struct MetricsEndpointTests {
    func get(_ url: String) async throws -> (status: Int, body: String) {
        let (data, response) = try await URLSession.shared.data(from: try #require(URL(string: url)))
        return ((response as? HTTPURLResponse)?.statusCode ?? 0, String(decoding: data, as: UTF8.self))
    }

    /// The value of the first sample line of `name` whose labels contain `label`.
    func sample(_ body: String, _ name: String, _ label: String) -> Double? {
        body.split(separator: "\n")
            .first { $0.hasPrefix(name + "{") && $0.contains(label) }
            .flatMap { $0.split(separator: " ").last.flatMap { Double($0) } }
    }

    @Test func rejectionsAndSkippedBytesAreCountedPerReason() async throws {
        MetricsEndpoint.bootstrapMetrics()
        let endpoint = MetricsEndpoint(host: "127.0.0.1", port: 0, logger: .init(label: "test.metrics"))
        let port = try await endpoint.start()
        defer { endpoint.stop() }
        let engine = try await TestEngine.start()
        defer { engine.stop() }

        // The registry is the process's, shared with suites running beside this one: counted
        // from what it held before, with more noise than any other test sends.
        let metrics = "http://127.0.0.1:\(port)/metrics"
        let before = try await get(metrics).body
        let rejectedBefore = sample(before, "mllp_messages_rejected_total", "reason=\"unsupported_message\"") ?? 0
        let discardedBefore = sample(before, "mllp_discarded_bytes_total", "reason=\"outside_frame\"") ?? 0
        let noise = 20_011
        let client = try await MLLPClient.connect(host: "127.0.0.1", port: engine.port)
        defer { Task { await client.close() } }
        try await client.sendRaw(Array(repeating: UInt8(ascii: "n"), count: noise))
        _ = try await client.send(Array("MSH|^~\\&|ADT|HOSP|||20261129101500||ADT^A01|M-1|P|2.5".utf8))

        try await waitUntil(timeout: .seconds(10), "counters exported") {
            let body = try await get(metrics).body
            return (sample(body, "mllp_messages_rejected_total", "reason=\"unsupported_message\"") ?? 0) >= rejectedBefore + 1
                && (sample(body, "mllp_discarded_bytes_total", "reason=\"outside_frame\"") ?? 0) >= discardedBefore + Double(noise)
        }
        #expect(try await get("http://127.0.0.1:\(port)/health") == (200, "ok\n"))
        #expect(try await get("http://127.0.0.1:\(port)/nothing").status == 404)
    }

    @Test("/health lists each component and says degraded while one of them is")
    func healthListsComponents() async throws {
        let endpoint = MetricsEndpoint(host: "127.0.0.1", port: 0, logger: .init(label: "test.metrics"))
        let port = try await endpoint.start()
        defer { endpoint.stop() }
        let broker = Mutex("reconnecting")
        endpoint.addHealthCheck("mqtt") {
            broker.withLock { $0 } == "connected" ? .healthy("connected to mqtt://127.0.0.1:1883") : .degraded("reconnecting: connection refused")
        }
        endpoint.addHealthCheck("serial /dev/ttyUSB0") { .healthy("open, 0 reopens") }
        #expect(try await get("http://127.0.0.1:\(port)/health") == (200, """
            degraded
            mqtt: degraded reconnecting: connection refused
            serial /dev/ttyUSB0: ok open, 0 reopens

            """))
        broker.withLock { $0 = "connected" }
        #expect(try await get("http://127.0.0.1:\(port)/health").body.hasPrefix("ok\nmqtt: ok connected"))
    }

    @Test("a connection that sends nothing is closed after the idle timeout; one that asks is answered")
    func idleConnectionsAreClosed() async throws {
        let endpoint = MetricsEndpoint(host: "127.0.0.1", port: 0, idleTimeout: .seconds(1), logger: .init(label: "test.metrics"))
        let port = try await endpoint.start()
        defer { endpoint.stop() }
        let idle = try RawTCPClient(port: port)
        defer { idle.close() }
        try await waitUntil(timeout: .seconds(30), "the idle connection closed") { idle.isClosedByServer }
        #expect(try await get("http://127.0.0.1:\(port)/health").status == 200)
    }
}
