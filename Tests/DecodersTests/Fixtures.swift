import DeviceProfiles
import Foundation
import Testing
import HL7v2
import Pipeline
import VitalSigns
@testable import Decoders

/// The repository's device-profiles/ folder, found from this source file.
let profilesFolder = URL(fileURLWithPath: #filePath)
    .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    .appendingPathComponent("device-profiles").path

private let shippedProfilesLoaded = Result { DeviceProfileCatalog(profiles: try DeviceProfileLoader.loadDirectory(profilesFolder)) }

/// The repository's profiles; a test that uses them fails, naming the problem, if they do not load.
var shippedProfiles: DeviceProfileCatalog {
    switch shippedProfilesLoaded {
    case .success(let catalog): return catalog
    case .failure(let error):
        Issue.record("the repository's device profiles do not load: \(error)")
        return DeviceProfileCatalog(profiles: [])
    }
}

let khartoum = TimeZone(identifier: "Africa/Khartoum")!

func decoder(zone: TimeZone = khartoum) -> PCD01Decoder {
    PCD01Decoder(profiles: shippedProfiles, facilityZone: zone)
}

/// Joins segments with CR, as HL7 wants.
func hl7(_ segments: String...) -> [UInt8] {
    hl7(segments)
}

func hl7(_ segments: [String]) -> [UInt8] {
    Array(segments.joined(separator: "\r").utf8)
}

func parse(_ bytes: [UInt8]) throws -> HL7Message {
    try HL7Message(parsing: bytes)
}

/// UTC microseconds for a calendar time, computed independently of the decoder's arithmetic.
func utc(_ year: Int, _ month: Int, _ day: Int, _ hour: Int, _ minute: Int, _ second: Int, offsetHours: Int = 0) -> Timestamp {
    var components = DateComponents()
    (components.year, components.month, components.day) = (year, month, day)
    (components.hour, components.minute, components.second) = (hour, minute, second)
    components.timeZone = TimeZone(secondsFromGMT: offsetHours * 3600)
    let date = Calendar(identifier: .gregorian).date(from: components)!
    return Timestamp(microsecondsSinceEpoch: Int64(date.timeIntervalSince1970) * 1_000_000)
}

/// What the pipeline's first stage, which alone decides what is critical, makes of decoded
/// observations under `profileID`'s bands.
func criticalFlags(_ observations: [Observation], profileID: String) -> [Bool] {
    var flagged = observations
    CriticalValueFlagger(profiles: shippedProfiles).flag(&flagged, profileID: profileID)
    return flagged.map(\.isCritical)
}
