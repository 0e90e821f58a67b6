import HL7v2

/// Whether a sender wants an acknowledgement, from MSH-15 (accept) and MSH-16 (application),
/// HL7 table 0155: `AL` always, `NE` never, `ER` on error or rejection, `SU` on success.
///
/// One acknowledgement answers each message, `AA`, `AE` or `AR`, once it is committed (or
/// refused): what PCD-01 senders and the simulators read, whichever of the two fields they set
/// (PCD-01 examples send `NE`/`AL`, others `AL`/`NE`). It is sent when either field asks for it
/// for the outcome, or when both are empty (original mode). A sender that asked for none
/// (`NE`/`NE`) gets none: it does not read them, and unread acknowledgements would fill the
/// connection until the engine stopped reading it.
struct AcknowledgmentRequest: Equatable {
    enum Condition: Equatable {
        case always, never, onError, onSuccess

        /// Table 0155; a value it does not hold asks for the acknowledgement rather than lose it.
        init?(_ code: String) {
            switch code {
            case "": return nil
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

    enum Outcome: Equatable {
        case success, error, rejection

        var code: HL7AcknowledgmentCode {
            switch self {
            case .success: .AA
            case .error: .AE
            case .rejection: .AR
            }
        }
    }

    /// MSH-15's and MSH-16's conditions, those that are set.
    var conditions: [Condition]

    /// From the header; a message without one (unparseable) is answered as in original mode.
    init(_ message: HL7Message?) {
        guard let header = message?.header else {
            conditions = []
            return
        }
        conditions = [15, 16].compactMap { Condition(header[$0].component(1).value) }
    }

    func wantsAcknowledgment(of outcome: Outcome) -> Bool {
        conditions.isEmpty || conditions.contains { $0.applies(to: outcome) }
    }
}
