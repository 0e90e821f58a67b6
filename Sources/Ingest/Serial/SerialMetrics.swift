import Metrics

/// The metrics of one serial port, named once so dashboards can rely on them.
struct SerialMetrics: Sendable {
    let up: Gauge
    let reopens: Counter
    let openFailures: Counter
    let framesDecoded: Counter
    let observations: Counter
    let unassociated: Counter
    let batchesFailed: Counter
    let dropped: Counter
    private let port: String

    init(port: String) {
        self.port = port
        let dimensions = [("port", port)]
        up = Gauge(label: "serial_port_up", dimensions: dimensions)
        reopens = Counter(label: "serial_port_reopens_total", dimensions: dimensions)
        openFailures = Counter(label: "serial_port_open_failures_total", dimensions: dimensions)
        framesDecoded = Counter(label: "serial_frames_decoded_total", dimensions: dimensions)
        observations = Counter(label: "serial_observations_total", dimensions: dimensions)
        unassociated = Counter(label: "serial_observations_unassociated_total", dimensions: dimensions)
        batchesFailed = Counter(label: "serial_batches_failed_total", dimensions: dimensions)
        dropped = Counter(label: "serial_observations_dropped_total", dimensions: dimensions)
    }

    func status(_ condition: String) -> Counter {
        Counter(label: "serial_device_status_total", dimensions: [("port", port), ("condition", condition)])
    }
}
