/// The loaded device profiles and the rule for choosing one for a message.
public struct DeviceProfileCatalog: Sendable {
    public let profiles: [DeviceProfile]
    public let fallback: DeviceProfile
    /// Positions in `profiles`, so that a lookup need not copy a profile (a dozen references).
    private let bySendingApplication: [String: Int]

    /// The profile of senders no profile claims.
    public static let fallbackProfileID = "generic-pcd01"

    /// `fallbackID` names the profile used when no profile claims the sender (the generic one).
    public init(profiles: [DeviceProfile], fallbackID: String = fallbackProfileID) {
        self.profiles = profiles
        self.fallback = profiles.first { $0.id == fallbackID } ?? profiles.first ?? DeviceProfile(id: fallbackID)
        var index: [String: Int] = [:]
        for (position, profile) in profiles.enumerated() {
            for application in profile.sendingApplications { index[Self.matchKey(sendingApplication: application)] = position }
        }
        self.bySendingApplication = index
    }

    /// The profile with `id`, or the fallback.
    public func profile(id: String?) -> DeviceProfile {
        guard let id else { return fallback }
        return profiles.first { $0.id == id } ?? fallback
    }

    /// The profile for a sender, by its MSH-3 namespace id.
    public func profile(forSendingApplication application: String) -> DeviceProfile {
        withProfile(forSendingApplication: application) { copy $0 }
    }

    /// Calls `body` with the profile for a sender, lent rather than copied: for the per-message path.
    public func withProfile<R, E: Error>(
        forSendingApplication application: String, _ body: (borrowing DeviceProfile) throws(E) -> R
    ) throws(E) -> R {
        guard let position = bySendingApplication[Self.matchKey(sendingApplication: application)] else {
            return try body(fallback)
        }
        return try body(profiles[position])
    }

    /// How a sending application is compared: case ignored, and the spaces some senders pad
    /// MSH-3 with left out (`IntelliVue ` is `INTELLIVUE`).
    public static func matchKey(sendingApplication application: String) -> String {
        let space = UInt8(ascii: " ")
        guard application.utf8.first == space || application.utf8.last == space else { return application.uppercasedIfNeeded }
        let bytes = Array(application.utf8)
        let start = bytes.firstIndex { $0 != space } ?? bytes.endIndex
        let end = bytes.lastIndex { $0 != space }.map { $0 + 1 } ?? start
        return String(decoding: bytes[start..<max(start, end)], as: UTF8.self).uppercasedIfNeeded
    }
}

extension String {
    /// `uppercased()`, without building a new String for text that has nothing to uppercase
    /// (the common case on the per-message path): only ASCII letters a–z and non-ASCII text can.
    var uppercasedIfNeeded: String {
        let needs = utf8.contains { ($0 >= UInt8(ascii: "a") && $0 <= UInt8(ascii: "z")) || $0 >= 0x80 }
        return needs ? uppercased() : self
    }
}
