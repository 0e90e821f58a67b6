/// The patient population a threshold applies to.
public enum Population: String, Sendable, Hashable, CaseIterable, Codable {
    case adult, paediatric, neonatal
}

/// The wire protocol family a device speaks; decoders are chosen by it.
public enum ProtocolFamily: String, Sendable, Hashable, Codable, CaseIterable {
    /// IHE PCD-01 ORU^R01 over MLLP (HL7 v2).
    case pcd01 = "pcd-01"
    /// The engine's documented MQTT gateway JSON (docs/formats/mqtt-gateway-json.md).
    case gatewayJSON = "gateway-json"
    /// FHIR R4 `Observation` or `Bundle` JSON (vital-signs profile, LOINC, UCUM) over MQTT.
    case fhirR4 = "fhir-r4"
    /// Any other JSON payload, mapped field by field by the profile's `fields`.
    case mappedJSON = "mapped-json"
    /// Masimo Radical-7 serial ASCII output.
    case masimoASCII = "masimo-ascii"
    /// Nonin pulse oximeter serial binary data format.
    case noninBinary = "nonin-binary"
    /// A line protocol described by the profile (separator, key=value or positional fields).
    case lineProtocol = "line"
}

/// How one of the device's own codes maps to a vital kind.
public struct CodeMapping: Sendable, Hashable {
    public var system: String
    public var code: String
    public var kind: VitalKind
    /// The unit to assume when the device leaves OBX-6 empty.
    public var defaultUnit: UCUMUnit?

    public init(system: String, code: String, kind: VitalKind, defaultUnit: UCUMUnit? = nil) {
        self.system = system
        self.code = code
        self.kind = kind
        self.defaultUnit = defaultUnit
    }
}

/// What a code means: its vital kind and the unit to assume when the device sends none.
public struct CodeResolution: Sendable, Hashable {
    public var kind: VitalKind
    public var defaultUnit: UCUMUnit?

    public static let unknown = CodeResolution(kind: .unknown, defaultUnit: nil)
}

/// What the engine knows about one device model: how it speaks, what its codes mean and
/// which values are critical. Loaded from `device-profiles/*.yaml`.
///
/// Lookups sit on the decoding hot path, so the standard tables and the profile's own codes
/// are merged into one index when the profile is made.
public struct DeviceProfile: Sendable {
    public var id: String
    public var manufacturer: String
    public var model: String
    public var protocolFamily: ProtocolFamily
    /// MSH-3 namespace ids this profile is chosen for.
    public var sendingApplications: [String]
    public var samplingInterval: Duration?
    public var defaultPopulation: Population
    public let thresholds: [Population: [VitalKind: ThresholdBand]]
    public let codes: [CodeMapping]
    /// For `mapped-json` devices: where the payload keeps its readings.
    public var jsonPayload: JSONPayloadMapping?
    /// Line settings of a serial device (serial protocol families only).
    public var serial: SerialSettings?
    /// The field layout of a `line` protocol device.
    public var lineProtocol: LineProtocolSpec?
    private let codeIndex: [CodeKey: CodeResolution]
    private let unitIndex: [String: UCUMUnit]
    /// `unitIndex` by lower-cased code.
    private let caseFoldedUnitIndex: [String: UCUMUnit]
    /// The same, for numeric MDC codes: integer keys, no hashing of Strings.
    private let mdcCodeIndex: IntCodeTable<KnownCode>
    private let mdcUnitIndex: IntCodeTable<UCUMUnit>
    /// The same again, looked up from a message's bytes: no String built, no SipHash. Only for
    /// text that reads as itself in ASCII (the decoder checks), where byte equality is String
    /// equality; the String-keyed indexes above keep Unicode's canonical equivalence for the rest.
    private let textCodeIndex: TextCodeTable<KnownSystemCode>
    private let textUnitIndex: TextCodeTable<UCUMUnit>
    /// The same bands, indexed for the flagger: no hashing per observation.
    public let bands: ThresholdTable

    public init(
        id: String,
        manufacturer: String = "",
        model: String = "",
        protocolFamily: ProtocolFamily = .pcd01,
        sendingApplications: [String] = [],
        samplingInterval: Duration? = nil,
        defaultPopulation: Population = .adult,
        codes: [CodeMapping] = [],
        unitAliases: [String: UCUMUnit] = [:],
        thresholds: [Population: [VitalKind: ThresholdBand]] = [:]
    ) {
        self.id = id
        self.manufacturer = manufacturer
        self.model = model
        self.protocolFamily = protocolFamily
        self.sendingApplications = sendingApplications
        self.samplingInterval = samplingInterval
        self.defaultPopulation = defaultPopulation
        self.thresholds = thresholds
        self.codes = codes

        var index: [CodeKey: CodeResolution] = [:]
        for (code, kind) in CodeTables.mdc { index[CodeKey(system: "MDC", code: code)] = CodeResolution(kind: kind) }
        for (code, kind) in CodeTables.loinc { index[CodeKey(system: "LN", code: code)] = CodeResolution(kind: kind) }
        for mapping in codes {
            index[CodeKey(system: mapping.system, code: mapping.code)] = CodeResolution(kind: mapping.kind, defaultUnit: mapping.defaultUnit)
        }
        self.codeIndex = index
        self.unitIndex = CodeTables.units.merging(unitAliases) { _, alias in alias }
        // In a fixed order, so that codes differing by case alone resolve alike from run to run.
        self.caseFoldedUnitIndex = Dictionary(unitIndex.sorted { $0.key < $1.key }.map { ($0.key.lowercased(), $0.value) }) { first, _ in first }
        self.mdcCodeIndex = IntCodeTable(Dictionary(uniqueKeysWithValues: index.compactMap { key, resolution in
            key.system == "MDC" ? Self.numericCode(key.code).map { ($0, KnownCode(code: key.code, resolution: resolution)) } : nil
        }))
        self.textCodeIndex = TextCodeTable(index.map { key, resolution in
            ([key.system, key.code], KnownSystemCode(code: key.code, system: key.system, resolution: resolution))
        })
        self.textUnitIndex = TextCodeTable(unitIndex.map { code, unit in ([code], unit) })
        self.mdcUnitIndex = IntCodeTable(Dictionary(uniqueKeysWithValues: unitIndex.compactMap { code, unit in
            Self.numericCode(code).map { ($0, unit) }
        }))
        self.bands = ThresholdTable(thresholds)
    }

    /// A code as the decoders read numeric codes: 1 to 9 ASCII digits, no sign, no leading zero;
    /// so each integer stands for exactly one code text, and `0150456` stays apart from `150456`.
    static func numericCode(_ code: String) -> Int? {
        let digits = code.utf8
        guard !digits.isEmpty, digits.count <= 9, digits.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }),
              digits.count == 1 || digits.first != UInt8(ascii: "0") else { return nil }
        return Int(code)
    }

    /// What a code means: the profile's mapping first, then the standard MDC and LOINC tables,
    /// then Philips MDIL codes read as MDC, then the `MDC_...` reference id in the code's text.
    public func resolve(_ code: ObservationCode) -> CodeResolution {
        let system = CodeKey.normalizedSystem(code.system)
        if let found = codeIndex[CodeKey(normalizedSystem: system, code: code.code)] { return found }
        if system == "MDIL", let mdc = CodeTables.mdcCode(fromMDIL: code.code),
           let found = codeIndex[CodeKey(normalizedSystem: "MDC", code: mdc)] {
            return found
        }
        return CodeTables.mdcReferenceIDs[code.text].map { CodeResolution(kind: $0) } ?? .unknown
    }

    public func vitalKind(for code: ObservationCode) -> VitalKind { resolve(code).kind }

    /// A code system as the profile's tables key it: upper case, LOINC as `LN`; two codes whose
    /// systems normalise alike are one code.
    public static func normalizedSystem(_ system: String) -> String { CodeKey.normalizedSystem(system) }

    /// A numeric MDC code the profile or the standard tables know: its text and what it means.
    /// Decoders take the String from here rather than building one from the message every row.
    public func known(mdcCode: Int) -> KnownCode? {
        mdcCodeIndex[mdcCode]
    }

    /// `resolve(_:)`'s first answer, the profile's or the standard tables' own entry, for a code
    /// as the message's bytes spell it. Only a system spelled as the tables keep it (`LN`, `MDC`,
    /// upper case) is found; any other spelling is for `resolve(_:)`, which normalises it.
    public func known(system: UnsafeBufferPointer<UInt8>, code: UnsafeBufferPointer<UInt8>) -> KnownSystemCode? {
        textCodeIndex.value(system: system, code: code)
    }

    /// `unit(forCode:)` for a unit code as the message's bytes spell it.
    public func unit(forCodeBytes code: UnsafeBufferPointer<UInt8>) -> UCUMUnit? {
        textUnitIndex.value(code: code)
    }

    /// The unit of a numeric MDC dimension code (`266016` is mm[Hg]).
    public func unit(mdcCode: Int) -> UCUMUnit? {
        mdcUnitIndex[mdcCode]
    }

    /// A unit code from OBX-6 (MDC dimension, UCUM or a vendor alias); a Philips MDIL unit
    /// (`0004-0AE0`) read as the MDC dimension it writes in hex, as `resolve(_:)` reads MDIL
    /// codes; else the code in another case (`MMHG`, `BPM`): no two known units differ by case.
    public func unit(forCode code: String) -> UCUMUnit? {
        if let unit = unitIndex[code] { return unit }
        if let mdc = CodeTables.mdcCode(fromMDIL: code), let unit = unitIndex[mdc] { return unit }
        return caseFoldedUnitIndex[code.lowercased()]
    }

    /// Which band a value falls in for a population (the profile's default when nil).
    /// Called for every observation on the hot path: no allocation, no hashing.
    public func classify(_ kind: VitalKind, value: Double, population: Population? = nil) -> Severity {
        bands.classify(kind, value: value, population: population ?? defaultPopulation)
    }

    public func isCritical(_ kind: VitalKind, value: Double, population: Population? = nil) -> Bool {
        classify(kind, value: value, population: population) == .critical
    }
}

/// A code of the tables as text (`150456`) with what it means.
public struct KnownCode: Sendable {
    public let code: String
    public let resolution: CodeResolution
}

/// A code of the tables as text within its system (`0002-4182` in `MDIL`) with what it means.
public struct KnownSystemCode: Sendable {
    public let code: String
    public let system: String
    public let resolution: CodeResolution
}

extension CodeResolution {
    init(kind: VitalKind) { self.init(kind: kind, defaultUnit: nil) }
}

/// A code within its code system, the system spelled one way (`LN` for LOINC, upper case).
private struct CodeKey: Hashable {
    var system: String
    var code: String

    init(system: String, code: String) {
        self.init(normalizedSystem: Self.normalizedSystem(system), code: code)
    }

    init(normalizedSystem: String, code: String) {
        self.system = normalizedSystem
        self.code = code
    }

    static func normalizedSystem(_ system: String) -> String {
        let upper = system.uppercasedIfNeeded
        switch upper {
        case "LOINC", "HTTP://LOINC.ORG": return "LN"
        case "URN:ISO:STD:ISO:11073:10101": return "MDC"
        default: return upper
        }
    }
}
