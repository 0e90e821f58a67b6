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

@Suite struct NumericCodeIndexTests {
    @Test("a profile whose codes differ only by a leading zero, a sign or length loads, each code its own")
    func numericLookalikesStayApart() {
        let profile = DeviceProfile(id: "lookalikes", codes: [
            CodeMapping(system: "MDC", code: "0150456", kind: .heartRate),
            CodeMapping(system: "MDC", code: "+150456", kind: .respirationRate),
            CodeMapping(system: "MDC", code: "-5", kind: .temperature),
            CodeMapping(system: "MDC", code: "1234567890", kind: .pulseRate),
        ], unitAliases: ["0264864": .percent, "264864": .beatsPerMinute])
        // The numeric index holds only canonical codes: 150456 keeps its standard meaning.
        #expect(profile.known(mdcCode: 150_456)?.resolution.kind == .spo2)
        // The decoder stores the table's text for the code, so it must be the canonical one.
        #expect(profile.known(mdcCode: 150_456)?.code == "150456")
        #expect(profile.known(mdcCode: 150_457) == nil)  // no table knows it
        #expect(profile.known(mdcCode: -5) == nil)
        #expect(profile.known(mdcCode: 1_234_567_890) == nil)
        // The others are found as texts.
        #expect(profile.resolve(ObservationCode(code: "0150456", system: "MDC")).kind == .heartRate)
        #expect(profile.resolve(ObservationCode(code: "+150456", system: "MDC")).kind == .respirationRate)
        #expect(profile.resolve(ObservationCode(code: "1234567890", system: "MDC")).kind == .pulseRate)
        #expect(profile.unit(mdcCode: 264_864) == .beatsPerMinute)
        #expect(profile.unit(forCode: "0264864") == .percent)
    }

    @Test func numericCodesAreCanonicalDecimals() {
        #expect(DeviceProfile.numericCode("150456") == 150_456)
        #expect(DeviceProfile.numericCode("0") == 0)
        for text in ["", "0150456", "+1", "-5", "1234567890", "15 0456", "١٢٣"] {
            #expect(DeviceProfile.numericCode(text) == nil, "\(text)")
        }
    }
}

@Suite struct TextCodeTableTests {
    private func find(_ table: TextCodeTable<Int>, _ system: String?, _ code: String) -> Int? {
        Array(code.utf8).withUnsafeBufferPointer { code in
            guard let system else { return table.value(code: code) }
            return Array(system.utf8).withUnsafeBufferPointer { table.value(system: $0, code: code) }
        }
    }

    @Test func findsExactlyWhatADictionaryFinds() {
        // Keys that share bytes but split them differently between system and code.
        let keys = [("AB", "C"), ("A", "BC"), ("MDIL", "0002-4182"), ("MDIL", "0002-4BB8"), ("LN", "8867-4"), ("LN", ""), ("", "x")]
            + (0..<300).map { ("V", "code-\($0)") }
        let table = TextCodeTable(keys.enumerated().map { ([$0.element.0, $0.element.1], $0.offset) })
        for (index, key) in keys.enumerated() { #expect(find(table, key.0, key.1) == index, "\(key)") }
        for (system, code) in [("ABC", ""), ("A", "B"), ("MDIL", "0002-4182 "), ("mdil", "0002-4182"), ("LN", "8867"), ("V", "code-300"), ("", "")] {
            #expect(find(table, system, code) == nil, "\(system) \(code)")
        }
    }

    @Test func oneTextKeysAndTheSeparatorByteLeftOut() {
        let table = TextCodeTable([(["/min"], 1), (["%"], 2), (["a\u{1F}b"], 3)])
        #expect(find(table, nil, "/min") == 1 && find(table, nil, "%") == 2)
        #expect(find(table, nil, "/mi") == nil && find(table, nil, "") == nil)
        // A text holding the separator byte is not in the table: it is found by String.
        #expect(find(table, nil, "a\u{1F}b") == nil)
    }
}
