import VitalSigns

/// What the frame decoders share once they hold a code, a number and a unit text: the unit the
/// text names, and the value in the vital kind's canonical unit.
enum ObservationBuilding {
    /// The unit a device names: a profile alias, an MDC dimension (`MDC_DIM_PERCENT`, `262688`)
    /// or UCUM text; with no text, the code's default unit from the profile.
    static func unit(_ text: String?, resolution: CodeResolution, profile: DeviceProfile) -> UCUMUnit? {
        guard let text, !text.isEmpty else { return resolution.defaultUnit }
        return profile.unit(forCode: text) ?? UCUMUnit(ucum: text)
    }

    /// `value` in `kind`'s canonical unit (°F → °C, kPa → mm[Hg]); nil when `unit` does not
    /// measure that kind. Unknown kinds keep what was sent.
    static func canonical(_ value: Double, unit: UCUMUnit, kind: VitalKind) -> (value: Double, unit: UCUMUnit)? {
        guard kind != .unknown, unit != kind.canonicalUnit else { return (value, unit) }
        return UnitConversion.convert(value, from: unit, to: kind.canonicalUnit).map { ($0, kind.canonicalUnit) }
    }
}
