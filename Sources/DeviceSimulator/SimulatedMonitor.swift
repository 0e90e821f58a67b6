import HL7v2
import VitalSigns

/// A bedside monitor that reports a set of vitals as IHE PCD-01 ORU^R01 messages, with values
/// that wander like a real patient's and, on request, a critical value.
public struct SimulatedMonitor: Sendable {
    public let deviceID: String
    public let patient: PatientIdentifier
    public let location: (pointOfCare: String, room: String, bed: String)
    public let sendingApplication: String
    private var generator: SplitMix64
    private var current: [VitalKind: Double]

    /// One monitored parameter: its MDC code, reference id, unit and usual adult range.
    struct Channel: Sendable {
        let kind: VitalKind
        let code: String
        let referenceID: String
        let unitCode: String
        let unitReferenceID: String
        let hierarchy: String
        let normal: ClosedRange<Double>
        let critical: Double
        let decimals: Int
    }

    static let channels: [Channel] = [
        Channel(kind: .heartRate, code: "147842", referenceID: "MDC_ECG_HEART_RATE", unitCode: "264864", unitReferenceID: "MDC_DIM_BEAT_PER_MIN", hierarchy: "1.1.1.1", normal: 60...100, critical: 165, decimals: 0),
        Channel(kind: .spo2, code: "150456", referenceID: "MDC_PULS_OXIM_SAT_O2", unitCode: "262688", unitReferenceID: "MDC_DIM_PERCENT", hierarchy: "1.2.1.1", normal: 94...99, critical: 79, decimals: 0),
        Channel(kind: .pulseRate, code: "149530", referenceID: "MDC_PULS_OXIM_PULS_RATE", unitCode: "264864", unitReferenceID: "MDC_DIM_BEAT_PER_MIN", hierarchy: "1.2.1.2", normal: 60...100, critical: 166, decimals: 0),
        Channel(kind: .respirationRate, code: "151562", referenceID: "MDC_RESP_RATE", unitCode: "264928", unitReferenceID: "MDC_DIM_RESP_PER_MIN", hierarchy: "1.3.1.1", normal: 12...20, critical: 38, decimals: 0),
        Channel(kind: .nibpSystolic, code: "150021", referenceID: "MDC_PRESS_BLD_NONINV_SYS", unitCode: "266016", unitReferenceID: "MDC_DIM_MMHG", hierarchy: "1.4.1.1", normal: 105...135, critical: 78, decimals: 0),
        Channel(kind: .nibpDiastolic, code: "150022", referenceID: "MDC_PRESS_BLD_NONINV_DIA", unitCode: "266016", unitReferenceID: "MDC_DIM_MMHG", hierarchy: "1.4.1.2", normal: 65...85, critical: 125, decimals: 0),
        Channel(kind: .nibpMean, code: "150023", referenceID: "MDC_PRESS_BLD_NONINV_MEAN", unitCode: "266016", unitReferenceID: "MDC_DIM_MMHG", hierarchy: "1.4.1.3", normal: 75...100, critical: 52, decimals: 0),
        Channel(kind: .arterialSystolic, code: "150037", referenceID: "MDC_PRESS_BLD_ART_ABP_SYS", unitCode: "266016", unitReferenceID: "MDC_DIM_MMHG", hierarchy: "1.5.1.1", normal: 105...135, critical: 235, decimals: 0),
        Channel(kind: .arterialDiastolic, code: "150038", referenceID: "MDC_PRESS_BLD_ART_ABP_DIA", unitCode: "266016", unitReferenceID: "MDC_DIM_MMHG", hierarchy: "1.5.1.2", normal: 65...85, critical: 130, decimals: 0),
        Channel(kind: .arterialMean, code: "150039", referenceID: "MDC_PRESS_BLD_ART_ABP_MEAN", unitCode: "266016", unitReferenceID: "MDC_DIM_MMHG", hierarchy: "1.5.1.3", normal: 75...100, critical: 160, decimals: 0),
        Channel(kind: .temperature, code: "150364", referenceID: "MDC_TEMP_BODY", unitCode: "268192", unitReferenceID: "MDC_DIM_DEGC", hierarchy: "1.6.1.1", normal: 36.4...37.4, critical: 40.6, decimals: 1),
        Channel(kind: .etco2, code: "151708", referenceID: "MDC_AWAY_CO2_ET", unitCode: "266016", unitReferenceID: "MDC_DIM_MMHG", hierarchy: "1.7.1.1", normal: 35...45, critical: 15, decimals: 0),
    ]

    /// Monitor number `index` of a simulated ward; the same index always gives the same
    /// device, patient and bed, so reruns and retransmissions line up.
    public init(index: Int, seed: UInt64 = 0x5EED) {
        var generator = SplitMix64(seed: seed &+ UInt64(index) &* 0x9E37_79B9)
        self.deviceID = String(format16: 0x0012_4B00_0000_0000 | UInt64(index))
        self.patient = PatientIdentifier(id: "SIM\(100_000 + index)", assigningAuthority: "NILECARE")
        self.location = ("ICU\(index / 20 + 1)", "\(index % 20 + 1)", "A")
        self.sendingApplication = "NILECARE_SIM"
        var current: [VitalKind: Double] = [:]
        for channel in Self.channels {
            current[channel.kind] = channel.normal.lowerBound + (channel.normal.upperBound - channel.normal.lowerBound) * generator.nextUnit()
        }
        self.current = current
        self.generator = generator
    }

    /// The values carried by one message, in canonical units, as the engine should store them.
    public struct Report: Sendable {
        public var controlID: String
        public var bytes: [UInt8]
        public var values: [(kind: VitalKind, value: Double)]
    }

    /// The next ORU^R01. `criticalKind` replaces that vital's value with a critical one.
    public mutating func nextReport(at time: Timestamp, criticalKind: VitalKind? = nil) -> Report {
        // Unique across runs as real monitors' ids are: the device and the report's millisecond.
        let controlID = "\(deviceID.suffix(6))-\(time.microsecondsSinceEpoch / 1000)"
        let timestamp = Self.hl7Time(time)
        var segments: [HL7SegmentValue] = [
            HL7SegmentValue(id: "MSH", fields: [
                "|", "^~\\&",
                HL7FieldValue(components: [sendingApplication, deviceID, "EUI-64"]),
                "NILECARE_WARD", "NILECARE", "NILECARE",
                HL7FieldValue(timestamp),
                "",
                HL7FieldValue(components: ["ORU", "R01", "ORU_R01"]),
                HL7FieldValue(controlID), "P", "2.6", "", "", "AL", "NE", "", "UNICODE UTF-8", "", "",
                HL7FieldValue(components: ["IHE_PCD_001", "IHE PCD", "1.3.6.1.4.1.19376.1.6.1.1.1", "ISO"]),
            ]),
            HL7SegmentValue(id: "PID", fields: [
                "", "",
                HL7FieldValue(components: [patient.id, "", "", patient.assigningAuthority, "MR"]),
                "",
                HL7FieldValue(components: ["SIMULATED", "PATIENT"]),
            ]),
            HL7SegmentValue(id: "PV1", fields: [
                "", "I", HL7FieldValue(components: [location.pointOfCare, location.room, location.bed]),
            ]),
            HL7SegmentValue(id: "OBR", fields: [
                "1", HL7FieldValue(components: [controlID, sendingApplication]), HL7FieldValue(components: [controlID, sendingApplication]),
                HL7FieldValue(components: ["182777000", "monitoring of patient", "SCT"]), "", "", HL7FieldValue(timestamp),
            ]),
            observation(set: 1, type: "", code: "69965", referenceID: "MDC_DEV_MON_PHYSIO_MULTI_PARAM_MDS", hierarchy: "1.0.0.0", value: "", unit: nil, status: "X", time: ""),
        ]
        var values: [(VitalKind, Double)] = []
        for (offset, channel) in Self.channels.enumerated() {
            var value = wander(channel)
            if channel.kind == criticalKind { value = channel.critical }
            let text = channel.decimals == 0 ? String(Int(value.rounded())) : String(format1: value)
            values.append((channel.kind, Double(text) ?? value))
            segments.append(observation(
                set: offset + 2, type: "NM", code: channel.code, referenceID: channel.referenceID,
                hierarchy: channel.hierarchy, value: text, unit: (channel.unitCode, channel.unitReferenceID), status: "R", time: timestamp
            ))
        }
        return Report(controlID: controlID, bytes: HL7Encoder().encode(segments), values: values)
    }

    private func observation(
        set: Int, type: String, code: String, referenceID: String, hierarchy: String,
        value: String, unit: (String, String)?, status: String, time: String
    ) -> HL7SegmentValue {
        HL7SegmentValue(id: "OBX", fields: [
            HL7FieldValue("\(set)"), HL7FieldValue(type),
            HL7FieldValue(components: [code, referenceID, "MDC"]),
            HL7FieldValue(hierarchy), HL7FieldValue(value),
            unit.map { HL7FieldValue(components: [$0.0, $0.1, "MDC"]) } ?? "",
            "", "", "", "", HL7FieldValue(status), "", "", HL7FieldValue(time), "", "", "",
            HL7FieldValue(components: [deviceID, "", deviceID, "EUI-64"]),
        ])
    }

    /// A bounded random walk inside the normal range.
    private mutating func wander(_ channel: Channel) -> Double {
        let span = channel.normal.upperBound - channel.normal.lowerBound
        let step = (generator.nextUnit() - 0.5) * span * 0.1
        let value = min(channel.normal.upperBound, max(channel.normal.lowerBound, (current[channel.kind] ?? channel.normal.lowerBound) + step))
        current[channel.kind] = value
        return value
    }

    /// HL7 DTM in UTC with milliseconds: `20261129101500.123+0000`.
    public static func hl7Time(_ time: Timestamp) -> String {
        String(decoding: hl7TimeBytes(time), as: UTF8.self)
    }

    /// `hl7Time` as bytes, digit by digit: load generators stamp every message with it.
    public static func hl7TimeBytes(_ time: Timestamp) -> [UInt8] {
        let micros = time.microsecondsSinceEpoch
        let seconds = Int(micros.floorDiv(1_000_000))
        let millis = Int(micros.floorMod(1_000_000) / 1000)
        let days = seconds.floorDiv(86_400), secondOfDay = seconds.floorMod(86_400)
        let (year, month, day) = civilDate(daysSinceEpoch: days)
        var bytes: [UInt8] = []
        bytes.reserveCapacity(23)
        func digits(_ value: Int, _ width: Int) {
            var divisor = 1
            for _ in 1..<width { divisor *= 10 }
            guard (0..<divisor * 10).contains(value) else {  // a year past 9999 or before 0
                let text = String(value)
                bytes.append(contentsOf: repeatElement(UInt8(ascii: "0"), count: max(0, width - text.utf8.count)))
                return bytes.append(contentsOf: text.utf8)
            }
            for _ in 0..<width {
                bytes.append(UInt8(ascii: "0") + UInt8(value / divisor % 10))
                divisor /= 10
            }
        }
        digits(year, 4); digits(month, 2); digits(day, 2)
        digits(secondOfDay / 3600, 2); digits(secondOfDay / 60 % 60, 2); digits(secondOfDay % 60, 2)
        bytes.append(UInt8(ascii: "."))
        digits(millis, 3)
        bytes.append(contentsOf: "+0000".utf8)
        return bytes
    }

    /// H. Hinnant's civil-from-days.
    private static func civilDate(daysSinceEpoch: Int) -> (Int, Int, Int) {
        let z = daysSinceEpoch + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let dayOfEra = z - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let mp = (5 * dayOfYear + 2) / 153
        let day = dayOfYear - (153 * mp + 2) / 5 + 1
        let month = mp < 10 ? mp + 3 : mp - 9
        return (yearOfEra + era * 400 + (month <= 2 ? 1 : 0), month, day)
    }
}

/// A small, fast, seedable generator so simulated wards are reproducible.
public struct SplitMix64: RandomNumberGenerator, Sendable {
    private var state: UInt64

    public init(seed: UInt64) { state = seed }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    public mutating func nextUnit() -> Double {
        Double(next() >> 11) / Double(1 << 53)
    }
}

private extension String {
    init(format16 value: UInt64) {
        let hex = String(value, radix: 16, uppercase: true)
        self = String(repeating: "0", count: Swift.max(0, 16 - hex.count)) + hex
    }

    init(format1 value: Double) {
        let tenths = Int((value * 10).rounded())
        self = "\(tenths / 10).\(abs(tenths % 10))"
    }
}

private extension BinaryInteger {
    func floorDiv(_ divisor: Self) -> Self {
        let quotient = self / divisor
        return (self % divisor < 0) ? quotient - 1 : quotient
    }

    func floorMod(_ divisor: Self) -> Self {
        let remainder = self % divisor
        return remainder < 0 ? remainder + divisor : remainder
    }
}
