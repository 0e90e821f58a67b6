import Foundation

/// Runs a command to completion; its output goes through temporary files (no pipe to fill up).
/// `whileRunning` is called with the child's pid every 100 ms until it exits.
func runCommand(_ executable: String, _ arguments: [String], environment: [String: String]? = nil,
                whileRunning: ((Int32) -> Void)? = nil) throws -> (status: Int32, output: String, errors: String) {
    let base = NSTemporaryDirectory() + "/vitals-bench-cmd-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
    let outPath = base + ".out", errPath = base + ".err"
    guard FileManager.default.createFile(atPath: outPath, contents: nil), FileManager.default.createFile(atPath: errPath, contents: nil) else {
        throw BenchError("cannot create temporary files next to \(base)")
    }
    defer {
        try? FileManager.default.removeItem(atPath: outPath)
        try? FileManager.default.removeItem(atPath: errPath)
    }
    let out = try FileHandle(forWritingTo: URL(fileURLWithPath: outPath))
    let err = try FileHandle(forWritingTo: URL(fileURLWithPath: errPath))
    defer {
        try? out.close()
        try? err.close()
    }
    let process = Process()
    process.executableURL = URL(fileURLWithPath: executable)
    process.arguments = arguments
    if let environment { process.environment = environment }
    process.standardInput = FileHandle.nullDevice
    process.standardOutput = out
    process.standardError = err
    try process.run()
    if let whileRunning {
        while process.isRunning {
            whileRunning(process.processIdentifier)
            usleep(100_000)
        }
    }
    process.waitUntilExit()
    return (process.terminationStatus,
            (try? String(contentsOfFile: outPath, encoding: .utf8)) ?? "",
            (try? String(contentsOfFile: errPath, encoding: .utf8)) ?? "")
}

/// The first executable called `name` on PATH (then in `extra` folders).
func findExecutable(_ name: String, extra: [String] = []) -> String? {
    let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/local/bin:/usr/bin:/bin"
    for folder in path.split(separator: ":").map(String.init) + extra {
        let candidate = folder + "/" + name
        if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
    }
    return nil
}
