import Foundation
import Synchronization

/// MSH-10 of the engine's own messages (its ACKs): the second this process started, in base 36,
/// then a sequence shared by every ingestor of the process, `TJ4Q8Z-42`. A restart does not
/// reuse the ids of the run before it, as a counter from 1 did, and the MLLP and serial
/// ingestors of one run never share one. At most 20 characters (MSH-10's length up to v2.5)
/// for the first 10^13 messages of a run.
enum AcknowledgmentControlID {
    private static let runPrefix: String = {
        let started = max(0, Int(Date().timeIntervalSince1970))
        return String(started, radix: 36, uppercase: true) + "-"
    }()
    private static let sequence = Atomic<UInt64>(0)

    static func next() -> String {
        runPrefix + String(sequence.add(1, ordering: .relaxed).newValue)
    }
}
