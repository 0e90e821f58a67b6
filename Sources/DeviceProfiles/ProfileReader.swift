import VitalSigns
import Yams

/// Walks a profile's YAML tree, turning each node into domain values and recording every
/// problem with its line and dotted key path instead of stopping at the first.
struct ProfileReader {
    let file: String
    private(set) var problems: [ProfileLoadError] = []

    init(file: String) { self.file = file }

    private static let topLevelKeys: Set<String> = [
        "id", "manufacturer", "model", "protocol", "match", "sampling_interval_seconds",
        "default_population", "codes", "units", "thresholds", "payload",
        "serial", "line",
    ]

    mutating func profile(from root: Node) -> DeviceProfile? {
        guard let mapping = root.mapping else {
            fail(root, "", "the top level must be a mapping of keys")
            return nil
        }
        rejectUnknownKeys(mapping, allowed: Self.topLevelKeys, path: "")
        let id = requiredString(mapping, "id", path: "")
        let family = requiredString(mapping, "protocol", path: "").flatMap { name -> ProtocolFamily? in
            guard let family = ProtocolFamily(rawValue: name) else {
                fail(mapping["protocol"], "protocol", "unknown protocol '\(name)' (known: \(ProtocolFamily.allNames))")
                return nil
            }
            return family
        }
        var sendingApplications: [String] = []
        if let match = mapping["match"] {
            if let matchMapping = match.mapping {
                rejectUnknownKeys(matchMapping, allowed: ["sending_application"], path: "match")
                sendingApplications = stringList(matchMapping["sending_application"], path: "match.sending_application")
            } else {
                fail(match, "match", "must be a mapping")
            }
        }
        var interval: Duration?
        if let node = mapping["sampling_interval_seconds"] {
            // Bounded (a day) so that `.inf` or 1e20 is an error here, not a trap converting it.
            if let seconds = node.float, seconds > 0, seconds <= 86_400 {
                interval = .milliseconds(Int64(seconds * 1000))
            } else {
                fail(node, "sampling_interval_seconds", "must be a positive number of seconds, at most 86400")
            }
        }
        var population = Population.adult
        if let node = mapping["default_population"] {
            if let value = node.string.flatMap(Population.init(rawValue:)) {
                population = value
            } else {
                fail(node, "default_population", "must be one of \(Population.allCases.map(\.rawValue).joined(separator: ", "))")
            }
        }
        let codes = codeMappings(mapping["codes"])
        let units = unitAliases(mapping["units"])
        let thresholds = thresholdTable(mapping["thresholds"])
        let jsonPayload = jsonPayloadMapping(mapping, family: family, profileID: id ?? "", unitAliases: units)
        let serialSections = serialSections(mapping, family: family)
        guard let id, let family else { return nil }
        var profile = DeviceProfile(
            id: id,
            manufacturer: mapping["manufacturer"]?.string ?? "",
            model: mapping["model"]?.string ?? "",
            protocolFamily: family,
            sendingApplications: sendingApplications,
            samplingInterval: interval,
            defaultPopulation: population,
            codes: codes,
            unitAliases: units,
            thresholds: thresholds
        )
        profile.jsonPayload = jsonPayload
        profile.serial = serialSections.serial
        profile.lineProtocol = serialSections.line
        return profile
    }

    // MARK: Sections

    private mutating func codeMappings(_ node: Node?) -> [CodeMapping] {
        guard let node else { return [] }
        guard let items = node.sequence else {
            fail(node, "codes", "must be a list of {system, code, kind} entries")
            return []
        }
        var result: [CodeMapping] = []
        var seen: [String: Int] = [:]
        for (index, item) in items.enumerated() {
            let path = "codes[\(index)]"
            guard let entry = item.mapping else {
                fail(item, path, "must be a mapping with system, code and kind")
                continue
            }
            rejectUnknownKeys(entry, allowed: ["system", "code", "kind", "unit"], path: path)
            let system = requiredString(entry, "system", path: path)
            let code = requiredString(entry, "code", path: path)
            let kind = requiredString(entry, "kind", path: path).flatMap { vitalKind($0, node: entry["kind"], path: path + ".kind") }
            let unit = entry["unit"].flatMap { unitNode -> UCUMUnit? in
                guard let text = unitNode.string, !text.isEmpty else {
                    fail(unitNode, path + ".unit", "must be a UCUM unit such as mm[Hg]")
                    return nil
                }
                return CodeTables.units[text] ?? UCUMUnit(ucum: text)
            }
            // Each row in this unit would be converted to the kind's canonical unit, or, when it
            // cannot be, stored as an unknown code: no vital and no alert. Refused here instead.
            if let kind, let unit, UnitConversion.convert(1, from: unit, to: kind.canonicalUnit) == nil {
                fail(entry["unit"], path + ".unit", "'\(unit.ucum)' is not a unit of \(kind.name) (stored in \(kind.canonicalUnit.ucum))")
                continue
            }
            if let system, let code, let kind {
                // Systems compare as the tables key them (`mdil` is `MDIL`): the later entry would
                // silently replace the first, an SpO2 code mapped again to another kind say.
                let key = DeviceProfile.normalizedSystem(system) + "\u{0}" + code
                if let first = seen[key] {
                    fail(entry["code"], path, "code \(system) \(code) is already mapped at codes[\(first)]")
                    continue
                }
                seen[key] = index
                result.append(CodeMapping(system: system, code: code, kind: kind, defaultUnit: unit))
            }
        }
        return result
    }

    private mutating func unitAliases(_ node: Node?) -> [String: UCUMUnit] {
        guard let node else { return [:] }
        guard let mapping = node.mapping else {
            fail(node, "units", "must map a device unit code to a UCUM unit")
            return [:]
        }
        var result: [String: UCUMUnit] = [:]
        for (key, value) in mapping {
            guard let code = key.string, let ucum = value.string, !ucum.isEmpty else {
                fail(value, "units.\(key.string ?? "?")", "must be a UCUM unit text")
                continue
            }
            // A unit no table knows converts to no vital's unit: every row sent in it would be
            // stored as an unknown code, never flagged or alarmed.
            guard let unit = CodeTables.units[ucum] ?? Self.knownUCUM.first(where: { $0.ucum == ucum }) else {
                fail(value, "units.\(code)", "'\(ucum)' is not a unit the engine knows (UCUM: \(Self.knownUCUM.map(\.ucum).sorted().joined(separator: ", ")))")
                continue
            }
            result[code] = unit
        }
        return result
    }

    /// The units vital kinds are stored in or converted from.
    private static let knownUCUM: Set<UCUMUnit> = Set(CodeTables.units.values).union([.kelvin])

    private mutating func thresholdTable(_ node: Node?) -> [Population: [VitalKind: ThresholdBand]] {
        guard let node else { return [:] }
        guard let mapping = node.mapping else {
            fail(node, "thresholds", "must map a population (adult, paediatric, neonatal) to its bands")
            return [:]
        }
        var result: [Population: [VitalKind: ThresholdBand]] = [:]
        for (key, value) in mapping {
            let name = key.string ?? "?"
            let path = "thresholds.\(name)"
            guard let population = Population(rawValue: name) else {
                fail(key, path, "unknown population '\(name)' (known: \(Population.allCases.map(\.rawValue).joined(separator: ", ")))")
                continue
            }
            guard let bands = value.mapping else {
                fail(value, path, "must map vital kinds to {critical_low, warning_low, warning_high, critical_high}")
                continue
            }
            var table: [VitalKind: ThresholdBand] = [:]
            for (kindKey, bandNode) in bands {
                let kindPath = "\(path).\(kindKey.string ?? "?")"
                guard let kind = vitalKind(kindKey.string ?? "", node: kindKey, path: kindPath) else { continue }
                if let band = thresholdBand(bandNode, of: kind, path: kindPath) { table[kind] = band }
            }
            result[population] = table
        }
        return result
    }

    private mutating func thresholdBand(_ node: Node, of kind: VitalKind, path: String) -> ThresholdBand? {
        let bounds = ThresholdBand.Bound.allCases
        guard let mapping = node.mapping else {
            fail(node, path, "must be a mapping with \(bounds.map(\.rawValue).joined(separator: ", "))")
            return nil
        }
        rejectUnknownKeys(mapping, allowed: Set(bounds.map(\.rawValue)), path: path)
        var band = ThresholdBand()
        var readable = true
        for bound in bounds {
            guard let value = mapping[bound.rawValue] else { continue }
            guard let number = value.float, number.isFinite, value.scalar?.string.contains(":") != true else {
                fail(value, "\(path).\(bound.rawValue)", "must be a finite decimal number")
                readable = false
                continue
            }
            let plausible = kind.plausibleBounds
            guard plausible.contains(number) else {
                fail(value, "\(path).\(bound.rawValue)", "\(number) is not a plausible \(kind.name) in \(kind.canonicalUnit.ucum) "
                    + "(\(plausible.lowerBound)...\(plausible.upperBound)): bounds are in the kind's canonical unit")
                readable = false
                continue
            }
            band[bound] = number
        }
        guard readable else { return nil }
        let bandProblems = band.problems
        for problem in bandProblems { fail(node, path, problem) }
        return bandProblems.isEmpty ? band : nil
    }

    // MARK: Helpers

    mutating func vitalKind(_ name: String, node: Node?, path: String) -> VitalKind? {
        guard let kind = VitalKind(name: name), kind != .unknown else {
            let known = VitalKind.allCases.filter { $0 != .unknown }.map(\.name).joined(separator: ", ")
            fail(node, path, "unknown vital kind '\(name)' (known: \(known))")
            return nil
        }
        return kind
    }

    mutating func requiredString(_ mapping: Node.Mapping, _ key: String, path: String) -> String? {
        let keyPath = path.isEmpty ? key : "\(path).\(key)"
        guard let node = mapping[key] else {
            problems.append(ProfileLoadError(file: file, line: mapping.mark?.line, key: keyPath, reason: "is required"))
            return nil
        }
        guard let text = node.scalar?.string, !text.isEmpty else {
            fail(node, keyPath, "must be a non-empty text")
            return nil
        }
        return text
    }

    private mutating func stringList(_ node: Node?, path: String) -> [String] {
        guard let node else { return [] }
        if let single = node.scalar?.string { return [single] }
        guard let items = node.sequence else {
            fail(node, path, "must be a text or a list of texts")
            return []
        }
        return items.compactMap { item in
            guard let text = item.scalar?.string else {
                fail(item, path, "must contain only texts")
                return nil
            }
            return text
        }
    }

    mutating func rejectUnknownKeys(_ mapping: Node.Mapping, allowed: Set<String>, path: String) {
        for key in mapping.keys {
            let name = key.string ?? "?"
            if !allowed.contains(name) {
                let keyPath = path.isEmpty ? name : "\(path).\(name)"
                fail(key, keyPath, "unknown key (allowed: \(allowed.sorted().joined(separator: ", ")))")
            }
        }
    }

    mutating func fail(_ node: Node?, _ key: String, _ reason: String) {
        problems.append(ProfileLoadError(file: file, line: node?.mark?.line, key: key, reason: reason))
    }
}

private extension ProtocolFamily {
    static var allNames: String { ProtocolFamily.allCases.map(\.rawValue).joined(separator: ", ") }
}
