import Foundation
import Synchronization

/// How threads wait for a sequence to move: spin briefly, then park on a condition variable (an
/// event count). No `sched_yield` phase between them: with more busy threads than cores (the
/// engine, its senders and PostgreSQL on two cores) every yield is a context switch, and yielding
/// stage threads spent two thirds of their CPU in the scheduler — half the pipeline's cost per
/// message in `vitals-bench mllp`. Each kind of waiter has its own: the pipeline's first stages,
/// each later stage, and producers waiting for room, so that a publish wakes only the first
/// stages, not the ones behind them, which would find nothing new and park again. Threads that
/// advance a sequence call `wakeParked()` on the parkings of those waiting for it,
/// which costs one fence and one load while nobody is parked; then the first waker takes the lock
/// and broadcasts, and later ones skip it until a parked thread has looked again (`wakePending`),
/// so a producer does not pay a system call per entry while the woken stage is being scheduled.
///
/// The lost-wakeup race is closed Dekker-style: before each last check a parker counts itself in
/// `parked`, clears `wakePending` and fences; a waker publishes its progress, fences, then reads
/// `parked` and swaps `wakePending`. Either the parker sees the progress, or the first waker
/// after the parker's clear broadcasts (under the lock the parker holds until it waits).
final class Parking: @unchecked Sendable {
    private let condition = NSCondition()
    private let parked = Atomic<Int>(0)
    private let wakePending = Atomic<Bool>(false)
    private let spins: Int

    init(spins: Int = 200) {
        self.spins = spins
    }

    /// Returns once `ready()` is true. `ready` must only read atomics (it is evaluated often).
    /// `beforeParking` runs once before each park, outside the lock.
    func wait(until ready: () -> Bool, beforeParking: () -> Void = {}) {
        var attempts = 0
        while !ready() {
            attempts += 1
            if attempts <= spins { continue }
            beforeParking()
            park(until: ready)
            attempts = 0
        }
    }

    private func park(until ready: () -> Bool) {
        condition.lock()
        parked.add(1, ordering: .sequentiallyConsistent)
        while true {
            wakePending.store(false, ordering: .sequentiallyConsistent)
            atomicMemoryFence(ordering: .sequentiallyConsistent)
            if ready() { break }
            condition.wait()
        }
        parked.subtract(1, ordering: .sequentiallyConsistent)
        condition.unlock()
    }

    /// Call after advancing a sequence (publishing, or a stage finishing a batch).
    func wakeParked() {
        atomicMemoryFence(ordering: .sequentiallyConsistent)
        if parked.load(ordering: .relaxed) > 0 && !wakePending.exchange(true, ordering: .sequentiallyConsistent) {
            wakeAll()
        }
    }

    /// Wakes every parked thread, for state changes that are not sequences (shutdown).
    func wakeAll() {
        condition.lock()
        condition.broadcast()
        condition.unlock()
    }
}
