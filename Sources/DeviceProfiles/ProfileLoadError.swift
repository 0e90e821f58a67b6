/// A problem in a device profile, with where it is: file, line and key.
public struct ProfileLoadError: Error, Sendable, Hashable, CustomStringConvertible {
    public var file: String
    public var line: Int?
    public var key: String
    public var reason: String

    public init(file: String, line: Int?, key: String, reason: String) {
        self.file = file
        self.line = line
        self.key = key
        self.reason = reason
    }

    public var description: String {
        let place = line.map { "\(file):\($0)" } ?? file
        return key.isEmpty ? "\(place): \(reason)" : "\(place): \(key): \(reason)"
    }
}

/// Every problem found while loading, so an engineer can fix a file in one pass.
public struct ProfileValidationErrors: Error, Sendable, CustomStringConvertible {
    public var errors: [ProfileLoadError]

    public var description: String {
        errors.map(\.description).joined(separator: "\n")
    }
}
