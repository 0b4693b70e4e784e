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
        // The live trade feeds' WebSocket client (LiveFeed only): NIO's upgrader and frame codec, NIOSSL for TLS.
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-nio-ssl", from: "2.37.6"),
    ],
    targets: [
        // C libraries, through pkg-config (Debian's -dev packages).
        .systemLibrary(name: "CSQLite3", pkgConfig: "sqlite3", providers: [.apt(["libsqlite3-dev"])]),
        .systemLibrary(name: "CCrypto", pkgConfig: "libcrypto", providers: [.apt(["libssl-dev"])]),
        .systemLibrary(name: "CCurl", pkgConfig: "libcurl", providers: [.apt(["libcurl4-openssl-dev"])]),
        .systemLibrary(name: "CMariaDB", pkgConfig: "libmariadb", providers: [.apt(["libmariadb-dev"])]),
        .systemLibrary(name: "CRdKafka", pkgConfig: "rdkafka", providers: [.apt(["librdkafka-dev"])]),
        .systemLibrary(name: "CPostgres", pkgConfig: "libpq", providers: [.apt(["libpq-dev"])]),

        .target(name: "Diagnostics"),
        .target(name: "Checksum", dependencies: ["CCrypto"]),
        .target(name: "Manifest", dependencies: ["Diagnostics", .product(name: "Yams", package: "Yams")]),
        // The StarRocks variant's SQL (primary-key tables, Routine Load) and its host preflight; pure.
        .target(name: "StarRocks", dependencies: ["Manifest", "Diagnostics"]),
        .target(name: "Render", dependencies: [
            "Manifest", "Diagnostics", "Checksum", "StarRocks",
            .product(name: "Mustache", package: "swift-mustache"),
        ]),
        .target(name: "State", dependencies: ["CSQLite3", "Diagnostics"]),
        .target(name: "Kafka", dependencies: ["CRdKafka", "Diagnostics"]),
        .target(name: "HTTP", dependencies: ["CCurl", "Diagnostics"]),
        .target(name: "MySQL", dependencies: ["CMariaDB", "Diagnostics"]),
        // libpq, wrapped once: connections, parameterised statements, transactions, PostgresError.
        .target(name: "Postgres", dependencies: ["CPostgres", "Diagnostics"]),
        .target(name: "Connect", dependencies: ["HTTP", "Polling", "Diagnostics"]),
        .target(name: "ClickHouse", dependencies: ["HTTP", "Diagnostics"]),
        .target(name: "Runtime", dependencies: ["Diagnostics"]),
        // Stream engine: pure logic (decoding, windows, anomaly rules); Kafka and ClickHouse adapters live elsewhere.
        .target(name: "Processor", dependencies: ["Diagnostics", "Manifest"]),
        // Long-running services: the Service protocol, shared signal handling, the /metrics server.
        .target(name: "Telemetry", dependencies: ["Diagnostics"]),
        // The engine between a Kafka source and a ClickHouse sink, exactly-once effect.
        .target(name: "ProcessorRuntime", dependencies: ["Processor", "Kafka", "ClickHouse", "Diagnostics", "Telemetry"]),
        // The processor's PostgreSQL loop: rows and offsets in one transaction per batch (docs/postgres.md).
        .target(name: "PostgresSink", dependencies: ["Postgres", "Processor", "Kafka", "Polling", "Telemetry", "Diagnostics"]),
        // What spans modules, split by capability family on a small core (docs/architecture.md).
        // Core: workspace (manifest, state dir, secrets), journal, progress, deadlines and retries.
        .target(name: "Polling", dependencies: ["Diagnostics"]),
        // templates/ and manifests/ compiled in (scripts/embed-builtin-files), so a copied binary is whole.
        .target(name: "BuiltinFiles"),
        .target(name: "OperationsCore", dependencies: ["Manifest", "Render", "State", "ClickHouse", "Postgres", "Polling", "BuiltinFiles", "Diagnostics", "Checksum"]),
        .target(name: "TopicAdmin", dependencies: ["OperationsCore", "Kafka", "Manifest", "Polling", "Diagnostics"]),
        .target(name: "SchemaAdmin", dependencies: ["OperationsCore", "ClickHouse", "Manifest", "Render", "State", "Diagnostics", "Checksum",
                                                    "StarRocks", "MySQL", "Postgres"]),
        .target(name: "Connectors", dependencies: ["OperationsCore", "Connect", "MySQL", "HTTP", "Manifest", "Render", "Polling", "Diagnostics", "AccessAudit"]),
        .target(name: "Processing", dependencies: ["OperationsCore", "Processor", "ProcessorRuntime", "PostgresSink", "Postgres", "Telemetry", "Kafka", "ClickHouse", "HTTP", "Manifest", "Diagnostics"]),
        .target(name: "Stack", dependencies: ["StarRocks", "OperationsCore", "HostServices", "TopicAdmin", "SchemaAdmin", "Connectors", "Runtime", "Kafka", "Connect", "ClickHouse", "HTTP", "Manifest", "Render", "State", "Polling", "Diagnostics", "Checksum"]),
        // The one door to WebSocket servers (Upbit, KIS): the only module that imports NIO.
        .target(name: "LiveFeed", dependencies: [
            "Diagnostics",
            .product(name: "NIOCore", package: "swift-nio"), .product(name: "NIOPosix", package: "swift-nio"),
            .product(name: "NIOHTTP1", package: "swift-nio"), .product(name: "NIOWebSocket", package: "swift-nio"),
            .product(name: "NIOSSL", package: "swift-nio-ssl"),
        ]),
        // Producers: the order generator (MySQL) and the trade feeds (Kafka); pure generators apart from thin writers.
        .target(name: "Producers", dependencies: ["OperationsCore", "Manifest", "MySQL", "Kafka", "Processor", "Polling", "Diagnostics", "LiveFeed", "HTTP", "Telemetry"]),
        .target(name: "Benchmarks", dependencies: ["OperationsCore", "TopicAdmin", "Kafka", "Processor", "Producers", "MySQL", "Polling", "BuiltinFiles", "Manifest", "Diagnostics",
                                                  "Postgres", "PostgresSink", "Render", "Telemetry"]),
        // failover-test: pure verdicts over a run's history, and the thin code that drives the world.
        .target(name: "Drills", dependencies: ["OperationsCore", "Reports", "Telemetry", "Producers", "MySQL", "ClickHouse", "TopicAdmin", "Kafka", "Runtime", "Connect", "HTTP", "Manifest", "Polling", "State", "Diagnostics"]),
        // Reports on the running cluster (memory) and the one SVG/HTML chart writer every picture shares.
        .target(name: "Reports", dependencies: ["OperationsCore", "Runtime", "State", "Manifest", "Render", "HTTP", "Telemetry", "Diagnostics"]),
        // Least privilege: who can reach what (cdcctl audit) — pure rules, and each MySQL user's own grants.
        .target(name: "AccessAudit", dependencies: ["Manifest", "MySQL", "Diagnostics"]),
        // bench e2e (every hop timed), trace, the run ledger (bench_runs, regressions).
        .target(name: "EndToEnd", dependencies: ["OperationsCore", "ProcessorRuntime", "Processor", "Producers", "Kafka", "ClickHouse", "MySQL",
                                                 "State", "Reports", "Manifest", "Polling", "Telemetry", "Diagnostics"]),
        // systemd units for the host processes (processor, producers, monitor) and their state.
        .target(name: "HostServices", dependencies: ["Manifest"]),
        // cdcctl monitor: the whole stack's /metrics (pure collectors → families; thin readers of each system).
        .target(name: "Monitor", dependencies: ["OperationsCore", "TopicAdmin", "Connectors", "Reports", "Telemetry", "Kafka", "Connect", "MySQL", "ClickHouse", "HTTP", "Runtime", "Manifest", "Diagnostics"]),
        .executableTarget(name: "cdcctl", dependencies: [
            "OperationsCore", "Stack", "TopicAdmin", "SchemaAdmin", "Connectors", "Processing", "Benchmarks", "Producers", "Drills",
            "Reports", "AccessAudit", "EndToEnd", "Monitor", "HostServices", "Render", "Telemetry", "Runtime", "State", "MySQL", "Polling", "Manifest", "Diagnostics",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),

        // Test helpers shared by the test targets (real tools, CI's no-skip rule, temp dirs).
        .target(name: "TestSupport", dependencies: ["Runtime", "Diagnostics"], path: "Tests/TestSupport"),
        .testTarget(name: "ManifestTests", dependencies: ["Manifest", "TestSupport"]),
        .testTarget(name: "RenderTests", dependencies: ["Render", "Manifest", "TestSupport", "Checksum", .product(name: "Yams", package: "Yams")], exclude: ["Golden"]),
        .testTarget(name: "StateTests", dependencies: ["State", "TestSupport"]),
        .testTarget(name: "HTTPTests", dependencies: ["HTTP", "Diagnostics", "TestSupport"]),
        .testTarget(name: "PollingTests", dependencies: ["Polling", "Diagnostics"]),
        .testTarget(name: "BuiltinFilesTests", dependencies: ["BuiltinFiles", "TestSupport"]),
        .testTarget(name: "ClickHouseTests", dependencies: ["ClickHouse", "Diagnostics", "TestSupport"]),
        .testTarget(name: "RuntimeTests", dependencies: ["Runtime", "Diagnostics", "TestSupport"]),
        .testTarget(name: "TestbedTests", dependencies: ["Connect", "HTTP", "Kafka", "MySQL", "TestSupport"]),
        .testTarget(name: "ProcessorTests", dependencies: ["Processor", "Manifest", "Diagnostics"]),
        .testTarget(name: "ProcessorRuntimeTests", dependencies: ["ClickHouse", "Kafka", "TestSupport", "ProcessorRuntime", "Processor", "Telemetry"]),
        .testTarget(name: "KafkaTests", dependencies: ["Kafka", "Diagnostics", "TestSupport"]),
        .testTarget(name: "TopicAdminTests", dependencies: ["TopicAdmin", "Kafka", "Manifest", "TestSupport"]),
        .testTarget(name: "SchemaAdminTests", dependencies: ["SchemaAdmin", "OperationsCore", "ClickHouse", "Manifest", "Render", "State", "Checksum", "Diagnostics", "TestSupport"]),
        .testTarget(name: "ConnectorsTests", dependencies: ["Connectors", "Connect", "HTTP", "Kafka", "MySQL", "Manifest", "TestSupport"]),
        .testTarget(name: "StackTests", dependencies: ["Stack", "OperationsCore", "Runtime", "Manifest", "State", "Kafka", "MySQL", "Diagnostics", "TestSupport"]),
        .testTarget(name: "DrillsTests", dependencies: ["Drills", "Reports", "Telemetry", "TopicAdmin", "Runtime", "Polling", "Diagnostics", "State", "TestSupport"]),
        .testTarget(name: "ProducersTests", dependencies: ["Producers", "Processor", "Polling", "MySQL", "Kafka", "ClickHouse", "Manifest", "TestSupport", "LiveFeed"], exclude: ["Fixtures"]),
        .testTarget(name: "ReportsTests", dependencies: ["Reports", "State", "Runtime", "Manifest", "TestSupport"], exclude: ["Fixtures"]),
        .testTarget(name: "StarRocksTests", dependencies: ["StarRocks", "Render", "Manifest", "Diagnostics", "TestSupport",
                                                        .product(name: "Yams", package: "Yams")], exclude: ["Golden"]),
        .testTarget(name: "EndToEndTests", dependencies: ["EndToEnd", "State", "Reports", "Kafka", "MySQL", "ClickHouse", "TestSupport"]),
        .testTarget(name: "MonitorTests", dependencies: ["Monitor", "HostServices", "Reports", "TopicAdmin", "Connect", "Connectors", "Kafka", "MySQL", "Manifest", "OperationsCore", "Render", "ProcessorRuntime", "PostgresSink", "TestSupport", .product(name: "Yams", package: "Yams")], exclude: ["Fixtures"]),
        .testTarget(name: "HostServicesTests", dependencies: ["HostServices", "Manifest", "TestSupport"]),
        .testTarget(name: "CLITests", dependencies: ["OperationsCore", "State", "Manifest", "TestSupport"]),
        .testTarget(name: "PostgresTests", dependencies: ["Postgres", "Diagnostics", "TestSupport"]),
        .testTarget(name: "PostgresSinkTests", dependencies: ["PostgresSink", "Postgres", "Processor", "Kafka", "SchemaAdmin", "OperationsCore",
                                                           "Manifest", "Telemetry", "Polling", "ClickHouse", "Diagnostics", "TestSupport"]),
        .testTarget(name: "AccessAuditTests", dependencies: ["AccessAudit", "Connectors", "SchemaAdmin", "Render", "Manifest", "ClickHouse", "HTTP", "MySQL", "Checksum", "Diagnostics", "TestSupport"]),
    ]
)
