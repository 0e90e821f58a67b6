import Decoders
import Foundation
import Logging
import MQTT
import Storage
import VitalSigns

/// The MQTT source's loop thread: owns the libmosquitto client and everything only it touches.
final class MQTTSourceLoop: @unchecked Sendable {
    private let configuration: MQTTSource.Configuration
    private let shared: SharedState
    private let statistics: MQTTSourceStatistics
    private let sink: any ObservationSink
    private let rejections: RejectionReporter
    private let presence: DevicePresenceRecorder?
    private let associations: PatientAssociationCache?
    private let logger: Logger
    private let client: MosquittoClient
    private let commits = CommitTracker()
    private var failedAttempts = 0
    /// Messages read since the current burst began: stored, rejected and status messages alike
    /// (counting only submissions, a stream of rejected ones never ended the burst, and the loop
    /// sent neither PUBACKs nor PINGREQs until the broker dropped it).
    private var readInBurst = 0
    private var onlineDevices: Set<String> = []
    private var everConnected = false
    /// The broker's reason when it refused our CONNECT: the real cause of the drop that follows.
    private var refusal: String?
    /// Subscriptions sent on this connection and not answered yet, by message id.
    private var pendingSubscriptions: [Int32: MQTTTopicFilter] = [:]
    private let subscriptionRecord: SubscriptionRecord
    /// Unsubscriptions from what a previous run subscribed, by message id, until the broker answers.
    private var pendingUnsubscriptions: [Int32: String] = [:]
    /// The previous run's record was read on this connection (or there was none by the deadline).
    private var subscriptionRecordRead = false
    /// When to write this run's record if the previous run's has not come by then (a first run).
    private var subscriptionRecordDue: ContinuousClock.Instant?
    /// Subscriptions the broker refused on this connection, and when to ask for each again.
    private var refusedSubscriptions: [MQTTTopicFilter: ContinuousClock.Instant] = [:]
    /// What is wrong with this connection's subscriptions, as the health endpoint shows it.
    private var subscriptionProblems: [MQTTTopicFilter: String] = [:] {
        didSet { shared.setSubscriptionProblems(subscriptionProblems.values.sorted()) }
    }

    init(
        configuration: MQTTSource.Configuration, shared: SharedState, statistics: MQTTSourceStatistics,
        sink: any ObservationSink, rejections: RejectionReporter, presence: DevicePresenceRecorder?,
        associations: PatientAssociationCache?, logger: Logger
    ) throws(MQTTError) {
        self.configuration = configuration
        self.shared = shared
        self.statistics = statistics
        self.sink = sink
        self.rejections = rejections
        self.presence = presence
        self.associations = associations
        self.logger = logger
        var options = configuration.connection
        // MQTT 5: let the broker send a whole burst before our (held) acknowledgements.
        if options.receiveMaximum == nil { options.receiveMaximum = Int32(min(max(configuration.maxBurst, 20), 65_535)) }
        client = try MosquittoClient(options: options)
        subscriptionRecord = try SubscriptionRecord(
            clientID: options.clientID, subscriptions: configuration.subscriptions.map(\.filter) + [configuration.statusFilter].compactMap { $0 }
        )
        client.onConnect = { [unowned self] code, sessionPresent in connected(code: code, sessionPresent: sessionPresent) }
        client.onMessage = { [unowned self] message in received(message) }
        client.onSubscribe = { [unowned self] mid, granted in subscribed(mid: mid, granted: granted) }
        client.onUnsubscribe = { [unowned self] mid in unsubscribed(mid: mid) }
    }

    private var stopping: Bool { shared.stopping.load(ordering: .acquiring) }
    private var broker: String { configuration.connection.broker.description }

    func run() {
        logger.info("MQTT source starting", metadata: [
            "broker": "\(broker)", "client_id": "\(configuration.connection.clientID)",
            "subscriptions": "\(configuration.subscriptions.map { "\($0.filter)=\($0.profile.id)" }.joined(separator: ","))",
        ])
        while !stopping {
            do throws(MQTTError) {
                try client.connect()
                let settled = try serve()
                return finish(acknowledging: settled)
            } catch {
                connectionFailed(error)
            }
        }
        shared.set(.stopped)
        statistics.connectedGauge.record(0)
    }

    /// Reads bursts, waits for their commit, then lets the acknowledgements out. Returns on
    /// stop: true when everything read is committed, false when some of it is not.
    private func serve() throws(MQTTError) -> Bool {
        try client.writePending()  // CONNECT
        while !stopping {
            if client.waitForTraffic(timeout: .milliseconds(100), writing: client.wantsToWrite) {
                readInBurst = 0
                repeat {
                    try client.readPacket()
                } while readInBurst < configuration.maxBurst && client.waitForTraffic(timeout: .zero, writing: false)
            }
            guard settle() else { return false }
            try askAgainForRefusedSubscriptions()
            writeSubscriptionRecordIfDue()
            try client.writePending()
            try client.maintain()
        }
        return true
    }

    /// An ACL fixed on the broker takes effect without a reconnect: a refused subscription is
    /// asked for again every `resubscribeInterval` while the connection lasts.
    private func askAgainForRefusedSubscriptions() throws(MQTTError) {
        let now = ContinuousClock.now
        for (filter, due) in refusedSubscriptions where due <= now {
            refusedSubscriptions[filter] = nil
            pendingSubscriptions[try client.subscribe(filter)] = filter
        }
    }

    /// Waits until every submitted batch is committed, submitting failed ones again with
    /// backoff. False when the source is stopping with data still uncommitted.
    private func settle() -> Bool {
        var delay = configuration.reconnectDelay
        var warned = false
        while true {
            let failed = commits.waitForAll { stopping }
            if failed?.isEmpty == true {
                if warned { logger.info("storage available again, MQTT messages committed") }
                return true
            }
            guard let failed, !stopping else {
                logger.warning("stopping with MQTT messages not stored; they stay unacknowledged and the broker delivers them again", metadata: [
                    "messages": "\(failed?.count ?? commits.count)",
                ])
                return false
            }
            if !warned {
                logger.warning("storage unavailable; holding MQTT acknowledgements and retrying", metadata: [
                    "messages": "\(failed.count)", "error": "\(commits.lastError ?? "unknown")",
                ])
                warned = true
            }
            sleep(delay)
            delay = min(delay * 2, configuration.maxReconnectDelay)
            for retry in failed {
                statistics.storageRetry()
                // The rules saw the readings and the device's conditions with the first submission.
                submit(retry.batch, profileID: retry.profileID, conditions: nil, payload: retry.payload, receivedAt: .now)
            }
        }
    }

    /// Says goodbye when every message read is committed. Otherwise the queued PUBACKs must not
    /// go out: the socket is closed with them unsent (the client is destroyed with the loop),
    /// the broker publishes our will and delivers those messages again.
    private func finish(acknowledging settled: Bool) {
        if settled {
            _ = try? client.publish(topic: configuration.daemonStatusTopic, payload: Array("offline".utf8), retain: true)
            client.disconnect()
            try? client.writePending()
        }
        shared.set(.stopped)
        statistics.connectedGauge.record(0)
        logger.info("MQTT source stopped", metadata: ["broker": "\(broker)"])
    }

    private func connectionFailed(_ error: MQTTError) {
        let reason = refusal ?? error.message
        refusal = nil
        statistics.connectedGauge.record(0)
        shared.set(.reconnecting, error: reason)
        guard !stopping else { return }
        // Batches still in flight keep their PUBACKs unsent; the broker redelivers them and the
        // writer stores each message once.
        let delay = backoff()
        if failedAttempts == 0 || failedAttempts.isMultiple(of: 10) {
            logger.warning(everConnected ? "MQTT connection lost, reconnecting" : "MQTT broker not reachable, retrying", metadata: [
                "broker": "\(broker)", "error": "\(reason)", "retry_in": "\(delay)", "attempt": "\(failedAttempts + 1)",
            ])
        }
        failedAttempts += 1
        statistics.reconnected()
        sleep(delay)
    }

    /// Capped exponential backoff: reconnectDelay × 2^attempts, at most maxReconnectDelay.
    private func backoff() -> Duration {
        let factor = 1 << min(failedAttempts, 16)
        return min(configuration.reconnectDelay * factor, configuration.maxReconnectDelay)
    }

    /// Sleeps `duration`, waking early when the source stops.
    private func sleep(_ duration: Duration) {
        let end = ContinuousClock.now + duration
        while !stopping, ContinuousClock.now < end {
            Thread.sleep(forTimeInterval: min(0.05, (end - ContinuousClock.now).seconds))
        }
    }

    // MARK: Callbacks (on this thread, inside readPacket)

    private func connected(code: Int32, sessionPresent: Bool) {
        guard code == 0 else {
            let reason = client.connackText(code)
            refusal = "broker refused the connection: \(reason)"
            logger.error("MQTT broker refused the connection", metadata: ["broker": "\(broker)", "reason": "\(reason)"])
            return
        }
        pendingSubscriptions = [:]
        pendingUnsubscriptions = [:]
        subscriptionRecordRead = false
        subscriptionRecordDue = nil
        refusedSubscriptions = [:]
        subscriptionProblems = [:]
        do throws(MQTTError) {
            pendingSubscriptions[try client.subscribe(subscriptionRecord.filter)] = subscriptionRecord.filter
            for filter in configuration.subscriptions.map(\.filter) + [configuration.statusFilter].compactMap({ $0 }) {
                pendingSubscriptions[try client.subscribe(filter)] = filter
            }
            try client.publish(topic: configuration.daemonStatusTopic, payload: Array("online".utf8), retain: true)
        } catch {
            logger.error("MQTT subscribe failed", metadata: ["broker": "\(broker)", "error": "\(error.message)"])
        }
        failedAttempts = 0
        everConnected = true
        shared.set(.connected)
        statistics.connectedGauge.record(1)
        logger.info("MQTT connected", metadata: [
            "broker": "\(broker)", "client_id": "\(configuration.connection.clientID)", "session_resumed": "\(sessionPresent)",
        ])
    }

    /// The broker's answer to a subscription. A refusal (an ACL, say) means nothing arrives for
    /// that filter; a grant below QoS 1 means the broker does not wait for our acknowledgement,
    /// so what it delivered before a crash is lost. Either is an error an operator must see:
    /// logged once, and on the health endpoint until a grant or the next connection. A refusal
    /// is asked again (`askAgainForRefusedSubscriptions`); a lower QoS is the broker's own cap
    /// (`max_qos`), which asking again does not change.
    private func subscribed(mid: Int32, granted: [Int32]) {
        guard let filter = pendingSubscriptions.removeValue(forKey: mid) else { return }
        let code = granted.first ?? 0x80
        if filter == subscriptionRecord.filter {
            // No data comes on it: a broker that refuses it costs only the clean-up of removed filters.
            if code >= 0x80 {
                logger.warning("MQTT broker refused this daemon's subscription record; filters taken out of the configuration stay subscribed", metadata: [
                    "broker": "\(broker)", "topic": "\(subscriptionRecord.topic)",
                ])
            } else if !subscriptionRecordRead {
                subscriptionRecordDue = .now + configuration.subscriptionRecordWait
            }
            return
        }
        let problem: String
        var askedAgainEvery = "never"
        if code >= 0x80 {
            problem = "the broker refused the subscription to \(filter) (code 0x\(String(code, radix: 16))): nothing is received for it"
            refusedSubscriptions[filter] = .now + configuration.resubscribeInterval
            askedAgainEvery = "\(configuration.resubscribeInterval)"
        } else if code < MosquittoClient.subscriptionQoS {
            problem = "the broker granted QoS \(code) for \(filter), not \(MosquittoClient.subscriptionQoS): "
                + "its messages are not redelivered if the engine stops before storing them"
        } else {
            if subscriptionProblems.removeValue(forKey: filter) != nil {
                logger.notice("MQTT subscription granted", metadata: ["broker": "\(broker)", "filter": "\(filter)"])
            }
            return
        }
        guard subscriptionProblems[filter] != problem else {
            logger.debug("MQTT subscription refused again", metadata: ["broker": "\(broker)", "filter": "\(filter)"])
            return
        }
        logger.error("MQTT subscription not as asked", metadata: [
            "broker": "\(broker)", "problem": "\(problem)",
            "asked_again_every": "\(askedAgainEvery)",
        ])
        subscriptionProblems[filter] = problem
    }

    private func unsubscribed(mid: Int32) {
        guard let subscription = pendingUnsubscriptions.removeValue(forKey: mid) else { return }
        logger.notice("MQTT subscription of an earlier configuration removed", metadata: ["broker": "\(broker)", "filter": "\(subscription)"])
        if pendingUnsubscriptions.isEmpty { writeSubscriptionRecord() }
    }

    /// The previous run's record, as the broker retained it: what it subscribed that this run
    /// does not is unsubscribed, and this run's record written once the broker has answered, so
    /// that a crash before leaves the previous record for the next run. (Our own record arrives
    /// without the retain flag.)
    private func readSubscriptionRecord(_ message: MosquittoClient.Message) {
        guard message.retain, !subscriptionRecordRead else { return }
        subscriptionRecordRead = true
        subscriptionRecordDue = nil
        for subscription in subscriptionRecord.removed(since: message.payload) {
            do throws(MQTTError) {
                pendingUnsubscriptions[try client.unsubscribe(subscription)] = subscription
            } catch {
                logger.error("MQTT unsubscribe failed", metadata: ["broker": "\(broker)", "filter": "\(subscription)", "error": "\(error.message)"])
            }
        }
        if pendingUnsubscriptions.isEmpty { writeSubscriptionRecord() }
    }

    /// A first run (no previous record came after the grant): this run's record.
    private func writeSubscriptionRecordIfDue() {
        guard let due = subscriptionRecordDue, due <= .now else { return }
        subscriptionRecordRead = true
        subscriptionRecordDue = nil
        writeSubscriptionRecord()
    }

    private func writeSubscriptionRecord() {
        do throws(MQTTError) {
            try client.publish(topic: subscriptionRecord.topic, payload: subscriptionRecord.payload, retain: true)
            logger.debug("MQTT subscription record written", metadata: ["broker": "\(broker)", "topic": "\(subscriptionRecord.topic)"])
        } catch {
            logger.error("MQTT subscription record not written", metadata: ["broker": "\(broker)", "error": "\(error.message)"])
        }
    }

    private func received(_ message: MosquittoClient.Message) {
        if message.topic == subscriptionRecord.topic { return readSubscriptionRecord(message) }
        statistics.received()
        readInBurst += 1
        let receivedAt = ContinuousClock.now
        if let status = configuration.statusFilter, let captures = status.match(message.topic) {
            return updatePresence(message, device: status.device(from: captures))
        }
        guard message.payload.count <= configuration.maximumPayloadBytes else {
            // Its start is kept, as an oversized MLLP frame's is.
            return reject(message, device: nil, FrameDecodeError(
                reason: "payload_too_large",
                detail: "the payload is \(message.payload.count) bytes, over this source's limit of \(configuration.maximumPayloadBytes); not decoded"),
                raw: Array(message.payload.prefix(4_096)))
        }
        guard let (subscription, captures) = configuration.subscriptions.lazy.compactMap({ subscription in
            subscription.filter.match(message.topic).map { (subscription, $0) }
        }).first else {
            return reject(message, device: nil, FrameDecodeError(reason: "unexpected_topic", detail: "no configured subscription matches the topic"))
        }
        let device = subscription.filter.device(from: captures)
        let context = FrameContext(deviceID: device, receivedAt: Timestamp(secondsSinceEpoch: Date().timeIntervalSince1970))
        var frame: DecodedFrame
        do {
            frame = try subscription.decoder.decode(message.payload, context: context)
        } catch {
            return reject(message, device: device, error)
        }
        let stampedOnArrival = !frame.observations.isEmpty && frame.observations.allSatisfy { $0.time == context.receivedAt }
        if message.retain && stampedOnArrival {
            // The broker keeps a retained message for every new subscription: without a time of
            // its own it would be stored, and judged by the rules, as measured now, at each reconnect.
            return reject(message, device: device, FrameDecodeError(
                reason: "retained_without_time", detail: "a retained message that names no time: its readings are from an unknown moment"))
        }
        if let associations {
            for index in frame.observations.indices where frame.observations[index].patient == nil {
                let observation = frame.observations[index]
                frame.observations[index].patient = associations.patient(device: observation.deviceID, bed: observation.location, at: observation.time)
            }
        }
        // The device the rows are stored under: a hub or FHIR gateway publishing for several
        // monitors on one topic names each in the payload, and their message ids may coincide.
        let facility = frame.observations.first?.deviceID ?? frame.statusReports.first?.deviceID ?? device ?? ""
        // A payload that names no id of its own (a FHIR resource without `identifier` or `id`, a
        // mapping without a message id field) is known by its content: one key for all of them
        // would store the first and drop every later one as a duplicate. One that names no time
        // either (its observations stamped on arrival) is known by its arrival too: a stable
        // patient's device sends the same bytes again and again, each a new reading. (A redelivery
        // of such a payload after a reconnect is then stored again: the lesser harm.)
        // A payload's own id goes with its content: ids are counters that start again when a
        // gateway restarts or wraps, and a new reading under an old id was dropped as a duplicate
        // (a redelivery has the same bytes, so it still is one).
        let ownID = frame.messageID.flatMap { $0.isEmpty ? nil : $0 }
        let content = DecodedFrame.contentID(message.payload)
        var messageID = ownID ?? content
        if ownID == nil, stampedOnArrival {
            messageID += "@\(context.receivedAt.microsecondsSinceEpoch)"
        }
        let key = MessageKey(sendingApplication: "MQTT", sendingFacility: facility, controlID: messageID, messageTime: ownID == nil ? "" : content)
        // Each report's own patient: the payload's, else its device's association, else its bed's.
        let conditions = frame.statusReports.compactMap { report in
            DeviceCondition(report, patient: report.patient ?? associations?.patient(device: report.deviceID, bed: report.location, at: report.time),
                            location: report.location)
        }
        submit(IngestBatch(message: key, observations: frame.observations), profileID: subscription.profile.id, conditions: conditions,
               payload: message.payload, receivedAt: receivedAt)
    }

    /// `conditions` nil: a retry, stored without showing the rules the same values again.
    private func submit(
        _ batch: IngestBatch, profileID: String, conditions: [DeviceCondition]?, payload: [UInt8], receivedAt: ContinuousClock.Instant
    ) {
        commits.submitted()
        let statistics = statistics, commits = commits, rejections = rejections
        let completion: @Sendable (Result<WriteOutcome, PostgresError>) -> Void = { result in
            switch result {
            case .success(.stored(let count)):
                statistics.stored(observations: count)
                statistics.commitLatency.recordSeconds((ContinuousClock.now - receivedAt).seconds)
                commits.finished()
            case .success(.duplicate):
                statistics.duplicate()
                commits.finished()
            case .failure(let error) where error.isDataError:
                // The database refuses these rows whatever we do: keep the message for a person.
                statistics.rejected()
                rejections.reject(RejectedFrame(
                    source: "mqtt", origin: batch.message?.sendingFacility ?? "", device: batch.message?.sendingFacility,
                    reason: "storage_refused", detail: error.redactedDescription, raw: payload
                )) { commits.finished() }
            case .failure(let error):
                commits.finished(retry: CommitTracker.Retry(batch: batch, profileID: profileID, payload: payload), error: error.redactedDescription)
            }
        }
        if let conditions {
            sink.submit(batch, profileID: profileID, conditions: conditions, completion: completion)
        } else {
            sink.store(batch, profileID: profileID, completion: completion)
        }
    }

    private func updatePresence(_ message: MosquittoClient.Message, device: String?) {
        let text = String(decoding: message.payload, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        guard let device, !device.isEmpty, let status = DevicePresence.Status(rawValue: text) else {
            return reject(message, device: device, FrameDecodeError(reason: "invalid_presence", detail: "expected 'online' or 'offline'"))
        }
        presence?.record(DevicePresence(device: device, status: status, source: message.topic))
        if status == .online { onlineDevices.insert(device) } else { onlineDevices.remove(device) }
        statistics.devicesOnline.record(onlineDevices.count)
    }

    /// `raw` is what `rejected_frames` keeps of the message: all of it unless said otherwise.
    /// Acknowledged, like a stored message, once it is kept: a crash before would lose it.
    private func reject(_ message: MosquittoClient.Message, device: String?, _ error: FrameDecodeError, raw: [UInt8]? = nil) {
        statistics.rejected()
        commits.submitted()
        let commits = commits
        rejections.reject(RejectedFrame(
            source: "mqtt", origin: message.topic, device: device, reason: error.reason, detail: error.detail, raw: raw ?? message.payload
        )) { commits.finished() }
    }
}
