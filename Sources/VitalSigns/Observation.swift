/// How far a result can be trusted, from HL7 OBX-11 (table 0085).
public enum ObservationStatus: UInt8, Sendable, Hashable, Codable {
    case final = 70          // "F"
    case preliminary = 80    // "P"
    case corrected = 67      // "C"
    case resultsEntered = 82 // "R"
    case cannotObtain = 88   // "X": not stored as a value
    case deleted = 68        // "D": not stored as a value

    public init?(code: String) {
        guard code.utf8.count == 1, let byte = code.utf8.first, let status = ObservationStatus(rawValue: byte) else {
            return nil
        }
        self = status
    }

    public var code: String { String(UnicodeScalar(rawValue)) }

    /// `X` and `D` rows carry no usable value.
    public var carriesValue: Bool { self != .cannotObtain && self != .deleted }
}

/// A code as the device sent it, e.g. `150456^MDC_PULS_OXIM_SAT_O2^MDC` or `0002-4182^HR^MDIL`.
public struct ObservationCode: Sendable, Hashable, Codable {
    public var code: String
    public var text: String
    public var system: String

    public init(code: String, text: String = "", system: String) {
        self.code = code
        self.text = text
        self.system = system
    }
}

/// Who a patient is: the identifier and the authority that assigned it (HL7 CX, PID-3). Equal,
/// ordered and hashed by their bytes (`ExactText`), as the database's key compares them.
public struct PatientIdentifier: Sendable, Hashable, Comparable, Codable {
    public var id: String
    public var assigningAuthority: String

    public init(id: String, assigningAuthority: String = "") {
        self.id = id
        self.assigningAuthority = assigningAuthority
    }

    public static func == (lhs: PatientIdentifier, rhs: PatientIdentifier) -> Bool {
        ExactText(lhs.id) == ExactText(rhs.id) && ExactText(lhs.assigningAuthority) == ExactText(rhs.assigningAuthority)
    }

    public static func < (lhs: PatientIdentifier, rhs: PatientIdentifier) -> Bool {
        (ExactText(lhs.id), ExactText(lhs.assigningAuthority)) < (ExactText(rhs.id), ExactText(rhs.assigningAuthority))
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(ExactText(id))
        hasher.combine(ExactText(assigningAuthority))
    }
}

/// One measured vital sign, in canonical units, as the pipeline carries and storage keeps it.
public struct Observation: Sendable, Hashable, Codable {
    public var time: Timestamp
    public var patient: PatientIdentifier?
    /// EUI-64 or the equipment identifier of the device that measured it.
    public var deviceID: String
    /// Point of care / room / bed, from PV1-3, as `ICU^1^A`-style text.
    public var location: String?
    public var kind: VitalKind
    public var code: ObservationCode
    public var value: Double
    public var unit: UCUMUnit
    /// Containment from OBX-4, e.g. `1.2.1.3` (MDS.VMD.channel.metric).
    public var hierarchy: String?
    public var status: ObservationStatus
    public var isCritical: Bool

    public init(
        time: Timestamp,
        patient: PatientIdentifier?,
        deviceID: String,
        location: String? = nil,
        kind: VitalKind,
        code: ObservationCode,
        value: Double,
        unit: UCUMUnit,
        hierarchy: String? = nil,
        status: ObservationStatus = .final,
        isCritical: Bool = false
    ) {
        self.time = time
        self.patient = patient
        self.deviceID = deviceID
        self.location = location
        self.kind = kind
        self.code = code
        self.value = value
        self.unit = unit
        self.hierarchy = hierarchy
        self.status = status
        self.isCritical = isCritical
    }
}
