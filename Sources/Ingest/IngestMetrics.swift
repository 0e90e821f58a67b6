import Metrics

/// The counters and timers of the MLLP source, named once so dashboards can rely on them.
struct IngestMetrics: Sendable {
    let connectionsOpened = Counter(label: "mllp_connections_opened_total")
    let connectionsClosed = Counter(label: "mllp_connections_closed_total")
    let messagesReceived = Counter(label: "mllp_messages_received_total")
    let keepAlives = Counter(label: "mllp_keep_alive_frames_total")
    let observationsAccepted = Counter(label: "mllp_observations_accepted_total")
    let observationsSkipped = Counter(label: "mllp_observations_skipped_total")
    let duplicates = Counter(label: "mllp_messages_duplicate_total")
    let ackLatency = Timer(label: "mllp_ack_latency_seconds")

    func rejected(_ reason: String) -> Counter {
        Counter(label: "mllp_messages_rejected_total", dimensions: [("reason", reason)])
    }

    func discardedBytes(_ reason: String) -> Counter {
        Counter(label: "mllp_discarded_bytes_total", dimensions: [("reason", reason)])
    }

    func connectionErrors(_ reason: String) -> Counter {
        Counter(label: "mllp_connection_errors_total", dimensions: [("reason", reason)])
    }
}
