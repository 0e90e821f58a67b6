import ArgumentParser

@main
struct NileCareVitals: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "nilecare-vitals",
        abstract: "Device telemetry ingestion and vitals time-series engine.",
        subcommands: [Serve.self, Migrate.self, Demo.self, Simulate.self, Profiles.self, Associate.self, KafkaCommand.self, Thresholds.self]
    )
}
