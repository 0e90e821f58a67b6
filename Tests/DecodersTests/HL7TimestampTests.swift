import Foundation
import Testing
import VitalSigns
@testable import Decoders

@Suite struct HL7TimestampTests {
    @Test(arguments: [
        ("2026", utc(2026, 1, 1, 0, 0, 0)),
        ("202611", utc(2026, 11, 1, 0, 0, 0)),
        ("20261129", utc(2026, 11, 29, 0, 0, 0)),
        ("2026112914", utc(2026, 11, 29, 14, 0, 0)),
        ("202611291430", utc(2026, 11, 29, 14, 30, 0)),
        ("20261129143005", utc(2026, 11, 29, 14, 30, 5)),
    ])
    func precisionsTakeTheirLowestValues(text: String, expected: Timestamp) throws {
        #expect(try HL7Timestamp.parse(text + "+0000", facilityZone: khartoum) == expected)
    }

    @Test func offsetsAndFractions() throws {
        #expect(try HL7Timestamp.parse("20261129143005.25+0200", facilityZone: .gmt).microsecondsSinceEpoch
            == utc(2026, 11, 29, 12, 30, 5).microsecondsSinceEpoch + 250_000)
        #expect(try HL7Timestamp.parse("20261129013005-0330", facilityZone: .gmt) == utc(2026, 11, 29, 5, 0, 5))
        #expect(try HL7Timestamp.parse("20240229235959.9999+0000", facilityZone: .gmt).microsecondsSinceEpoch
            == utc(2024, 2, 29, 23, 59, 59).microsecondsSinceEpoch + 999_900)
    }

    @Test func noOffsetMeansTheFacilityZone() throws {
        #expect(try HL7Timestamp.parse("20261129143005", facilityZone: khartoum) == utc(2026, 11, 29, 12, 30, 5))
        let newYork = try #require(TimeZone(identifier: "America/New_York"))
        // Daylight saving time in July (UTC-4), standard time in January (UTC-5).
        #expect(try HL7Timestamp.parse("20260701120000", facilityZone: newYork) == utc(2026, 7, 1, 16, 0, 0))
        #expect(try HL7Timestamp.parse("20260115120000", facilityZone: newYork) == utc(2026, 1, 15, 17, 0, 0))
    }

    @Test("a wall-clock time at a daylight-saving change resolves alike east and west of Greenwich")
    func daylightSavingChanges() throws {
        let berlin = try #require(TimeZone(identifier: "Europe/Berlin"))
        let newYork = try #require(TimeZone(identifier: "America/New_York"))
        // Clocks going back: 02:30 (Berlin) and 01:30 (New York) happen twice; the first counts.
        #expect(try HL7Timestamp.parse("20261025023000", facilityZone: berlin) == utc(2026, 10, 25, 0, 30, 0))
        #expect(try HL7Timestamp.parse("20261101013000", facilityZone: newYork) == utc(2026, 11, 1, 5, 30, 0))
        // Clocks going forward: 02:30 never happens; it is read as 03:30, the hour later.
        #expect(try HL7Timestamp.parse("20260329023000", facilityZone: berlin) == utc(2026, 3, 29, 1, 30, 0))
        #expect(try HL7Timestamp.parse("20260308023000", facilityZone: newYork) == utc(2026, 3, 8, 7, 30, 0))
        // Just either side of the changes.
        #expect(try HL7Timestamp.parse("20261025035959", facilityZone: berlin) == utc(2026, 10, 25, 2, 59, 59))
        #expect(try HL7Timestamp.parse("20261025015959", facilityZone: berlin) == utc(2026, 10, 24, 23, 59, 59))
        #expect(try HL7Timestamp.parse("20261101003000", facilityZone: newYork) == utc(2026, 11, 1, 4, 30, 0))
        #expect(try HL7Timestamp.parse("20261101023000", facilityZone: newYork) == utc(2026, 11, 1, 7, 30, 0))
    }

    @Test("a value without an offset is in the sender's zone (MSH-7's offset) when it is known, else the facility's; its own offset wins")
    func theSendersOffset() throws {
        let now = utc(2026, 11, 29, 14, 31, 0)
        func sender(_ offset: Int) -> HL7Timestamp.SenderClock { HL7Timestamp.SenderClock(offset: offset, time: now) }
        func sent(_ text: String, _ offset: Int) throws -> Timestamp {
            try HL7Timestamp.parse(text, facilityZone: khartoum, unzoned: sender(offset).unzonedTimes(facilityZone: khartoum))
        }
        #expect(try sent("20261129143005", 0) == utc(2026, 11, 29, 14, 30, 5))
        #expect(try sent("20261129143005", -3 * 3600) == utc(2026, 11, 29, 17, 30, 5))
        #expect(try sent("20261129143005+0100", 0) == utc(2026, 11, 29, 13, 30, 5))
        #expect(sender(2 * 3600).unzonedTimes(facilityZone: khartoum) == .facilityZone)
        let parsed = try Array("20261129143005-0330".utf8).withUnsafeBufferPointer { (bytes) throws(HL7Timestamp.Problem) in
            try HL7Timestamp.parse(bytes, facilityZone: .gmt)
        }
        #expect(parsed.offset == -(3 * 3600 + 30 * 60))
    }

    @Test("a sender on the facility's clock has its times read in the facility's zone, summer time included; one on another zone's clock at its fixed offset")
    func aSenderOnTheFacilitysClockFollowsItsSummerTime() throws {
        let newYork = try #require(TimeZone(identifier: "America/New_York"))
        // New York, the night the clocks went back (2026-11-01 02:00 EDT → 01:00 EST). Sent at
        // 03:00 EST (-0500): a row measured at 00:55 was in summer time (EDT, -0400).
        let sentAfter = HL7Timestamp.SenderClock(offset: -5 * 3600, time: utc(2026, 11, 1, 8, 0, 0)).unzonedTimes(facilityZone: newYork)
        #expect(sentAfter == .facilityZone)
        #expect(try HL7Timestamp.parse("20261101005500", facilityZone: newYork, unzoned: sentAfter) == utc(2026, 11, 1, 4, 55, 0))
        #expect(try HL7Timestamp.parse("20261101030000", facilityZone: newYork, unzoned: sentAfter) == utc(2026, 11, 1, 8, 0, 0))
        // A gateway on UTC in the same facility: its offset holds for every row.
        let gateway = HL7Timestamp.SenderClock(offset: 0, time: utc(2026, 11, 1, 8, 0, 0)).unzonedTimes(facilityZone: newYork)
        #expect(gateway == .fixedOffset(0))
        #expect(try HL7Timestamp.parse("20261101005500", facilityZone: newYork, unzoned: gateway) == utc(2026, 11, 1, 0, 55, 0))
    }

    @Test("up to six fraction digits (microseconds, as some gateways send) are read")
    func microsecondFractions() throws {
        #expect(try HL7Timestamp.parse("20261129143005.123456+0000", facilityZone: .gmt).microsecondsSinceEpoch
            == utc(2026, 11, 29, 14, 30, 5).microsecondsSinceEpoch + 123_456)
        #expect(try HL7Timestamp.parse("20261129143005.12345+0000", facilityZone: .gmt).microsecondsSinceEpoch
            == utc(2026, 11, 29, 14, 30, 5).microsecondsSinceEpoch + 123_450)
    }

    @Test(arguments: ["", "20", "2026112", "20261129143005.", "20261129143005.1234567", "2026-11-29", "20261129T1430",
                      "20261129143005+02", "20261129143005+02x0", "2026112914300５"])
    func malformed(text: String) {
        #expect(throws: HL7Timestamp.Problem.malformed) { try HL7Timestamp.parse(text, facilityZone: .gmt) }
    }

    @Test(arguments: ["20261301", "20260230", "20250229", "2026112925", "202611291460", "20261129145960", "18991231", "20261129+1500"])
    func outOfRange(text: String) {
        #expect(throws: HL7Timestamp.Problem.outOfRange) { try HL7Timestamp.parse(text, facilityZone: .gmt) }
    }
}
