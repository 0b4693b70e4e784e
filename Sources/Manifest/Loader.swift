import Diagnostics
import Foundation
import Yams

/// A manifest together with where each field was written, for error messages.
public struct LoadedManifest: Sendable {
    public var manifest: Manifest
    public var file: String
    public var text: String
    public var locations: [String: SourceLocation]

    /// The location of a field, or of its nearest written parent when it was defaulted.
    public func location(of path: String) -> SourceLocation? {
        var p = path
        while true {
            if let loc = locations[p] { return loc }
            guard let cut = p.lastIndex(where: { $0 == "." || $0 == "[" }) else { return nil }
            p = String(p[..<cut])
        }
    }
}

public enum ManifestLoader {
    /// Reads and checks a manifest file. Throws `CdcErrors` with every problem found.
    /// A directory stands for the `cdcctl.yaml` in it (the name `cdcctl init` writes).
    public static func load(path given: String, environment: [String: String] = ProcessInfo.processInfo.environment) throws -> LoadedManifest {
        let path = try resolve(given)
        guard let data = FileManager.default.contents(atPath: path) else {
            let exists = FileManager.default.fileExists(atPath: path)
            throw CdcErrors([.invalid(exists ? "cannot read the file" : "no such file", subject: path,
                                      fix: exists ? "check its permissions" : "pass --manifest PATH, or run `cdcctl init` to write a default cdcctl.yaml")])
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw CdcErrors([.invalid("is not UTF-8 text", subject: path, fix: "save the manifest as UTF-8")])
        }
        return try parse(text, file: path, environment: environment)
    }

    /// The manifest file `path` names: itself, or `<dir>/cdcctl.yaml` when it is a directory.
    public static func resolve(_ path: String) throws -> String {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), isDirectory.boolValue else { return path }
        let inside = (path as NSString).appendingPathComponent(defaultFileName)
        var insideIsDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: inside, isDirectory: &insideIsDirectory), !insideIsDirectory.boolValue {
            return inside
        }
        throw CdcErrors([.invalid("is a directory, not a manifest file, and holds no \(defaultFileName)", subject: path,
                                  fix: "pass the manifest file itself (-m \(inside)), or run `cdcctl init -m \(inside)` to write one")])
    }

    /// The manifest's file name when none is given (and inside a directory given as `-m DIR`).
    public static let defaultFileName = "cdcctl.yaml"

    /// Parses manifest text; `file` names it in messages.
    public static func parse(_ text: String, file: String, environment: [String: String] = [:]) throws -> LoadedManifest {
        let node: Node?
        do {
            node = try Yams.compose(yaml: text)
        } catch let error as YamlError {
            throw CdcErrors([yamlSyntaxError(error, file: file, text: text)])
        }
        let start = SourceLocation(file: file, line: 1)
        let addVersion = "add the line `apiVersion: \(Manifest.apiVersion)` at the top of \(file), as the manifests in manifests/ have"
        let isEmpty: Bool
        switch node {
        case nil: isEmpty = true
        case .scalar(let s)?: isEmpty = s.string.isEmpty || s.string == "~" || s.string == "null"
        default: isEmpty = false
        }
        if isEmpty {
            throw CdcErrors([.invalid("is empty: it sets nothing, not even apiVersion", subject: file,
                                      fix: "run `cdcctl init -m \(file) --force` to write the commented default profile, or \(addVersion)")])
        }
        if let node, node.mapping == nil {
            let found = YAMLReader(file: file, environment: [:]).describe(node)
            throw CdcErrors([.invalid("expected a manifest (key: value lines starting with apiVersion: \(Manifest.apiVersion)), found \(found)",
                                      at: node.mark.map { SourceLocation(file: file, line: $0.line) } ?? start,
                                      fix: "check this is the cluster manifest; `cdcctl init` writes one")])
        }
        let reader = YAMLReader(file: file, environment: environment)
        let root = reader.fields(node, "")
        if let n = root.value("apiVersion") {
            let version = root.string("apiVersion", default: Manifest.apiVersion)
            if version != Manifest.apiVersion {
                reader.fail(n, "apiVersion", "expected '\(Manifest.apiVersion)', found '\(version)'",
                            fix: "this cdcctl reads \(Manifest.apiVersion) manifests")
            }
        } else {
            reader.fail(at: start, "apiVersion", "is missing: a manifest must say which format it is, apiVersion: \(Manifest.apiVersion)",
                        fix: addVersion)
        }
        let manifest = readManifest(root)
        root.finish()
        var loaded = LoadedManifest(manifest: manifest, file: file, text: text, locations: reader.locations)
        if !reader.errors.isEmpty { throw CdcErrors(reader.errors) }
        let problems = Validator.check(loaded)
        if !problems.isEmpty { throw CdcErrors(problems) }
        loaded.locations = reader.locations
        return loaded
    }

    static func yamlSyntaxError(_ error: YamlError, file: String, text: String = "") -> CdcError {
        switch error {
        case .duplicatedKeysInMapping(let duplicates, let context):
            return .invalid("key '\(duplicates.joined(separator: "', '"))' is set twice in one mapping",
                            at: SourceLocation(file: file, line: context.mark.line, column: context.mark.column),
                            subject: duplicates.first, fix: "keep one of the lines; the second would silently win")
        case .scanner(let context, let problem, let mark, _), .parser(let context, let problem, let mark, _),
             .composer(let context, let problem, let mark, _):
            if let misaligned = Indentation.misalignedKey(text, problem: problem, errorLine: mark.line) {
                let m = misaligned
                return .invalid("YAML syntax error: '\(m.key)' starts in column \(m.column), but '\(m.nextKey)' on line \(m.nextLine) starts in column \(m.nextColumn): the keys of one mapping must line up (the parser gave up at line \(mark.line): \(problem))",
                                at: SourceLocation(file: file, line: m.line),
                                fix: "move '\(m.key)' on line \(m.line) to column \(m.nextColumn), under the other keys of its mapping")
            }
            let where_ = SourceLocation(file: file, line: mark.line, column: mark.column)
            return .invalid("YAML syntax error: \(problem)\(context.map { " (\($0.text))" } ?? "")", at: where_,
                            fix: "check indentation (spaces, not tabs) and quoting on that line")
        default:
            return .invalid("YAML error: \(error)", subject: file, fix: "check the file is a YAML mapping")
        }
    }

    // MARK: - Sections, with the 16 GB profile's defaults

    static func readManifest(_ f: Fields) -> Manifest {
        let cluster = f.object("cluster") { c in
            Cluster(name: c.string("name", default: "cdc"),
                    bindAddress: c.string("bindAddress", default: "127.0.0.1"),
                    subnet: c.string("subnet", default: "172.29.0.0/24"),
                    host: c.object("host") { h in
                        Host(memoryMiB: h.memoryMiB("memory", default: 16384),
                             reserveMiB: h.memoryMiB("reserve", default: 2048),
                             diskMiB: h.memoryMiB("disk", default: 512_000))
                    })
        }
        let secrets = f.object("secrets") { s in
            Secrets(mysqlRootPassword: s.string("mysqlRootPassword", default: "generate"),
                    mysqlCdcPassword: s.string("mysqlCdcPassword", default: "generate"),
                    mysqlAppPassword: s.string("mysqlAppPassword", default: "generate"),
                    clickhousePassword: s.string("clickhousePassword", default: "generate"),
                    clickhouseWriterPassword: s.string("clickhouseWriterPassword", default: "generate"),
                    clickhouseReaderPassword: s.string("clickhouseReaderPassword", default: "generate"),
                    grafanaAdminPassword: s.string("grafanaAdminPassword", default: "generate"),
                    kafkaUIPassword: s.string("kafkaUIPassword", default: "generate"),
                    cloudflareTunnelToken: s.string("cloudflareTunnelToken", default: "env:CLOUDFLARE_TUNNEL_TOKEN"),
                    postgresPassword: s.string("postgresPassword", default: "generate"))
        }
        let source = f.object("source") { s -> Source in
            let engine = s.choice("engine", ["mysql", "mariadb"], default: "mysql")
            return Source(engine: engine,
                          image: s.string("image", default: engine == "mysql" ? "mysql:8.0.40" : "mariadb:10.11"),
                          memoryMiB: s.memoryMiB("memory", default: 1024),
                          port: s.int("port", default: 3306),
                          database: s.string("database", default: "shop"),
                          serverId: s.int("serverId", default: 1),
                          gtid: s.bool("gtid", default: true),
                          binlogExpireSeconds: s.int("binlogExpireSeconds", default: 259_200),
                          innodbBufferPoolMiB: s.memoryMiB("innodbBufferPool", default: 256),
                          cdcUser: s.string("cdcUser", default: "debezium"),
                          appUser: s.string("appUser", default: "app"))
        }
        let kafka = f.object("kafka") { k -> Kafka in
            let defaults = k.object("defaults") { d in
                TopicDefaults(partitions: d.int("partitions", default: 3),
                              replicationFactor: d.int("replicationFactor", default: 3),
                              minInsyncReplicas: d.int("minInsyncReplicas", default: 2),
                              retentionHours: d.int("retentionHours", default: 72),
                              retentionBytes: d.int("retentionBytes", default: 1_073_741_824),
                              uncleanLeaderElection: d.bool("uncleanLeaderElection", default: false))
            }
            return Kafka(engine: k.choice("engine", ["kafka", "tansu"], default: "kafka"),
                         image: k.string("image", default: "apache/kafka:3.9.1"),
                         clusterId: k.string("clusterId", default: "Y2RjY3RsLWNsdXN0ZXItMQ"),
                         brokers: k.int("brokers", default: 3),
                         heapMiB: k.memoryMiB("heap", default: 512),
                         memoryMiB: k.memoryMiB("memory", default: 768),
                         externalPortBase: k.int("externalPortBase", default: 9092),
                         defaults: defaults,
                         topics: k.objects("topics", default: defaultTopics(defaults)) { t in readTopic(t, defaults) })
        }
        let connect = f.object("connect") { c in
            Connect(image: c.string("image", default: "quay.io/debezium/connect:3.0.7.Final"),
                    heapMiB: c.memoryMiB("heap", default: 512),
                    memoryMiB: c.memoryMiB("memory", default: 1024),
                    port: c.int("port", default: 8083),
                    groupId: c.string("groupId", default: "cdcctl-connect"),
                    secretsFile: c.string("secretsFile", default: "/kafka/secrets/mysql.properties"),
                    connectors: c.objects("connectors", default: [defaultConnector(kafka)]) { readConnector($0, kafka) })
        }
        let clickhouse = f.object("clickhouse") { c in
            ClickHouse(image: c.string("image", default: "clickhouse/clickhouse-server:24.8"),
                       memoryMiB: c.memoryMiB("memory", default: 2048),
                       httpPort: c.int("httpPort", default: 8123),
                       database: c.string("database", default: "analytics"),
                       user: c.string("user", default: "cdcctl"),
                       writerUser: c.string("writerUser", default: "cdcctl_writer"),
                       readerUser: c.string("readerUser", default: "grafana_reader"),
                       readerMaxExecutionSeconds: c.int("readerMaxExecutionSeconds", default: 30),
                       readerMaxResultRows: c.int("readerMaxResultRows", default: 1_000_000),
                       readerMaxRowsToRead: c.int("readerMaxRowsToRead", default: 1_000_000_000),
                       // Loopback and the address pools Docker takes bridge networks from (the
                       // compose network's subnet is not pinned): never ::/0.
                       networks: c.strings("networks", default: ["127.0.0.1/32", "::1/128", cluster.subnet]),
                       maxServerMemoryRatio: c.double("maxServerMemoryRatio", default: 0.75),
                       markCacheMiB: c.memoryMiB("markCache", default: 256),
                       maxThreads: c.int("maxThreads", default: 2),
                       maxConcurrentQueries: c.int("maxConcurrentQueries", default: 20),
                       openFiles: c.int("openFiles", default: 262144),
                       ttl: c.object("ttl") { t in
                           TTL(rawDays: t.int("rawDays", default: 7),
                               tradesDays: t.int("tradesDays", default: 30),
                               aggregatesDays: t.int("aggregatesDays", default: 365),
                               alertsDays: t.int("alertsDays", default: 90))
                       })
        }
        let prometheus = f.object("prometheus") { p in
            Prometheus(image: p.string("image", default: "prom/prometheus:v2.54.1"),
                       memoryMiB: p.memoryMiB("memory", default: 512),
                       port: p.int("port", default: 9090),
                       retentionDays: p.int("retentionDays", default: 15),
                       scrapeIntervalSeconds: p.int("scrapeIntervalSeconds", default: 15))
        }
        let grafana = f.object("grafana") { g in
            Grafana(image: g.string("image", default: "grafana/grafana:11.2.0"),
                    memoryMiB: g.memoryMiB("memory", default: 256),
                    port: g.int("port", default: 3000),
                    adminUser: g.string("adminUser", default: "admin"),
                    anonymousViewers: g.bool("anonymousViewers", default: false))
        }
        let kafkaUI = f.object("kafkaUI") { u in
            KafkaUI(enabled: u.bool("enabled", default: true),
                    image: u.string("image", default: "provectuslabs/kafka-ui:v0.7.2"),
                    memoryMiB: u.memoryMiB("memory", default: 384),
                    heapMiB: u.memoryMiB("heap", default: 256),
                    port: u.int("port", default: 8080),
                    login: u.bool("login", default: false),
                    loginUser: u.string("loginUser", default: "admin"))
        }
        let cloudflared = f.object("cloudflared") { c in
            Cloudflared(enabled: c.bool("enabled", default: false),
                        image: c.string("image", default: "cloudflare/cloudflared:2024.8.3"),
                        memoryMiB: c.memoryMiB("memory", default: 128),
                        metricsPort: c.int("metricsPort", default: 20241),
                        publish: c.strings("publish", default: ["grafana"]),
                        domain: c.string("domain", default: "\(cluster.name).internal"))
        }
        let processor = f.object("processor") { p in
            Processor(memoryMiB: p.memoryMiB("memory", default: 256),
                      consumerGroup: p.string("consumerGroup", default: "cdcctl-processor"),
                      tradesTopic: p.string("tradesTopic", default: "trades.raw"),
                      ordersTopic: p.string("ordersTopic", default: "cdc.shop.orders"),
                      windowMinutes: p.int("windowMinutes", default: 5),
                      watermarkDelaySeconds: p.int("watermarkDelaySeconds", default: 5),
                      allowedLatenessSeconds: p.int("allowedLatenessSeconds", default: 60),
                      flushIntervalMs: p.int("flushIntervalMs", default: 200),
                      batchMaxRows: p.int("batchMaxRows", default: 5000),
                      maxBufferedEvents: p.int("maxBufferedEvents", default: 50_000),
                      metricsPort: p.int("metricsPort", default: 9400),
                      idleTimeoutSeconds: p.int("idleTimeoutSeconds", default: 60),
                      maxFutureSkewSeconds: p.int("maxFutureSkewSeconds", default: 300),
                      anomalies: p.object("anomalies") { a in
                          Anomalies(priceZScore: a.double("priceZScore", default: 4.0),
                                    priceWindow: a.int("priceWindow", default: 100),
                                    volumeSpikeFactor: a.double("volumeSpikeFactor", default: 5.0),
                                    volumeWindows: a.int("volumeWindows", default: 12),
                                    oversizedOrderNotional: a.double("oversizedOrderNotional", default: 100_000_000))
                      },
                      sinks: p.strings("sinks", default: ["clickhouse"]))
        }
        let producers = f.object("producers") { p in
            Producers(orders: p.object("orders") { o in
                          OrderGenerator(memoryMiB: o.memoryMiB("memory", default: 128),
                                         ratePerSecond: o.double("ratePerSecond", default: 20),
                                         pattern: o.choice("pattern", ["time-of-day", "constant", "flat", "burst"], default: "time-of-day"),
                                         symbols: o.strings("symbols", default: ["005930", "000660", "035420"]),
                                         deleteShare: o.double("deleteShare", default: 0.05),
                                         cancelShare: o.double("cancelShare", default: 0.2),
                                         oversizedShare: o.double("oversizedShare", default: 0.001),
                                         offHoursFactor: o.double("offHoursFactor", default: 0.02))
                      },
                      trades: p.object("trades") { t in
                          TradeFeed(memoryMiB: t.memoryMiB("memory", default: 128),
                                    source: t.choice("source", ["upbit", "kis", "replay", "synthetic"], default: "upbit"),
                                    topic: t.string("topic", default: "trades.raw"),
                                    symbols: t.strings("symbols", default: ["KRW-BTC", "KRW-ETH", "KRW-XRP"]),
                                    replayFile: t.optionalString("replayFile"),
                                    ratePerSecond: t.double("ratePerSecond", default: 50))
                      })
        }
        let reports = f.object("reports") { r in
            ReportSettings(memoryMetricsPort: r.int("memoryMetricsPort", default: 9401))
        }
        let monitor = f.object("monitor") { m in MonitorSettings(port: m.int("port", default: 9402)) }
        let postgres = f.object("postgres") { g in
            Postgres(image: g.string("image", default: "postgres:15.10-bookworm"),
                     memoryMiB: g.memoryMiB("memory", default: 512),
                     port: g.int("port", default: 5432),
                     database: g.string("database", default: "analytics"),
                     user: g.string("user", default: "cdcctl"),
                     batchMaxRecords: g.int("batchMaxRecords", default: 2000))
        }
        let bind = cluster.bindAddress
        let access = f.object("access") { a in
            Access(kafkaBootstrap: a.string("kafkaBootstrap", default: kafka.externalPorts.map { "\(bind):\($0)" }.joined(separator: ",")),
                   connectURL: a.string("connectURL", default: "http://\(bind):\(connect.port)"),
                   clickhouseURL: a.string("clickhouseURL", default: "http://\(bind):\(clickhouse.httpPort)"),
                   clickhouseUser: a.string("clickhouseUser", default: clickhouse.user),
                   clickhouseWriterUser: a.string("clickhouseWriterUser", default: clickhouse.writerUser),
                   clickhouseReaderUser: a.string("clickhouseReaderUser", default: clickhouse.readerUser),
                   mysqlHost: a.string("mysqlHost", default: bind),
                   mysqlPort: a.int("mysqlPort", default: source.port),
                   prometheusURL: a.string("prometheusURL", default: "http://\(bind):\(prometheus.port)"),
                   postgresHost: a.string("postgresHost", default: bind),
                   postgresPort: a.int("postgresPort", default: postgres.port))
        }
        let starrocks = f.object("starrocks") { r in
            StarRocks(enabled: r.bool("enabled", default: false),
                      feImage: r.string("feImage", default: "starrocks/fe-ubuntu:3.3.9"),
                      beImage: r.string("beImage", default: "starrocks/be-ubuntu:3.3.9"),
                      feMemoryMiB: r.memoryMiB("feMemory", default: 1536),
                      feHeapMiB: r.memoryMiB("feHeap", default: 1024),
                      beMemoryMiB: r.memoryMiB("beMemory", default: 2048),
                      queryPort: r.int("queryPort", default: 9030),
                      httpPort: r.int("httpPort", default: 8030),
                      database: r.string("database", default: "cdc"),
                      user: r.string("user", default: "root"),
                      kafkaBootstrap: r.string("kafkaBootstrap", default: KafkaListeners.internalBootstrap(kafka)),
                      maxBatchIntervalSeconds: r.int("maxBatchIntervalSeconds", default: 10),
                      desiredConcurrentNumber: r.int("desiredConcurrentNumber", default: 1),
                      maxErrorNumber: r.int("maxErrorNumber", default: 0),
                      minMaxMapCount: r.int("minMaxMapCount", default: 262_144))
        }
        let bench = f.object("bench") { b in
            Bench(e2e: b.object("e2e") { e in BenchE2E(p99Ms: e.int("p99Ms", default: 5000), minRate: e.double("minRate", default: 200)) })
        }
        return Manifest(cluster: cluster, secrets: secrets, source: source, kafka: kafka, connect: connect,
                        clickhouse: clickhouse, prometheus: prometheus, grafana: grafana, kafkaUI: kafkaUI,
                        cloudflared: cloudflared, processor: processor, producers: producers, reports: reports, monitor: monitor, access: access,
                        starrocks: starrocks, postgres: postgres, bench: bench)
    }

    static func readTopic(_ t: Fields, _ d: TopicDefaults) -> Topic {
        Topic(name: t.string("name", default: ""),
              partitions: t.int("partitions", default: d.partitions),
              replicationFactor: t.int("replicationFactor", default: d.replicationFactor),
              minInsyncReplicas: t.int("minInsyncReplicas", default: d.minInsyncReplicas),
              durable: t.bool("durable", default: true),
              retentionHours: t.int("retentionHours", default: d.retentionHours),
              retentionBytes: t.int("retentionBytes", default: d.retentionBytes),
              cleanupPolicy: t.choice("cleanupPolicy", ["delete", "compact", "compact,delete"], default: "delete"),
              key: t.optionalString("key"),
              config: t.stringMap("config"))
    }

    static func readConnector(_ c: Fields, _ kafka: Kafka) -> Connector {
        let d = defaultConnector(kafka)
        return Connector(name: c.string("name", default: ""),
                         databaseHost: c.string("databaseHost", default: d.databaseHost),
                         databasePort: c.int("databasePort", default: d.databasePort),
                         kafkaBootstrap: c.string("kafkaBootstrap", default: d.kafkaBootstrap),
                         topicPrefix: c.string("topicPrefix", default: d.topicPrefix),
                         tables: c.strings("tables", default: d.tables),
                         serverId: c.int("serverId", default: d.serverId),
                         snapshotMode: c.choice("snapshotMode", Connector.snapshotModes, default: d.snapshotMode),
                         heartbeatIntervalMs: c.int("heartbeatIntervalMs", default: d.heartbeatIntervalMs),
                         pollIntervalMs: c.int("pollIntervalMs", default: d.pollIntervalMs),
                         maxQueueSize: c.int("maxQueueSize", default: d.maxQueueSize),
                         maxQueueSizeBytes: c.int("maxQueueSizeBytes", default: d.maxQueueSizeBytes),
                         maxBatchSize: c.int("maxBatchSize", default: d.maxBatchSize),
                         schemaHistoryTopic: c.string("schemaHistoryTopic", default: d.schemaHistoryTopic),
                         config: c.stringMap("config"))
    }

    static func defaultConnector(_ kafka: Kafka) -> Connector { Connector(
        name: "shop-mysql", databaseHost: "mysql", databasePort: 3306,
        kafkaBootstrap: KafkaListeners.internalBootstrap(kafka),
        topicPrefix: "cdc", tables: ["shop.orders", "shop.order_executions"],
        serverId: 5401, snapshotMode: "initial", heartbeatIntervalMs: 10_000, pollIntervalMs: 50, maxQueueSize: 8192,
        maxQueueSizeBytes: 67_108_864, maxBatchSize: 2048, schemaHistoryTopic: "schemahistory.shop", config: []) }

    /// CDC topics keyed by order_id (one order's events stay in order), trades keyed by symbol,
    /// the schema history topic as Debezium requires it (one partition, kept forever).
    static func defaultTopics(_ d: TopicDefaults) -> [Topic] {
        func topic(_ name: String, partitions: Int, key: String?, retentionHours: Int? = nil,
                   retentionBytes: Int? = nil) -> Topic {
            Topic(name: name, partitions: partitions, replicationFactor: d.replicationFactor,
                  minInsyncReplicas: d.minInsyncReplicas, durable: true,
                  retentionHours: retentionHours ?? d.retentionHours, retentionBytes: retentionBytes ?? d.retentionBytes,
                  cleanupPolicy: "delete", key: key, config: [])
        }
        return [
            topic("cdc.shop.orders", partitions: 6, key: "order_id"),
            topic("cdc.shop.order_executions", partitions: 6, key: "order_id"),
            topic("trades.raw", partitions: 6, key: "symbol"),
            topic("alerts", partitions: 1, key: "symbol"),
            topic("schemahistory.shop", partitions: 1, key: nil, retentionHours: -1, retentionBytes: -1),
        ]
    }
}

extension Connector {
    /// Debezium 3.x MySQL snapshot.mode values (2.7's never/schema_only/schema_only_recovery were
    /// removed in 3.0: use no_data and recovery).
    public static let snapshotModes = ["initial", "initial_only", "when_needed", "no_data", "recovery", "always",
                                       "configuration_based"]
}
