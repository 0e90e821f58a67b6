/// HL7 escape sequences (v2.x chapter 2.7), decoded as follows:
///
/// - `\F\ \S\ \T\ \R\ \E\` become the field, component, subcomponent, repetition and escape
///   characters; `\P\` the truncation character when MSH-2 declares one.
/// - `\Xhh…\` becomes those bytes, decoded in the message charset together with the text around them.
/// - `\.br\` and `\.sp\` (with or without a count) become a single "\n".
/// - Other formatting commands (`\H\ \N\ \.fi\ \.nf\ \.in±n\ \.ti±n\ \.sk n\ \.ce\`) are dropped:
///   they are presentation hints with no meaning for a stored value. Other text after a dot is
///   not a command and is kept, as below.
/// - Anything else (`\Zxx\` locally defined, `\Cxxyy\` and `\Mxxyyzz\` character-set switches,
///   unknown sequences) is kept verbatim, escape characters included, so no sender data is lost.
///
/// The scanner rejects unterminated sequences, `\\`, and `\X\` without an even number of hex digits,
/// so decoding never fails.
enum EscapeSequence {
    static func isWellFormed(_ content: UnsafeBufferPointer<UInt8>) -> Bool {
        guard let first = content.first else { return false }
        guard first == UInt8(ascii: "X") else { return true }
        return hexBytes(UnsafeBufferPointer(rebasing: content.dropFirst())) != nil
    }

    /// Whether every escape character in `text` (a field, its delimiters included) opens a
    /// sequence the scanner accepts: closed before any other delimiter, and well formed.
    static func allWellFormed(in text: UnsafeBufferPointer<UInt8>, delimiters: HL7Delimiters) -> Bool {
        guard text.contains(delimiters.escape) else { return true }
        return ByteFlags.table(for: delimiters).withUnsafeBufferPointer { flags in
            var p = 0
            while p < text.count {
                guard text[p] == delimiters.escape else { p += 1; continue }
                guard let close = closingEscape(of: p, in: text, flags: flags),
                      isWellFormed(UnsafeBufferPointer(rebasing: text[(p + 1)..<close]))
                else { return false }
                p = close + 1
            }
            return true
        }
    }

    /// Where the sequence opened at `open` closes, or nil when a delimiter, a segment's end or
    /// the text's end comes first: escape sequences never contain delimiters.
    static func closingEscape(of open: Int, in text: UnsafeBufferPointer<UInt8>, flags: UnsafeBufferPointer<UInt8>) -> Int? {
        var close = open + 1
        while close < text.count, flags[Int(text[close])] == 0 { close += 1 }
        return close < text.count && flags[Int(text[close])] == ByteFlags.escape ? close : nil
    }

    /// Appends what the sequence stands for (`content` is between the escape characters).
    static func appendExpansion(
        of content: UnsafeBufferPointer<UInt8>, delimiters: HL7Delimiters, to output: inout [UInt8]
    ) {
        if content.count == 1 {
            switch content[0] {
            case UInt8(ascii: "F"): return output.append(delimiters.field)
            case UInt8(ascii: "S"): return output.append(delimiters.component)
            case UInt8(ascii: "T"): return output.append(delimiters.subcomponent)
            case UInt8(ascii: "R"): return output.append(delimiters.repetition)
            case UInt8(ascii: "E"): return output.append(delimiters.escape)
            case UInt8(ascii: "P"):
                if let truncation = delimiters.truncation { return output.append(truncation) }
            case UInt8(ascii: "H"), UInt8(ascii: "N"): return
            default: break
            }
        }
        if content.first == UInt8(ascii: "X"), let bytes = hexBytes(UnsafeBufferPointer(rebasing: content.dropFirst())) {
            return output.append(contentsOf: bytes)
        }
        if let command = formattingCommand(content) {
            if command == "br" || command == "sp" { output.append(0x0A) }
            return
        }
        output.append(delimiters.escape)
        output.append(contentsOf: content)
        output.append(delimiters.escape)
    }

    /// The name of a formatting command (chapter 2.7.6: `.br .sp .fi .nf .in .ti .sk .ce`), with
    /// its argument if any (`.sp 2`, `.in +4`, `.ti-2`); nil for anything else that starts with a
    /// dot, which is kept as sent (`\.config\` in a path is data, not a command).
    private static func formattingCommand(_ content: UnsafeBufferPointer<UInt8>) -> String? {
        guard content.count >= 3, content[0] == UInt8(ascii: ".") else { return nil }
        let name = String(decoding: UnsafeBufferPointer(rebasing: content[1..<3]), as: UTF8.self)
        guard ["br", "sp", "fi", "nf", "in", "ti", "sk", "ce"].contains(name) else { return nil }
        let argument = content[3...]
        guard argument.allSatisfy({ $0 == UInt8(ascii: " ") || $0 == UInt8(ascii: "+") || $0 == UInt8(ascii: "-") || ($0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9")) }) else {
            return nil
        }
        return name
    }

    /// Pairs of hex digits; nil when empty, odd or not hex.
    static func hexBytes(_ digits: UnsafeBufferPointer<UInt8>) -> [UInt8]? {
        guard !digits.isEmpty, digits.count % 2 == 0 else { return nil }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(digits.count / 2)
        var i = 0
        while i < digits.count {
            guard let high = hexValue(digits[i]), let low = hexValue(digits[i + 1]) else { return nil }
            bytes.append(high << 4 | low)
            i += 2
        }
        return bytes
    }

    private static func hexValue(_ digit: UInt8) -> UInt8? {
        switch digit {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): digit - UInt8(ascii: "0")
        case UInt8(ascii: "A")...UInt8(ascii: "F"): digit - UInt8(ascii: "A") + 10
        case UInt8(ascii: "a")...UInt8(ascii: "f"): digit - UInt8(ascii: "a") + 10
        default: nil
        }
    }
}

enum EscapeDecoder {
    /// Decodes text that contains escape sequences (and no delimiters of the level being read).
    static func decode(_ text: UnsafeBufferPointer<UInt8>, delimiters: HL7Delimiters, charset: HL7Charset) -> String {
        var output: [UInt8] = []
        output.reserveCapacity(text.count)
        var p = 0
        while p < text.count {
            let byte = text[p]
            guard byte == delimiters.escape else {
                output.append(byte)
                p += 1
                continue
            }
            guard let close = (p + 1..<text.count).first(where: { text[$0] == delimiters.escape }) else {
                // Unreachable after a successful scan; kept total so decoding can never trap.
                output.append(contentsOf: text[p...])
                break
            }
            EscapeSequence.appendExpansion(
                of: UnsafeBufferPointer(rebasing: text[(p + 1)..<close]), delimiters: delimiters, to: &output
            )
            p = close + 1
        }
        return output.withUnsafeBufferPointer { charset.string(decoding: $0) }
    }
}
