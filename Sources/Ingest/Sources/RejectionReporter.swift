import Foundation
import Logging
import Metrics
import Storage
import Synchronization

/// How the MQTT and serial sources answer a frame they cannot decode: counted per device and
/// reason, logged once per device per minute (with the topic or port, never the payload), and
/// kept whole in `rejected_frames`. The source itself goes on with the next frame.
///
/// Device names come from topics any allowed publisher can make up, so only the first
/// `countedDevicesLimit` of them get counter series of their own; the rest are counted as
/// `other`, and the metrics endpoint stays bounded however many names a client invents.
///
/// The decoder's detail can quote the frame (a monitor left in HL7 mode sends PID lines with a
/// patient's name), so it goes to the debug level only; the warning says which frame and why.
public final class RejectionReporter: Sendable {
    private let recorder: RejectedFrameRecorder?
    private let logger: Logger
    private let logInterval: Duration
    private let lastLogged = Mutex<[String: ContinuousClock.Instant]>([:])
    private let countedDevices = Mutex<Set<String>>([])
    private let metricsFactory: any MetricsFactory

    private static let rememberedLimit = 10_000
    public static let countedDevicesLimit = 1_000

    /// `recorder` nil keeps counting and logging but stores nothing (e.g. no database in a tool).
    public init(
        recorder: RejectedFrameRecorder?, logger: Logger, logInterval: Duration = .seconds(60),
        metricsFactory: any MetricsFactory = MetricsSystem.factory
    ) {
        self.recorder = recorder
        self.logger = logger
        self.logInterval = logInterval
        self.metricsFactory = metricsFactory
    }

    /// `kept` is called once the frame is in `rejected_frames` (or could not be kept: no
    /// recorder, or its queue full): a source that acknowledges frames acknowledges it then.
    public func reject(_ frame: RejectedFrame, whenKept kept: (@Sendable () -> Void)? = nil) {
        Counter(label: "\(frame.source)_frames_rejected_total", dimensions: [
            ("device", counterLabel(device: frame.device)), ("reason", frame.reason),
        ], factory: metricsFactory).increment()
        if let recorder { recorder.record(frame, whenKept: kept) } else { kept?() }
        let key = "\(frame.source)|\(frame.device ?? frame.origin)"
        let now = ContinuousClock.now
        let due = lastLogged.withLock { last in
            if let previous = last[key], previous.duration(to: now) < logInterval { return false }
            // Device names come from topics any allowed publisher can make up: forget the ones
            // whose interval is over rather than keep one entry per name for ever.
            if last.count >= Self.rememberedLimit { last = last.filter { $0.value.duration(to: now) < logInterval } }
            last[key] = now
            return true
        }
        guard due else { return }
        let metadata: Logger.Metadata = [
            "source": "\(frame.source)", "origin": "\(frame.origin)", "device": "\(frame.device ?? "unknown")", "reason": "\(frame.reason)",
        ]
        logger.warning("frame rejected", metadata: metadata)
        logger.debug("frame rejected: detail", metadata: metadata.merging(["detail": "\(frame.detail)"]) { $1 })
    }

    /// The device's own name while fewer than `countedDevicesLimit` names have been counted.
    private func counterLabel(device: String?) -> String {
        guard let device else { return "unknown" }
        return countedDevices.withLock { counted in
            if counted.contains(device) { return device }
            guard counted.count < Self.countedDevicesLimit else { return "other" }
            counted.insert(device)
            return device
        }
    }
}
