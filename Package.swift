// swift-tools-version:6.0
import PackageDescription

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
    ],
    targets: [
        // System-library shims.
        .systemLibrary(
            name: "CLibPQ",
            pkgConfig: "libpq",
            providers: [.apt(["libpq-dev"])]
        ),
        .systemLibrary(
            name: "CMosquitto",
            pkgConfig: "libmosquitto",
            providers: [.apt(["libmosquitto-dev"])]
        ),

        // The domain: no I/O.
        .target(name: "VitalSigns"),
        .target(name: "HL7v2"),
        .target(
            name: "DeviceProfiles",
            dependencies: ["VitalSigns", .product(name: "Yams", package: "Yams")]
        ),
        .target(name: "Decoders", dependencies: ["VitalSigns", "HL7v2"]),

        // I/O at the edges.
        .target(
            name: "Storage",
            dependencies: [
                "VitalSigns", "CLibPQ",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
            ]
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
                "VitalSigns", "HL7v2", "Decoders", "MLLP", "MQTT", "Storage",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
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
                "VitalSigns", "HL7v2", "MLLP", "MQTT",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ]
        ),
        .executableTarget(
            name: "nilecare-vitals",
            dependencies: [
                "VitalSigns", "DeviceProfiles", "Storage", "Ingest", "MQTT", "DeviceSimulator", "Telemetry",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        .executableTarget(
            name: "vitals-bench",
            dependencies: [
                "VitalSigns", "HL7v2", "Decoders", "DeviceProfiles", "Storage", "Ingest", "MQTT", "DeviceSimulator",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "bench/Sources/vitals-bench"
        ),

        // Shared by the test targets: services started per test run, waiting with deadlines.
        .target(
            name: "TestSupport",
            dependencies: ["Storage", "MQTT"],
            path: "Tests/TestSupport"
        ),
        .testTarget(name: "HL7v2Tests", dependencies: ["HL7v2"]),
        .testTarget(name: "DecodersTests", dependencies: ["Decoders", "DeviceProfiles", "DeviceSimulator"]),
        .testTarget(name: "StorageTests", dependencies: ["Storage", "TestSupport"]),
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
                "Ingest", "Storage", "DeviceProfiles", "DeviceSimulator", "TestSupport", "Telemetry",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
    ],
    swiftLanguageModes: [.v6]
)
