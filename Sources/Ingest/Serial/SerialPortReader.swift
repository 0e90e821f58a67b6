import Decoders
import Dispatch
import Foundation
import Logging
import NamedThreads
import Storage
import Synchronization
import VitalSigns

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Reads one serial port on a thread of its own: opens it (retrying with capped backoff while it
/// cannot be opened), frames and decodes what arrives, hands observations to the sink, and
/// reopens it when it disappears (EOF, EIO or ENXIO: unplugged USB adapter, closed pty master).
final class SerialPortReader: Sendable {
    let configuration: SerialPortConfiguration
    let counters = SerialPortCounters()
    private let decoder: any FrameDecoder
    private let context: SerialSourceContext
    private let metrics: SerialMetrics
    private let stopping = StopSignal()
    private let finished = DispatchSemaphore(value: 0)
    private let spool: SerialSpool
    /// The spool is dropping its oldest batches: logged when it starts and when it ends.
    private let overflowing = Atomic<Bool>(false)

    init(configuration: SerialPortConfiguration, decoder: any FrameDecoder, context: SerialSourceContext, journal: SerialJournal?) {
        self.configuration = configuration
        self.decoder = decoder
        self.context = context
        metrics = SerialMetrics(port: configuration.path)
        spool = SerialSpool(
            maxInFlight: context.options.maxBatchesInFlight, maxWaitingObservations: context.options.maxWaitingObservations, journal: journal
        )
    }

    func start() {
        startThread(named: "nc-serial") { [self] in
            run()
            finished.signal()
        }
    }

    /// Asks the thread to stop; it ends within one poll interval (plus storing its spool).
    func requestStop() {
        stopping.signal()
    }

    var statistics: SerialPortStatistics {
        var statistics = counters.snapshot
        statistics.batchesWaiting = spool.waitingCount
        return statistics
    }

    /// Waits until the thread has ended, at most until `deadline`.
    func waitUntilStopped(deadline: DispatchTime) {
        // Signalled again after a successful wait, so a second stop() returns at once.
        if finished.wait(timeout: deadline) == .success { finished.signal() }
    }

    private var logger: Logger {
        var logger = context.logger
        logger[metadataKey: "port"] = "\(configuration.path)"
        return logger
    }

    // MARK: Open, read, reopen

    private func run() {
        let options = context.options
        var delay = options.reopenDelay
        var inOutage = false
        var everOpened = false
        metrics.up.record(0)
        storeJournaledBatches()
        while !stopping.isStopped {
            let fd: Int32
            do throws(SerialPortError) {
                fd = try SerialTTY.open(configuration.path, settings: configuration.profile.serial ?? SerialSettings())
            } catch {
                counters.update { $0.openFailures += 1 }
                metrics.openFailures.increment()
                if !inOutage {
                    logger.warning("serial port cannot be opened; retrying with backoff", metadata: ["error": "\(error)"])
                    context.presence?.record(DevicePresence(device: configuration.device, status: .offline, source: configuration.path))
                    inOutage = true
                }
                if stopping.wait(for: delay) { break }
                delay = min(delay * 2, options.maxReopenDelay)
                continue
            }
            if everOpened { metrics.reopens.increment() }
            let stale = SerialTTY.discardPendingInput(fd)
            if stale > 0 {
                logger.notice("serial port: bytes sent before it was opened were dropped, their time being unknown", metadata: ["bytes": "\(stale)"])
            }
            counters.update {
                $0.isOpen = true
                $0.opens += 1
                if everOpened { $0.reopens += 1 }
            }
            logger.info(everOpened ? "serial port open again" : "serial port open", metadata: [
                "device": "\(configuration.device)", "profile": "\(configuration.profile.id)",
                "resolved": "\(Self.resolvedPath(configuration.path))",
            ])
            everOpened = true
            inOutage = false
            metrics.up.record(1)
            context.presence?.record(DevicePresence(device: configuration.device, status: .online, source: configuration.path))

            let opened = ContinuousClock.now
            let ending = readUntilGone(fd)
            close(fd)
            // A port that worked for a while is reopened after the first delay; one that fails as
            // soon as it opens (a device resetting in a loop, a driver error) backs off like one
            // that cannot be opened, instead of being reopened, logged and reported every 250 ms.
            if ContinuousClock.now - opened >= options.workingOpenDuration { delay = options.reopenDelay }
            counters.update { $0.isOpen = false }
            metrics.up.record(0)
            context.presence?.record(DevicePresence(device: configuration.device, status: .offline, source: configuration.path))
            if stopping.isStopped { break }
            logger.warning("serial port lost; reopening with backoff", metadata: ["reason": "\(ending)"])
            inOutage = true
            if stopping.wait(for: delay) { break }
            delay = min(delay * 2, options.maxReopenDelay)
        }
        let givenUp = spool.drain(timeout: .seconds(5))
        if givenUp > 0 { noteGivenUp(givenUp, reason: "stopping before the database stored them") }
    }

    /// Submits, store only, what an earlier run's journal holds: read then and not known to be
    /// stored (those that were are recognised by their key).
    private func storeJournaledBatches() {
        let (batches, unreadable) = spool.recoverJournal()
        let observations = batches.reduce(0) { $0 + $1.observations.count }
        counters.update {
            $0.journalLinesUnreadable += unreadable
            $0.observationsFromJournal += observations
        }
        guard !batches.isEmpty else { return }
        logger.notice("serial readings an earlier run had not stored are stored from its journal", metadata: [
            "batches": "\(batches.count)", "observations": "\(observations)",
        ])
        for batch in batches {
            let (next, dropped, _) = spool.add(batch, journaled: true)
            if dropped > 0 { noteGivenUp(dropped, reason: nil) }
            if let next { send(next, attempt: 0) }
        }
    }

    /// Reads until the port goes away or the reader is stopped; says why it ended.
    private func readUntilGone(_ fd: Int32) -> String {
        guard var framer = SerialProtocol.framer(for: configuration.profile) else { return "no framer for the profile" }
        var buffer = [UInt8](repeating: 0, count: 4096)
        let pollMilliseconds = Int32(context.options.pollInterval.seconds * 1000)
        while !stopping.isStopped {
            var descriptor = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            let ready = poll(&descriptor, 1, pollMilliseconds)
            if ready < 0 {
                if errno == EINTR { continue }
                return "poll: \(String(cString: strerror(errno)))"
            }
            if ready == 0 { continue }
            if descriptor.revents & Int16(POLLNVAL) != 0 { return "poll: descriptor invalid" }
            let count = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if count > 0 {
                consume(buffer[0..<count], framer: &framer)
            } else if count == 0 {
                if descriptor.revents & Int16(POLLHUP | POLLERR) != 0 { return "end of file (hang-up)" }
            } else {
                switch errno {
                case EINTR, EAGAIN: continue
                default: return "read: \(String(cString: strerror(errno))) (errno \(errno))"
                }
            }
        }
        return "stopped"
    }

    // MARK: Frames to observations

    private func consume(_ bytes: ArraySlice<UInt8>, framer: inout any SerialFramer) {
        let receivedAt = Timestamp.arrival()
        let frameContext = FrameContext(deviceID: configuration.device, receivedAt: receivedAt, location: configuration.bed)
        var observations: [Observation] = []
        var decodedFrames = 0
        var reports: [DeviceStatusReport] = []
        framer.push(bytes) { output in
            switch output {
            case .frame(let frame):
                do throws(FrameDecodeError) {
                    let decoded = try decoder.decode(frame, context: frameContext)
                    decodedFrames += 1
                    observations += decoded.observations
                    reports += decoded.statusReports
                } catch {
                    reject(frame, reason: error.reason, detail: error.detail, at: receivedAt)
                }
            case .discarded(let raw, let reason, let detail):
                reject(raw, reason: reason, detail: detail, at: receivedAt)
            }
        }
        var unassociated = 0
        if let associations = context.associations {
            for index in observations.indices {
                observations[index].patient = associations.patient(device: observations[index].deviceID, bed: configuration.bed, at: receivedAt)
                if observations[index].patient == nil { unassociated += 1 }
            }
        } else {
            unassociated = observations.count
        }
        // Each report's own device (a Masimo line's `SN=`), as for the observations.
        let conditions = reports.compactMap { report in
            DeviceCondition(report, patient: context.associations?.patient(device: report.deviceID, bed: configuration.bed, at: receivedAt),
                            location: configuration.bed)
        }
        // Before the statistics: a reader of them sees the spool as it is after these frames.
        if !observations.isEmpty || !conditions.isEmpty { submit(IngestBatch(observations: observations), conditions: conditions) }
        counters.update {
            $0.bytesRead += bytes.count
            $0.framesDecoded += decodedFrames
            $0.observations += observations.count
            $0.observationsUnassociated += unassociated
            for report in reports { $0.statusReports[report.condition, default: 0] += 1 }
        }
        metrics.framesDecoded.increment(by: decodedFrames)
        metrics.observations.increment(by: observations.count)
        metrics.unassociated.increment(by: unassociated)
        for report in reports { metrics.status(report.condition.rawValue).increment() }
        if decodedFrames > 0 { noteConditions(Set(reports.map(\.condition)), reports) }
    }

    /// Logs (at info, no patient data) when the conditions the device reports change: a probe
    /// coming off or back on is worth a line, the same condition every second is not.
    private func noteConditions(_ conditions: Set<DeviceStatusReport.Condition>, _ reports: [DeviceStatusReport]) {
        let changed = counters.update { statistics -> Bool in
            defer { statistics.currentConditions = conditions }
            return statistics.currentConditions != conditions
        }
        guard changed else { return }
        if conditions.isEmpty {
            logger.info("device reports no condition any more", metadata: ["device": "\(configuration.device)"])
        } else {
            logger.info("device reports a condition", metadata: [
                "device": "\(reports.first?.deviceID ?? configuration.device)",
                "conditions": "\(reports.map { "\($0.condition.rawValue) \($0.detail)" }.joined(separator: "; "))",
            ])
        }
    }

    private func reject(_ raw: [UInt8], reason: String, detail: String, at time: Timestamp) {
        counters.update { $0.framesRejected[reason, default: 0] += 1 }
        context.rejections.reject(RejectedFrame(
            source: "serial", origin: configuration.path, device: configuration.device, reason: reason, detail: detail, raw: raw,
            receivedAt: Date(timeIntervalSince1970: time.secondsSinceEpoch)))
    }

    // MARK: Backpressure

    /// Queues the batch in the port's spool and submits what it hands out; never waits.
    private func submit(_ batch: IngestBatch, conditions: [DeviceCondition]) {
        // A device's serial stream names no message: each batch gets an id of its own.
        let key = batch.observations.isEmpty ? nil : MessageKey(sendingApplication: "SERIAL", sendingFacility: configuration.device, controlID: UUID().uuidString)
        let (next, dropped, waits) = spool.add(SerialSpool.Batch(key: key, observations: batch.observations, conditions: conditions))
        if waits { context.sink.evaluate(batch.observations, profileID: configuration.profile.id, conditions: conditions) }
        if dropped > 0 {
            if !overflowing.exchange(true, ordering: .relaxed) {
                logger.error("serial observations waiting for the database exceed the port's bound; dropping the oldest", metadata: [
                    "bound": "\(context.options.maxWaitingObservations)",
                ])
            }
            noteGivenUp(dropped, reason: nil)
        }
        if let next { send(next, attempt: 0) }
    }

    /// A batch the writer could not store is submitted again (its slot held, so that later
    /// batches wait in the spool rather than pile up in the pipeline) until it is stored or the
    /// source stops: the database may be unreachable, or refuse for a while (a lock or statement
    /// timeout, a deadlock, a read-only standby during a failover). Only a batch it refuses for
    /// its data is dropped and counted.
    private func send(_ batch: SerialSpool.Batch, attempt: Int) {
        if attempt == 0 { counters.update { $0.batchesSubmitted += 1 } }
        let completion: @Sendable (Result<WriteOutcome, PostgresError>) -> Void = { [self] result in
            switch result {
            case .success:
                counters.update { $0.observationsStored += batch.observations.count }
            case .failure(let error):
                if !error.isDataError && !stopping.isStopped {
                    if attempt == 0 { logger.warning("serial batch not stored yet; retrying", metadata: ["error": "\(error.redactedDescription)"]) }
                    let delay = min(Double(attempt + 1) * 0.2, 5)
                    DispatchQueue.global().asyncAfter(deadline: .now() + delay) { self.send(batch, attempt: attempt + 1) }
                    return
                }
                logger.error("serial batch not stored", metadata: ["error": "\(error.redactedDescription)", "observations": "\(batch.observations.count)"])
                counters.update { $0.batchesFailed += 1 }
                metrics.batchesFailed.increment()
                // Stopping with the database away: the waiting batches would fail the same way.
                if !error.isDataError {
                    let givenUp = spool.close()
                    if givenUp > 0 { noteGivenUp(givenUp, reason: "stopping while the database is unavailable") }
                }
            }
            if let next = spool.finished() {
                send(next, attempt: 0)
            } else if spool.waitingCount == 0, overflowing.exchange(false, ordering: .relaxed) {
                logger.warning("serial spool emptied after dropping observations", metadata: ["dropped_so_far": "\(counters.snapshot.observationsDropped)"])
            }
        }
        // The rules see a batch once: on its first submission, unless it waited (seen then).
        let stored = IngestBatch(message: batch.key, observations: batch.observations)
        if attempt == 0 && !batch.evaluated {
            context.sink.submit(stored, profileID: configuration.profile.id, conditions: batch.conditions, completion: completion)
        } else {
            context.sink.store(stored, profileID: configuration.profile.id, completion: completion)
        }
    }

    /// Counts observations that will not be stored; logs them when `reason` says why (the
    /// spool's overflow is logged once per episode by the caller). With a journal, what a stop
    /// gives up is stored at the next start instead.
    private func noteGivenUp(_ observations: Int, reason: String?) {
        if let reason, spool.isJournaled {
            logger.warning("serial observations not stored yet are left in the journal for the next start", metadata: [
                "observations": "\(observations)", "reason": "\(reason)",
            ])
            return
        }
        counters.update { $0.observationsDropped += observations }
        metrics.dropped.increment(by: observations)
        if let reason {
            logger.error("serial observations not stored", metadata: ["observations": "\(observations)", "reason": "\(reason)"])
        }
    }

    static func resolvedPath(_ path: String) -> String {
        guard let resolved = realpath(path, nil) else { return path }
        defer { free(resolved) }
        return String(cString: resolved)
    }
}

extension Timestamp {
    /// Now, from the host's real-time clock: serial observations are stamped on arrival.
    static func arrival() -> Timestamp {
        Timestamp(secondsSinceEpoch: Date().timeIntervalSince1970)
    }
}
