import Testing
@testable import VitalSigns

@Suite struct IntCodeTableTests {
    @Test(arguments: [0, 1, 2, 3, 20, 257])
    func findsExactlyWhatADictionaryFinds(count: Int) {
        // Codes spaced so that many share their low bits, plus negative and extreme keys.
        var entries: [Int: Int] = [:]
        for index in 0..<count { entries[index * 65_536 + 147_842] = index }
        if count > 2 { entries[-1] = -1; entries[Int.min] = 7; entries[Int.max] = 8 }
        let table = IntCodeTable(entries)
        for (key, value) in entries { #expect(table[key] == value) }
        for probe in [0, 5, 147_841, 147_843, -2, 1 << 40] where entries[probe] == nil {
            #expect(table[probe] == nil)
        }
    }
}
