import VitalSigns

/// Decodes one packet of the Nonin OEM III serial data format #2 (25 frames of 5 bytes, as cut
/// by `NoninPacketFramer`; layout in device-profiles/nonin-pulse-oximeter.yaml).
///
/// The packet yields the 4-beat pulse rate (frames 1–2: bits 8–7 in frame 1's byte 4, bits 6–0 in
/// frame 2's) and SpO2 (frame 3), each unless the module sends its "no reading" value (511, 127).
/// Status bits, ORed over the packet's frames, become status reports: SNSD sensor off (and no
/// values), OOT / ARTF / red-only perfusion no signal, SNSA a device alarm. The module has no
/// identity of its own in this format: the device is the port's (`context.deviceID`).
public struct NoninBinaryDecoder: FrameDecoder {
    public let profile: DeviceProfile
    public static let system = "NONIN"
    static let missingHeartRate = 511
    static let missingSpO2 = 127

    public init(profile: DeviceProfile) {
        self.profile = profile
    }

    public func decode(_ frame: [UInt8], context: FrameContext) throws(FrameDecodeError) -> DecodedFrame {
        let frameLength = NoninPacketFramer.frameLength
        guard frame.count == NoninPacketFramer.packetLength else {
            throw FrameDecodeError(reason: "wrong_length", detail: "a Nonin packet is \(NoninPacketFramer.packetLength) bytes (25 frames of 5), got \(frame.count)")
        }
        guard let deviceID = context.deviceID, !deviceID.isEmpty else {
            throw FrameDecodeError(reason: "no_device_id", detail: "Nonin format #2 carries no device identity and the port has none configured")
        }
        var status: UInt8 = 0
        var perfusionRedOnly = false
        for index in 0..<NoninPacketFramer.framesPerPacket {
            let slice = frame[index * frameLength..<(index + 1) * frameLength]
            switch NoninPacketFramer.check(slice) {
            case .notAFrame:
                throw FrameDecodeError(reason: "bad_frame_header", detail: "frame \(index + 1) starts \(SerialText.excerpt(slice.prefix(2))), expected 0x01 and a status byte with bit 7 set")
            case .badChecksum(let expected):
                throw FrameDecodeError(reason: "bad_checksum", detail: "frame \(index + 1) has checksum \(slice.last ?? 0), expected \(expected)")
            case .valid(let sync):
                if sync != (index == 0) {
                    throw FrameDecodeError(reason: index == 0 ? "missing_sync" : "unexpected_sync",
                                           detail: index == 0 ? "frame 1 of the packet lacks the SYNC bit" : "frame \(index + 1) carries the SYNC bit of a packet start")
                }
            }
            let frameStatus = slice[slice.startIndex + 1]
            status |= frameStatus
            if frameStatus & 0x06 == 0x04 { perfusionRedOnly = true }
        }
        var readings = SerialReadings(deviceID: deviceID, context: context, system: Self.system)
        let sensorOff = status & 0x40 != 0
        if sensorOff { readings.report(.sensorOff, "SNSD") }
        if status & 0x10 != 0 { readings.report(.noSignal, "OOT") }
        if status & 0x20 != 0 { readings.report(.noSignal, "ARTF") }
        if perfusionRedOnly { readings.report(.noSignal, "RPRF") }
        if status & 0x08 != 0 { readings.report(.deviceAlarm, "SNSA") }

        let heartRate = Int(frame[3] & 0x03) << 7 | Int(frame[frameLength + 3] & 0x7F)
        let spo2 = Int(frame[2 * frameLength + 3] & 0x7F)
        if !sensorOff {
            if heartRate == Self.missingHeartRate {
                readings.report(.noValue, "HR=511")
            } else {
                readings.add(.pulseRate, code: "HR", value: Double(heartRate), unit: .beatsPerMinute)
            }
            if spo2 == Self.missingSpO2 {
                readings.report(.noValue, "SpO2=127")
            } else {
                readings.add(.spo2, code: "SPO2", value: Double(spo2), unit: .percent)
            }
        }
        return readings.decoded
    }
}
