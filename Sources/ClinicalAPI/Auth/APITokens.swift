import Alerts
import Foundation

/// Who is calling: a user with a scope of alerts.
public struct Caller: Sendable, Hashable {
    public var user: String
    public var scope: AlertScope

    public init(user: String, scope: AlertScope) {
        self.user = user
        self.scope = scope
    }
}

/// The API's bearer tokens, read from a file of `token user facility [ward]` lines (`#` starts a
/// comment). Tokens are secrets: they live in that file, never in code or on the command line.
public struct APITokens: Sendable {
    private let callers: [String: Caller]

    public init(_ callers: [String: Caller]) {
        self.callers = callers
    }

    /// The shortest token accepted: shorter ones are guessable.
    public static let minimumLength = 16

    public init(contentsOf path: String) throws(APITokensError) {
        guard let data = FileManager.default.contents(atPath: path), let text = String(data: data, encoding: .utf8) else {
            throw APITokensError(path: path, line: nil, message: "cannot read the tokens file")
        }
        try self.init(parsing: text, path: path)
    }

    public init(parsing text: String, path: String = "tokens") throws(APITokensError) {
        var callers: [String: Caller] = [:]
        // Any line ending: in Swift "\r\n" is one Character, which a split on "\n" never finds.
        for (index, rawLine) in text.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline).enumerated() {
            let line = rawLine.split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false).first ?? ""
            let words = line.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\r" }).map(String.init)
            if words.isEmpty { continue }
            let number = index + 1
            guard words.count == 3 || words.count == 4 else {
                throw APITokensError(path: path, line: number, message: "expected `token user facility [ward]`, found \(words.count) words")
            }
            guard words[0].count >= Self.minimumLength else {
                throw APITokensError(path: path, line: number, message: "token shorter than \(Self.minimumLength) characters")
            }
            guard callers[words[0]] == nil else {
                throw APITokensError(path: path, line: number, message: "token repeated")
            }
            callers[words[0]] = Caller(user: words[1], scope: AlertScope(facility: words[2], ward: words.count == 4 ? words[3] : nil))
        }
        self.callers = callers
    }

    public func caller(forToken token: String) -> Caller? { callers[token] }

    /// The users whose tokens name another facility than `facility`, sorted: on an engine serving
    /// `facility` their screens would show no alerts at all, which must not pass unnoticed.
    public func users(outside facility: String) -> [String] {
        callers.values.filter { $0.scope.facility != facility }.map(\.user).sorted()
    }

    public var isEmpty: Bool { callers.isEmpty }
}

public struct APITokensError: Error, Sendable, CustomStringConvertible {
    public var path: String
    public var line: Int?
    public var message: String

    public var description: String {
        "\(path)\(line.map { ":\($0)" } ?? ""): \(message)"
    }
}
