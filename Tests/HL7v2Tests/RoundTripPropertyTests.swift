import HL7v2
import Testing

@Suite("Round-trip properties over random models")
struct RoundTripPropertyTests {
    static let cases: UInt64 = 2000

    @Test func encodeThenParseGivesTheModelBack() throws {
        for seed in 0..<Self.cases {
            var models = RandomModels(seed: seed)
            let model = models.message()
            let bytes = models.encoder.encode(model)
            let parsed: HL7Message
            do {
                parsed = try HL7Message(parsing: bytes)
            } catch {
                Issue.record("seed \(seed): \(error)")
                continue
            }
            #expect(parsed.model == model, "seed \(seed)")
            #expect(parsed.delimiters == models.delimiters, "seed \(seed)")
            #expect(parsed.charset == models.charset, "seed \(seed)")
        }
    }

    @Test func canonicalBytesSurviveParseAndEncode() throws {
        for seed in Self.cases..<(2 * Self.cases) {
            var models = RandomModels(seed: seed)
            let encoder = models.encoder
            let bytes = encoder.encode(models.message())
            let parsed = try HL7Message(parsing: bytes)
            #expect(encoder.encode(parsed.model) == bytes, "seed \(seed)")
        }
    }

    @Test func lazyAccessorsAgreeWithTheModel() throws {
        for seed in (2 * Self.cases)..<(2 * Self.cases + 500) {
            var models = RandomModels(seed: seed)
            let model = models.message()
            let message = try HL7Message(parsing: models.encoder.encode(model))
            for (segment, expected) in zip(message.segments, model) where expected.id != "MSH" {
                for (number, field) in expected.fields.enumerated() {
                    let parsed = segment[number + 1]
                    #expect(parsed.repetitionCount == field.repetitions.count, "seed \(seed)")
                    #expect(parsed.value == field.text, "seed \(seed)")
                    for (r, repetition) in field.repetitions.enumerated() {
                        for (c, component) in repetition.enumerated() {
                            let parsedComponent = parsed.repetition(r).component(c + 1)
                            #expect((1...component.count).map { parsedComponent.subcomponent($0) } == component, "seed \(seed)")
                        }
                    }
                }
            }
        }
    }
}
