/// What a byte means under a message's delimiters, as bit flags in a 256-entry table, so every
/// scanning loop needs one lookup per byte and branches only on the rare bytes that matter.
enum ByteFlags {
    static let repetition: UInt8 = 1
    static let component: UInt8 = 2
    static let subcomponent: UInt8 = 4
    static let escape: UInt8 = 8
    static let fieldSeparator: UInt8 = 16
    /// CR or LF.
    static let terminator: UInt8 = 32
    /// For spans whose bytes have not been looked at yet.
    static let unknown: UInt8 = 0xFF

    /// Shared by every message with `| ^ ~ \ &`, so they cost no allocation.
    private static let standardTable = makeTable(.standard)

    static func table(for delimiters: HL7Delimiters) -> [UInt8] {
        delimiters == .standard ? standardTable : makeTable(delimiters)
    }

    private static func makeTable(_ delimiters: HL7Delimiters) -> [UInt8] {
        var table = [UInt8](repeating: 0, count: 256)
        table[Int(delimiters.repetition)] = repetition
        table[Int(delimiters.component)] = component
        table[Int(delimiters.subcomponent)] = subcomponent
        table[Int(delimiters.escape)] = escape
        table[Int(delimiters.field)] = fieldSeparator
        table[0x0D] = terminator
        table[0x0A] = terminator
        return table
    }
}
