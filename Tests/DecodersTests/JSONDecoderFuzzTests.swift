import DeviceSimulator
import Testing
import VitalSigns
@testable import Decoders

@Suite("Fuzzing the JSON decoders: any bytes give a frame or a FrameDecodeError")
struct JSONDecoderFuzzTests {
    static let mappedDecoder = MappedJSONDecoder(profile: shippedProfile("example-vendor-gateway"))
    static let decoders: [any FrameDecoder] = [fhirDecoder] + (mappedDecoder.map { [$0] } ?? [])

    /// Valid payloads, each with the decoder that accepts it.
    static var seeds: [(decoder: any FrameDecoder, payload: [UInt8])] {
        let fhir = [
            FHIRObservationDecoderTests.heartRate,
            observation(code: "8480-6", value: "16", unit: #""unit": "kPa", "code": "kPa""#),
            """
            { "resourceType": "Bundle", "type": "collection", "entry": [
              { "fullUrl": "urn:uuid:patient-1", "resource": { "resourceType": "Patient", "identifier": [{ "value": "P" }] } },
              { "resource": \(observation(code: "8867-4", value: "72", unit: #""code": "/min""#, references: true)) },
              { "resource": { "resourceType": "Observation", "status": "final",
                  "code": { "coding": [{ "system": "http://loinc.org", "code": "85354-9" }] },
                  "component": [ { "code": { "coding": [{ "system": "http://loinc.org", "code": "8480-6" }] }, "valueQuantity": { "value": 120, "code": "mm[Hg]" } },
                                 { "code": { "coding": [{ "system": "http://loinc.org", "code": "8462-4" }] }, "dataAbsentReason": { "text": "x" } } ] } } ] }
            """,
        ].map { (decoder: fhirDecoder as any FrameDecoder, payload: Array($0.utf8)) }
        let mapped = mappedDecoder.map { [(decoder: $0 as any FrameDecoder, payload: Array(MappedJSONDecoderTests.vendorPayload.utf8))] } ?? []
        return fhir + mapped
    }

    @Test func mutatedPayloads() {
        var rng = SplitMix64(seed: 0x15_0F_A1)
        let seeds = Self.seeds
        #expect(seeds.count == 4)
        var accepted = 0
        var rejected = 0
        for round in 0..<6000 {
            var (decoder, payload) = seeds[round % seeds.count]
            for _ in 0..<Int.random(in: 1...2, using: &rng) { mutate(&payload, using: &rng) }
            if check(decoder, payload) { accepted += 1 } else { rejected += 1 }
        }
        // Both outcomes must actually be exercised. (Copying a run of bytes often repeats a key,
        // which the reader refuses, so fewer mutants are accepted than rejected.)
        #expect(accepted > 400, "accepted \(accepted)")
        #expect(rejected > 500, "rejected \(rejected)")
    }

    @Test func randomBytesAndDeepNesting() {
        var rng = SplitMix64(seed: 0xBAD_15_0)
        let tokens = Array(#"{}[]:,"0123456789.-+eE truefalsnl\u"#.utf8) + [0xC3, 0xA9, 0xFF, 0x00]
        for _ in 0..<3000 {
            let payload = (0..<Int.random(in: 0...200, using: &rng)).map { _ in
                Bool.random(using: &rng) ? tokens.randomElement(using: &rng) ?? 0 : UInt8.random(in: 0...255, using: &rng)
            }
            for decoder in Self.decoders { check(decoder, payload) }
        }
        for depth in [100, 600, 5000] {
            let nested = String(repeating: #"{"a":["#, count: depth) + "1" + String(repeating: "]}", count: depth)
            for decoder in Self.decoders {
                #expect(!check(decoder, Array(nested.utf8)))
            }
        }
    }

    private func mutate(_ bytes: inout [UInt8], using rng: inout SplitMix64) {
        guard !bytes.isEmpty else { return bytes = [UInt8.random(in: 0...255, using: &rng)] }
        let position = Int.random(in: 0..<bytes.count, using: &rng)
        let fragments = [#"""#, "{", "}", "[", "]", ":", ",", "null", "true", "-1e999", "1e308", "0.1", #""x""#, "{}", "[]",
                         #""valueQuantity""#, #""status""#, #""Bundle""#, #""component""#, #""\u0000""#]
        switch Int.random(in: 0..<6, using: &rng) {
        case 0: bytes[position] ^= 1 << UInt8.random(in: 0..<8, using: &rng)
        case 1: bytes.removeSubrange(position...)
        case 2: bytes.insert(contentsOf: Array((fragments.randomElement(using: &rng) ?? "").utf8), at: position)
        case 3: bytes.removeSubrange(position..<min(bytes.count, position + Int.random(in: 1...30, using: &rng)))
        case 4:
            // Replace a number-looking run with another number (or a string).
            let end = min(bytes.count, position + Int.random(in: 1...4, using: &rng))
            bytes.replaceSubrange(position..<end, with: Array((fragments.randomElement(using: &rng) ?? "").utf8))
        default:
            let end = min(bytes.count, position + Int.random(in: 1...60, using: &rng))
            bytes.insert(contentsOf: bytes[position..<end], at: position)
        }
    }

    /// Decodes; an accepted frame holds only storable observations, a rejection says why.
    @discardableResult
    private func check(_ decoder: any FrameDecoder, _ payload: [UInt8]) -> Bool {
        do {
            let frame = try decoder.decode(payload, context: frameContext())
            for observation in frame.observations {
                #expect(observation.value.isFinite)
                #expect(!observation.deviceID.isEmpty)
                #expect(observation.kind == .unknown || observation.unit == observation.kind.canonicalUnit)
            }
            return true
        } catch {
            #expect(!error.reason.isEmpty && !error.detail.isEmpty)
            return false
        }
    }
}
