import Foundation
import Logging
import Metrics
import Storage
import Synchronization

/// How the MQTT and serial sources answer a frame they cannot decode: counted per device and
/// reason, logged once per device per minute (with the topic or port, never the payload), and
/// kept whole in `rejected_frames`. The source itself goes on with the next frame.
public final class RejectionReporter: Sendable {
    private let recorder: RejectedFrameRecorder?
    private let logger: Logger
    private let logInterval: Duration
    private let lastLogged = Mutex<[String: ContinuousClock.Instant]>([:])

    /// `recorder` nil keeps counting and logging but stores nothing (e.g. no database in a tool).
    public init(recorder: RejectedFrameRecorder?, logger: Logger, logInterval: Duration = .seconds(60)) {
        self.recorder = recorder
        self.logger = logger
        self.logInterval = logInterval
    }

    public func reject(_ frame: RejectedFrame) {
        Counter(label: "\(frame.source)_frames_rejected_total", dimensions: [
            ("device", frame.device ?? "unknown"), ("reason", frame.reason),
        ]).increment()
        recorder?.record(frame)
        let key = "\(frame.source)|\(frame.device ?? frame.origin)"
        let now = ContinuousClock.now
        let due = lastLogged.withLock { last in
            if let previous = last[key], previous.duration(to: now) < logInterval { return false }
            last[key] = now
            return true
        }
        if due {
            logger.warning("frame rejected", metadata: [
                "source": "\(frame.source)", "origin": "\(frame.origin)", "device": "\(frame.device ?? "unknown")",
                "reason": "\(frame.reason)", "detail": "\(frame.detail)",
            ])
        }
    }
}
