import VitalSigns

/// Decodes one line of Masimo Radical-7 "ASCII 1" serial output (layout and codes in
/// device-profiles/masimo-radical7.yaml):
///
///     11/29/26 09:00:00 SN=0000123456 SPO2=097% BPM=072 PI=03.50 ... ALARM=0000 EXC=000000
///
/// Fields are `KEY=VALUE` separated by spaces; values the profile maps (system `MASIMO`) become
/// observations, others are read and dropped, so firmware that adds fields still decodes. The
/// device's date and time are checked for shape only: its clock is not trusted.
///
/// Device identity: the instrument's serial number (`SN=`) when it sends one, since it follows
/// the instrument from port to port and is printed on its label (what a nurse associates with a
/// patient); otherwise the port's configured device (`context.deviceID`).
///
/// Status: a dashed value (`---`) is a `noValue` report; EXC bits for no sensor, sensor off or no
/// cable are `sensorOff`, those for low perfusion, pulse search, interference, ambient light and
/// low signal IQ are `noSignal`, the other defined exception bits `deviceAlarm`; any ALARM bit is
/// a `deviceAlarm` (the engine's own rules decide what is critical).
public struct MasimoASCIIDecoder: FrameDecoder {
    public let profile: DeviceProfile
    public static let system = "MASIMO"
    /// Exception bits (EXC=) by meaning; 0x000800 ("Masimo SET") and the reserved bits are informational.
    static let sensorOffExceptions: [(UInt32, String)] = [(0x000001, "no sensor"), (0x000020, "sensor off"), (0x001000, "no cable")]
    static let noSignalExceptions: [(UInt32, String)] = [
        (0x000004, "low perfusion"), (0x000008, "pulse search"), (0x000010, "interference"),
        (0x000040, "ambient light"), (0x000400, "low signal IQ"),
    ]
    static let alarmExceptions: [(UInt32, String)] = [
        (0x000002, "defective sensor"), (0x000080, "unrecognized sensor"), (0x000100, "incompatible sensor"),
        (0x002000, "cable life expired"), (0x004000, "incompatible cable"), (0x008000, "unrecognized cable"),
        (0x010000, "defective cable"), (0x020000, "sensor calibrating"), (0x040000, "sensor life expired"),
        (0x080000, "emitter temperature out of range"), (0x100000, "sensor current limit exceeded"),
        (0x200000, "SpCO low confidence"), (0x400000, "SpMet low confidence"),
    ]

    private let fieldKinds: [String: (kind: VitalKind, unit: UCUMUnit?)]

    public init(profile: DeviceProfile) {
        self.profile = profile
        var kinds: [String: (kind: VitalKind, unit: UCUMUnit?)] = [:]
        for mapping in profile.codes where mapping.system.uppercased() == Self.system {
            kinds[mapping.code] = (mapping.kind, mapping.defaultUnit)
        }
        fieldKinds = kinds
    }

    public func decode(_ frame: [UInt8], context: FrameContext) throws(FrameDecodeError) -> DecodedFrame {
        guard !frame.isEmpty else { throw FrameDecodeError(reason: "empty_frame", detail: "an empty line") }
        guard SerialText.isPrintable(frame) else {
            throw FrameDecodeError(reason: "not_text", detail: "the line holds bytes that are not printable ASCII: \(SerialText.excerpt(frame))")
        }
        let tokens = frame.split(separator: UInt8(ascii: " "))
        guard tokens.count >= 2, Self.isDate(tokens[0]), Self.isTime(tokens[1]) else {
            throw FrameDecodeError(reason: "missing_timestamp",
                                   detail: "a Radical-7 ASCII 1 line starts with MM/DD/YY HH:MM:SS, got '\(SerialText.excerpt(frame))' (is the device in ASCII 2 or HL7 mode?)")
        }
        var fields: [(key: String, value: ArraySlice<UInt8>)] = []
        fields.reserveCapacity(tokens.count - 2)
        var serialNumber: String?
        for token in tokens.dropFirst(2) {
            guard let equals = token.firstIndex(of: UInt8(ascii: "=")), equals > token.startIndex else {
                throw FrameDecodeError(reason: "malformed_field", detail: "'\(SerialText.excerpt(token))' is not KEY=VALUE")
            }
            let key = String(decoding: token[token.startIndex..<equals], as: UTF8.self)
            let value = token[(equals + 1)...]
            if key == "SN" {
                if !value.isEmpty && !SerialText.isDashes(value) { serialNumber = String(decoding: value, as: UTF8.self) }
            } else {
                fields.append((key, value))
            }
        }
        guard fields.contains(where: { $0.key == "SPO2" || $0.key == "BPM" }) else {
            throw FrameDecodeError(reason: "missing_field", detail: "the line has neither SPO2= nor BPM=")
        }
        guard let deviceID = serialNumber ?? context.deviceID, !deviceID.isEmpty else {
            throw FrameDecodeError(reason: "no_device_id", detail: "the line has no SN= and the port has no device configured")
        }
        var readings = SerialReadings(deviceID: deviceID, context: context, system: Self.system)
        for (key, rawValue) in fields {
            switch key {
            case "ALARM":
                let bits = try Self.hexBits(rawValue, key: key)
                if bits != 0 { readings.report(.deviceAlarm, "ALARM=\(String(decoding: rawValue, as: UTF8.self))") }
            case "EXC":
                let bits = try Self.hexBits(rawValue, key: key)
                Self.reportExceptions(bits, into: &readings)
            default:
                guard let resolution = fieldKinds[key] else { continue }
                var value = rawValue
                if value.last == UInt8(ascii: "%") { value = value.dropLast() }
                if SerialText.isDashes(value) {
                    readings.report(.noValue, "\(key)=\(String(decoding: rawValue, as: UTF8.self))")
                    continue
                }
                guard let number = SerialText.decimal(value) else {
                    throw FrameDecodeError(reason: "bad_value", detail: "\(key)=\(SerialText.excerpt(rawValue)) is not a number")
                }
                readings.add(resolution.kind, code: key, value: number, unit: resolution.unit ?? resolution.kind.canonicalUnit)
            }
        }
        return readings.decoded
    }

    private static func reportExceptions(_ bits: UInt32, into readings: inout SerialReadings) {
        guard bits != 0 else { return }
        for (condition, table) in [(DeviceStatusReport.Condition.sensorOff, sensorOffExceptions), (.noSignal, noSignalExceptions), (.deviceAlarm, alarmExceptions)] {
            let names = table.filter { bits & $0.0 != 0 }.map(\.1)
            if !names.isEmpty { readings.report(condition, "EXC: " + names.joined(separator: ", ")) }
        }
    }

    private static func hexBits(_ value: ArraySlice<UInt8>, key: String) throws(FrameDecodeError) -> UInt32 {
        guard !value.isEmpty, value.count <= 8 else {
            throw FrameDecodeError(reason: "bad_value", detail: "\(key)=\(SerialText.excerpt(value)) is not a hexadecimal bitfield")
        }
        var bits: UInt32 = 0
        for byte in value {
            let digit: UInt8
            switch byte {
            case 0x30...0x39: digit = byte - 0x30
            case 0x41...0x46: digit = byte - 0x41 + 10
            case 0x61...0x66: digit = byte - 0x61 + 10
            default: throw FrameDecodeError(reason: "bad_value", detail: "\(key)=\(SerialText.excerpt(value)) is not a hexadecimal bitfield")
            }
            bits = bits << 4 | UInt32(digit)
        }
        return bits
    }

    /// `MM/DD/YY`.
    static func isDate(_ token: ArraySlice<UInt8>) -> Bool { matches(token, separator: UInt8(ascii: "/")) }
    /// `HH:MM:SS`.
    static func isTime(_ token: ArraySlice<UInt8>) -> Bool { matches(token, separator: UInt8(ascii: ":")) }

    private static func matches(_ token: ArraySlice<UInt8>, separator: UInt8) -> Bool {
        guard token.count == 8 else { return false }
        for (offset, byte) in token.enumerated() {
            if offset == 2 || offset == 5 {
                if byte != separator { return false }
            } else if byte < 0x30 || byte > 0x39 {
                return false
            }
        }
        return true
    }
}
