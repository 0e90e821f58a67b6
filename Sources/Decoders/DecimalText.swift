/// Decimal text to a Double straight from the bytes: HL7 `NM` values here, JSON numbers in
/// `JSONReader`, both through `exactValue`.
enum DecimalText {
    /// `mantissa × 10^exponent`, correctly rounded, when that takes one IEEE operation (Clinger's
    /// fast path): a mantissa of at most 15 significant digits and a power of ten up to 10^22 are
    /// both exact in a Double, so one multiply or divide rounds once, as `Double(String)` does.
    /// nil when the caller must take the standard library's path.
    static func exactValue(mantissa: UInt64, significantDigits: Int, exponent: Int) -> Double? {
        guard significantDigits <= 15, abs(exponent) < exactPowersOfTen.count else { return nil }
        let power = exactPowersOfTen[abs(exponent)]
        return exponent < 0 ? Double(mantissa) / power : Double(mantissa) * power
    }

    private static let exactPowersOfTen: [Double] = [
        1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11,
        1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
    ]

    /// HL7 `NM`: an optional sign, digits and at most one decimal point (`-0.5`, `+5`, `.5`, `5.`),
    /// nothing else: no exponent, hex, `inf` or `nan`, which a device does not mean as a reading.
    /// A mantissa longer than 15 digits, already checked, is rounded by the standard library.
    static func parse(_ bytes: UnsafeBufferPointer<UInt8>) -> Double? {
        var index = bytes.startIndex
        var negative = false
        if index < bytes.endIndex, bytes[index] == UInt8(ascii: "-") || bytes[index] == UInt8(ascii: "+") {
            negative = bytes[index] == UInt8(ascii: "-")
            index += 1
        }
        var mantissa: UInt64 = 0
        var digits = 0
        var fractionDigits = 0
        var seenDot = false
        while index < bytes.endIndex {
            let byte = bytes[index]
            if byte == UInt8(ascii: ".") {
                guard !seenDot else { return nil }
                seenDot = true
            } else {
                let digit = byte &- UInt8(ascii: "0")
                guard digit < 10 else { return nil }
                // Past 15 digits the mantissa is only counted: the standard library rounds it.
                if digits < 15 { mantissa = mantissa * 10 + UInt64(digit) }
                digits += 1
                if seenDot { fractionDigits += 1 }
            }
            index += 1
        }
        guard digits > 0 else { return nil }
        guard let value = exactValue(mantissa: mantissa, significantDigits: digits, exponent: -fractionDigits) else {
            guard let value = Double(String(decoding: bytes, as: UTF8.self)), value.isFinite else { return nil }
            return value
        }
        return negative ? -value : value
    }
}
