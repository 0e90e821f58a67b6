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
        self.init(code: code, segmentID: error.segmentID, segmentSequence: error.segmentSequence, field: error.field, text: error.description)
    }
}

public enum HL7Acknowledgment {
    /// Builds an original-mode or enhanced-mode ACK for `original`, in its delimiters and charset.
    ///
    /// With `original == nil` (nothing could be parsed) the copied MSH fields and MSA-2 stay empty.
    /// MSH-3/4 of the ACK are MSH-5/6 of the original and vice versa; MSH-9 is `ACK^<trigger>^ACK`;
    /// MSH-11, MSH-12 and MSH-18 are copied, and MSA-2 is MSH-10: all as the sender wrote them,
    /// byte for byte (escapes, components and trailing separators included). When the sender
    /// left MSH-5 empty, MSH-3 is `receiver`, so that the ACK says who sent it.
    /// One `ERR` segment follows `MSA` for each entry of `errors` (errors, warnings, notes), in
    /// the v2.5 layout; to a sender of an earlier version (MSH-12 2.1 to 2.4), which reads neither
    /// ERR-2 nor ERR-3, ERR-1 says the same and MSA-3 carries the first error's text.
    public static func build(
        for original: HL7Message?, code: HL7AcknowledgmentCode, errors: [HL7ErrorDetail] = [],
        controlID: String, timestamp: String, receiver: String = ""
    ) -> [UInt8] {
        let reply = Reply(code: code, errors: errors, controlID: controlID, timestamp: timestamp, receiver: receiver)
        guard let original else { return reply.bytes(header: nil, encoder: HL7Encoder(delimiters: .standard, charset: .utf8)) }
        let encoder = HL7Encoder(delimiters: original.delimiters, charset: original.charset)
        // The header is read through the borrowed view: an ACK is sent for every message.
        return original.withBorrowedView { reply.bytes(header: $0.segment(at: 0), encoder: encoder) }
    }

    /// What the ACK says of its own: everything but what it copies from the original's header.
    private struct Reply {
        var code: HL7AcknowledgmentCode
        var errors: [HL7ErrorDetail]
        var controlID: String
        var timestamp: String
        var receiver: String

        /// Built straight into bytes: going through segment values cost as much as decoding the
        /// message. Copied fields go back as the sender wrote them, already in these delimiters
        /// and this charset.
        func bytes(header: HL7BorrowedSegment?, encoder: HL7Encoder) -> [UInt8] {
            let delimiters = encoder.delimiters
            var bytes: [UInt8] = []
            bytes.reserveCapacity(256)
            var segmentEnd = 0
            func field(_ write: (inout [UInt8]) -> Void) {
                bytes.append(delimiters.field)
                let start = bytes.count
                write(&bytes)
                if bytes.count > start { segmentEnd = bytes.count }  // trailing empty fields are cut
            }
            func copy(_ number: Int) { field { if let header { appendAsSent(header[number].bytes, to: &$0) } } }
            func text(_ value: String) { field { encoder.appendEscaped(value, to: &$0) } }
            func endSegment() {
                bytes.removeSubrange(segmentEnd...)
                bytes.append(encoder.segmentTerminator)
            }

            /// A field as sent, unless the header was read only to answer a message refused for
            /// what the field holds: an escape character that opens no sequence (`WARD\3`) is
            /// written `\E\`, and bytes the ACK's charset does not allow (Latin-1 in a header
            /// read as UTF-8, its own MSH-18 not supported) as `\Xhh\`, so that the answer parses
            /// and reads back as the bytes that were sent.
            func appendAsSent(_ field: UnsafeBufferPointer<UInt8>, to output: inout [UInt8]) {
                let escapesHold = EscapeSequence.allWellFormed(in: field, delimiters: delimiters)
                let bytesHold = encoder.charset.firstInvalidByte(in: field, before: field.count) == nil
                if escapesHold && bytesHold { return output.append(contentsOf: field) }
                for byte in field {
                    if byte == delimiters.escape && !escapesHold {
                        output += [delimiters.escape, UInt8(ascii: "E"), delimiters.escape]
                    } else if byte >= 0x80 && !bytesHold {
                        encoder.appendHexEscape([byte], to: &output)
                    } else {
                        output.append(byte)
                    }
                }
            }

            bytes += "MSH".utf8
            bytes.append(delimiters.field)
            bytes += delimiters.encodingCharacters
            segmentEnd = bytes.count
            if let header, !header[5].isEmpty { copy(5) } else { text(receiver) }
            copy(6); copy(3); copy(4)
            text(timestamp)
            field { _ in }
            field {
                $0 += "ACK".utf8
                $0.append(delimiters.component)
                encoder.appendEscaped(header?[9].component(2).value ?? "", to: &$0)
                $0.append(delimiters.component)
                $0 += "ACK".utf8
            }
            text(controlID)
            copy(11); copy(12)
            for _ in 13...17 { field { _ in } }
            field {
                guard let sent = header?[18] else { return }
                // As sent, unless the header was read with another charset than it names (one this
                // engine does not support): then the ACK names the charset it is written in.
                if sent.isEmpty || HL7Charset(hl7NameBytes: sent.repetition(0).bytes) == encoder.charset {
                    $0.append(contentsOf: sent.bytes)
                } else {
                    encoder.appendEscaped(encoder.charset.hl7Name, to: &$0)
                }
            }
            endSegment()

            let version = header?[12].component(1).value ?? ""
            let beforeV25 = ["2.1", "2.2", "2.3", "2.4"].contains { version == $0 || version.hasPrefix($0 + ".") }

            bytes += "MSA".utf8
            segmentEnd = bytes.count
            text(code.rawValue)
            copy(10)
            if beforeV25, let first = errors.first(where: { $0.severity == .error }) { text(String(first.text.prefix(80))) }
            endSegment()

            if let first = errors.first {
                // Before v2.5 an ACK has one ERR at most, its ERR-1 repeating for each error.
                let segments = beforeV25
                    ? [HL7Acknowledgment.errorSegment(first, withERR1: errors)]
                    : errors.map { HL7Acknowledgment.errorSegment($0, withERR1: []) }
                bytes += encoder.encode(segments)
            }
            return bytes
        }
    }

    /// ERR-2 to ERR-8 for `error`; for senders before v2.5, ERR-1 (ELD: segment, sequence,
    /// field, code) repeated for each of `withERR1` as well.
    fileprivate static func errorSegment(_ error: HL7ErrorDetail, withERR1 legacy: [HL7ErrorDetail]) -> HL7SegmentValue {
        var segment = HL7SegmentValue(id: "ERR", fields: [])
        if !legacy.isEmpty {
            segment[field: 1] = HL7FieldValue(repetitions: legacy.map { error in [
                [error.segmentID ?? ""], [error.segmentSequence.map(String.init) ?? ""], [error.field.map(String.init) ?? ""],
                [String(error.code.rawValue), error.code.text, "HL70357"],
            ] })
        }
        segment[field: 2] = HL7FieldValue(components: [
            error.segmentID ?? "", error.segmentSequence.map(String.init) ?? "", error.field.map(String.init) ?? "",
        ])
        segment[field: 3] = HL7FieldValue(components: [String(error.code.rawValue), error.code.text, "HL70357"])
        segment[field: 4] = HL7FieldValue(error.severity.rawValue)
        // Capped: a text may quote what the sender sent (an unsupported MSH-18 of any length).
        segment[field: 8] = HL7FieldValue(error.text.count > 256 ? error.text.prefix(255) + "…" : error.text)
        return segment
    }
}
