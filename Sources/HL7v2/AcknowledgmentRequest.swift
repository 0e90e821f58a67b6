/// Whether a sender wants an acknowledgement, from MSH-15 (accept) and MSH-16 (application),
/// HL7 table 0155: `AL` always, `NE` never, `ER` on error or rejection, `SU` on success.
///
/// One acknowledgement answers each message, `AA`, `AE` or `AR`, once it is committed (or
/// refused): what PCD-01 senders and the simulators read, whichever of the two fields they set
/// (PCD-01 examples send `NE`/`AL`, others `AL`/`NE`). It is sent unless both fields rule it out
/// for the outcome; with one field set, the empty one asks for it (`AL`), and with both empty
/// it is original mode (always). A sender that asked for none (`NE`/`NE`) gets none: it does
/// not read them, and unread acknowledgements would fill the connection until the engine
/// stopped reading it.
public struct AcknowledgmentRequest: Sendable {
    public enum Condition: Sendable {
        case always, never, onError, onSuccess

        /// Table 0155; an empty field, or a value the table does not hold, asks for the
        /// acknowledgement rather than lose it.
        init(_ code: String) {
            switch code {
            case "NE": self = .never
            case "ER": self = .onError
            case "SU": self = .onSuccess
            default: self = .always
            }
        }

        func applies(to outcome: Outcome) -> Bool {
            switch self {
            case .always: true
            case .never: false
            case .onError: outcome != .success
            case .onSuccess: outcome == .success
            }
        }
    }

    public enum Outcome: Sendable {
        case success, error, rejection

        public init(_ code: HL7AcknowledgmentCode) {
            switch code {
            case .AA, .CA: self = .success
            case .AR, .CR: self = .rejection
            case .AE, .CE: self = .error
            }
        }

        public var code: HL7AcknowledgmentCode {
            switch self {
            case .success: .AA
            case .error: .AE
            case .rejection: .AR
            }
        }
    }

    /// MSH-15's and MSH-16's conditions.
    public var accept: Condition
    public var application: Condition

    /// From the header; a message without one (unparseable) is answered as in original mode.
    public init(_ message: HL7Message?) {
        accept = Condition(message?.header[15].component(1).value ?? "")
        application = Condition(message?.header[16].component(1).value ?? "")
    }

    public func wantsAcknowledgment(of outcome: Outcome) -> Bool {
        accept.applies(to: outcome) || application.applies(to: outcome)
    }
}
