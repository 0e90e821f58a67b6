import Foundation
import Synchronization

/// A continuation resumed by whichever comes first: the answer or the timeout.
final class AnswerOnce<Value: Sendable>: Sendable {
    private let continuation: CheckedContinuation<Result<Value, AlertActionError>, Never>
    private let answered = Atomic<Bool>(false)

    private init(_ continuation: CheckedContinuation<Result<Value, AlertActionError>, Never>) { self.continuation = continuation }

    /// Whether the caller has its answer already (work for it can be skipped).
    var isAnswered: Bool { answered.load(ordering: .acquiring) }

    func resume(_ result: Result<Value, AlertActionError>) {
        if !answered.exchange(true, ordering: .acquiringAndReleasing) { continuation.resume(returning: result) }
    }

    /// The value `start` answers with (it is handed the answer to resume, from any thread), or
    /// `noAnswer` after `timeout`.
    static func awaiting(within timeout: Duration, _ start: (AnswerOnce<Value>) -> Void) async throws(AlertActionError) -> Value {
        let result = await withCheckedContinuation { (continuation: CheckedContinuation<Result<Value, AlertActionError>, Never>) in
            let answer = AnswerOnce(continuation)
            start(answer)
            DispatchQueue.global().asyncAfter(deadline: .now() + timeout.seconds) { answer.resume(.failure(.noAnswer(within: timeout))) }
        }
        return try result.get()
    }
}
