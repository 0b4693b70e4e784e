// swift-tools-version:6.0
import PackageDescription

// Module map: see docs/architecture.md. Each C library is wrapped by exactly one Swift module.
let package = Package(
    name: "cdcctl",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "cdcctl", targets: ["cdcctl"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
        .package(url: "https://github.com/hummingbird-project/swift-mustache", from: "2.1.1"),
    ],
    targets: [
        // C libraries, through pkg-config (Debian's -dev packages).
        .systemLibrary(name: "CSQLite3", pkgConfig: "sqlite3", providers: [.apt(["libsqlite3-dev"])]),
        .systemLibrary(name: "CCrypto", pkgConfig: "libcrypto", providers: [.apt(["libssl-dev"])]),
        .systemLibrary(name: "CCurl", pkgConfig: "libcurl", providers: [.apt(["libcurl4-openssl-dev"])]),
        .systemLibrary(name: "CMariaDB", pkgConfig: "libmariadb", providers: [.apt(["libmariadb-dev"])]),
        .systemLibrary(name: "CRdKafka", pkgConfig: "rdkafka", providers: [.apt(["librdkafka-dev"])]),

        .target(name: "Diagnostics"),
        .target(name: "Checksum", dependencies: ["CCrypto"]),
        .target(name: "Manifest", dependencies: ["Diagnostics", .product(name: "Yams", package: "Yams")]),
        .target(name: "Render", dependencies: [
            "Manifest", "Diagnostics", "Checksum",
            .product(name: "Mustache", package: "swift-mustache"),
        ]),
        .target(name: "State", dependencies: ["CSQLite3", "Diagnostics"]),
        .target(name: "Kafka", dependencies: ["CRdKafka", "Diagnostics"]),
        .target(name: "HTTP", dependencies: ["CCurl", "Diagnostics"]),
        .target(name: "MySQL", dependencies: ["CMariaDB", "Diagnostics"]),
        .target(name: "Connect", dependencies: ["HTTP", "Diagnostics"]),
        .target(name: "ClickHouse", dependencies: ["HTTP", "Diagnostics"]),
        .target(name: "Runtime", dependencies: ["Diagnostics"]),
        // Stream engine: pure logic (decoding, windows, anomaly rules); Kafka and ClickHouse adapters live elsewhere.
        .target(name: "Processor", dependencies: ["Diagnostics", "Manifest"]),
        // Long-running services: the Service protocol, shared signal handling, the /metrics server.
        .target(name: "Telemetry", dependencies: ["Diagnostics"]),
        // The engine between a Kafka source and a ClickHouse sink, exactly-once effect.
        .target(name: "ProcessorRuntime", dependencies: ["Processor", "Kafka", "ClickHouse", "Diagnostics", "Telemetry"]),
        .target(name: "Operations", dependencies: ["Manifest", "Render", "State", "Kafka", "HTTP", "Connect", "MySQL", "ClickHouse", "Processor", "ProcessorRuntime", "Runtime", "Diagnostics", "Checksum", "Telemetry"]),
        .executableTarget(name: "cdcctl", dependencies: [
            "Operations", "Manifest", "Diagnostics", "Connect", "Processor", "Runtime",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),

        // Test helpers shared by the test targets (real tools, CI's no-skip rule, temp dirs).
        .target(name: "TestSupport", path: "Tests/TestSupport"),
        .testTarget(name: "ManifestTests", dependencies: ["Manifest", "TestSupport"]),
        .testTarget(name: "RenderTests", dependencies: ["Render", "Manifest", "TestSupport", "Checksum", .product(name: "Yams", package: "Yams")], exclude: ["Golden"]),
        .testTarget(name: "StateTests", dependencies: ["State", "TestSupport"]),
        .testTarget(name: "KafkaTests", dependencies: ["Kafka", "Operations", "Manifest", "TestSupport"]),
        .testTarget(name: "ConnectTests", dependencies: ["Connect", "HTTP", "Kafka", "MySQL", "Operations", "Manifest", "TestSupport"]),
        .testTarget(name: "HTTPTests", dependencies: ["HTTP", "Diagnostics", "TestSupport"]),
        .testTarget(name: "TestbedTests", dependencies: ["Connect", "HTTP", "Kafka", "MySQL", "TestSupport"]),
        .testTarget(name: "ClickHouseTests", dependencies: ["ClickHouse", "Operations", "Manifest", "Render", "State", "Checksum", "Diagnostics", "TestSupport"]),
        .testTarget(name: "ProcessorTests", dependencies: ["Processor", "Manifest", "Diagnostics"]),
        .testTarget(name: "ProcessorRuntimeTests", dependencies: ["ClickHouse", "Kafka", "TestSupport", "ProcessorRuntime", "Processor", "Telemetry"]),
        .testTarget(name: "OperationsTests", dependencies: ["Operations", "State", "Manifest", "TestSupport"]),
        .testTarget(name: "RuntimeTests", dependencies: ["Runtime", "Diagnostics", "TestSupport"]),
        .testTarget(name: "UpTests", dependencies: ["Operations", "Runtime", "Manifest", "State", "Kafka", "MySQL", "TestSupport"]),
    ]
)
