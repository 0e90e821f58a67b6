/// The three ways in: `tryPublish` for producers that must never block (SwiftNIO event loops),
/// a blocking `publish` for producers on their own threads (MQTT, serial), and an async `publish`.
extension Pipeline {
    /// Publishes `element` if there is room now; false if the ring is full (then see
    /// `notifyWhenRoom` / `waitForRoom`). Throws once `shutdown()` was called.
    public func tryPublish(_ element: Element) throws(PipelineError) -> Bool {
        try tryPublish(contentsOf: CollectionOfOne(element))
    }

    /// Publishes the whole batch, in order and contiguously, if there is room for all of it now.
    public func tryPublish<Batch: Collection>(contentsOf batch: Batch) throws(PipelineError) -> Bool
    where Batch.Element == Element {
        let count = batch.count
        guard count > 0 else { return true }
        guard count <= capacity else {
            throw .batchLargerThanRing(pipeline: name, count: count, capacity: capacity)
        }
        guard let last = try tryClaim(count) else {
            recordRejection()
            return false
        }
        write(batch, endingAt: last)
        return true
    }

    /// Publishes the batch, waiting on this thread while the ring is full. A batch larger than
    /// the ring goes in as consecutive parts. Throws once `shutdown()` was called (parts published
    /// before that stay published).
    public func publish(_ element: Element) throws(PipelineError) {
        try publish(contentsOf: CollectionOfOne(element))
    }

    public func publish<Batch: Collection>(contentsOf batch: Batch) throws(PipelineError) where Batch.Element == Element {
        let count = batch.count
        guard count > capacity else { return try publishPart(batch, count: count) }
        var rest = batch[...]
        while !rest.isEmpty {
            let part = rest.prefix(capacity)
            try publishPart(part, count: part.count)
            rest = rest.dropFirst(part.count)
        }
    }

    private func publishPart<Batch: Collection>(_ batch: Batch, count: Int) throws(PipelineError) where Batch.Element == Element {
        guard count > 0 else { return }
        write(batch, endingAt: try claim(count))
    }

    /// Publishes the batch, suspending while the ring is full.
    public func publish(_ element: Element) async throws(PipelineError) {
        try await publish(contentsOf: CollectionOfOne(element))
    }

    public func publish<Batch: Collection>(contentsOf batch: Batch) async throws(PipelineError)
    where Batch.Element == Element {
        var rest = batch[...]
        while !rest.isEmpty {
            let part = rest.prefix(capacity)
            var waitStart: ContinuousClock.Instant?
            defer { if let waitStart { endWait(since: waitStart) } }
            while true {
                if let last = try tryClaim(part.count) {
                    write(part, endingAt: last)
                    break
                }
                if waitStart == nil { waitStart = beginWait() }
                await waitForRoom(for: part.count)
            }
            rest = rest.dropFirst(part.count)
        }
    }

    /// Calls `callback` once, as soon as `count` slots are free (right away if they are now), or
    /// when the pipeline shuts down. It runs on a stage thread or the caller's: keep it short
    /// (hand over to your event loop). Room is not reserved: retry `tryPublish`, and register
    /// again if another producer took it first.
    public func notifyWhenRoom(for count: Int = 1, _ callback: @escaping @Sendable () -> Void) {
        room.register(count: min(max(count, 1), capacity), freeSlots: { isAccepting ? freeSlots : Int.max }, callback)
    }

    /// Returns once `count` slots are free or the pipeline shut down (see `notifyWhenRoom`).
    public func waitForRoom(for count: Int = 1) async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            notifyWhenRoom(for: count) { continuation.resume() }
        }
    }

    // MARK: Claim and publish

    /// Claims `count` sequences if they are free now; returns the last one.
    private func tryClaim(_ count: Int) throws(PipelineError) -> Int64? {
        while true {
            let state = cursor.load()
            if state.closed { throw .shutDown(pipeline: name) }
            let last = state.claimed + Int64(count)
            guard last - Int64(capacity) <= reclaimed.load() else { return nil }
            if cursor.advance(from: state, to: last) { return last }
        }
    }

    /// Claims `count` sequences, waiting (counted) while the ring is full; returns the last one.
    private func claim(_ count: Int) throws(PipelineError) -> Int64 {
        if let last = try tryClaim(count) { return last }
        let start = beginWait()
        defer { endWait(since: start) }
        while true {
            roomParking.wait(until: {
                let state = cursor.load()
                return state.closed || state.claimed + Int64(count) - Int64(capacity) <= reclaimed.load()
            })
            if let last = try tryClaim(count) { return last }
        }
    }

    /// Initializes the claimed slots, then marks them published, then wakes parked stages.
    private func write<Batch: Collection>(_ batch: Batch, endingAt last: Int64) where Batch.Element == Element {
        let first = last - Int64(batch.count) + 1
        var sequence = first
        for element in batch {
            storage.slot(sequence).initialize(to: element)
            sequence += 1
        }
        // Published in order, so a stage never has to rescan past a gap it cannot yet cross.
        for sequence in first...last { storage.markPublished(sequence) }
        sourceParking.wakeParked()
    }
}
