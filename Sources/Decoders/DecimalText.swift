/// HL7 `NM` text to a Double, straight from the bytes for the usual `[+-]digits[.digits]`.
///
/// With at most 15 significant digits the mantissa and the power of ten are exact doubles, so
/// one IEEE division gives the correctly rounded value, the same as `Double(String)`. Anything
/// else (exponents, long mantissas) takes the standard library's path.
enum DecimalText {
    private static let powersOfTen: [Double] = (0...15).map { exponent in
        (0..<exponent).reduce(1.0) { value, _ in value * 10 }
    }

    static func parse(_ bytes: ArraySlice<UInt8>) -> Double? {
        var index = bytes.startIndex
        var negative = false
        if index < bytes.endIndex, bytes[index] == UInt8(ascii: "-") || bytes[index] == UInt8(ascii: "+") {
            negative = bytes[index] == UInt8(ascii: "-")
            index += 1
        }
        var mantissa: Int64 = 0
        var digits = 0
        var fractionDigits = 0
        var seenDot = false
        while index < bytes.endIndex {
            let byte = bytes[index]
            if byte == UInt8(ascii: ".") && !seenDot {
                seenDot = true
            } else {
                let digit = byte &- UInt8(ascii: "0")
                guard digit < 10 else { return fallback(bytes) }
                mantissa = mantissa * 10 + Int64(digit)
                digits += 1
                if seenDot { fractionDigits += 1 }
                guard digits <= 15 else { return fallback(bytes) }
            }
            index += 1
        }
        guard digits > 0 else { return nil }
        let value = Double(mantissa) / powersOfTen[fractionDigits]
        return negative ? -value : value
    }

    private static func fallback(_ bytes: ArraySlice<UInt8>) -> Double? {
        guard let value = Double(String(decoding: bytes, as: UTF8.self)), value.isFinite else { return nil }
        return value
    }
}
