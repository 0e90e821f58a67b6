/// MSA-1 (HL7 table 0008): original mode A*, enhanced mode commit C*.
public enum HL7AcknowledgmentCode: String, Sendable, Hashable, CaseIterable {
    case AA, AE, AR, CA, CE, CR
}

/// HL7 table 0357, message error condition codes.
public enum HL7ErrorCode: Int, Sendable, Hashable, CaseIterable {
    case messageAccepted = 0
    case segmentSequenceError = 100
    case requiredFieldMissing = 101
    case dataTypeError = 102
    case tableValueNotFound = 103
    case unsupportedMessageType = 200
    case unsupportedEventCode = 201
    case unsupportedProcessingID = 202
    case unsupportedVersionID = 203
    case unknownKeyIdentifier = 204
    case duplicateKeyIdentifier = 205
    case applicationRecordLocked = 206
    case applicationInternalError = 207

    /// The table's display text, sent in ERR-3.2.
    public var text: String {
        switch self {
        case .messageAccepted: "Message accepted"
        case .segmentSequenceError: "Segment sequence error"
        case .requiredFieldMissing: "Required field missing"
        case .dataTypeError: "Data type error"
        case .tableValueNotFound: "Table value not found"
        case .unsupportedMessageType: "Unsupported message type"
        case .unsupportedEventCode: "Unsupported event code"
        case .unsupportedProcessingID: "Unsupported processing id"
        case .unsupportedVersionID: "Unsupported version id"
        case .unknownKeyIdentifier: "Unknown key identifier"
        case .duplicateKeyIdentifier: "Duplicate key identifier"
        case .applicationRecordLocked: "Application record locked"
        case .applicationInternalError: "Application internal error"
        }
    }
}

/// What goes into the ERR segment (v2.5+ layout).
public struct HL7ErrorDetail: Sendable, Hashable {
    /// ERR-4 (HL7 table 0516).
    public enum Severity: String, Sendable, Hashable {
        case error = "E"
        case warning = "W"
        case information = "I"
    }

    public var code: HL7ErrorCode
    /// ERR-2.1, ERR-2.2 (1-based occurrence), ERR-2.3.
    public var segmentID: String?
    public var segmentSequence: Int?
    public var field: Int?
    public var severity: Severity
    /// ERR-8, user message.
    public var text: String

    public init(
        code: HL7ErrorCode, severity: Severity = .error, segmentID: String? = nil, segmentSequence: Int? = nil,
        field: Int? = nil, text: String = ""
    ) {
        self.code = code
        self.severity = severity
        self.segmentID = segmentID
        self.segmentSequence = segmentSequence
        self.field = field
        self.text = text
    }

    /// Describes why a message could not be parsed.
    public init(_ error: HL7ParseError) {
        let code: HL7ErrorCode = switch error.kind {
        case .empty, .missingMSH, .invalidSegmentID: .segmentSequenceError
        case .headerTooShort: .requiredFieldMissing
        case .unsupportedCharset: .tableValueNotFound
        case .tooLarge, .invalidDelimiters, .unterminatedEscape, .invalidEscape, .invalidCharacter: .dataTypeError
        }
        self.init(code: code, segmentID: error.segmentID, field: error.field, text: error.description)
    }
}

public enum HL7Acknowledgment {
    /// Builds an original-mode or enhanced-mode ACK for `original`, in its delimiters and charset.
    ///
    /// With `original == nil` (nothing could be parsed) the copied MSH fields and MSA-2 stay empty.
    /// MSH-3/4 of the ACK are MSH-5/6 of the original and vice versa; MSH-9 is `ACK^<trigger>^ACK`;
    /// MSH-11, MSH-12 and MSH-18 are copied.
    /// One `ERR` segment follows `MSA` for each entry of `errors` (errors, warnings, notes).
    public static func build(
        for original: HL7Message?, code: HL7AcknowledgmentCode, errors: [HL7ErrorDetail] = [],
        controlID: String, timestamp: String
    ) -> [UInt8] {
        let delimiters = original?.delimiters ?? .standard
        let copy: (Int) -> HL7FieldValue = { original?.header[$0].model ?? .empty }

        var header = HL7SegmentValue(id: "MSH", fields: [])
        header[field: 1] = HL7FieldValue(String(decoding: [delimiters.field], as: UTF8.self))
        header[field: 2] = HL7FieldValue(String(decoding: delimiters.encodingCharacters, as: UTF8.self))
        header[field: 3] = copy(5)
        header[field: 4] = copy(6)
        header[field: 5] = copy(3)
        header[field: 6] = copy(4)
        header[field: 7] = HL7FieldValue(timestamp)
        header[field: 9] = HL7FieldValue(components: ["ACK", original?.triggerEvent ?? "", "ACK"])
        header[field: 10] = HL7FieldValue(controlID)
        header[field: 11] = copy(11)
        header[field: 12] = copy(12)
        header[field: 18] = copy(18)

        let acknowledgment = HL7SegmentValue(
            id: "MSA", fields: [HL7FieldValue(code.rawValue), HL7FieldValue(original?.controlID ?? "")]
        )
        var segments = [header, acknowledgment]
        segments += errors.map(errorSegment)
        return HL7Encoder(delimiters: delimiters, charset: original?.charset ?? .utf8).encode(segments)
    }

    private static func errorSegment(_ error: HL7ErrorDetail) -> HL7SegmentValue {
        var segment = HL7SegmentValue(id: "ERR", fields: [])
        segment[field: 2] = HL7FieldValue(components: [
            error.segmentID ?? "", error.segmentSequence.map(String.init) ?? "", error.field.map(String.init) ?? "",
        ])
        segment[field: 3] = HL7FieldValue(components: [String(error.code.rawValue), error.code.text, "HL70357"])
        segment[field: 4] = HL7FieldValue(error.severity.rawValue)
        segment[field: 8] = HL7FieldValue(error.text)
        return segment
    }
}
