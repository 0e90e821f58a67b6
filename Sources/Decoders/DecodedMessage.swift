import HL7v2
import VitalSigns

/// Who sent a message and which one it is: the key for ACKs and for recognising retransmissions.
public struct MessageHeader: Sendable, Hashable {
    public var sendingApplication: String
    public var sendingFacility: String
    public var controlID: String
    public var messageType: String
    public var triggerEvent: String
}

/// An OBX row that carried no storable value, and why. The message is still accepted.
public struct SkippedObservation: Sendable, Hashable {
    public var segmentSequence: Int
    public var field: Int
    public var reason: String
}

/// The result of decoding one ORU^R01: the observations to store, and the rows left out.
public struct DecodedMessage: Sendable {
    public var header: MessageHeader
    public var observations: [Observation]
    public var skipped: [SkippedObservation]
    /// The device profile the message was decoded with.
    public var profileID: String = ""
}
