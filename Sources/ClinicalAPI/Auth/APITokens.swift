import Alerts
import Foundation

/// What a caller may do to the alerts of its scope beyond seeing them, which every token may.
public struct AlertPermissions: OptionSet, Sendable, Hashable {
    public let rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue }

    public static let acknowledge = AlertPermissions(rawValue: 1 << 0)
    public static let resolve = AlertPermissions(rawValue: 1 << 1)
    public static let all: AlertPermissions = [.acknowledge, .resolve]

    /// The words of a tokens file's `can=` list; `view` adds nothing, every token can view.
    static let words: [(word: String, permissions: AlertPermissions)] = [("view", []), ("acknowledge", .acknowledge), ("resolve", .resolve)]

    /// As the tokens file writes them: `["view", "acknowledge"]`.
    public var names: [String] { Self.words.filter { isSuperset(of: $0.permissions) }.map(\.word) }
}

/// Who is calling: a user with a scope of alerts, and what it may do to them.
public struct Caller: Sendable, Hashable {
    public var user: String
    public var scope: AlertScope
    public var permissions: AlertPermissions

    public init(user: String, scope: AlertScope, permissions: AlertPermissions = .all) {
        self.user = user
        self.scope = scope
        self.permissions = permissions
    }
}

/// The API's bearer tokens, read from a file of `token user facility [ward] [can=…]` lines (`#`
/// starts a comment). `can=view` gives a screen that only shows alerts (a corridor display, say);
/// `can=view,acknowledge` one that cannot resolve; without `can=` a token may do all three.
/// Tokens are secrets: they live in that file, never in code or on the command line.
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
            var words = line.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\r" }).map(String.init)
            if words.isEmpty { continue }
            let number = index + 1
            // After the token (which could begin with anything), `can=` may only come last.
            guard !words.dropFirst().dropLast().contains(where: { $0.hasPrefix(Self.permissionsPrefix) }) else {
                throw APITokensError(path: path, line: number, message: "`can=…` must be the line's last word, with no spaces in its list")
            }
            var permissions = AlertPermissions.all
            let givesPermissions = words.count > 1 && words[words.count - 1].hasPrefix(Self.permissionsPrefix)
            if givesPermissions {
                permissions = try Self.permissions(words.removeLast().dropFirst(Self.permissionsPrefix.count), path: path, line: number)
            }
            guard words.count == 3 || words.count == 4 else {
                throw APITokensError(path: path, line: number, message: "expected `token user facility [ward] [can=…]`, found \(words.count) words\(givesPermissions ? " before `can=`" : "")")
            }
            guard words[0].count >= Self.minimumLength else {
                throw APITokensError(path: path, line: number, message: "token shorter than \(Self.minimumLength) characters")
            }
            guard callers[words[0]] == nil else {
                throw APITokensError(path: path, line: number, message: "token repeated")
            }
            callers[words[0]] = Caller(
                user: words[1], scope: AlertScope(facility: words[2], ward: words.count == 4 ? words[3] : nil), permissions: permissions)
        }
        self.callers = callers
    }

    private static let permissionsPrefix = "can="

    /// `view,acknowledge`: what a `can=` list grants.
    private static func permissions(_ list: Substring, path: String, line: Int) throws(APITokensError) -> AlertPermissions {
        var permissions: AlertPermissions = []
        let known = AlertPermissions.words.map(\.word).joined(separator: ", ")
        guard !list.isEmpty else {
            throw APITokensError(path: path, line: line, message: "`can=` names nothing; list some of \(known)")
        }
        for word in list.split(separator: ",", omittingEmptySubsequences: false) {
            guard let granted = AlertPermissions.words.first(where: { $0.word == word })?.permissions else {
                throw APITokensError(path: path, line: line, message: "unknown permission `\(word)` in `can=`; known: \(known)")
            }
            permissions.formUnion(granted)
        }
        // Resolving ends an alert, acknowledged or not: a token that may resolve could do
        // what acknowledging does and more, so it must be allowed both, as written.
        guard !permissions.contains(.resolve) || permissions.contains(.acknowledge) else {
            throw APITokensError(path: path, line: line, message: "`resolve` needs `acknowledge` in the same `can=` list")
        }
        return permissions
    }

    /// The caller a token names. Every known token is compared, each in time that depends on its
    /// own length only: a dictionary lookup ends in a `String ==` that stops at the first byte that
    /// differs, which tells a guesser by its timing how much of a guess was right.
    public func caller(forToken token: String) -> Caller? {
        let candidate = Array(token.utf8)
        var found: Caller?
        for (known, caller) in callers where Self.constantTimeEquals(candidate, known) {
            found = caller
        }
        return found
    }

    private static func constantTimeEquals(_ candidate: [UInt8], _ known: String) -> Bool {
        var difference = UInt(bitPattern: candidate.count ^ known.utf8.count)
        for (index, byte) in known.utf8.enumerated() {
            difference |= UInt(byte ^ (index < candidate.count ? candidate[index] : 0))
        }
        return difference == 0
    }

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
