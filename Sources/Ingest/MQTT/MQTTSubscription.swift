import Decoders
import MQTT
import VitalSigns

/// One configured subscription: a topic filter and the device profile (so the decoder) its
/// messages are read with. The device id is the topic level the filter's first `+` matches.
public struct MQTTSubscription: Sendable {
    public var filter: MQTTTopicFilter
    public var profile: DeviceProfile
    public var decoder: any FrameDecoder

    public init(filter: MQTTTopicFilter, profile: DeviceProfile) throws(MQTTError) {
        self.filter = filter
        self.profile = profile
        self.decoder = try Self.decoder(for: profile)
    }

    /// The payload decoder of a profile's protocol family.
    static func decoder(for profile: DeviceProfile) throws(MQTTError) -> any FrameDecoder {
        switch profile.protocolFamily {
        case .gatewayJSON:
            return GatewayJSONDecoder(profile: profile)
        case .fhirR4:
            return FHIRObservationDecoder(profile: profile)
        case .mappedJSON:
            guard let decoder = MappedJSONDecoder(profile: profile) else {
                throw MQTTError(.configuration, "profile '\(profile.id)' is mapped-json but has no payload: section describing its fields")
            }
            return decoder
        case .pcd01, .masimoASCII, .noninBinary, .lineProtocol:
            throw MQTTError(.configuration, "profile '\(profile.id)' speaks \(profile.protocolFamily.rawValue), not an MQTT payload format (gateway-json, fhir-r4, mapped-json)")
        }
    }
}
