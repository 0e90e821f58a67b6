import Foundation

/// Array literals for text-format parameters (`$1::text[]`).
public enum PostgresArray {
    public static func text(_ values: [String]) -> String {
        text(values.map(Optional.some))
    }

    /// `nil` elements become SQL NULL.
    public static func text(_ values: [String?]) -> String {
        var bytes: [UInt8] = [UInt8(ascii: "{")]
        bytes.reserveCapacity(values.reduce(2) { $0 + ($1?.utf8.count ?? 4) + 3 })
        for (index, value) in values.enumerated() {
            if index > 0 { bytes.append(UInt8(ascii: ",")) }
            guard let value else {
                bytes.append(contentsOf: "NULL".utf8)
                continue
            }
            bytes.append(UInt8(ascii: "\""))
            for byte in value.utf8 {
                if byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\") { bytes.append(UInt8(ascii: "\\")) }
                bytes.append(byte)
            }
            bytes.append(UInt8(ascii: "\""))
        }
        bytes.append(UInt8(ascii: "}"))
        return String(decoding: bytes, as: UTF8.self)
    }

    public static func integers<Integer: BinaryInteger>(_ values: [Integer]) -> String {
        integers(values.map(Optional.some))
    }

    /// `nil` elements become SQL NULL.
    public static func integers<Integer: BinaryInteger>(_ values: [Integer?]) -> String {
        "{" + values.map { $0.map { "\($0)" } ?? "NULL" }.joined(separator: ",") + "}"
    }
}
