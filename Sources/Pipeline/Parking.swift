import Foundation
import Synchronization

/// How threads wait for a sequence to move: spin briefly, then yield the core, then park on a
/// condition variable. Threads that advance a sequence call `wakeParked()`, which costs one fence
/// and one load while nobody is parked; only then do they take the lock and broadcast.
///
/// The lost-wakeup race is closed Dekker-style: a parker counts itself in `parked` and fences
/// before its last check; a waker publishes its progress, fences, then reads `parked`. One of
/// the two sees the other.
final class Parking: @unchecked Sendable {
    private let condition = NSCondition()
    private let parked = Atomic<Int>(0)
    private let spins: Int
    private let yields: Int

    init(spins: Int = 200, yields: Int = 50) {
        self.spins = spins
        self.yields = yields
    }

    /// Returns once `ready()` is true. `ready` must only read atomics (it is evaluated often).
    /// `beforeParking` runs once before each park, outside the lock.
    func wait(until ready: () -> Bool, beforeParking: () -> Void = {}) {
        var attempts = 0
        while !ready() {
            attempts += 1
            if attempts <= spins { continue }
            if attempts <= spins + yields {
                sched_yield()
                continue
            }
            beforeParking()
            park(until: ready)
            attempts = 0
        }
    }

    private func park(until ready: () -> Bool) {
        condition.lock()
        parked.add(1, ordering: .sequentiallyConsistent)
        atomicMemoryFence(ordering: .sequentiallyConsistent)
        while !ready() { condition.wait() }
        parked.subtract(1, ordering: .sequentiallyConsistent)
        condition.unlock()
    }

    /// Call after advancing a sequence (publishing, or a stage finishing a batch).
    func wakeParked() {
        atomicMemoryFence(ordering: .sequentiallyConsistent)
        if parked.load(ordering: .relaxed) > 0 { wakeAll() }
    }

    /// Wakes every parked thread, for state changes that are not sequences (shutdown).
    func wakeAll() {
        condition.lock()
        condition.broadcast()
        condition.unlock()
    }
}
