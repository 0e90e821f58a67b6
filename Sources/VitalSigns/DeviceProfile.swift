/// The patient population a threshold applies to.
public enum Population: String, Sendable, Hashable, CaseIterable, Codable {
    case adult, paediatric, neonatal
}

/// The wire protocol family a device speaks; decoders are chosen by it.
public enum ProtocolFamily: String, Sendable, Hashable, Codable {
    /// IHE PCD-01 ORU^R01 over MLLP (HL7 v2).
    case pcd01 = "pcd-01"
}

/// Values outside `[criticalLow, criticalHigh]` are critical; either bound may be absent.
public struct ThresholdBand: Sendable, Hashable, Codable {
    public var criticalLow: Double?
    public var criticalHigh: Double?

    public init(criticalLow: Double? = nil, criticalHigh: Double? = nil) {
        self.criticalLow = criticalLow
        self.criticalHigh = criticalHigh
    }

    public func isCritical(_ value: Double) -> Bool {
        if let low = criticalLow, value < low { return true }
        if let high = criticalHigh, value > high { return true }
        return false
    }
}

/// How one of the device's own codes maps to a vital kind.
public struct CodeMapping: Sendable, Hashable {
    public var system: String
    public var code: String
    public var kind: VitalKind
    /// The unit to assume when the device leaves OBX-6 empty.
    public var defaultUnit: Unit?

    public init(system: String, code: String, kind: VitalKind, defaultUnit: Unit? = nil) {
        self.system = system
        self.code = code
        self.kind = kind
        self.defaultUnit = defaultUnit
    }
}

/// What the engine knows about one device model: how it speaks, what its codes mean and
/// which values are critical. Loaded from `device-profiles/*.yaml`.
public struct DeviceProfile: Sendable {
    public var id: String
    public var manufacturer: String
    public var model: String
    public var protocolFamily: ProtocolFamily
    /// MSH-3 namespace ids this profile is chosen for.
    public var sendingApplications: [String]
    public var samplingInterval: Duration?
    public var defaultPopulation: Population
    public var thresholds: [Population: [VitalKind: ThresholdBand]]
    private var codeIndex: [String: CodeMapping]
    private var unitAliases: [String: Unit]

    public init(
        id: String,
        manufacturer: String = "",
        model: String = "",
        protocolFamily: ProtocolFamily = .pcd01,
        sendingApplications: [String] = [],
        samplingInterval: Duration? = nil,
        defaultPopulation: Population = .adult,
        codes: [CodeMapping] = [],
        unitAliases: [String: Unit] = [:],
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
        self.unitAliases = unitAliases
        self.codeIndex = Dictionary(codes.map { (Self.key($0.system, $0.code), $0) }, uniquingKeysWith: { _, last in last })
    }

    public var codes: [CodeMapping] { Array(codeIndex.values) }

    /// The profile's own mapping for a code, if it has one.
    public func mapping(for code: ObservationCode) -> CodeMapping? {
        codeIndex[Self.key(code.system, code.code)]
    }

    /// The vital kind of a code: the profile's mapping first, then the standard tables.
    public func vitalKind(for code: ObservationCode) -> VitalKind {
        if let mapping = mapping(for: code) { return mapping.kind }
        switch code.system.uppercased() {
        case "MDC":
            if let kind = CodeTables.mdc[code.code] { return kind }
        case "LN", "LOINC", "HTTP://LOINC.ORG":
            if let kind = CodeTables.loinc[code.code] { return kind }
        case "MDIL":
            if let mdc = CodeTables.mdcCode(fromMDIL: code.code), let kind = CodeTables.mdc[mdc] { return kind }
        default:
            break
        }
        return CodeTables.mdcReferenceIDs[code.text] ?? .unknown
    }

    /// A unit code from OBX-6 (MDC dimension, UCUM or a vendor alias).
    public func unit(forCode code: String) -> Unit? {
        unitAliases[code] ?? CodeTables.units[code]
    }

    /// The simplest critical rule: a fixed band per vital kind and population.
    public func isCritical(_ kind: VitalKind, value: Double, population: Population? = nil) -> Bool {
        thresholds[population ?? defaultPopulation]?[kind]?.isCritical(value) ?? false
    }

    private static func key(_ system: String, _ code: String) -> String {
        system.uppercased() + "|" + code
    }
}
