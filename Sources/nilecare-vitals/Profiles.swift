import ArgumentParser
import DeviceProfiles

struct Profiles: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Work with device profiles.",
        subcommands: [Check.self]
    )

    struct Check: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Validate every device profile without starting anything.")

        @Argument(help: "Folder of device profiles.")
        var folder: String = RepositoryPaths.locate("device-profiles")

        func run() async throws {
            do {
                let profiles = try DeviceProfileLoader.loadDirectory(folder)
                for profile in profiles {
                    print("ok  \(profile.id)  \(profile.manufacturer) \(profile.model)")
                }
            } catch {
                print(error.description)
                throw ExitCode.failure
            }
        }
    }
}
