import Synchronization

/// Callbacks of producers that must not block (SwiftNIO event loops): registered when
/// `tryPublish` found the ring full, fired once there is room for their batch.
///
/// Terminal stages check after every batch, for the price of one load while nobody is registered
/// (`registered`). Registration re-checks for room after counting itself, and the stages read
/// `registered` after a fence, so a callback cannot be forgotten (see `Parking`).
final class RoomNotifier: Sendable {
    private struct Waiter {
        let count: Int
        let callback: @Sendable () -> Void
    }

    private let registered = Atomic<Int>(0)
    private let waiters = Locked<[Waiter]>([])

    /// Registers `callback`; `freeSlots` tells how many slots are free right now.
    func register(count: Int, freeSlots: () -> Int, _ callback: @escaping @Sendable () -> Void) {
        waiters.withLock { $0.append(Waiter(count: count, callback: callback)) }
        registered.add(1, ordering: .sequentiallyConsistent)
        atomicMemoryFence(ordering: .sequentiallyConsistent)
        notify(freeSlots: freeSlots())
    }

    /// Called by terminal stages after they freed slots (and fenced: `Parking.wakeParked`).
    func notifyIfRegistered(freeSlots: () -> Int) {
        if registered.load(ordering: .relaxed) > 0 { notify(freeSlots: freeSlots()) }
    }

    /// Fires the callbacks whose batch fits into `freeSlots` (all of them when `Int.max`).
    func notify(freeSlots: Int) {
        let due: [Waiter] = waiters.withLock { waiters in
            let due = waiters.filter { $0.count <= freeSlots }
            if !due.isEmpty { waiters.removeAll { $0.count <= freeSlots } }
            return due
        }
        guard !due.isEmpty else { return }
        registered.subtract(due.count, ordering: .sequentiallyConsistent)
        for waiter in due { waiter.callback() }
    }
}
