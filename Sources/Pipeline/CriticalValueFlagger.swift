import VitalSigns

/// The pipeline's first stage: marks each observation critical or not by its device profile's
/// bands for the profile's population, before anything stores or announces it. A pure function
/// of the observation and the profile, cheap enough for every observation (no hashing, no
/// allocation: `DeviceProfile.classify` reads a flat table).
public struct CriticalValueFlagger: Sendable {
    public let profiles: DeviceProfileCatalog

    public init(profiles: DeviceProfileCatalog) {
        self.profiles = profiles
    }

    public func flag(_ observations: inout [Observation], profileID: String?) {
        guard !observations.isEmpty else { return }
        let profile = profiles.profile(id: profileID)
        for index in observations.indices {
            let kind = observations[index].kind
            observations[index].isCritical = kind != .unknown && profile.classify(kind, value: observations[index].value) == .critical
        }
    }
}
