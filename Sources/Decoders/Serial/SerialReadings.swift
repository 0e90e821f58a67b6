import VitalSigns

/// Builds the observations of a serial frame. Serial devices' clocks are not trusted (they are
/// set by hand, drift, and forget daylight saving): every reading is stamped with the frame's
/// arrival time, `context.receivedAt`. The location is the bed the port is bound to; the patient
/// is left empty, to be filled from the bed's or device's association by the source.
struct SerialReadings {
    let deviceID: String
    let context: FrameContext
    let system: String
    var observations: [Observation] = []
    var statusReports: [DeviceStatusReport] = []

    init(deviceID: String, context: FrameContext, system: String) {
        self.deviceID = deviceID
        self.context = context
        self.system = system
    }

    /// Adds a reading of `kind` sent in `unit`, converted to the kind's canonical unit; none for
    /// a value the kind cannot have (a line cut short by a lost byte, a no-value marker).
    mutating func add(_ kind: VitalKind, code: String, value: Double, unit: UCUMUnit) {
        guard kind != .unknown, let canonical = UnitConversion.toCanonical(value, from: unit, of: kind),
              kind.plausibleBounds.contains(canonical) else { return }
        observations.append(Observation(
            time: context.receivedAt, patient: nil, deviceID: deviceID, location: context.location, kind: kind,
            code: ObservationCode(code: code, text: kind.name, system: system), value: canonical, unit: kind.canonicalUnit
        ))
    }

    mutating func report(_ condition: DeviceStatusReport.Condition, _ detail: String) {
        statusReports.append(DeviceStatusReport(condition: condition, deviceID: deviceID, time: context.receivedAt, detail: detail))
    }

    var decoded: DecodedFrame { DecodedFrame(observations: observations, statusReports: statusReports) }
}

/// Small byte-level text helpers shared by the text decoders.
enum SerialText {
    /// A decimal number such as `97`, `-02`, `+3.50` or `03.50`; nil for anything else.
    static func decimal(_ bytes: ArraySlice<UInt8>) -> Double? {
        var index = bytes.startIndex
        guard index < bytes.endIndex else { return nil }
        var negative = false
        if bytes[index] == UInt8(ascii: "-") || bytes[index] == UInt8(ascii: "+") {
            negative = bytes[index] == UInt8(ascii: "-")
            index += 1
        }
        var integer: Int64 = 0
        var fraction: Int64 = 0
        var scale: Double = 1
        var digits = 0
        var seenPoint = false
        while index < bytes.endIndex {
            let byte = bytes[index]
            if byte >= 0x30 && byte <= 0x39 {
                digits += 1
                guard digits <= 15 else { return nil }
                if seenPoint {
                    fraction = fraction * 10 + Int64(byte - 0x30)
                    scale *= 10
                } else {
                    integer = integer * 10 + Int64(byte - 0x30)
                }
            } else if byte == UInt8(ascii: "."), !seenPoint {
                seenPoint = true
            } else {
                return nil
            }
            index += 1
        }
        guard digits > 0 else { return nil }
        let value = Double(integer) + Double(fraction) / scale
        return negative ? -value : value
    }

    /// True for `---`, `--.-`, `+--`: the devices' way of saying "no reading".
    static func isDashes(_ bytes: ArraySlice<UInt8>) -> Bool {
        var sawDash = false
        for (offset, byte) in bytes.enumerated() {
            switch byte {
            case UInt8(ascii: "-"): sawDash = true
            case UInt8(ascii: "."): continue
            case UInt8(ascii: "+") where offset == 0: continue
            default: return false
            }
        }
        return sawDash
    }

    /// Printable ASCII (and tab) only.
    static func isPrintable(_ bytes: [UInt8]) -> Bool {
        bytes.allSatisfy { ($0 >= 0x20 && $0 < 0x7F) || $0 == 0x09 }
    }

    /// The first bytes of a frame as escaped text, for error details.
    static func excerpt(_ bytes: some Collection<UInt8>, limit: Int = 40) -> String {
        var text = ""
        for byte in bytes.prefix(limit) {
            if byte >= 0x20 && byte < 0x7F { text.unicodeScalars.append(Unicode.Scalar(byte)) } else { text += "\\x" + hex(byte) }
        }
        return bytes.count > limit ? text + "…" : text
    }

    static func hex(_ byte: UInt8) -> String {
        let digits = Array("0123456789abcdef")
        return String([digits[Int(byte >> 4)], digits[Int(byte & 0x0F)]])
    }
}
