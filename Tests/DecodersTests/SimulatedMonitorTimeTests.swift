import DeviceSimulator
import Foundation
import Testing
import VitalSigns
@testable import Decoders

@Suite("SimulatedMonitor.hl7Time")
struct SimulatedMonitorTimeTests {
    @Test("known instants are written as HL7 DTM with milliseconds and a UTC offset")
    func knownInstants() {
        #expect(SimulatedMonitor.hl7Time(Timestamp(microsecondsSinceEpoch: 0)) == "19700101000000.000+0000")
        // 2024-02-29T07:08:09.012345Z: a leap day; microseconds are cut to milliseconds.
        #expect(SimulatedMonitor.hl7Time(Timestamp(microsecondsSinceEpoch: 1_709_190_489_012_345)) == "20240229070809.012+0000")
        // Just before the epoch: floor, not truncation toward zero.
        #expect(SimulatedMonitor.hl7Time(Timestamp(microsecondsSinceEpoch: -1_000)) == "19691231235959.999+0000")
    }

    @Test("what is written parses back to the same millisecond")
    func roundTrip() throws {
        var generator = SystemRandomNumberGenerator()
        let zone = try #require(TimeZone(identifier: "Africa/Khartoum"))
        for _ in 0..<2_000 {
            // 1900 to 2100, at millisecond resolution.
            let millis = Int64.random(in: -2_208_988_800_000...4_102_444_800_000, using: &generator)
            let time = Timestamp(microsecondsSinceEpoch: millis * 1000)
            let bytes = SimulatedMonitor.hl7TimeBytes(time)
            #expect(String(decoding: bytes, as: UTF8.self) == SimulatedMonitor.hl7Time(time))
            let parsed = bytes.withUnsafeBufferPointer { try? HL7Timestamp.parse($0, facilityZone: zone).time }
            #expect(parsed == time, "\(String(decoding: bytes, as: UTF8.self))")
        }
    }
}
