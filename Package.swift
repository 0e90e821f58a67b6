// swift-tools-version:6.0
import PackageDescription

/// Modules on the per-observation path export their bodies so callers in other modules can inline
/// and specialize them (accessors of the HL7 model, the ring, the domain types).
let hotPathModule: [SwiftSetting] = [.unsafeFlags(["-cross-module-optimization"])]

let package = Package(
    name: "nilecare-vitals",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "nilecare-vitals", targets: ["nilecare-vitals"]),
        .executable(name: "vitals-bench", targets: ["vitals-bench"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/jpsim/Yams.git", from: "6.2.2"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.1"),
        .package(url: "https://github.com/apple/swift-http-types.git", from: "1.8.0"),
        .package(url: "https://github.com/apple/swift-collections.git", from: "1.6.0"),
    ],
    targets: [
        // System-library shims.
        .systemLibrary(
            name: "CLibPQ",
            pkgConfig: "libpq",
            providers: [.apt(["libpq-dev"])]
        ),
        .systemLibrary(
            name: "CRdKafka",
            pkgConfig: "rdkafka",
            providers: [.apt(["librdkafka-dev"])]
        ),
        .systemLibrary(
            name: "CMosquitto",
            pkgConfig: "libmosquitto",
            providers: [.apt(["libmosquitto-dev"])]
        ),

        // Threads the engine owns, named so the operating system shows them.
        .target(name: "NamedThreads"),

        // The domain: no I/O.
        .target(name: "VitalSigns", swiftSettings: hotPathModule),
        .target(name: "HL7v2", swiftSettings: hotPathModule),
        .target(
            name: "DeviceProfiles",
            dependencies: ["VitalSigns", .product(name: "Yams", package: "Yams")]
        ),
        .target(name: "Decoders", dependencies: ["VitalSigns", "HL7v2"], swiftSettings: hotPathModule),

        // The lock-free ring between the sources and the sinks.
        .target(
            name: "Pipeline",
            dependencies: ["VitalSigns", "NamedThreads", .product(name: "Metrics", package: "swift-metrics")],
            // Lets clients specialize the generic ring for their Element in release builds;
            // without it every entry goes through unspecialized generic code (about 10× slower
            // in `vitals-bench ring`).
            swiftSettings: hotPathModule
        ),

        // I/O at the edges.
        .target(
            name: "Storage",
            dependencies: [
                "VitalSigns", "CLibPQ", "NamedThreads",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
            ]
        ),
        .target(
            name: "Kafka",
            dependencies: ["CRdKafka", "NamedThreads", .product(name: "Logging", package: "swift-log")]
        ),
        .target(
            name: "MLLP",
            dependencies: [.product(name: "NIOCore", package: "swift-nio")]
        ),
        // libmosquitto for Swift: broker URLs, connection options, topic filters.
        .target(
            name: "MQTT",
            dependencies: ["CMosquitto", .product(name: "Logging", package: "swift-log")]
        ),
        .target(
            name: "Ingest",
            dependencies: [
                "VitalSigns", "HL7v2", "Decoders", "MLLP", "MQTT", "Storage", "Pipeline", "NamedThreads",
                .product(name: "DequeModule", package: "swift-collections"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        .target(
            name: "Alerts",
            dependencies: [
                "VitalSigns", "Storage", "Kafka", "NamedThreads",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
            ]
        ),
        .target(
            name: "ClinicalAPI",
            dependencies: [
                "Alerts", "VitalSigns",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            resources: [.copy("Resources")]
        ),
        .target(
            name: "Engine",
            dependencies: [
                "Alerts", "ClinicalAPI", "Decoders", "HL7v2", "Ingest", "Kafka", "Storage", "VitalSigns",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        .target(
            name: "Telemetry",
            dependencies: [
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        .target(
            name: "DeviceSimulator",
            dependencies: [
                "VitalSigns", "HL7v2", "MLLP", "MQTT", "NamedThreads",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ]
        ),
        .executableTarget(
            name: "nilecare-vitals",
            dependencies: [
                "VitalSigns", "DeviceProfiles", "HL7v2", "Storage", "Ingest", "MQTT", "DeviceSimulator", "Telemetry", "Alerts", "ClinicalAPI", "Kafka", "Engine",
                "NamedThreads",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
            ]
        ),
        .executableTarget(
            name: "vitals-bench",
            dependencies: [
                "VitalSigns", "HL7v2", "Decoders", "DeviceProfiles", "Storage", "Ingest", "MQTT", "DeviceSimulator", "Pipeline",
                "Engine", "ClinicalAPI", "Kafka", "TestSupport", "MLLP",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "DequeModule", package: "swift-collections"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            path: "bench/Sources/vitals-bench"
        ),

        // Shared by the test targets: services started per test run, waiting with deadlines.
        .target(
            name: "TestSupport",
            dependencies: ["Storage", "Kafka", "MQTT"],
            path: "Tests/TestSupport"
        ),
        .testTarget(name: "VitalSignsTests", dependencies: ["VitalSigns"]),
        .testTarget(
            name: "CommandLineTests",
            dependencies: [
                "nilecare-vitals", "VitalSigns", "Storage", "TestSupport",
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .testTarget(name: "HL7v2Tests", dependencies: ["HL7v2"]),
        .testTarget(name: "DecodersTests", dependencies: ["Decoders", "DeviceProfiles", "DeviceSimulator", "Pipeline"]),
        .testTarget(name: "StorageTests", dependencies: ["Storage", "TestSupport"]),
        .testTarget(name: "AlertsTests", dependencies: ["Alerts", "Storage", "Kafka", "DeviceProfiles", "TestSupport"]),
        .testTarget(
            name: "EngineTests",
            dependencies: [
                "Engine", "Alerts", "ClinicalAPI", "Ingest", "DeviceProfiles", "DeviceSimulator", "Kafka", "Storage", "TestSupport",
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .testTarget(
            name: "ClinicalAPITests",
            dependencies: [
                "ClinicalAPI", "Alerts", "Storage", "TestSupport", .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        .testTarget(
            name: "KafkaTests",
            dependencies: ["Kafka", "TestSupport", .product(name: "Logging", package: "swift-log")]
        ),
        .testTarget(
            name: "PipelineTests",
            dependencies: ["Pipeline", "TestSupport", .product(name: "MetricsTestKit", package: "swift-metrics")]
        ),
        .testTarget(
            name: "MQTTTests",
            dependencies: [
                "Ingest", "MQTT", "Storage", "DeviceProfiles", "DeviceSimulator", "TestSupport",
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .testTarget(
            name: "IngestTests",
            dependencies: [
                "Ingest", "MLLP", "Pipeline", "Storage", "Decoders", "DeviceProfiles", "DeviceSimulator", "TestSupport", "Telemetry",
                .product(name: "MetricsTestKit", package: "swift-metrics"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .testTarget(
            name: "BrowserTests",
            dependencies: [
                "TestSupport",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ]
        ),
    ],
    swiftLanguageModes: [.v6]
)
