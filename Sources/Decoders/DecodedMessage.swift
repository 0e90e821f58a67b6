import HL7v2
import VitalSigns

/// Who sent a message and which one it is: the key for ACKs and for recognising retransmissions.
public struct MessageHeader: Sendable, Hashable {
    /// MSH-3 as sent, all its components (HD: namespace, universal id, its type),
    /// `AcmeInc^ACDE48234567ABCD^EUI-64`: gateways of one model share the namespace and tell
    /// themselves apart by the universal id. A retransmission repeats it byte for byte.
    public var sendingApplication: String
    /// MSH-4 as sent (HD).
    public var sendingFacility: String
    public var controlID: String
    /// MSH-7 as sent: with MSH-3/4 and MSH-10, the key of a retransmission.
    public var messageTime: String = ""
    public var messageType: String
    public var triggerEvent: String
    /// MSH-3's namespace (HD.1), which device profiles match on.
    public var applicationName: String
}

/// An OBX row that carried no storable value, and why. The message is still accepted.
public struct SkippedObservation: Sendable, Hashable {
    public var segmentSequence: Int
    public var field: Int
    public var reason: String
}

/// The result of decoding one ORU^R01: the observations to store, the rows left out, and what
/// the device said about its own measurements (an OBX-11 `X`: it could not obtain a value).
public struct DecodedMessage: Sendable {
    public var header: MessageHeader
    public var observations: [Observation]
    public var skipped: [SkippedObservation]
    public var conditions: [DeviceCondition] = []
    /// The device profile the message was decoded with.
    public var profileID: String = ""
}
