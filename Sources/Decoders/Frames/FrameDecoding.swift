import VitalSigns

/// What a frame decoder knows besides the frame's bytes: where it came from. Serial devices have
/// no clock and no patient, so the source supplies the arrival time and the port's bed.
public struct FrameContext: Sendable {
    /// The device as the transport names it (MQTT topic segment, serial port's configured id).
    public var deviceID: String?
    /// When the frame arrived: the observation time when the payload carries none.
    public var receivedAt: Timestamp
    /// The bed the port or device is bound to, as PV1-3-style text (`ICU^1^A`).
    public var location: String?

    public init(deviceID: String? = nil, receivedAt: Timestamp, location: String? = nil) {
        self.deviceID = deviceID
        self.receivedAt = receivedAt
        self.location = location
    }
}

/// A condition a device reports about itself rather than about the patient: the sensor is off,
/// the signal is lost. Technical alarms are raised from these.
public struct DeviceStatusReport: Sendable, Hashable {
    public enum Condition: String, Sendable, Hashable {
        /// The probe is off the patient or disconnected.
        case sensorOff = "sensor_off"
        /// The device measures but cannot track the signal (motion, low perfusion, out of track).
        case noSignal = "no_signal"
        /// The device sent a reading without a value (`---`).
        case noValue = "no_value"
        /// A device-specific alarm or exception, named in `detail`.
        case deviceAlarm = "device_alarm"
    }

    public var condition: Condition
    public var deviceID: String
    public var time: Timestamp
    /// The device's own words or code, e.g. `EXC=000004` or `SNSA`.
    public var detail: String
    /// The patient and bed the payload names, when it names them (JSON formats do; serial
    /// lines do not): else the source applies the device's or bed's association.
    public var patient: PatientIdentifier?
    public var location: String?

    public init(
        condition: Condition, deviceID: String, time: Timestamp, detail: String = "",
        patient: PatientIdentifier? = nil, location: String? = nil
    ) {
        self.condition = condition
        self.deviceID = deviceID
        self.time = time
        self.detail = detail
        self.patient = patient
        self.location = location
    }
}

/// A decoded frame: its observations, the device's own status reports, and the payload's own
/// message id when it carries one (used to store a redelivered message once).
public struct DecodedFrame: Sendable {
    public var observations: [Observation]
    public var statusReports: [DeviceStatusReport]
    public var messageID: String?

    public init(observations: [Observation] = [], statusReports: [DeviceStatusReport] = [], messageID: String? = nil) {
        self.observations = observations
        self.statusReports = statusReports
        self.messageID = messageID
    }

    /// `h:` and the FNV-1a 64-bit hash of a payload: the id of a payload that names none, the
    /// same for a redelivered copy and different for any other payload.
    public static func contentID(_ bytes: [UInt8]) -> String {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in bytes {
            hash ^= UInt64(byte)
            hash &*= 0x0000_0100_0000_01b3
        }
        let hex = String(hash, radix: 16)
        return "h:" + String(repeating: "0", count: 16 - hex.count) + hex
    }
}

/// Why a frame was refused: a short stable `reason` for counting (`bad_checksum`,
/// `invalid_json`, `unknown_field`, …) and a `detail` that says what and where.
public struct FrameDecodeError: Error, Sendable, Equatable, CustomStringConvertible {
    public var reason: String
    public var detail: String

    public init(reason: String, detail: String) {
        self.reason = reason
        self.detail = detail
    }

    public var description: String { "\(reason): \(detail)" }
}

/// Bytes of one frame (an MQTT payload, a serial line or binary frame) to observations. Pure: no
/// I/O and no clock but `context.receivedAt`, so every decoder can be fuzzed.
public protocol FrameDecoder: Sendable {
    func decode(_ frame: [UInt8], context: FrameContext) throws(FrameDecodeError) -> DecodedFrame
}
