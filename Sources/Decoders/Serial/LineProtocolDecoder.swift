import VitalSigns

/// Decodes one line of a profile-described line protocol (`line:` in the profile): fields split
/// by `separator`, read as `KEY<kv-separator>VALUE` pairs or by position, each value converted
/// from the field's unit to the kind's canonical one. Keys the profile does not list are ignored
/// (devices add fields); a line with none of the listed ones is refused. The device is the
/// port's (`context.deviceID`): generic lines carry no identity.
public struct LineProtocolDecoder: FrameDecoder {
    public let profile: DeviceProfile
    public let spec: LineProtocolSpec
    private let fieldsByName: [String: LineProtocolSpec.Field]

    /// Nil when the profile has no `line:` layout.
    public init?(profile: DeviceProfile) {
        guard let spec = profile.lineProtocol else { return nil }
        self.profile = profile
        self.spec = spec
        fieldsByName = Dictionary(spec.fields.map { ($0.name, $0) }) { first, _ in first }
    }

    public func decode(_ frame: [UInt8], context: FrameContext) throws(FrameDecodeError) -> DecodedFrame {
        guard !frame.isEmpty else { throw FrameDecodeError(reason: "empty_frame", detail: "an empty line") }
        guard let line = String(validating: frame, as: UTF8.self),
              !line.unicodeScalars.contains(where: { $0.value < 0x20 && $0 != "\t" || $0.value == 0x7F }) else {
            throw FrameDecodeError(reason: "not_text", detail: "the line is not UTF-8 text without control characters: \(SerialText.excerpt(frame))")
        }
        guard let deviceID = context.deviceID, !deviceID.isEmpty else {
            throw FrameDecodeError(reason: "no_device_id", detail: "line protocol frames carry no device identity and the port has none configured")
        }
        var readings = SerialReadings(deviceID: deviceID, context: context, system: profile.id)
        let parts = line.split(separator: spec.separator, omittingEmptySubsequences: false)
            .map { $0.trimmingSpaces() }
        switch spec.style {
        case .keyValue:
            var known = 0
            for part in parts where !part.isEmpty {
                guard let range = part.range(of: spec.keyValueSeparator) else {
                    throw FrameDecodeError(reason: "malformed_field", detail: "'\(part.prefix(40))' is not KEY\(spec.keyValueSeparator)VALUE")
                }
                let key = String(part[..<range.lowerBound]).trimmingSpaces()
                guard let field = fieldsByName[String(key)] else { continue }
                known += 1
                try read(part[range.upperBound...].trimmingSpaces(), field: field, into: &readings)
            }
            if known == 0 {
                throw FrameDecodeError(reason: "no_known_field",
                                       detail: "none of the profile's fields (\(spec.fields.map(\.name).sorted().joined(separator: ", "))) is in the line")
            }
        case .positional:
            for field in spec.fields {
                guard let index = field.index, index < parts.count else {
                    throw FrameDecodeError(reason: "missing_field", detail: "\(field.name) is at position \(field.index ?? -1), the line has \(parts.count) fields")
                }
                try read(parts[index], field: field, into: &readings)
            }
        }
        return readings.decoded
    }

    private func read(_ text: Substring, field: LineProtocolSpec.Field, into readings: inout SerialReadings) throws(FrameDecodeError) {
        if text == spec.noValue || text.isEmpty {
            readings.report(.noValue, "\(field.name)=\(text)")
            return
        }
        guard let number = SerialText.decimal(ArraySlice(text.utf8)) else {
            throw FrameDecodeError(reason: "bad_value", detail: "\(field.name)=\(text.prefix(40)) is not a number")
        }
        readings.add(field.kind, code: field.name, value: number, unit: field.unit)
    }
}

private extension StringProtocol {
    func trimmingSpaces() -> Substring {
        let scalars = self[...]
        guard let first = scalars.firstIndex(where: { $0 != " " && $0 != "\t" }),
              let last = scalars.lastIndex(where: { $0 != " " && $0 != "\t" }) else { return Substring() }
        return Substring(scalars[first...last])
    }
}
