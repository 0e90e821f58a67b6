import Foundation
import VitalSigns
import Yams

/// Reads device profiles from YAML and validates every key, collecting all problems with the
/// file, line and key path where they are.
public enum DeviceProfileLoader {
    /// Loads every `*.yaml` / `*.yml` file of a folder; all files are checked before failing.
    /// As the engine's whole set, the folder must also hold the fallback profile, give each
    /// profile bands for its default population, and let no two profiles claim one sender.
    public static func loadDirectory(_ path: String) throws(ProfileValidationErrors) -> [DeviceProfile] {
        let files: [String]
        do {
            files = try FileManager.default.contentsOfDirectory(atPath: path)
                .filter { $0.lowercased().hasSuffix(".yaml") || $0.lowercased().hasSuffix(".yml") }
                .sorted()
        } catch {
            throw ProfileValidationErrors(errors: [
                ProfileLoadError(file: path, line: nil, key: "", reason: "cannot read folder: \(error.localizedDescription)")
            ])
        }
        var loaded: [(profile: DeviceProfile, file: String)] = []
        var problems: [ProfileLoadError] = []
        for file in files {
            let fullPath = (path as NSString).appendingPathComponent(file)
            do throws(ProfileValidationErrors) {
                loaded.append((try loadFile(fullPath), file))
            } catch {
                problems += error.errors
            }
        }
        var seen: [String: String] = [:]
        var senders: [String: String] = [:]
        for (profile, file) in loaded {
            if let first = seen[profile.id] {
                problems.append(ProfileLoadError(file: file, line: nil, key: "id", reason: "duplicate profile id '\(profile.id)', also in \(first)"))
            }
            seen[profile.id] = file
            // Otherwise the file sorted last would take the sender, silently.
            for application in profile.sendingApplications {
                let key = DeviceProfileCatalog.matchKey(sendingApplication: application)
                if let first = senders[key] {
                    problems.append(ProfileLoadError(file: file, line: nil, key: "match.sending_application",
                                                     reason: "'\(application)' is claimed by \(first) too (case and padding spaces are ignored)"))
                }
                senders[key] = file
            }
            if profile.thresholds[profile.defaultPopulation]?.isEmpty ?? true {
                problems.append(ProfileLoadError(file: file, line: nil, key: "thresholds.\(profile.defaultPopulation.rawValue)",
                                                 reason: "is required: the default population's bands flag critical values, and without them none ever is"))
            }
        }
        // Without it, senders no profile claims would get whichever profile came first, or, in
        // an empty folder, one with no bands at all.
        let fallback = DeviceProfileCatalog.fallbackProfileID
        if problems.isEmpty, seen[fallback] == nil {
            problems.append(ProfileLoadError(file: path, line: nil, key: "",
                                             reason: "no '\(fallback)' profile (*.yaml, *.yml): senders no profile claims need it"))
        }
        guard problems.isEmpty else { throw ProfileValidationErrors(errors: problems) }
        return loaded.map(\.profile)
    }

    public static func loadFile(_ path: String) throws(ProfileValidationErrors) -> DeviceProfile {
        guard let data = FileManager.default.contents(atPath: path), let text = String(data: data, encoding: .utf8) else {
            throw ProfileValidationErrors(errors: [ProfileLoadError(file: path, line: nil, key: "", reason: "cannot read the file as UTF-8 text")])
        }
        return try parse(text, file: path)
    }

    /// Parses one profile from YAML text; `file` names it in errors.
    public static func parse(_ yaml: String, file: String) throws(ProfileValidationErrors) -> DeviceProfile {
        let root: Node
        do {
            guard let node = try Yams.compose(yaml: yaml) else {
                throw ProfileValidationErrors(errors: [ProfileLoadError(file: file, line: nil, key: "", reason: "the file is empty")])
            }
            root = node
        } catch let error as ProfileValidationErrors {
            throw error
        } catch let error as YamlError {
            throw ProfileValidationErrors(errors: [ProfileLoadError(file: file, line: error.line, key: "", reason: "invalid YAML: \(error.problem)")])
        } catch {
            throw ProfileValidationErrors(errors: [ProfileLoadError(file: file, line: nil, key: "", reason: "invalid YAML: \(error)")])
        }
        var reader = ProfileReader(file: file)
        let profile = reader.profile(from: root)
        guard let profile, reader.problems.isEmpty else {
            throw ProfileValidationErrors(errors: reader.problems)
        }
        return profile
    }
}

private extension YamlError {
    var line: Int? {
        switch self {
        case .scanner(_, _, let mark, _), .parser(_, _, let mark, _): mark.line
        default: nil
        }
    }

    var problem: String {
        switch self {
        case .scanner(_, let problem, _, _), .parser(_, let problem, _, _): problem
        default: String(describing: self)
        }
    }
}
