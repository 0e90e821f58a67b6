import Synchronization

/// The preallocated slots and, beside them, Disruptor's "available buffer": per slot, the sequence
/// last published into it. Which thread may touch which slot when is decided by `Pipeline`'s
/// sequencing protocol; this type only owns the memory.
///
/// A slot holds an initialized `Element` from its publication until every terminal stage has
/// consumed it (`deinitialize(from:through:)`); at all other times its memory is uninitialized.
final class RingStorage<Element>: @unchecked Sendable {
    let capacity: Int
    private let mask: Int64
    private let slots: UnsafeMutablePointer<Element>
    private let published: UnsafeMutablePointer<Atomic<Int64>>

    /// `capacity`: a power of two.
    init(capacity: Int) {
        precondition(capacity > 0 && capacity & (capacity - 1) == 0, "ring capacity must be a power of two")
        self.capacity = capacity
        mask = Int64(capacity - 1)
        slots = .allocate(capacity: capacity)
        published = .allocate(capacity: capacity)
        for index in 0..<capacity { (published + index).initialize(to: Atomic(-1)) }
    }

    deinit {
        published.deinitialize(count: capacity)
        published.deallocate()
        slots.deallocate()
    }

    func slot(_ sequence: Int64) -> UnsafeMutablePointer<Element> {
        slots + Int(sequence & mask)
    }

    /// Publication: releases the slot's contents to whoever sees the flag.
    func markPublished(_ sequence: Int64) {
        published[Int(sequence & mask)].store(sequence, ordering: .releasing)
    }

    func isPublished(_ sequence: Int64) -> Bool {
        published[Int(sequence & mask)].load(ordering: .acquiring) == sequence
    }

    /// The highest sequence in `first...last` up to which every entry is published, or `first - 1`.
    func highestPublished(from first: Int64, through last: Int64) -> Int64 {
        var sequence = first
        while sequence <= last {
            if !isPublished(sequence) { return sequence - 1 }
            sequence += 1
        }
        return last
    }

    /// Ends the lifetime of the entries `first...last` (their slots must be initialized).
    func deinitialize(from first: Int64, through last: Int64) {
        var sequence = first
        while sequence <= last {
            slot(sequence).deinitialize(count: 1)
            sequence += 1
        }
    }
}
