import HL7v2

/// Why a message as a whole cannot be accepted. Each case says which HL7 acknowledgement and
/// error code the sender gets.
public enum PCD01DecodeError: Error, Sendable, Hashable, CustomStringConvertible {
    /// Not an ORU^R01: rejected with `AR`.
    case unsupportedMessage(type: String, trigger: String)
    /// MSH-11 says training (`T`) or debugging (`D`), or another id this engine does not accept:
    /// `AR`, code 202, so that a monitor in demo mode never writes into a patient's chart.
    case unsupportedProcessingID(String)
    /// A field the message needs is missing: `AE`, code 101.
    case requiredFieldMissing(segment: String, sequence: Int, field: Int, what: String)
    /// A field holds a value of the wrong form: `AE`, code 102.
    case invalidValue(segment: String, sequence: Int, field: Int, value: String, reason: String)
    /// A second MSH: the frame holds more than one message (a batch sent as one, or a sender's
    /// framing bug). `AE`, code 100: stored as one, the second message would be acknowledged
    /// under the first one's id, and never on its own.
    case moreThanOneMessage(segmentIndex: Int)

    public var acknowledgmentCode: HL7AcknowledgmentCode {
        switch self {
        case .unsupportedMessage, .unsupportedProcessingID: .AR
        case .requiredFieldMissing, .invalidValue, .moreThanOneMessage: .AE
        }
    }

    public var errorDetail: HL7ErrorDetail {
        switch self {
        case let .unsupportedMessage(type, _):
            let code: HL7ErrorCode = type == "ORU" ? .unsupportedEventCode : .unsupportedMessageType
            return HL7ErrorDetail(code: code, segmentID: "MSH", segmentSequence: 1, field: 9, text: description)
        case .unsupportedProcessingID:
            return HL7ErrorDetail(code: .unsupportedProcessingID, segmentID: "MSH", segmentSequence: 1, field: 11, text: description)
        case let .requiredFieldMissing(segment, sequence, field, _):
            return HL7ErrorDetail(code: .requiredFieldMissing, segmentID: segment, segmentSequence: sequence, field: field, text: description)
        case let .invalidValue(segment, sequence, field, _, _):
            return HL7ErrorDetail(code: .dataTypeError, segmentID: segment, segmentSequence: sequence, field: field, text: description)
        case .moreThanOneMessage:
            return HL7ErrorDetail(code: .segmentSequenceError, segmentID: "MSH", segmentSequence: 2, text: description)
        }
    }

    public var description: String {
        switch self {
        case let .unsupportedMessage(type, trigger):
            "message type \(type)^\(trigger) is not accepted here; only ORU^R01 (IHE PCD-01)"
        case let .unsupportedProcessingID(id):
            "processing id '\(id.prefix(8))' (MSH-11) is not accepted here; only production (P) data is stored"
        case let .requiredFieldMissing(segment, sequence, field, what):
            "\(segment)-\(field) (\(what)) is required but empty in \(segment) #\(sequence)"
        case let .invalidValue(segment, sequence, field, value, reason):
            "\(segment)-\(field) in \(segment) #\(sequence) is invalid (\(reason)): '\(value.prefix(40))'"
        case let .moreThanOneMessage(index):
            "segment \(index + 1) is a second MSH: a frame carries one message; send each in a frame of its own"
        }
    }
}
