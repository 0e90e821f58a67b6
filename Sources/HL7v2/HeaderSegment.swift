/// MSH, and the batch/file headers shaped like it: field 1 is the separator, field 2 the encoding characters.
enum HeaderSegment {
    static func isHeaderID(_ first: UInt8, _ second: UInt8, _ third: UInt8) -> Bool {
        if first == UInt8(ascii: "M") { return second == UInt8(ascii: "S") && third == UInt8(ascii: "H") }
        let batchOrFile = first == UInt8(ascii: "B") || first == UInt8(ascii: "F")
        return batchOrFile && second == UInt8(ascii: "H") && third == UInt8(ascii: "S")
    }

    static func isHeaderID(_ id: String) -> Bool {
        id == "MSH" || id == "BHS" || id == "FHS"
    }
}
