import ClinicalAPI
import DeviceProfiles
import DeviceSimulator
import Engine
import Foundation
import Kafka
import Logging
import ServiceLifecycle
import Storage
import Synchronization
import TestSupport
import VitalSigns

/// Critical values under load: frame-in → server-sent event and frame-in → Kafka record, while
/// the engine ingests background traffic at half its peak measured in the same run.
///
/// The whole engine runs as `serve` wires it (`VitalsEngine`), against a private PostgreSQL and
/// librdkafka's 3-broker mock cluster. Phase 1 finds the MLLP peak (closed-loop senders). Phase 2
/// paces the senders at half that rate and, beside them, a probe sends one report with a
/// critical SpO2 from a fresh monitor every `probeInterval`: the critical band raises at once, so
/// each probe is one alert. Latency runs from just before the probe's frame is written to when
/// (a) the nurses' stream delivers its `raised` event, and (b) a Kafka consumer reads its
/// record. Every probe must arrive on both: lost alerts are counted.
struct AlertLatencyBenchmark {
    static let targetSSEp99 = 50.0
    static let targetKafkaP99 = 100.0
    static let token = "bench-nurse-token-0123456789abcdef"

    let repository: Repository
    let seconds: Int
    let senders: Int
    let probes: Int
    let logger: Logger
    let summary: Summary

    func run() async throws {
        heading("alerts: frame-in to nurses' stream and to Kafka, under background load at half the peak")
        let cluster = try BenchCluster(repository: repository, durable: true, logger: logger)
        try cluster.start()
        defer { cluster.stop() }
        let (url, migration) = try cluster.migratedDatabase("bench_alerts", mode: nil)
        let kafka = try KafkaMockCluster(brokers: 3, logger: logger)
        defer { kafka.shutdown() }
        try kafka.createTopic("vitals.critical", partitions: 6, replicationFactor: 3)
        say("storage \(migration.mode.rawValue); Kafka: librdkafka mock cluster, 3 brokers, \(kafka.bootstrapServers)")
        say(BenchCluster.writebackLine)

        var configuration = VitalsEngine.Configuration(
            databaseURL: url, profiles: DeviceProfileCatalog(profiles: try DeviceProfileLoader.loadDirectory(repository.deviceProfiles)),
            facility: "BENCH", facilityZone: TimeZone(identifier: "Africa/Khartoum") ?? .gmt
        )
        configuration.mllp.port = 0
        configuration.api.port = 0
        configuration.tokens = try APITokens(parsing: "\(Self.token) bench.nurse BENCH")
        configuration.kafka = VitalsEngine.KafkaSettings(bootstrapServers: kafka.bootstrapServers)
        let engine = try await VitalsEngine(configuration: configuration, logger: logger)
        // In a service group, as the daemon runs it, so that it stops gracefully at the end.
        let api = ServiceGroup(services: [engine.api], logger: logger)
        let serving = Task { try await api.run() }
        while engine.apiPort == nil { try await Task.sleep(for: .milliseconds(20)) }

        let duration = Duration.seconds(seconds)
        say("phase 1, peak: \(senders) closed-loop senders for \(seconds) s")
        let peak = try await LoadGenerator(port: engine.mllpPort, senders: senders, firstMonitor: 0).run(.closedLoop, for: duration)
        let peakRate = Double(peak.messages) / peak.elapsed
        say("  peak \(peakRate.rounded0) messages/s (\((Double(peak.observations) / peak.elapsed).rounded0) observations/s), every stage of the pipeline included")
        summary.add(SummaryRow(figure: "alerts: engine peak with rules and alert stage", measured: "\(peakRate.rounded0) msg/s"))

        let delivered = DeliveryTimes()
        engine.forwarder?.onDelivered { event in delivered.note(event.kafkaKey) }
        let stream = try await SSETestClient.connect(port: engine.apiPort ?? 0, path: "/alerts/stream?access_token=\(Self.token)")
        defer { stream.close() }
        let consumer = KafkaArrivals(bootstrapServers: kafka.bootstrapServers, logger: logger)
        defer { consumer.stop() }
        try await Task.sleep(for: .milliseconds(500))  // consumer assignment settles before the first probe

        let rate = peakRate / 2
        let interval = Duration.seconds(Double(seconds) / Double(probes))
        say("phase 2: background \(rate.rounded0) messages/s (half the peak) for \(seconds) s; \(probes) critical probes, one every \(format(ms: BenchTime.seconds(interval) * 1000))")
        let backgroundLoad = LoadGenerator(port: engine.mllpPort, senders: senders, firstMonitor: senders)
        async let background = backgroundLoad.run(.openLoop(rate: rate), for: duration)
        let phaseStart = ContinuousClock.now
        let (sent, acknowledged) = try await sendProbes(port: engine.mllpPort, count: probes, interval: interval)
        let load = try await background
        say("  background: \(load.messages.grouped) messages ACKed (\(load.negativeAcknowledgements) negative), \((Double(load.messages) / load.elapsed).rounded0)/s")

        // Wait (up to 30 s) for every probe on both paths; what never arrives is a lost alert.
        let deadline = ContinuousClock.now + .seconds(30)
        while ContinuousClock.now < deadline {
            if arrivals(stream).count >= sent.count && consumer.arrivals.count >= sent.count && delivered.times.count >= sent.count { break }
            try await Task.sleep(for: .milliseconds(50))
        }
        let streamArrivals = arrivals(stream)
        let sse = latencies(sent: sent, arrived: streamArrivals)
        let kafkaDelivered = latencies(sent: sent, arrived: delivered.times)
        let kafkaRead = latencies(sent: sent, arrived: consumer.arrivals)
        report("probe's AA (its rows and its alert stored)", latencies(sent: sent, arrived: acknowledged), sent: sent.count, target: nil,
               missing: "probes not acknowledged")
        report("nurses' stream (SSE)", sse, sent: sent.count, target: Self.targetSSEp99)
        report("Kafka delivered (broker acknowledged, acks=all)", kafkaDelivered, sent: sent.count, target: Self.targetKafkaP99)
        report("Kafka record read back by a consumer", kafkaRead, sent: sent.count, target: nil)
        reportSlowest(sent: sent, arrived: streamArrivals, phaseStart: phaseStart)
        await api.triggerGracefulShutdown()
        try? await serving.value
        await engine.stop()
    }

    /// Sends one critical report per fresh monitor; returns each probe's device with its send
    /// time, and with the time its acknowledgement came.
    private func sendProbes(
        port: Int, count: Int, interval: Duration
    ) async throws -> (sent: [String: ContinuousClock.Instant], acknowledged: [String: ContinuousClock.Instant]) {
        let client = try await MLLPClient.connect(host: "127.0.0.1", port: port)
        defer { Task { await client.close() } }
        var sent: [String: ContinuousClock.Instant] = [:]
        var acknowledged: [String: ContinuousClock.Instant] = [:]
        let clock = ContinuousClock()
        let start = clock.now
        for index in 0..<count {
            try await Task.sleep(until: start + interval * index, clock: clock)
            var monitor = SimulatedMonitor(index: 100_000 + index)
            let now = Timestamp(secondsSinceEpoch: Date().timeIntervalSince1970)
            let report = monitor.nextReport(at: now, criticalKind: .spo2)
            sent[monitor.deviceID] = clock.now
            _ = try await client.send(report.bytes)
            acknowledged[monitor.deviceID] = clock.now
        }
        return (sent, acknowledged)
    }

    /// First `raised` event per device on the stream, with when it arrived.
    private func arrivals(_ stream: SSETestClient) -> [String: ContinuousClock.Instant] {
        var result: [String: ContinuousClock.Instant] = [:]
        for event in stream.timedEvents {
            guard let object = try? JSONSerialization.jsonObject(with: Data(event.event.data.utf8)) as? [String: Any],
                  object["type"] as? String == "raised",
                  let device = (object["alert"] as? [String: Any])?["device"] as? String, result[device] == nil else { continue }
            result[device] = event.arrived
        }
        return result
    }

    private func latencies(sent: [String: ContinuousClock.Instant], arrived: [String: ContinuousClock.Instant]) -> (LatencySummary, lost: Int) {
        var samples: [UInt64] = []
        for (device, start) in sent {
            guard let end = arrived[device] else { continue }
            samples.append(UInt64(max(0, BenchTime.seconds(start.duration(to: end))) * 1e9))
        }
        return (LatencySummary(nanoseconds: samples), sent.count - samples.count)
    }

    /// The three slowest probes on the nurses' stream, with when they were sent: stalls that hit
    /// every commit at once (the database's, the disk's) show up together with the background
    /// load's, and can be looked up in PostgreSQL's log at that time.
    private func reportSlowest(sent: [String: ContinuousClock.Instant], arrived: [String: ContinuousClock.Instant], phaseStart: ContinuousClock.Instant) {
        let slowest = sent.compactMap { device, start in arrived[device].map { (start: start, latency: start.duration(to: $0)) } }
            .sorted { $0.latency > $1.latency }
            .prefix(3)
        let described = slowest.map { "\(format(ms: BenchTime.seconds($0.latency) * 1000)) at +\(String(format: "%.1f", BenchTime.seconds(phaseStart.duration(to: $0.start)))) s" }
        say("  slowest on the nurses' stream: \(described.joined(separator: ", ")) into the phase")
    }

    /// `missing` names what did not arrive on this path: by default alerts lost.
    private func report(_ path: String, _ result: (summary: LatencySummary, lost: Int), sent: Int, target: Double?, missing: String = "lost alerts") {
        let figures = "p50 \(format(ms: result.summary.p50))  p99 \(format(ms: result.summary.p99))  max \(format(ms: result.summary.max))"
        say("  frame-in → \(path): \(figures); \(result.summary.count)/\(sent) arrived, \(result.lost) lost")
        summary.add(SummaryRow(
            figure: "frame-in → \(path) p99", measured: format(ms: result.summary.p99),
            comparedWith: "p50 \(format(ms: result.summary.p50)), max \(format(ms: result.summary.max))",
            target: target.map { "< \(Int($0)) ms" } ?? "", met: target.map { result.summary.p99 < $0 && result.lost == 0 }
        ))
        summary.add(SummaryRow(figure: "\(missing) (\(path))", measured: "\(result.lost) of \(sent)", target: "0", met: result.lost == 0))
    }
}

/// When Kafka confirmed each device's first event (the forwarder's delivery reports).
final class DeliveryTimes: Sendable {
    private let seen = Mutex<[String: ContinuousClock.Instant]>([:])

    func note(_ key: String) {
        let now = ContinuousClock.now
        seen.withLock { $0[key] = $0[key] ?? now }
    }

    var times: [String: ContinuousClock.Instant] { seen.withLock { $0 } }
}

/// A consumer of the alert topic on its own thread, noting when each device's first record
/// arrives. Fetch waits are short (`fetch.wait.max.ms=1`) so the consumer adds no batching delay
/// of its own to the measurement.
final class KafkaArrivals: Sendable {
    private let seen = Mutex<[String: ContinuousClock.Instant]>([:])
    private let running = Atomic<Bool>(true)

    init(bootstrapServers: String, logger: Logger) {
        let thread = Thread { [self] in
            do {
                let consumer = try KafkaConsumer(configuration: KafkaConsumerConfiguration(
                    bootstrapServers: bootstrapServers, properties: ["fetch.wait.max.ms": "1", "fetch.error.backoff.ms": "5"]), logger: logger)
                defer { consumer.close() }
                try consumer.assign((0..<6).map { KafkaTopicPartition(topic: "vitals.critical", partition: Int32($0)) })
                while running.load(ordering: .relaxed) {
                    let records = try consumer.poll(timeout: .milliseconds(20))
                    let now = ContinuousClock.now
                    seen.withLock { seen in
                        for record in records { seen[record.keyText] = seen[record.keyText] ?? now }
                    }
                }
            } catch {
                say("kafka consumer failed: \(error)")
            }
        }
        thread.name = "bench-kafka"
        thread.start()
    }

    var arrivals: [String: ContinuousClock.Instant] { seen.withLock { $0 } }

    func stop() { running.store(false, ordering: .relaxed) }
}
