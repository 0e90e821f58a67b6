import Decoders
import DeviceProfiles
import DeviceSimulator
import Foundation
import Ingest
import Logging
import MQTT
import Storage
import Synchronization
import VitalSigns

/// End to end over MQTT: simulated gateways → private mosquitto → MQTTSource → ObservationWriter
/// → PostgreSQL, PUBACK after commit. Phase 1 paces 500 devices at 1 Hz; phase 2 publishes as
/// fast as the broker takes. Phase 2 is held against the slower of two limits measured in the
/// same run: the same messages through `mosquitto_sub` into a file, and the same rows by raw
/// binary COPY.
struct MQTTBenchmark {
    static let targetRatio = 0.70
    static let database = "bench_mqtt"

    let repository: Repository
    let devices: Int
    let seconds: Int
    let messagesPerDevice: Int
    /// Messages read before their commit is awaited, and the broker's in-flight window.
    let window: Int
    let mode: StorageMode?
    let durable: Bool
    let logger: Logger
    let summary: Summary

    func run() async throws {
        heading("mqtt: end to end through mosquitto, PUBACK after commit")
        let cluster = try BenchCluster(repository: repository, durable: durable, logger: logger)
        try cluster.start()
        defer { cluster.stop() }
        let (url, migration) = try cluster.migratedDatabase(Self.database, mode: mode)
        let broker = try EmbeddedMosquitto(folder: cluster.folder + "/mosquitto", port: EmbeddedPostgres.freeTCPPort(), inflightWindow: window)
        try broker.start()
        defer { broker.stop() }
        say("PostgreSQL \(try cluster.scalar("SHOW server_version") ?? "?") (\(migration.mode.rawValue), \(durable ? "durable" : "fsync off")), "
              + "mosquitto \(broker.url), \(devices) devices, 4 observations per message, window \(window) messages")

        let profiles = try DeviceProfileLoader.loadDirectory(repository.deviceProfiles)
        let profile = try Self.gatewayProfile(profiles)
        try Self.reportDecodeCost(profile: profile, summary: summary)
        let engine = try MQTTEngine(url: url, broker: broker, profile: profile, window: window, logger: logger)
        defer { engine.stop() }

        // Phase 1: 500 devices at 1 Hz.
        say("")
        say("phase 1, paced: \(devices) devices × 1 message/s for \(seconds) s")
        let paced = try await phase(engine, broker: broker, rate: 1, messagesPerDevice: seconds, firstDevice: 0)
        say("  \(paced.line)")
        summary.add(SummaryRow(figure: "mqtt \(devices) devices at 1 Hz", measured: "\(paced.observationsPerSecond.rounded0) obs/s",
                               comparedWith: "publish→commit p50 \(format(ms: paced.latency.p50)), p99 \(format(ms: paced.latency.p99))"))

        // Phase 2: as fast as the broker takes.
        say("")
        say("phase 2, flat out: \(devices) devices × \(messagesPerDevice) messages, published as fast as mosquitto acknowledges")
        let flat = try await phase(engine, broker: broker, rate: nil, messagesPerDevice: messagesPerDevice, firstDevice: devices)
        say("  \(flat.line)")
        engine.stop()
        let total = try cluster.count("ingested_messages", database: Self.database)
        let expected = devices * (seconds + messagesPerDevice)
        say("  check: \(total.grouped) messages stored, \(expected.grouped) published → \(total == expected ? "exactly once ✓" : "MISMATCH ✗")")
        summary.add(SummaryRow(figure: "stored messages = published", measured: total.grouped, comparedWith: expected.grouped, met: total == expected))

        // Limit 1: the broker and libmosquitto alone.
        say("")
        let messages = devices * messagesPerDevice
        say("limit 1: the same \(messages.grouped) messages through mosquitto_sub (QoS 1) into a file")
        let sub = try subscriberLimit(broker: broker, messagesPerDevice: messagesPerDevice)
        say("  \(sub.messagesPerSecond.rounded0) messages/s = \((sub.messagesPerSecond * 4).rounded0) observations/s")

        // Limit 2: PostgreSQL alone.
        say("limit 2: raw binary COPY of the same \((messages * 4).grouped) rows")
        try cluster.postgres.dropDatabase(Self.database)
        let observations = try (0..<messagesPerDevice).flatMap { round in
            try (0..<devices).flatMap { index in
                let device = MQTTGatewaySimulator.deviceID(devices + index)
                let payload = MQTTGatewaySimulator.payload(device: device, id: "\(round)", sequence: round + index,
                                                           time: Date(timeIntervalSinceNow: Double(round)))
                return try GatewayJSONDecoder(profile: profile).decode(payload, context: FrameContext(deviceID: device, receivedAt: Timestamp(microsecondsSinceEpoch: 0))).observations
            }
        }
        let pcd01 = PCD01Decoder(profiles: DeviceProfileCatalog(profiles: profiles), facilityZone: .gmt)
        let copy = try CopyLimit(cluster: cluster, decoder: pcd01, mode: migration.mode).load(CopyLimit.encode(observations), rows: observations.count)
        say("  \(copy.rowsPerSecond.rounded0) rows/s (\(format(copy.seconds, decimals: 2)) s)")

        let limit = min(sub.messagesPerSecond * 4, copy.rowsPerSecond)
        let ratio = flat.observationsPerSecond / limit
        let slower = sub.messagesPerSecond * 4 < copy.rowsPerSecond ? "mosquitto_sub" : "raw COPY"
        say("  end to end / slower limit (\(slower)): \(flat.observationsPerSecond.rounded0) / \(limit.rounded0) = \(percent(ratio)); "
              + "target ≥ \(percent(Self.targetRatio)) → \(ratio >= Self.targetRatio ? "met" : "MISSED")")
        summary.add(SummaryRow(figure: "mqtt flat out", measured: "\(flat.observationsPerSecond.rounded0) obs/s",
                               comparedWith: "mosquitto_sub \((sub.messagesPerSecond * 4).rounded0) obs/s, COPY \(copy.rowsPerSecond.rounded0) rows/s",
                               ratio: percent(ratio), target: "≥ 70% of the slower", met: ratio >= Self.targetRatio))
        summary.add(SummaryRow(figure: "mqtt flat out latency", measured: "p50 \(format(ms: flat.latency.p50))",
                               comparedWith: "p99 \(format(ms: flat.latency.p99)) (publish→commit, queueing included)"))
    }

    static func gatewayProfile(_ profiles: [DeviceProfile]) throws -> DeviceProfile {
        guard let profile = profiles.first(where: { $0.id == "generic-mqtt-gateway" }) else { throw BenchError("no generic-mqtt-gateway profile") }
        return profile
    }

    /// `vitals-bench mqtt --decode-only`: the decoder's figure alone.
    static func reportDecodeCost(repository: Repository, summary: Summary) throws {
        heading("mqtt --decode-only: the gateway JSON decoder on one core")
        let profiles = try DeviceProfileLoader.loadDirectory(repository.deviceProfiles)
        try reportDecodeCost(profile: gatewayProfile(profiles), summary: summary)
    }

    /// The decoder's cost per message, beside Foundation's `JSONSerialization` merely parsing the
    /// same payloads (no field checks, no observations) as the baseline.
    static func reportDecodeCost(profile: DeviceProfile, summary: Summary) throws {
        let payloads = (0..<1_000).map { MQTTGatewaySimulator.payload(device: MQTTGatewaySimulator.deviceID($0), id: "\($0)", sequence: $0) }
        let decoder = GatewayJSONDecoder(profile: profile)
        let context = FrameContext(receivedAt: Timestamp(microsecondsSinceEpoch: 0))
        let decodeCost = try microsecondsPerPayload(payloads) { try decoder.decode($0, context: context).observations.count }
        let parseCost = try microsecondsPerPayload(payloads.map { Data($0) }) { try JSONSerialization.jsonObject(with: $0) is NSDictionary ? 1 : 0 }
        say("decode: GatewayJSONDecoder \(format(decodeCost, decimals: 2)) µs per message on one core (4 observations, \(payloads[0].count) bytes); "
              + "baseline Foundation JSONSerialization, parse only: \(format(parseCost, decimals: 2)) µs")
        summary.add(SummaryRow(figure: "gateway JSON decode (1 core)", measured: "\(format(decodeCost, decimals: 2)) µs/msg",
                               comparedWith: "\((1e6 / decodeCost).rounded0) msg/s; JSONSerialization parse only \(format(parseCost, decimals: 2)) µs/msg"))
    }

    /// Mean time per payload over 20 rounds after a warm-up round; `work` returns a count so
    /// the loop cannot be optimized away.
    private static func microsecondsPerPayload<Payload>(_ payloads: [Payload], _ work: (Payload) throws -> Int) throws -> Double {
        var count = 0
        for payload in payloads { count += try work(payload) }
        let started = ContinuousClock.now
        for round in 0..<20 {
            for payload in payloads { count += try work(payload) + round }
        }
        let seconds = BenchTime.seconds(ContinuousClock.now - started)
        guard count > 0 else { throw BenchError("nothing decoded") }
        return seconds / Double(20 * payloads.count) * 1e6
    }

    struct PhaseResult {
        var messages: Int
        var seconds: Double
        var latency: LatencySummary
        var observationsPerSecond: Double { Double(messages * 4) / seconds }
        var line: String {
            "\(messages.grouped) messages in \(format(seconds, decimals: 2)) s → \((Double(messages) / seconds).rounded0) messages/s, "
                + "\(observationsPerSecond.rounded0) observations/s committed; publish→commit p50 \(format(ms: latency.p50)), "
                + "p99 \(format(ms: latency.p99)), max \(format(ms: latency.max))"
        }
    }

    /// Publishes and waits until the engine has committed every message; from the first publish
    /// to the last commit.
    private func phase(_ engine: MQTTEngine, broker: EmbeddedMosquitto, rate: Double?, messagesPerDevice: Int, firstDevice: Int) async throws -> PhaseResult {
        let before = engine.sink.latencies.withLock { $0.count }
        let expected = before + devices * messagesPerDevice
        var configuration = MQTTGatewaySimulator.Configuration()
        configuration.devices = devices
        configuration.firstDeviceIndex = firstDevice
        configuration.rate = rate
        configuration.messagesPerDevice = messagesPerDevice
        var options = MQTTConnectionOptions(broker: try MQTTBrokerURL(parsing: broker.url), clientID: "bench-gateways-\(firstDevice)")
        options.cleanSession = true
        let simulator = try MQTTGatewaySimulator(configuration: configuration, options: options)
        defer { simulator.publisher.stop() }
        let started = ContinuousClock.now
        try await simulator.run()
        while engine.sink.latencies.withLock({ $0.count }) < expected {
            guard ContinuousClock.now - started < .seconds(600) else { throw BenchError("the engine did not commit every message within 10 minutes") }
            try await Task.sleep(for: .milliseconds(2))
        }
        let elapsed = BenchTime.seconds(ContinuousClock.now - started)
        let samples = engine.sink.latencies.withLock { Array($0[before...]) }
        return PhaseResult(messages: devices * messagesPerDevice, seconds: elapsed, latency: LatencySummary(nanoseconds: samples))
    }

    /// mosquitto_sub with a persistent QoS 1 subscription writes every payload to a file; timed
    /// from the first publish until it has received them all and exited.
    private func subscriberLimit(broker: EmbeddedMosquitto, messagesPerDevice: Int) throws -> (messagesPerSecond: Double, seconds: Double) {
        guard let executable = findExecutable("mosquitto_sub") else { throw BenchError("mosquitto_sub is not on PATH (Debian: mosquitto-clients)") }
        let count = devices * messagesPerDevice
        let output = broker.folder + "/mosquitto_sub.out"
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = ["-h", "127.0.0.1", "-p", "\(broker.port)", "-q", "1", "-t", "limit/+/vitals", "-C", "\(count)", "-i", "bench-sub"]
        guard FileManager.default.createFile(atPath: output, contents: nil) else { throw BenchError("cannot create \(output)") }
        let file = try FileHandle(forWritingTo: URL(fileURLWithPath: output))
        defer { try? file.close() }
        process.standardOutput = file
        process.standardError = FileHandle.nullDevice
        try process.run()
        // Subscribed once the broker logs its connection.
        let deadline = ContinuousClock.now + .seconds(10)
        while !((try? String(contentsOfFile: broker.folder + "/mosquitto.log", encoding: .utf8)) ?? "").contains("as bench-sub") {
            guard ContinuousClock.now < deadline else { process.terminate(); throw BenchError("mosquitto_sub did not connect") }
            Thread.sleep(forTimeInterval: 0.01)
        }
        Thread.sleep(forTimeInterval: 0.2)  // SUBACK follows CONNACK within a round trip
        var configuration = MQTTGatewaySimulator.Configuration()
        configuration.devices = devices
        configuration.rate = nil
        configuration.messagesPerDevice = messagesPerDevice
        configuration.topicPrefix = "limit"
        var options = MQTTConnectionOptions(broker: try MQTTBrokerURL(parsing: broker.url), clientID: "bench-limit")
        options.cleanSession = true
        let simulator = try MQTTGatewaySimulator(configuration: configuration, options: options)
        defer { simulator.publisher.stop() }
        let started = ContinuousClock.now
        let done = DispatchSemaphore(value: 0)
        Task { try? await simulator.run(); done.signal() }
        process.waitUntilExit()
        let elapsed = BenchTime.seconds(ContinuousClock.now - started)
        done.wait()
        return (Double(count) / elapsed, elapsed)
    }
}

/// The engine's MQTT path with a sink that times each message from its publish time (the
/// simulator stamps it) to its commit.
final class MQTTEngine: Sendable {
    let writer: ObservationWriter
    let source: MQTTSource
    let sink: TimingSink

    init(url: String, broker: EmbeddedMosquitto, profile: DeviceProfile, window: Int, logger: Logger) throws {
        writer = try ObservationWriter(url: url, logger: logger)
        sink = TimingSink(writer: writer)
        let options = MQTTConnectionOptions(broker: try MQTTBrokerURL(parsing: broker.url), clientID: "bench-engine")
        var configuration = MQTTSource.Configuration(
            connection: options, subscriptions: [try MQTTSubscription(filter: MQTTTopicFilter("devices/+/vitals"), profile: profile)])
        configuration.maxBurst = window
        source = MQTTSource(
            configuration: configuration,
            sink: sink, rejections: RejectionReporter(recorder: nil, logger: logger), presence: nil, logger: logger
        )
        try source.start()
    }

    func stop() {
        source.stop()
        writer.shutdown()
    }
}

final class TimingSink: ObservationSink {
    let writer: ObservationWriter
    let latencies = Mutex<[UInt64]>([])

    init(writer: ObservationWriter) { self.writer = writer }

    func submit(_ batch: IngestBatch, completion: @escaping @Sendable (Result<WriteOutcome, PostgresError>) -> Void) {
        let published = batch.observations.first?.time.microsecondsSinceEpoch
        writer.submit(batch) { [self] result in
            if case .success = result, let published {
                let now = Int64(Date().timeIntervalSince1970 * 1_000_000)
                self.latencies.withLock { $0.append(UInt64(max(0, now - published)) * 1000) }
            }
            completion(result)
        }
    }
}
