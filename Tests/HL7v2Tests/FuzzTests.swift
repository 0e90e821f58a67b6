import HL7v2
import Testing

@Suite("Fuzzing: any bytes give a message or a typed error")
struct FuzzTests {
    static let seeds: [[UInt8]] = [
        hl7(Fixtures.adtA01), hl7(Fixtures.oruR01Lab), hl7(Fixtures.pcd01Monitor, terminator: "\r\n"),
        hl7(DelimiterTests.custom), latin1([#"MSH|^~\&#|MON||||||||||||||||8859/1"#, #"NTE|1||Müller \XE9\ \.br\ \H\x\N\"#]),
    ]

    @Test func mutatedMessages() {
        var rng = SplitMix64(seed: 0xF022)
        var parsed = 0
        var rejected = 0
        for round in 0..<4000 {
            var bytes = Self.seeds[round % Self.seeds.count]
            for _ in 0..<Int.random(in: 1...4, using: &rng) {
                mutate(&bytes, using: &rng)
            }
            if check(bytes) { parsed += 1 } else { rejected += 1 }
        }
        // Both outcomes must actually be exercised.
        #expect(parsed > 500)
        #expect(rejected > 500)
    }

    @Test func randomBytes() {
        var rng = SplitMix64(seed: 0xB17E5)
        let prefix = Array(#"MSH|^~\&|"#.utf8)
        // Half the bytes have a meaning: delimiters, terminators, ID letters, UTF-8 lead and trail bytes.
        let meaningful = Array(#"|^~\&XMSHOBX0.br"#.utf8) + [0x0D, 0x0A, 0xC3, 0xA9, 0xFF]
        for round in 0..<2000 {
            let tail = (0..<Int.random(in: 0...300, using: &rng)).map { _ in
                Bool.random(using: &rng) ? meaningful.randomElement(using: &rng) ?? 0 : UInt8.random(in: 0...255, using: &rng)
            }
            check(round.isMultiple(of: 2) ? prefix + tail : tail)
        }
    }

    private func mutate(_ bytes: inout [UInt8], using rng: inout SplitMix64) {
        guard !bytes.isEmpty else { return bytes = [UInt8.random(in: 0...255, using: &rng)] }
        let position = Int.random(in: 0..<bytes.count, using: &rng)
        switch Int.random(in: 0..<7, using: &rng) {
        case 0: bytes[position] ^= 1 << UInt8.random(in: 0..<8, using: &rng)
        case 1: bytes[position] = UInt8.random(in: 0...255, using: &rng)
        case 2: bytes.removeSubrange(position...)
        case 3: bytes.insert(Array(#"|^~\&"#.utf8 + [0x0D, 0x0A]).randomElement(using: &rng) ?? 0, at: position)
        case 4: bytes.removeSubrange(position..<min(bytes.count, position + Int.random(in: 1...20, using: &rng)))
        case 5:
            let end = min(bytes.count, position + Int.random(in: 1...40, using: &rng))
            bytes.insert(contentsOf: bytes[position..<end], at: position)
        default: bytes.insert(contentsOf: Array(#"\X0\\E\\.br\\"#.utf8).shuffled(using: &rng).prefix(3), at: position)
        }
    }

    /// Parses `bytes`; a message must answer every accessor and re-encode to something that
    /// parses to the same model, an error must point inside the input.
    @discardableResult
    private func check(_ bytes: [UInt8]) -> Bool {
        let message: HL7Message
        do {
            message = try HL7Message(parsing: bytes)
        } catch {
            #expect(error.byteOffset >= 0 && error.byteOffset <= bytes.count)
            #expect(error.segmentIndex.map { $0 >= 0 } ?? true)
            #expect(!error.description.isEmpty)
            return false
        }
        exerciseAccessors(message)
        let encoder = HL7Encoder(delimiters: message.delimiters, charset: message.charset)
        let model = message.model
        do {
            let reparsed = try HL7Message(parsing: encoder.encode(model), defaultCharset: message.charset)
            #expect(reparsed.model == model.map { $0.canonical(delimiters: message.delimiters) })
        } catch {
            Issue.record("re-encoded message failed to parse: \(error)")
        }
        return true
    }

    /// Every accessor of every element, past the ends too, and what they must agree on.
    private func exerciseAccessors(_ message: HL7Message) {
        #expect(message.header.id == "MSH")
        for segment in message.segments {
            #expect(segment[segment.fieldCount + 1].isEmpty, "a field past the last one is empty")
            for number in 0...(segment.fieldCount + 1) {
                let field = segment[number]
                #expect(field.isEmpty == field.rawBytes.isEmpty)
                #expect((field.repetitionCount == 0) == field.isEmpty)
                if field.isNull { #expect(field.rawBytes.count == 2) }
                // `value` is the first repetition's first component's first subcomponent.
                #expect(field.value == field.component(1).value)
                #expect(field.value == field.repetition(0).value)
                for r in 0...field.repetitionCount {
                    let repetition = field.repetition(r)
                    if r == field.repetitionCount { #expect(repetition.isEmpty, "a repetition past the last one is empty") }
                    #expect(repetition.value == repetition.component(1).value)
                    for c in 0...(repetition.componentCount + 1) {
                        let component = repetition.component(c)
                        #expect(component.value == component.subcomponent(1))
                        #expect(component.subcomponent(component.subcomponentCount + 1).isEmpty)
                    }
                }
            }
        }
    }
}
