import VitalSigns

/// Identifies one HL7 v2 message for duplicate detection: MSH-3 sending application, MSH-4
/// sending facility, MSH-10 message control id and MSH-7, the time the message was created. A
/// retransmission carries the same key. MSH-7 is part of it because senders reuse control ids:
/// a gateway that counts MSH-10 from 1 again after a reboot sends new messages under the ids
/// of old ones, and those must not be dropped as retransmissions. Its fields compare as bytes
/// (`ExactText`), as the database's primary key does: keys Swift's `String ==` would call equal
/// are two messages there.
public struct MessageKey: Sendable, Hashable, CustomStringConvertible {
    public var sendingApplication: String
    public var sendingFacility: String
    public var controlID: String
    /// MSH-7 as sent; for MQTT the payload's content hash when it names an id of its own (ids
    /// start again); empty for sources whose control id is unique on its own (serial).
    public var messageTime: String

    public init(sendingApplication: String, sendingFacility: String, controlID: String, messageTime: String = "") {
        self.sendingApplication = sendingApplication
        self.sendingFacility = sendingFacility
        self.controlID = controlID
        self.messageTime = messageTime
    }

    /// `application|facility|control id`, then `@` and MSH-7 when the key has one: no patient
    /// data, safe to log; tells a resend from a control id reused after a reboot.
    public var description: String {
        "\(sendingApplication)|\(sendingFacility)|\(controlID)" + (messageTime.isEmpty ? "" : "@\(messageTime)")
    }
}

extension MessageKey: Comparable {
    /// The fields as `ExactText`, in the key's order.
    private var exact: (ExactText, ExactText, ExactText, ExactText) {
        (ExactText(sendingApplication), ExactText(sendingFacility), ExactText(controlID), ExactText(messageTime))
    }

    public static func == (lhs: MessageKey, rhs: MessageKey) -> Bool { lhs.exact == rhs.exact }

    /// By application, facility, control id, then time: the order a commit writes its keys in.
    public static func < (lhs: MessageKey, rhs: MessageKey) -> Bool { lhs.exact < rhs.exact }

    public func hash(into hasher: inout Hasher) {
        let (application, facility, controlID, time) = exact
        hasher.combine(application)
        hasher.combine(facility)
        hasher.combine(controlID)
        hasher.combine(time)
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
