import ArgumentParser
import Foundation
import Logging
import Storage

/// Options every subcommand that talks to the database shares.
struct DatabaseOptions: ParsableArguments {
    @Option(name: .customLong("database-url"), help: "PostgreSQL URL without a password (default: $NILECARE_DATABASE_URL).")
    var url: String?

    @Option(name: .customLong("database-url-file"), help: "A file holding the PostgreSQL URL (keeps the password out of the process list).")
    var urlFile: String?

    @Option(help: "Folder of ordered SQL migrations.")
    var migrations: String = RepositoryPaths.locate("timescale")

    func resolvedURL() throws -> String {
        if let url {
            // Every user of the machine can read a command line (ps, /proc).
            guard !PostgresConnection.hasPassword(url) else {
                throw ValidationError("--database-url carries a password, which every user of this machine can read in the process list: put the URL in NILECARE_DATABASE_URL or a file for --database-url-file (or the password in ~/.pgpass)")
            }
            return url
        }
        if let urlFile {
            guard let text = try? String(contentsOfFile: urlFile, encoding: .utf8) else {
                throw ValidationError("cannot read the database URL file \(urlFile)")
            }
            let url = text.trimmingCharacters(in: .whitespacesAndNewlines)
            // Empty, libpq would connect to its defaults: some other local database.
            guard !url.isEmpty else { throw ValidationError("the database URL file \(urlFile) is empty") }
            return url
        }
        if let url = ProcessInfo.processInfo.environment["NILECARE_DATABASE_URL"], !url.isEmpty { return url }
        throw ValidationError("no database: pass --database-url, --database-url-file or set NILECARE_DATABASE_URL")
    }
}

struct LoggingOptions: ParsableArguments {
    @Option(help: "Log level: trace, debug, info, notice, warning, error, critical. Patient data appears only at debug and below.")
    var logLevel: Logger.Level = .info

    func bootstrap(label: String = "nilecare.vitals") -> Logger {
        let level = logLevel
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        return Logger(label: label)
    }
}

extension Logger.Level: @retroactive ExpressibleByArgument {}

/// Finds the repository's data folders (`timescale/`, `device-profiles/`) from the working
/// directory or from where the executable lives, so the binary works from the checkout.
enum RepositoryPaths {
    static func locate(_ folder: String) -> String {
        let fileManager = FileManager.default
        var candidates = [fileManager.currentDirectoryPath]
        var executable = URL(fileURLWithPath: CommandLine.arguments.first ?? "").resolvingSymlinksInPath().deletingLastPathComponent()
        for _ in 0..<6 {
            candidates.append(executable.path)
            executable.deleteLastPathComponent()
        }
        for base in candidates {
            let path = (base as NSString).appendingPathComponent(folder)
            var isDirectory: ObjCBool = false
            if fileManager.fileExists(atPath: path, isDirectory: &isDirectory), isDirectory.boolValue { return path }
        }
        return folder
    }
}

/// Where the Prometheus metrics and the health answer are served.
struct TelemetryOptions: ParsableArguments {
    @Option(help: "Address of the metrics endpoint (GET /metrics, GET /health).")
    var metricsHost: String = "127.0.0.1"

    @Option(help: "Port of the metrics endpoint (0 picks a free one).")
    var metricsPort: Int = 9464
}

/// A duration option given in seconds: finite and at most a day, so that `inf` or `1e20` is a
/// validation error rather than a trap when it is turned into a `Duration`.
func validateSeconds(_ value: Double, _ option: String, mayBeZero: Bool = false) throws {
    let lowest = mayBeZero ? "not be negative" : "be positive"
    guard value.isFinite, mayBeZero ? value >= 0 : value > 0 else { throw ValidationError("--\(option) must \(lowest)") }
    guard value <= 86_400 else { throw ValidationError("--\(option) must be at most 86400 (a day)") }
}
