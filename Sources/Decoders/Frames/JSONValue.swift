/// A parsed JSON document, walked by the JSON payload decoders. `JSONReader` builds it; it keeps
/// JSON's own types, so a boolean is never mistaken for a number.
enum JSONValue: Sendable, Equatable {
    case null
    case bool(Bool)
    /// Always finite: the reader refuses numbers beyond a `Double`'s range.
    case number(Double)
    case string(String)
    case array([JSONValue])
    case object(JSONObject)

    /// The payload as one JSON object, or `invalid_json` saying why not and at which byte.
    static func object(parsing bytes: [UInt8]) throws(FrameDecodeError) -> JSONObject {
        let value: JSONValue
        do {
            value = try JSONReader.parse(bytes)
        } catch {
            throw FrameDecodeError(reason: "invalid_json", detail: "the payload is not JSON: \(error)")
        }
        guard case .object(let members) = value else {
            throw FrameDecodeError(reason: "invalid_json", detail: "the payload is JSON but not an object (found \(value.typeName))")
        }
        return members
    }
    var string: String? { if case .string(let value) = self { value } else { nil } }
    var number: Double? { if case .number(let value) = self { value } else { nil } }
    var array: [JSONValue]? { if case .array(let value) = self { value } else { nil } }
    var object: JSONObject? { if case .object(let value) = self { value } else { nil } }

    subscript(key: String) -> JSONValue? { object?[key] }

    /// A member by key, or by a dotted path into nested objects (`vitals.hr`) when no member
    /// has the whole text as its key.
    func value(atPath path: String) -> JSONValue? {
        if let direct = self[path] { return direct }
        var current = self
        for key in path.split(separator: ".", omittingEmptySubsequences: false) {
            guard let next = current[String(key)] else { return nil }
            current = next
        }
        return current
    }

    /// A string, or a whole number written as JSON number, as text (ids are sent both ways).
    var identifierText: String? {
        switch self {
        case .string(let text): return text.isEmpty ? nil : text
        case .number(let number) where number == number.rounded() && abs(number) < 9.0e15: return String(Int64(number))
        default: return nil
        }
    }

    /// What a value is, for error details.
    var typeName: String {
        switch self {
        case .null: "null"
        case .bool: "a boolean"
        case .number: "a number"
        case .string: "a text"
        case .array: "a list"
        case .object: "an object"
        }
    }
}
