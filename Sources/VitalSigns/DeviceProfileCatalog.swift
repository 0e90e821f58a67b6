/// The loaded device profiles and the rule for choosing one for a message.
public struct DeviceProfileCatalog: Sendable {
    public let profiles: [DeviceProfile]
    public let fallback: DeviceProfile
    private let bySendingApplication: [String: DeviceProfile]

    /// `fallbackID` names the profile used when no profile claims the sender (the generic one).
    public init(profiles: [DeviceProfile], fallbackID: String = "generic-pcd01") {
        self.profiles = profiles
        self.fallback = profiles.first { $0.id == fallbackID } ?? profiles.first ?? DeviceProfile(id: fallbackID)
        var index: [String: DeviceProfile] = [:]
        for profile in profiles {
            for application in profile.sendingApplications { index[application.uppercased()] = profile }
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
        let hasLowercase = application.utf8.contains { $0 >= UInt8(ascii: "a") && $0 <= UInt8(ascii: "z") }
        return bySendingApplication[hasLowercase ? application.uppercased() : application] ?? fallback
    }
}
