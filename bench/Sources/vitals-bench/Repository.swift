import Foundation

/// The repository's folders the benchmarks read: migrations, device profiles, the peer scripts.
/// Found from the current directory upwards, else from this source file's location.
struct Repository: Sendable {
    let root: String

    var migrations: String { root + "/timescale" }
    var deviceProfiles: String { root + "/device-profiles" }
    var peers: String { root + "/bench/peers" }

    static func locate() throws -> Repository {
        var candidates: [URL] = []
        var directory = URL(fileURLWithPath: FileManager.default.currentDirectoryPath)
        for _ in 0..<8 {
            candidates.append(directory)
            directory.deleteLastPathComponent()
        }
        // bench/Sources/vitals-bench/Repository.swift → the repository root.
        candidates.append(URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent())
        for candidate in candidates {
            let root = candidate.standardizedFileURL.path
            var isDirectory: ObjCBool = false
            if FileManager.default.fileExists(atPath: root + "/timescale", isDirectory: &isDirectory), isDirectory.boolValue,
               FileManager.default.fileExists(atPath: root + "/device-profiles") {
                return Repository(root: root)
            }
        }
        throw BenchError("cannot find the repository (a folder with timescale/ and device-profiles/); run from inside it")
    }
}

struct BenchError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
