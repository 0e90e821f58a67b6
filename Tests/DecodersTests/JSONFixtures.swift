import Foundation
import Testing
import VitalSigns
@testable import Decoders

/// A shipped profile by id; a test that uses a missing one fails, naming it.
func shippedProfile(_ id: String, else family: ProtocolFamily = .pcd01) -> DeviceProfile {
    if let profile = shippedProfiles.profiles.first(where: { $0.id == id }) { return profile }
    Issue.record("device-profiles/ has no profile '\(id)'")
    return DeviceProfile(id: "missing-\(id)", protocolFamily: family)
}

let fhirDecoder = FHIRObservationDecoder(profile: shippedProfile("fhir-observation"))

/// 09:00:00.250 UTC on 29 November 2026, the arrival time the tests' frames carry.
let arrival = Timestamp(microsecondsSinceEpoch: utc(2026, 11, 29, 9, 0, 0).microsecondsSinceEpoch + 250_000)

func frameContext(device: String? = "topic-device", location: String? = "ICU^1^A") -> FrameContext {
    FrameContext(deviceID: device, receivedAt: arrival, location: location)
}

func bytes(_ text: String) -> [UInt8] { Array(text.utf8) }

/// Decodes and returns the error, or nil when the frame was accepted.
func rejection(_ decoder: some FrameDecoder, _ payload: String, context: FrameContext = frameContext()) -> FrameDecodeError? {
    do {
        _ = try decoder.decode(bytes(payload), context: context)
        return nil
    } catch {
        return error
    }
}

extension Timestamp {
    func adding(milliseconds: Int64) -> Timestamp {
        Timestamp(microsecondsSinceEpoch: microsecondsSinceEpoch + milliseconds * 1000)
    }
}
