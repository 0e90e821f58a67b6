import ArgumentParser
import Storage

struct Migrate: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Apply the SQL migrations in timescale/ and report the storage mode.")

    @OptionGroup var database: DatabaseOptions
    @OptionGroup var logging: LoggingOptions

    func run() async throws {
        let logger = logging.bootstrap()
        let connection = try PostgresConnection(url: try database.resolvedURL())
        defer { connection.close() }
        let report = try Migrator(directory: database.migrations, logger: logger).migrate(connection)
        print("storage mode: \(report.mode.rawValue)")
        print("applied: \(report.applied.isEmpty ? "nothing new" : report.applied.joined(separator: ", "))")
        print("already applied: \(report.alreadyApplied)")
    }
}
