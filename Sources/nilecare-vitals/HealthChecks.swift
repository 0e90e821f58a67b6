import Engine
import Ingest
import Telemetry

/// What `GET /health` reports about the daemon's sources and sinks.
enum DaemonHealth {
    static func register(on endpoint: MetricsEndpoint, engine: VitalsEngine, mqtt: MQTTIngest?, serial: SerialIngest?) {
        if let source = mqtt?.source {
            endpoint.addHealthCheck("mqtt") {
                let health = source.health
                switch health.state {
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
                let pending = forwarder.pendingCount
                return pending < 1_000 ? .healthy("\(pending) events pending") : .degraded("\(pending) events waiting for Kafka")
            }
        }
    }
}
