import VitalSigns

/// FHIR R4 `Observation` JSON, alone or in a `Bundle`, to observations (protocol `fhir-r4`).
///
/// Follows the vital-signs profile (http://hl7.org/fhir/R4/observation-vitalsigns.html): codes
/// are LOINC or IEEE 11073 MDC codings resolved through the device profile, `valueQuantity`
/// carries a UCUM unit, panels such as blood pressure carry their values in `component`. One
/// bad Observation rejects the whole payload; the error says which entry and field.
///
/// The device is the Observation's `device` (identifier, `Device/<id>` or a Device in the
/// bundle), else the topic's; the time is `effective[x]`, else the arrival time. Statuses
/// registered, cancelled, entered-in-error and unknown are accepted but store nothing.
public struct FHIRObservationDecoder: FrameDecoder {
    public var profile: DeviceProfile

    public init(profile: DeviceProfile) {
        self.profile = profile
    }

    public func decode(_ frame: [UInt8], context: FrameContext) throws(FrameDecodeError) -> DecodedFrame {
        let root = JSONValue.object(try JSONValue.object(parsing: frame))
        switch root["resourceType"] {
        case .string("Observation"):
            var decoded = DecodedFrame(messageID: Self.messageID(ofObservation: root, bytes: frame))
            try add(root, place: "Observation", resources: [:], context: context, to: &decoded)
            return decoded
        case .string("Bundle"):
            return try decodeBundle(root, context: context)
        case .string(let other):
            throw FrameDecodeError(reason: "unsupported_resource", detail: "resourceType '\(other.prefix(40))' is not accepted; only Observation or Bundle")
        case nil:
            throw FrameDecodeError(reason: "missing_field", detail: "resourceType is missing; expected Observation or Bundle")
        case let value?:
            throw FrameDecodeError(reason: "invalid_field", detail: "resourceType must be a text, found \(value.typeName)")
        }
    }

    // MARK: Bundle

    private static let bundleTypes: Set<String> = ["collection", "transaction", "batch", "message"]

    private func decodeBundle(_ bundle: JSONValue, context: FrameContext) throws(FrameDecodeError) -> DecodedFrame {
        guard let type = bundle["type"] else {
            throw FrameDecodeError(reason: "missing_field", detail: "Bundle.type is missing")
        }
        guard let name = type.string, Self.bundleTypes.contains(name) else {
            throw FrameDecodeError(
                reason: "unsupported_bundle_type",
                detail: "Bundle.type \(type.string.map { "'\($0.prefix(40))'" } ?? type.typeName) is not accepted (accepted: \(Self.bundleTypes.sorted().joined(separator: ", ")))"
            )
        }
        let entries: [JSONValue]
        switch bundle["entry"] {
        case nil: entries = []
        case .array(let list)?: entries = list
        case let other?: throw FrameDecodeError(reason: "invalid_field", detail: "Bundle.entry must be a list, found \(other.typeName)")
        }
        // Patients and devices the Observations may reference, by fullUrl and by Type/id.
        var resources: [String: JSONValue] = [:]
        for entry in entries {
            guard let resource = entry["resource"], let type = resource["resourceType"]?.string else { continue }
            if let url = entry["fullUrl"]?.string { resources[url] = resource }
            if let id = resource["id"]?.string { resources["\(type)/\(id)"] = resource }
        }
        let messageID = bundle["identifier"]?["value"]?.identifierText ?? bundle["id"]?.identifierText
        var decoded = DecodedFrame(messageID: messageID)
        for (index, entry) in entries.enumerated() {
            guard let resource = entry["resource"], resource["resourceType"] == .string("Observation") else {
                continue  // MessageHeader, Patient, Device and the like describe; they carry no values.
            }
            try add(resource, place: "Bundle.entry[\(index)] (Observation)", resources: resources, context: context, to: &decoded)
        }
        return decoded
    }

    // MARK: Observation

    private func add(
        _ observation: JSONValue, place: String, resources: [String: JSONValue], context: FrameContext,
        to decoded: inout DecodedFrame
    ) throws(FrameDecodeError) {
        guard let status = try Self.status(observation["status"], place: place) else { return }
        let code = try self.code(observation["code"], place: "\(place).code")
        let time = try Self.effectiveTime(observation, place: place) ?? context.receivedAt
        let patient = try Self.patient(observation["subject"], place: "\(place).subject", resources: resources)
        guard let device = try Self.deviceID(observation["device"], place: "\(place).device", resources: resources) ?? context.deviceID else {
            throw FrameDecodeError(reason: "missing_device", detail: "\(place): no device (device.reference or device.identifier) and the topic names none")
        }

        func record(_ element: JSONValue, code: ObservationCode, place: String) throws(FrameDecodeError) -> Bool {
            if let quantity = element["valueQuantity"] {
                let reading = try Self.reading(quantity, code: code, place: "\(place).valueQuantity", profile: profile)
                decoded.observations.append(profile.observation(
                    reading, time: time, patient: patient, deviceID: device, location: context.location, status: status
                ))
                return true
            }
            if let absent = element["dataAbsentReason"] {
                let reason = absent["coding"]?.array?.first?["code"]?.string ?? absent["text"]?.string ?? "unknown"
                decoded.statusReports.append(DeviceStatusReport(
                    condition: .noValue, deviceID: device, time: time, detail: "\(code.code): \(reason.prefix(40))",
                    patient: patient, location: context.location
                ))
                return true
            }
            if let other = element.object?.keys.first(where: { $0.hasPrefix("value") }) {
                throw FrameDecodeError(reason: "invalid_value", detail: "\(place).\(other.prefix(40)): only valueQuantity carries a vital sign")
            }
            return false
        }

        let hasValue = try record(observation, code: code, place: place)
        let components: [JSONValue]
        switch observation["component"] {
        case nil: components = []
        case .array(let list)?: components = list
        case let other?: throw FrameDecodeError(reason: "invalid_field", detail: "\(place).component must be a list, found \(other.typeName)")
        }
        for (index, component) in components.enumerated() {
            let componentPlace = "\(place).component[\(index)]"
            let componentCode = try self.code(component["code"], place: "\(componentPlace).code")
            guard try record(component, code: componentCode, place: componentPlace) else {
                throw FrameDecodeError(reason: "missing_value", detail: "\(componentPlace): no valueQuantity and no dataAbsentReason")
            }
        }
        if !hasValue && components.isEmpty {
            throw FrameDecodeError(reason: "missing_value", detail: "\(place): no valueQuantity, component or dataAbsentReason")
        }
    }

    /// FHIR observation status to HL7 table 0085; nil for statuses whose value is not stored.
    private static func status(_ node: JSONValue?, place: String) throws(FrameDecodeError) -> ObservationStatus? {
        guard let node else { throw FrameDecodeError(reason: "missing_field", detail: "\(place).status is missing") }
        switch node.string {
        case "final": return .final
        case "amended", "corrected": return .corrected
        case "preliminary": return .preliminary
        // No result yet, withdrawn, or a mistake: nothing to store.
        case "registered", "cancelled", "entered-in-error", "unknown": return nil
        default:
            throw FrameDecodeError(
                reason: "invalid_field",
                detail: "\(place).status \(node.string.map { "'\($0.prefix(40))'" } ?? node.typeName) is not an observation status (registered, preliminary, final, amended, corrected, cancelled, entered-in-error, unknown)"
            )
        }
    }

    /// The coding the profile knows, else the first one (stored with kind 0).
    private func code(_ node: JSONValue?, place: String) throws(FrameDecodeError) -> ObservationCode {
        let codings = (node?["coding"]?.array ?? []).compactMap { coding -> ObservationCode? in
            guard let code = coding["code"]?.string, !code.isEmpty else { return nil }
            return ObservationCode(code: code, text: coding["display"]?.string ?? "", system: coding["system"]?.string ?? "")
        }
        guard let first = codings.first else {
            throw FrameDecodeError(reason: "missing_field", detail: "\(place): no coding with a code")
        }
        return Self.storedCode(codings.first { profile.resolve($0).kind != .unknown } ?? first)
    }

    /// LOINC and MDC codes are stored under the short system names the HL7 decoder uses.
    private static func storedCode(_ code: ObservationCode) -> ObservationCode {
        var stored = code
        switch code.system {
        case "http://loinc.org": stored.system = "LN"
        case "urn:iso:std:iso:11073:10101": stored.system = "MDC"
        default: break
        }
        return stored
    }

    private static func reading(_ quantity: JSONValue, code: ObservationCode, place: String, profile: DeviceProfile) throws(FrameDecodeError) -> Reading {
        guard quantity.object != nil else {
            throw FrameDecodeError(reason: "invalid_field", detail: "\(place) must be an object, found \(quantity.typeName)")
        }
        if let comparator = quantity["comparator"]?.string {
            throw FrameDecodeError(reason: "invalid_value", detail: "\(place): a value with comparator '\(comparator.prefix(4))' is a bound, not a measurement")
        }
        guard let node = quantity["value"] else {
            throw FrameDecodeError(reason: "missing_value", detail: "\(place).value is missing")
        }
        guard let value = node.number else {
            throw FrameDecodeError(reason: "invalid_value", detail: "\(place).value must be a number, found \(node.typeName)")
        }
        let units = [quantity["code"]?.string, quantity["unit"]?.string].compactMap { $0 }
        return try profile.reading(code: code, value: value, unitTexts: units, at: place)
    }

    /// effectiveDateTime, effectiveInstant or effectivePeriod.start; nil when none is given.
    private static func effectiveTime(_ observation: JSONValue, place: String) throws(FrameDecodeError) -> Timestamp? {
        let field: String
        let node: JSONValue
        if let value = observation["effectiveDateTime"] {
            (field, node) = ("effectiveDateTime", value)
        } else if let value = observation["effectiveInstant"] {
            (field, node) = ("effectiveInstant", value)
        } else if let period = observation["effectivePeriod"] {
            guard let start = period["start"] else {
                throw FrameDecodeError(reason: "missing_field", detail: "\(place).effectivePeriod has no start")
            }
            (field, node) = ("effectivePeriod.start", start)
        } else {
            return nil
        }
        guard let text = node.string else {
            throw FrameDecodeError(reason: "invalid_time", detail: "\(place).\(field) must be a text, found \(node.typeName)")
        }
        do {
            return try RFC3339Time.parse(text)
        } catch {
            throw FrameDecodeError(reason: "invalid_time", detail: "\(place).\(field) '\(text.prefix(40))' is \(RFC3339Time.explain(error))")
        }
    }

    // MARK: References

    private static func patient(_ node: JSONValue?, place: String, resources: [String: JSONValue]) throws(FrameDecodeError) -> PatientIdentifier? {
        guard let node else { return nil }
        if let identifier = node["identifier"] {
            return try patientIdentifier(identifier, place: "\(place).identifier")
        }
        guard let reference = node["reference"]?.string else {
            throw FrameDecodeError(reason: "invalid_field", detail: "\(place) has neither reference nor identifier")
        }
        if let resource = resources[reference] {
            guard resource["resourceType"] == .string("Patient") else {
                throw FrameDecodeError(reason: "invalid_field", detail: "\(place).reference names a \(resource["resourceType"]?.string?.prefix(40) ?? "resource"), not a Patient")
            }
            if let identifier = resource["identifier"]?.array?.first {
                return try patientIdentifier(identifier, place: "\(place).reference: the Patient's identifier[0]")
            }
            if let id = resource["id"]?.string { return PatientIdentifier(id: id) }
            throw FrameDecodeError(reason: "invalid_field", detail: "\(place).reference: the Patient has no identifier")
        }
        guard let id = localID(reference, type: "Patient") else {
            // The reference itself is not repeated: it may carry a patient's id (no PHI in logs).
            throw FrameDecodeError(reason: "invalid_field", detail: "\(place).reference names no Patient (Patient/<id> or a Patient in the bundle)")
        }
        return PatientIdentifier(id: id)
    }

    /// Identifier.value, assigned by the authority its system names (an OID without `urn:oid:`).
    private static func patientIdentifier(_ identifier: JSONValue, place: String) throws(FrameDecodeError) -> PatientIdentifier {
        guard let value = identifier["value"]?.identifierText else {
            throw FrameDecodeError(reason: "invalid_field", detail: "\(place).value is missing or empty")
        }
        var system = identifier["system"]?.string ?? ""
        if system.hasPrefix("urn:oid:") { system.removeFirst("urn:oid:".count) }
        return PatientIdentifier(id: value, assigningAuthority: system)
    }

    private static func deviceID(_ node: JSONValue?, place: String, resources: [String: JSONValue]) throws(FrameDecodeError) -> String? {
        guard let node else { return nil }
        if let value = node["identifier"]?["value"]?.identifierText { return value }
        guard let reference = node["reference"]?.string else {
            throw FrameDecodeError(reason: "invalid_field", detail: "\(place) has neither reference nor identifier.value")
        }
        if let resource = resources[reference] {
            guard resource["resourceType"] == .string("Device") else {
                throw FrameDecodeError(reason: "invalid_field", detail: "\(place).reference '\(reference.prefix(60))' is not a Device")
            }
            if let value = resource["identifier"]?.array?.first?["value"]?.identifierText { return value }
            if let id = resource["id"]?.string { return id }
        }
        guard let id = localID(reference, type: "Device") else {
            throw FrameDecodeError(reason: "invalid_field", detail: "\(place).reference '\(reference.prefix(60))' names no Device (Device/<id> or a Device in the bundle)")
        }
        return id
    }

    /// `123` of `Patient/123`, `https://host/fhir/Patient/123` or `Patient/123/_history/2`.
    private static func localID(_ reference: String, type: String) -> String? {
        let parts = reference.split(separator: "/", omittingEmptySubsequences: false)
        guard let typeIndex = parts.lastIndex(where: { $0 == type }), typeIndex + 1 < parts.count else { return nil }
        let id = parts[typeIndex + 1]
        return id.isEmpty ? nil : String(id)
    }

    /// The resource's identifier, else its id, with its version: an update (`preliminary` then
    /// `final`, `amended`, `corrected`) keeps the identifier of the result it replaces and must
    /// not be taken for a redelivery of it. The version is `meta.versionId` when sent, else the
    /// status and the content (a second amendment is another message; a redelivery repeats the
    /// bytes); a `final` result keeps the bare id.
    private static func messageID(ofObservation observation: JSONValue, bytes: [UInt8]) -> String? {
        guard let id = identifier(of: observation) ?? observation["id"]?.identifierText else { return nil }
        if let version = observation["meta"]?["versionId"]?.identifierText { return id + "/_history/" + version }
        let status = observation["status"]?.string ?? "final"
        return status == "final" ? id : id + "#" + status + "#" + DecodedFrame.contentID(bytes)
    }

    /// The first identifier's value, as `system|value` unless the value is a URI itself
    /// (system `urn:ietf:rfc:3986`): other values are unique only within their system.
    private static func identifier(of observation: JSONValue) -> String? {
        guard let identifier = observation["identifier"]?.array?.first, let value = identifier["value"]?.identifierText else { return nil }
        guard let system = identifier["system"]?.string, !system.isEmpty, system != "urn:ietf:rfc:3986" else { return value }
        return system + "|" + value
    }
}
