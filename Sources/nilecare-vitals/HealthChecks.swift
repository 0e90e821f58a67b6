import Engine
import Ingest
import Telemetry

/// What `GET /health` reports about the daemon's sources and sinks.
enum DaemonHealth {
    /// A submission waiting longer than this means commits are not going through.
    static let stalledCommits: Duration = .seconds(10)

    static func register(on endpoint: MetricsEndpoint, engine: VitalsEngine, mqtt: MQTTIngest?, serial: SerialIngest?) {
        let writer = engine.writer
        endpoint.addHealthCheck("storage") {
            let health = writer.health
            if health.connectedWriters == 0 {
                return .degraded("no database connection: messages are not acknowledged until it is back")
            }
            if health.oldestWaiting > stalledCommits {
                return .degraded("commits stalled: \(health.queuedRows) rows waiting, the oldest for \(health.oldestWaiting.components.seconds) s")
            }
            return .healthy("\(health.connectedWriters) connections, \(health.queuedRows) rows waiting")
        }
        if let source = mqtt?.source {
            endpoint.addHealthCheck("mqtt") {
                let health = source.health
                switch health.state {
                case .connected where !health.subscriptionProblems.isEmpty:
                    return .degraded("connected to \(health.broker), but " + health.subscriptionProblems.joined(separator: "; "))
                case .connected: return .healthy("connected to \(health.broker)")
                case .starting: return .degraded("connecting to \(health.broker)")
                case .reconnecting: return .degraded("reconnecting to \(health.broker): \(health.lastError ?? "unknown error")")
                case .stopped: return .degraded("stopped")
                }
            }
        }
        if let source = serial?.source {
            for port in source.ports {
                endpoint.addHealthCheck("serial \(port.path)") {
                    guard let statistics = source.statistics(port: port.path) else { return .degraded("unknown port") }
                    return statistics.isOpen
                        ? .healthy("open, \(statistics.reopens) reopens")
                        : .degraded("not open (\(statistics.openFailures) failed opens); retrying")
                }
            }
        }
        if let forwarder = engine.forwarder {
            endpoint.addHealthCheck("kafka outbox") {
                if forwarder.isCatchingUp { return .degraded("sending a backlog of undelivered events from the outbox") }
                let pending = forwarder.pendingCount
                return pending < 1_000 ? .healthy("\(pending) events pending") : .degraded("\(pending) events waiting for Kafka")
            }
        }
    }
}
