import VitalSigns

/// One value a payload states, resolved to its vital kind and held in the kind's canonical unit
/// (°F → °C, kPa → mmHg), as every JSON and serial decoder stores it.
struct Reading: Sendable, Hashable {
    var code: ObservationCode
    var kind: VitalKind
    var value: Double
    var unit: UCUMUnit

    /// `value` of `kind` measured in `unit`. A unit that does not measure the kind is bad input
    /// (`unknown_unit`, with `place` saying where); a code of unknown kind keeps its unit as sent.
    init(code: ObservationCode, kind: VitalKind, value: Double, unit: UCUMUnit, at place: String) throws(FrameDecodeError) {
        guard value.isFinite else {
            throw FrameDecodeError(reason: "invalid_value", detail: "\(place): the value is not a finite number")
        }
        self.code = code
        self.kind = kind
        guard kind != .unknown else {
            (self.value, self.unit) = (value, unit)
            return
        }
        guard let converted = UnitConversion.toCanonical(value, from: unit, of: kind) else {
            throw FrameDecodeError(
                reason: "unknown_unit",
                detail: "\(place): unit '\(unit.ucum)' is not a unit of \(kind.name) (stored in \(kind.canonicalUnit.ucum))"
            )
        }
        guard converted.isFinite else {
            throw FrameDecodeError(reason: "invalid_value", detail: "\(place): \(value) \(unit.ucum) is out of range in \(kind.canonicalUnit.ucum)")
        }
        guard kind.plausibleBounds.contains(converted) else {
            throw FrameDecodeError(reason: "implausible_value",
                                   detail: "\(place): \(converted) \(kind.canonicalUnit.ucum) is not a plausible \(kind.name) (a device's no-value marker?)")
        }
        (self.value, self.unit) = (converted, kind.canonicalUnit)
    }
}

extension DeviceProfile {
    /// A coded value as a payload sends it: the kind from the code (profile first, then the MDC
    /// and LOINC tables), the unit from the first of `unitTexts` the profile knows (UCUM, MDC
    /// dimension or alias), else the code's default unit.
    func reading(code: ObservationCode, value: Double, unitTexts: [String], at place: String) throws(FrameDecodeError) -> Reading {
        let resolution = resolve(code)
        let unit: UCUMUnit
        if let known = firstKnownUnit(unitTexts) {
            unit = known
        } else if let text = unitTexts.first(where: { !$0.isEmpty }) {
            guard resolution.kind == .unknown else {
                throw FrameDecodeError(
                    reason: "unknown_unit",
                    detail: "\(place): unit '\(text.prefix(40))' is not a known unit of \(resolution.kind.name) (stored in \(resolution.kind.canonicalUnit.ucum))"
                )
            }
            unit = UCUMUnit(ucum: text)
        } else if let assumed = resolution.defaultUnit {
            unit = assumed
        } else if resolution.kind == .unknown {
            unit = .unitless
        } else {
            throw FrameDecodeError(reason: "missing_unit", detail: "\(place): a \(resolution.kind.name) value needs a unit")
        }
        return try Reading(code: code, kind: resolution.kind, value: value, unit: unit, at: place)
    }

    /// A plain loop: a lazy `compactMap` capturing `self` copied the whole profile per call.
    private func firstKnownUnit(_ texts: [String]) -> UCUMUnit? {
        for text in texts where !text.isEmpty {
            if let known = unit(forCode: text) { return known }
        }
        return nil
    }

    /// The observation to store for a reading; the pipeline's flagger decides whether it is critical.
    func observation(
        _ reading: Reading, time: Timestamp, patient: PatientIdentifier?, deviceID: String,
        location: String?, status: ObservationStatus = .final
    ) -> Observation {
        Observation(
            time: time,
            patient: patient,
            deviceID: deviceID,
            location: location,
            kind: reading.kind,
            code: reading.code,
            value: reading.value,
            unit: reading.unit,
            status: status
        )
    }
}
