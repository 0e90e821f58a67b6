import VitalSigns

/// The framer and decoder a serial device profile calls for.
public enum SerialProtocol {
    /// Nil when the profile's protocol is not a serial one (or a line profile lacks its layout).
    public static func decoder(for profile: DeviceProfile) -> (any FrameDecoder)? {
        switch profile.protocolFamily {
        case .masimoASCII: MasimoASCIIDecoder(profile: profile)
        case .noninBinary: NoninBinaryDecoder(profile: profile)
        case .lineProtocol: LineProtocolDecoder(profile: profile)
        default: nil
        }
    }

    /// A fresh framer (framers keep state: one per port, new at each open).
    public static func framer(for profile: DeviceProfile) -> (any SerialFramer)? {
        switch profile.protocolFamily {
        case .masimoASCII: LineFramer(maxLength: 512)
        case .noninBinary: NoninPacketFramer()
        case .lineProtocol: profile.lineProtocol.map { LineFramer(maxLength: $0.maxLineBytes) }
        default: nil
        }
    }
}
