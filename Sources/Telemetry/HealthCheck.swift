/// One component's condition, as `GET /health` lists it.
public struct HealthStatus: Sendable, Equatable {
    public var isHealthy: Bool
    /// What an operator needs to know: `connected`, `reconnecting: connection refused`, …
    public var detail: String

    public static func healthy(_ detail: String = "ok") -> HealthStatus { HealthStatus(isHealthy: true, detail: detail) }
    public static func degraded(_ detail: String) -> HealthStatus { HealthStatus(isHealthy: false, detail: detail) }
}

/// `GET /health`'s body: `ok` or `degraded` on the first line, then one `name: status detail`
/// line per component. The answer is 200 either way: the process is alive and keeps ingesting
/// from its other sources; the body says which source is not.
enum HealthReport {
    static func render(_ checks: [(name: String, status: HealthStatus)]) -> String {
        let healthy = checks.allSatisfy(\.status.isHealthy)
        var text = healthy ? "ok\n" : "degraded\n"
        for check in checks {
            text += "\(check.name): \(check.status.isHealthy ? "ok" : "degraded") \(check.status.detail)\n"
        }
        return text
    }
}
