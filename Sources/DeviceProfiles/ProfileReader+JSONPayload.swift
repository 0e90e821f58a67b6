import VitalSigns
import Yams

/// The `payload:` section of a `mapped-json` profile: where a vendor's JSON keeps its device,
/// time, patient and readings.
///
/// ```yaml
/// payload:
///   device_field: deviceId
///   time_field: ts
///   time_format: epoch_milliseconds
///   fields:
///     hr: { kind: heart_rate, unit: /min }
///     vitals.temp_f: { kind: temperature, unit: "[degF]" }
/// ```
extension ProfileReader {
    private static let payloadKeys: Set<String> = [
        "device_field", "time_field", "time_format", "patient_field", "patient_authority",
        "location_field", "message_id_field", "fields",
    ]
    private static let payloadFieldKeys: Set<String> = ["kind", "unit", "code", "system"]

    mutating func jsonPayloadMapping(
        _ profile: Node.Mapping, family: ProtocolFamily?, profileID: String, unitAliases: [String: UCUMUnit]
    ) -> JSONPayloadMapping? {
        guard let node = profile["payload"] else {
            if family == .mappedJSON {
                fail(profile["protocol"], "payload", "is required for protocol mapped-json")
            }
            return nil
        }
        if let family, family != .mappedJSON {
            fail(node, "payload", "is only for protocol mapped-json (this profile is \(family.rawValue))")
            return nil
        }
        guard let section = node.mapping else {
            fail(node, "payload", "must be a mapping with fields and optional device_field, time_field, …")
            return nil
        }
        rejectUnknownKeys(section, allowed: Self.payloadKeys, path: "payload")
        func optionalText(_ key: String) -> String? {
            guard let value = section[key] else { return nil }
            guard let text = value.scalar?.string, !text.isEmpty else {
                fail(value, "payload.\(key)", "must be a non-empty text (a JSON key or dotted path)")
                return nil
            }
            return text
        }
        let timeField = optionalText("time_field")
        var timeFormat = JSONPayloadMapping.TimeFormat.rfc3339
        if let formatNode = section["time_format"] {
            let known = JSONPayloadMapping.TimeFormat.allCases.map(\.rawValue).joined(separator: ", ")
            if let format = formatNode.string.flatMap(JSONPayloadMapping.TimeFormat.init(rawValue:)) {
                timeFormat = format
            } else {
                fail(formatNode, "payload.time_format", "unknown time format '\(formatNode.string ?? "?")' (known: \(known))")
            }
            if timeField == nil {
                fail(formatNode, "payload.time_format", "needs payload.time_field")
            }
        }
        let fields = payloadFields(section, in: node, profileID: profileID, unitAliases: unitAliases)
        return JSONPayloadMapping(
            deviceField: optionalText("device_field"),
            timeField: timeField,
            timeFormat: timeFormat,
            patientField: optionalText("patient_field"),
            patientAuthority: optionalText("patient_authority") ?? "",
            locationField: optionalText("location_field"),
            messageIDField: optionalText("message_id_field"),
            fields: fields
        )
    }

    private mutating func payloadFields(
        _ section: Node.Mapping, in payload: Node, profileID: String, unitAliases: [String: UCUMUnit]
    ) -> [JSONPayloadMapping.Field] {
        guard let node = section["fields"] else {
            fail(payload, "payload.fields", "is required")
            return []
        }
        guard let entries = node.mapping, !entries.isEmpty else {
            fail(node, "payload.fields", "must map JSON keys to {kind, unit}, e.g. hr: { kind: heart_rate, unit: /min }")
            return []
        }
        var fields: [JSONPayloadMapping.Field] = []
        for (keyNode, value) in entries {
            guard let key = keyNode.string, !key.isEmpty else {
                fail(keyNode, "payload.fields", "keys must be non-empty texts")
                continue
            }
            let path = "payload.fields.\(key)"
            guard let entry = value.mapping else {
                fail(value, path, "must be a mapping with kind and unit")
                continue
            }
            rejectUnknownKeys(entry, allowed: Self.payloadFieldKeys, path: path)
            let kind = requiredString(entry, "kind", path: path).flatMap { vitalKind($0, node: entry["kind"], path: path + ".kind") }
            let unit = requiredString(entry, "unit", path: path).flatMap { text -> UCUMUnit? in
                guard let unit = unitAliases[text] ?? CodeTables.units[text] else {
                    fail(entry["unit"], path + ".unit", "unknown unit '\(text)' (a UCUM or MDC unit the engine knows, or one of this profile's units)")
                    return nil
                }
                return unit
            }
            if let kind, let unit, UnitConversion.convert(1, from: unit, to: kind.canonicalUnit) == nil {
                fail(entry["unit"], path + ".unit", "'\(unit.ucum)' is not a unit of \(kind.name) (stored in \(kind.canonicalUnit.ucum))")
                continue
            }
            var code = ObservationCode(code: key, text: "", system: profileID)
            switch (entry["code"], entry["system"]) {
            case (nil, nil):
                break
            case (.some, .some):
                if let codeText = requiredString(entry, "code", path: path), let system = requiredString(entry, "system", path: path) {
                    code = ObservationCode(code: codeText, text: "", system: system)
                }
            case (.some, nil), (nil, .some):
                fail(value, path, "code and system go together")
            }
            if let kind, let unit {
                fields.append(JSONPayloadMapping.Field(path: key, kind: kind, unit: unit, code: code))
            }
        }
        return fields
    }
}
