/// A unit of measure, held as its UCUM code (`mm[Hg]`, `Cel`, `%`, `/min`).
public struct UCUMUnit: Sendable, Hashable, Codable, CustomStringConvertible {
    public var ucum: String

    public init(ucum: String) { self.ucum = ucum }

    public var description: String { ucum }

    public static let unitless = UCUMUnit(ucum: "1")
    public static let percent = UCUMUnit(ucum: "%")
    public static let beatsPerMinute = UCUMUnit(ucum: "/min")
    public static let breathsPerMinute = UCUMUnit(ucum: "/min")
    public static let millimetreOfMercury = UCUMUnit(ucum: "mm[Hg]")
    public static let kilopascal = UCUMUnit(ucum: "kPa")
    public static let degreeCelsius = UCUMUnit(ucum: "Cel")
    public static let degreeFahrenheit = UCUMUnit(ucum: "[degF]")
    public static let kelvin = UCUMUnit(ucum: "K")
}

/// Conversion between the units that devices actually send for vital signs.
public enum UnitConversion {
    /// `value` expressed in `target`, or nil when the two units measure different things.
    public static func convert(_ value: Double, from source: UCUMUnit, to target: UCUMUnit) -> Double? {
        if source == target { return value }
        switch (source, target) {
        case (.kilopascal, .millimetreOfMercury): return value * 7.500_615_758
        case (.millimetreOfMercury, .kilopascal): return value / 7.500_615_758
        case (.degreeFahrenheit, .degreeCelsius): return (value - 32) * 5 / 9
        case (.degreeCelsius, .degreeFahrenheit): return value * 9 / 5 + 32
        case (.kelvin, .degreeCelsius): return value - 273.15
        case (.degreeCelsius, .kelvin): return value + 273.15
        case (.unitless, .percent): return value * 100
        case (.percent, .unitless): return value / 100
        default: return nil
        }
    }

    /// `value` of `kind`, sent in `unit`, in the kind's canonical unit; nil when `unit` does not
    /// measure the kind. Dimensionless values of the percentages are read as devices send them
    /// when they send no proper unit:
    /// - an SpO2 is a fraction only up to 1; above it, it can only be the percentage itself (97
    ///   for 97 %). Read as a fraction, an SpO2 of 85 would be 8,500 % and never alarm;
    /// - a perfusion index is an index written without its unit, already the percentage (0.02
    ///   to 20): read as a fraction, 0.8 would become 80 %.
    public static func toCanonical(_ value: Double, from unit: UCUMUnit, of kind: VitalKind) -> Double? {
        if unit == .unitless, kind == .perfusionIndex || (kind == .spo2 && value > 1) { return value }
        return convert(value, from: unit, to: kind.canonicalUnit)
    }
}
