import VitalSigns
import Yams

/// The `serial:` and `line:` sections of serial device profiles.
extension ProfileReader {
    /// Serial line settings (required for the serial protocol families, refused elsewhere) and the
    /// line protocol layout (required for `protocol: line`, refused elsewhere).
    mutating func serialSections(_ mapping: Node.Mapping, family: ProtocolFamily?) -> (serial: SerialSettings?, line: LineProtocolSpec?) {
        var serial: SerialSettings?
        if let node = mapping["serial"] {
            if let family, !family.isSerial {
                fail(node, "serial", "only serial protocols (\(ProtocolFamily.serialFamilies)) take serial line settings")
            } else {
                serial = serialSettings(node)
            }
        } else if let family, family.isSerial {
            fail(nil, "serial", "is required for protocol \(family.rawValue) (baud, data_bits, parity, stop_bits, flow_control)")
        }
        var line: LineProtocolSpec?
        if let node = mapping["line"] {
            if family == .lineProtocol {
                line = lineProtocol(node)
            } else if family != nil {
                fail(node, "line", "only protocol line takes a line layout")
            }
        } else if family == .lineProtocol {
            fail(nil, "line", "is required for protocol line (separator, style, fields)")
        }
        return (serial, line)
    }

    private mutating func serialSettings(_ node: Node) -> SerialSettings? {
        guard let mapping = node.mapping else {
            fail(node, "serial", "must be a mapping with baud, data_bits, parity, stop_bits, flow_control")
            return nil
        }
        rejectUnknownKeys(mapping, allowed: ["baud", "data_bits", "parity", "stop_bits", "flow_control", "vmin", "vtime"], path: "serial")
        var settings = SerialSettings()
        var valid = true
        func integer(_ key: String, allowed: some Collection<Int>, describe: String) -> Int? {
            guard let value = mapping[key] else { return nil }
            guard let number = value.int, allowed.contains(number) else {
                fail(value, "serial.\(key)", "must be \(describe)")
                valid = false
                return nil
            }
            return number
        }
        settings.baud = integer("baud", allowed: SerialSettings.supportedBaudRates,
                                describe: "one of \(SerialSettings.supportedBaudRates.map(String.init).joined(separator: ", "))") ?? settings.baud
        settings.dataBits = integer("data_bits", allowed: 5...8, describe: "5, 6, 7 or 8") ?? settings.dataBits
        settings.stopBits = integer("stop_bits", allowed: 1...2, describe: "1 or 2") ?? settings.stopBits
        settings.vmin = integer("vmin", allowed: 0...255, describe: "a byte count from 0 to 255") ?? settings.vmin
        settings.vtime = integer("vtime", allowed: 0...255, describe: "tenths of a second from 0 to 255") ?? settings.vtime
        if let value = mapping["parity"] {
            if let parity = value.string.flatMap(SerialSettings.Parity.init(rawValue:)) {
                settings.parity = parity
            } else {
                fail(value, "serial.parity", "must be one of \(SerialSettings.Parity.allCases.map(\.rawValue).joined(separator: ", "))")
                valid = false
            }
        }
        if let value = mapping["flow_control"] {
            if let flow = value.string.flatMap(SerialSettings.FlowControl.init(rawValue:)) {
                settings.flowControl = flow
            } else {
                fail(value, "serial.flow_control", "must be one of \(SerialSettings.FlowControl.allCases.map(\.rawValue).joined(separator: ", "))")
                valid = false
            }
        }
        if settings.vmin > 1 && settings.vtime == 0 {
            // A read would wait for vmin bytes forever; a device that stops mid-frame would hang the port's reader.
            fail(mapping["vmin"], "serial.vmin", "above 1 needs vtime above 0, or a silent device blocks the reader")
            valid = false
        }
        return valid ? settings : nil
    }

    private mutating func lineProtocol(_ node: Node) -> LineProtocolSpec? {
        guard let mapping = node.mapping else {
            fail(node, "line", "must be a mapping with separator, style and fields")
            return nil
        }
        rejectUnknownKeys(mapping, allowed: ["separator", "style", "key_value_separator", "no_value", "fields", "max_line_bytes"], path: "line")
        var spec = LineProtocolSpec(fields: [])
        var valid = true
        func text(_ key: String) -> String? {
            guard let value = mapping[key] else { return nil }
            guard let string = value.scalar?.string, !string.isEmpty, !string.contains("\n"), !string.contains("\r") else {
                fail(value, "line.\(key)", "must be a non-empty text without line ends")
                valid = false
                return nil
            }
            return string
        }
        spec.separator = text("separator") ?? spec.separator
        spec.keyValueSeparator = text("key_value_separator") ?? spec.keyValueSeparator
        spec.noValue = text("no_value") ?? spec.noValue
        if let value = mapping["style"] {
            if let style = value.string.flatMap(LineProtocolSpec.Style.init(rawValue:)) {
                spec.style = style
            } else {
                fail(value, "line.style", "must be one of \(LineProtocolSpec.Style.allCases.map(\.rawValue).joined(separator: ", "))")
                valid = false
            }
        }
        if let value = mapping["max_line_bytes"] {
            if let number = value.int, (16...65536).contains(number) {
                spec.maxLineBytes = number
            } else {
                fail(value, "line.max_line_bytes", "must be a byte count from 16 to 65536")
                valid = false
            }
        }
        if spec.style == .keyValue && spec.keyValueSeparator == spec.separator {
            fail(mapping["key_value_separator"], "line.key_value_separator", "must differ from the separator '\(spec.separator)'")
            valid = false
        }
        guard let fieldsNode = mapping["fields"] else {
            fail(nil, "line.fields", "is required: map each field name to {kind, unit} (and index for positional lines)")
            return nil
        }
        guard let fields = fieldsNode.mapping, !fields.isEmpty else {
            fail(fieldsNode, "line.fields", "must map each field name to {kind, unit}")
            return nil
        }
        var seenIndexes: [Int: String] = [:]
        for (key, value) in fields {
            let name = key.string ?? "?"
            let path = "line.fields.\(name)"
            guard let entry = value.mapping else {
                fail(value, path, "must be a mapping with kind and unit")
                valid = false
                continue
            }
            rejectUnknownKeys(entry, allowed: ["kind", "unit", "index"], path: path)
            let kind = requiredString(entry, "kind", path: path).flatMap { vitalKind($0, node: entry["kind"], path: path + ".kind") }
            let unitText = requiredString(entry, "unit", path: path)
            let unit = unitText.map { CodeTables.units[$0] ?? UCUMUnit(ucum: $0) }
            if let kind, let unit, unit != kind.canonicalUnit, UnitConversion.convert(1, from: unit, to: kind.canonicalUnit) == nil {
                fail(entry["unit"], path + ".unit", "cannot convert \(unit.ucum) to \(kind.name)'s unit \(kind.canonicalUnit.ucum)")
                valid = false
            }
            var index: Int?
            switch (spec.style, entry["index"]) {
            case (.positional, nil):
                fail(value, path + ".index", "is required for positional lines (the field's position, from 0)")
                valid = false
            case (.positional, let node?):
                if let number = node.int, number >= 0, number < 256 {
                    if let other = seenIndexes[number] {
                        fail(node, path + ".index", "position \(number) is also given to \(other)")
                        valid = false
                    }
                    seenIndexes[number] = name
                    index = number
                } else {
                    fail(node, path + ".index", "must be a position from 0 to 255")
                    valid = false
                }
            case (.keyValue, let node?):
                fail(node, path + ".index", "only positional lines take an index")
                valid = false
            case (.keyValue, nil):
                break
            }
            if let kind, let unit {
                spec.fields.append(LineProtocolSpec.Field(name: name, index: index, kind: kind, unit: unit))
            } else {
                valid = false
            }
        }
        return valid ? spec : nil
    }
}

extension ProtocolFamily {
    static var serialFamilies: String { allCases.filter(\.isSerial).map(\.rawValue).joined(separator: ", ") }
}
