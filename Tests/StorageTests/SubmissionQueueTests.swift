import Testing
import VitalSigns
@testable import Storage

@Suite struct SubmissionQueueTests {
    /// A writer without a connection can put a group back just after the connected writer found
    /// the queue drained and stopped: the last writer to stop must get it, to answer its senders.
    @Test("the last writer to stop takes what is still queued, and counts as stopped only once it has answered it")
    func theLastWriterTakesWhatIsLeft() {
        let queue = SubmissionQueue(configuration: .init(), workers: 2)
        for id in ["A-1", "A-2"] {
            let key = MessageKey(sendingApplication: "MON", sendingFacility: "ICU", controlID: id)
            #expect(queue.enqueue(Submission(batch: IngestBatch(message: key, observations: []), completion: { _ in }, submitted: .now)) == .queued)
        }
        #expect(queue.finishing() == nil)
        let leftovers = queue.finishing()
        #expect(leftovers?.map { $0.batch.message?.controlID } == ["A-1", "A-2"])
        #expect(queue.queuedRows == 0)
        queue.lastFinished()
    }
}
