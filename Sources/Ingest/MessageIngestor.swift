import Decoders
import Foundation
import HL7v2
import Logging
import Storage
import VitalSigns

/// What becomes of one received HL7 message.
public enum IngestReply: Sendable {
    /// The acknowledgement to send back: `AA` after commit, or `AE`/`AR`.
    case acknowledge([UInt8])
    /// Nothing to send: the sender asked for no acknowledgement (`AcknowledgmentRequest`), or
    /// the message was itself one.
    case noAcknowledgment
    /// The message could not be made durable: send nothing and drop the connection, so the
    /// sender keeps it and sends it again (an `AE` could make it give up for good).
    case retryLater(reason: String)
}

/// Turns a received HL7 message into stored observations and the acknowledgement for it.
/// Transport-free: the MLLP handler owns connections and ordering, this owns the meaning.
public final class MessageIngestor: Sendable {
    /// Skipped rows an `AA` names in ERR segments; one more ERR counts the others, so that a
    /// message of thousands of unreadable rows does not get an ACK ten times its own size.
    static let namedSkippedRows = 20
    /// Past this size, a message waiting for its commit keeps its header alone for the `AE` it
    /// may need: up to 64 messages per connection may wait, each up to the frame limit.
    static let keptWholeBytes = 16 * 1024

    private let decoder: PCD01Decoder
    private let sink: any ObservationSink
    private let logger: Logger
    private let metrics = IngestMetrics()
    private let applicationName: String
    private let defaultCharset: HL7Charset

    /// `sink`: the ingest pipeline in the daemon; the writer itself where no rules apply.
    /// `defaultCharset`: of messages whose MSH-18 is empty (older devices send Latin-1).
    public init(
        decoder: PCD01Decoder, sink: any ObservationSink, applicationName: String = "NILECARE", defaultCharset: HL7Charset = .utf8, logger: Logger
    ) {
        self.decoder = decoder
        self.sink = sink
        self.defaultCharset = defaultCharset
        self.applicationName = applicationName
        self.logger = logger
    }

    /// Handles one frame; `reply` is called exactly once, possibly on another thread.
    public func ingest(_ bytes: [UInt8], peer: String, reply: @escaping @Sendable (IngestReply) -> Void) {
        if Self.isKeepAlive(bytes) {
            // No message, so nothing to acknowledge: an AE naming no message would only fill the
            // sender's error log at every heartbeat.
            metrics.keepAlives.increment()
            logger.debug("keep-alive frame, not answered", metadata: ["peer": "\(peer)"])
            return reply(.noAcknowledgment)
        }
        metrics.messagesReceived.increment()
        let message: HL7Message
        do {
            message = try HL7Message(parsing: bytes, defaultCharset: defaultCharset)
        } catch {
            // The header alone may still parse, so the AE can name the message it answers.
            let header = try? HL7Message(parsingHeaderOf: bytes, defaultCharset: defaultCharset)
            if let header, header.messageType == "ACK" { return ignoreAcknowledgment(header, peer: peer, reply: reply) }
            reject(header, outcome: .error, detail: HL7ErrorDetail(error), reason: "unparseable", peer: peer, reply: reply)
            return
        }
        if message.messageType == "ACK" { return ignoreAcknowledgment(message, peer: peer, reply: reply) }
        let decoded: DecodedMessage
        do {
            decoded = try decoder.decode(message)
        } catch {
            let reason = switch error {
            case .unsupportedMessage: "unsupported_message"
            case .unsupportedProcessingID: "unsupported_processing_id"
            case .requiredFieldMissing, .invalidValue, .moreThanOneMessage: "undecodable"
            }
            reject(message, outcome: AcknowledgmentRequest.Outcome(error.acknowledgmentCode), detail: error.errorDetail, reason: reason, peer: peer, reply: reply)
            return
        }
        if !decoded.skipped.isEmpty {
            metrics.observationsSkipped.increment(by: decoded.skipped.count)
            logger.debug("observations skipped", metadata: [
                "peer": "\(peer)", "control_id": "\(decoded.header.controlID)",
                "reasons": "\(decoded.skipped.map(\.reason))",
            ])
        }
        let header = decoded.header
        let key = MessageKey(
            sendingApplication: header.sendingApplication, sendingFacility: header.sendingFacility, controlID: header.controlID,
            messageTime: header.messageTime
        )
        var warnings = decoded.skipped.prefix(Self.namedSkippedRows).map {
            HL7ErrorDetail(code: .dataTypeError, severity: .warning, segmentID: "OBX", segmentSequence: $0.segmentSequence, field: $0.field, text: $0.reason)
        }
        if decoded.skipped.count > Self.namedSkippedRows {
            let others = decoded.skipped.count - Self.namedSkippedRows
            warnings.append(HL7ErrorDetail(code: .dataTypeError, severity: .warning, segmentID: "OBX", text: "and \(others) more OBX rows skipped"))
        }
        // The AA is built here, on the connection's thread, so the writer's completions stay short.
        let accepted = acknowledgment(for: message, outcome: .success, details: warnings)
        let answerable = message.bytes.count > Self.keptWholeBytes ? message.headerAlone : message
        let started = ContinuousClock.now
        sink.submit(IngestBatch(message: key, observations: decoded.observations), profileID: decoded.profileID, conditions: decoded.conditions) { [self] result in
            switch result {
            case .success(let outcome):
                if case .stored(let count) = outcome {
                    metrics.observationsAccepted.increment(by: count)
                } else {
                    metrics.duplicates.increment()
                    logger.info("retransmitted message acknowledged again, nothing stored twice", metadata: [
                        "peer": "\(peer)", "control_id": "\(header.controlID)", "sending_application": "\(header.sendingApplication)",
                        "message_time": "\(header.messageTime)",
                    ])
                }
                metrics.ackLatency.recordSeconds((ContinuousClock.now - started) / .seconds(1))
                reply(accepted)
            case .failure(let error) where error.isDataError:
                // The database refuses this message's data and would refuse every resend: an AE
                // stops the sender from retrying it forever and holding up what follows it.
                metrics.rejected("refused_by_storage").increment()
                logger.warning("message refused by the database", metadata: [
                    "peer": "\(peer)", "reason": "refused_by_storage", "control_id": "\(header.controlID)",
                    "error": "\(error.redactedDescription)",
                ])
                let detail = HL7ErrorDetail(code: .applicationInternalError,
                                            text: "the database refused the message's data: \(error.message)")
                reply(acknowledgment(for: answerable, outcome: .error, details: [detail]))
            case .failure(let error):
                metrics.rejected("storage_unavailable").increment()
                // One line per connection comes from the handler; this one per message is detail.
                logger.debug("message not stored, not acknowledged", metadata: [
                    "peer": "\(peer)", "control_id": "\(header.controlID)", "error": "\(error)",
                ])
                reply(.retryLater(reason: "storage unavailable: \(error.message)"))
            }
        }
    }

    /// An empty frame, or one of line ends alone: what some interface engines send to keep an
    /// idle connection open.
    static func isKeepAlive(_ bytes: [UInt8]) -> Bool {
        bytes.allSatisfy { $0 == UInt8(ascii: "\r") || $0 == UInt8(ascii: "\n") }
    }

    /// Refuses a frame longer than the limit with `AE`, naming the message when its start holds
    /// the header: the sender moves on to its next message instead of resending this one for
    /// ever, and nothing of it is stored.
    public func refuseOversized(start: [UInt8], contentBytes: Int, limit: Int, peer: String, reply: @escaping @Sendable (IngestReply) -> Void) {
        metrics.messagesReceived.increment()
        let header = try? HL7Message(parsingHeaderOf: start, defaultCharset: defaultCharset)
        let detail = HL7ErrorDetail(
            code: .applicationInternalError,
            text: "the message is \(contentBytes) bytes, over this receiver's limit of \(limit); nothing of it is stored"
        )
        reject(header, outcome: .error, detail: detail, reason: "frame_too_large", peer: peer, reply: reply)
    }

    /// An acknowledgement, even a malformed one, is never answered: two engines answering each
    /// other's would loop.
    private func ignoreAcknowledgment(_ message: HL7Message, peer: String, reply: @Sendable (IngestReply) -> Void) {
        metrics.rejected("acknowledgement_received").increment()
        logger.debug("an acknowledgement was sent to the listener; not answered", metadata: ["peer": "\(peer)", "control_id": "\(message.controlID)"])
        reply(.noAcknowledgment)
    }

    private func reject(
        _ message: HL7Message?, outcome: AcknowledgmentRequest.Outcome, detail: HL7ErrorDetail, reason: String,
        peer: String, reply: @Sendable (IngestReply) -> Void
    ) {
        metrics.rejected(reason).increment()
        logger.warning("message rejected", metadata: [
            "peer": "\(peer)", "ack": "\(outcome.code.rawValue)", "reason": "\(reason)",
            "control_id": "\(message?.controlID ?? "")", "error": "\(detail.text)",
        ])
        reply(acknowledgment(for: message, outcome: outcome, details: [detail]))
    }

    /// The acknowledgement of `outcome`, or none when the sender asked for none.
    private func acknowledgment(for message: HL7Message?, outcome: AcknowledgmentRequest.Outcome, details: [HL7ErrorDetail]) -> IngestReply {
        guard AcknowledgmentRequest(message).wantsAcknowledgment(of: outcome) else { return .noAcknowledgment }
        return .acknowledge(HL7Acknowledgment.build(
            for: message, code: outcome.code, errors: details,
            controlID: AcknowledgmentControlID.next(), timestamp: HL7Clock.now(), receiver: applicationName
        ))
    }

}
