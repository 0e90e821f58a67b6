import Foundation
import Synchronization

/// MSH-10 of the engine's own messages (its ACKs): the second this run built its first ACK, in
/// base 36, two random base-36 characters, then a sequence shared by every ingestor of the
/// process: `TJ4Q8Z7K-42`. A restart does not reuse the ids of the run before it, as a counter
/// from 1 did; the MLLP and serial ingestors of one run never share one; and two engines that
/// start in the same second (a pair behind one name) most likely differ. At most 20 characters
/// (MSH-10's length up to v2.5) for the first 10^11 messages of a run.
enum AcknowledgmentControlID {
    private static let runPrefix: String = {
        let started = max(0, Int(Date().timeIntervalSince1970))
        let random = Int.random(in: 36..<(36 * 36))  // two digits, the first never 0
        return String(started, radix: 36, uppercase: true) + String(random, radix: 36, uppercase: true) + "-"
    }()
    private static let sequence = Atomic<UInt64>(0)

    static func next() -> String {
        runPrefix + String(sequence.add(1, ordering: .relaxed).newValue)
    }
}
