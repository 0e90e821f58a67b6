import Metrics

/// The pipeline's figures through swift-metrics, every one with a `pipeline` dimension.
struct PipelineMetrics: Sendable {
    let occupancy: Gauge
    let producerWaits: Counter
    let producerWaitTime: Timer
    let fullRejections: Counter
    private let pipeline: String
    private let factory: any MetricsFactory

    init(pipeline: String, factory: any MetricsFactory) {
        self.pipeline = pipeline
        self.factory = factory
        let dimensions = [("pipeline", pipeline)]
        occupancy = Gauge(label: "pipeline_occupancy", dimensions: dimensions, factory: factory)
        producerWaits = Counter(label: "pipeline_producer_waits_total", dimensions: dimensions, factory: factory)
        producerWaitTime = Timer(label: "pipeline_producer_wait", dimensions: dimensions, factory: factory)
        fullRejections = Counter(label: "pipeline_full_rejections_total", dimensions: dimensions, factory: factory)
    }

    func stageLag(_ stage: String) -> Gauge {
        Gauge(label: "pipeline_stage_lag", dimensions: [("pipeline", pipeline), ("stage", stage)], factory: factory)
    }
}
