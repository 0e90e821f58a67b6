import VitalSigns

/// Identifies one HL7 v2 message for duplicate detection: MSH-3 sending application, MSH-4
/// sending facility, MSH-10 message control id. A retransmission carries the same key.
public struct MessageKey: Sendable, Hashable, CustomStringConvertible {
    public var sendingApplication: String
    public var sendingFacility: String
    public var controlID: String

    public init(sendingApplication: String, sendingFacility: String, controlID: String) {
        self.sendingApplication = sendingApplication
        self.sendingFacility = sendingFacility
        self.controlID = controlID
    }

    /// `application|facility|control id`: no patient data, safe to log.
    public var description: String { "\(sendingApplication)|\(sendingFacility)|\(controlID)" }
}

extension MessageKey: Comparable {
    /// By application, facility, then control id: the order a commit writes its keys in.
    public static func < (lhs: MessageKey, rhs: MessageKey) -> Bool {
        (lhs.sendingApplication, lhs.sendingFacility, lhs.controlID) < (rhs.sendingApplication, rhs.sendingFacility, rhs.controlID)
    }
}

/// The observations of one HL7 message (with its key), or keyless rows from another source
/// (MQTT, serial) that have no message identity to deduplicate on.
public struct IngestBatch: Sendable {
    public var message: MessageKey?
    public var observations: [Observation]

    public init(message: MessageKey? = nil, observations: [Observation]) {
        self.message = message
        self.observations = observations
    }
}

/// What happened to a submitted batch once its transaction committed.
public enum WriteOutcome: Sendable, Equatable {
    /// The batch's observations are durable (`observations` rows; 0 for a message without any).
    case stored(observations: Int)
    /// The message key had been stored before (or earlier in the same commit): nothing was
    /// written, and the message may be acknowledged again.
    case duplicate
}
