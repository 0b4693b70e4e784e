import Diagnostics

/// Semantic rules over a parsed manifest. Each rule reports the field it is about, where it
/// was written, what was expected and how to fix it.
enum Validator {
    static func check(_ loaded: LoadedManifest) -> [CdcError] {
        var v = Checks(loaded: loaded)
        v.run()
        return v.errors
    }
}

private struct Checks {
    let loaded: LoadedManifest
    var errors: [CdcError] = []
    var m: Manifest { loaded.manifest }

    init(loaded: LoadedManifest) { self.loaded = loaded }

    mutating func fail(_ path: String, _ message: String, fix: String) {
        errors.append(.invalid(message, at: loaded.location(of: path), subject: path, fix: fix))
    }

    /// A problem about `path` caused by the value written at `cause` (`path` itself was defaulted).
    mutating func fail(_ path: String, at cause: String, _ message: String, fix: String) {
        errors.append(.invalid(message, at: loaded.location(of: cause), subject: path, fix: fix))
    }

    func written(_ path: String) -> Bool { loaded.locations[path] != nil }

    /// Where topic `i` got its value of `key`: written on the topic, taken from a written
    /// `kafka.defaults.<key>`, or a built-in default (never written).
    enum Origin { case topic, defaults, builtIn }

    func origin(_ i: Int, _ key: String, _ value: Int, _ defaultValue: Int) -> Origin {
        if written("kafka.topics[\(i)].\(key)") { return .topic }
        return written("kafka.defaults.\(key)") && value == defaultValue ? .defaults : .builtIn
    }

    /// Problems with a value that several topics take from one line are reported once, at that
    /// line, naming the topics: index into `errors` and the topics, by subject and message.
    var shared: [String: (index: Int, topics: [String])] = [:]

    mutating func failShared(_ path: String, at cause: String, topic: String, _ message: String, fix: String) {
        let key = path + "\u{0}" + message
        if let entry = shared[key] {
            shared[key]?.topics = entry.topics + [topic]
            return
        }
        shared[key] = (errors.count, [topic])
        fail(path, at: cause, message, fix: fix)
    }

    mutating func nameSharedTopics() {
        for (_, entry) in shared {
            let names = entry.topics.map { "'\($0)'" }.joined(separator: ", ")
            errors[entry.index].message += " (taken by \(entry.topics.count == 1 ? "topic" : "topics") \(names))"
        }
        shared = [:]
    }

    mutating func run() {
        names()
        secrets()
        images()
        kafka()
        topics()
        connectors()
        heaps()
        ports()
        budget()
        processorAndProducers()
        access()
        starrocks()
        postgres()
    }

    /// `processor.sinks`: at least one of clickhouse and postgres, each once; the postgres
    /// section's names go into SQL and the compose file.
    mutating func postgres() {
        let sinks = m.processor.sinks
        if sinks.isEmpty {
            fail("processor.sinks", "must name at least one sink", fix: "sinks: [clickhouse] (the default), [postgres] or [clickhouse, postgres]")
        }
        var seen: Set<String> = []
        for (i, sink) in sinks.enumerated() {
            if !["clickhouse", "postgres"].contains(sink) {
                fail("processor.sinks[\(i)]", "unknown sink '\(sink)'", fix: "use clickhouse or postgres")
            } else if !seen.insert(sink).inserted {
                fail("processor.sinks[\(i)]", "'\(sink)' is listed twice", fix: "name each sink once")
            }
        }
        let g = m.postgres
        for (path, name) in [("postgres.database", g.database), ("postgres.user", g.user)] where !Naming.isPlainIdentifier(name) {
            fail(path, "'\(name)' is not a plain identifier", fix: "use ASCII letters, digits and '_', not starting with a digit")
        }
        if g.batchMaxRecords < 1 || g.batchMaxRecords > 100_000 {
            fail("postgres.batchMaxRecords", "must be between 1 and 100000, found \(g.batchMaxRecords)",
                 fix: "2000 (the default): one transaction per batch of records")
        }
        if m.postgresEnabled && g.memoryMiB < 64 {
            fail("postgres.memory", "\(g.memoryMiB) MiB is too little for PostgreSQL", fix: "at least 128m; 512m is the default")
        }
    }

    /// StarRocks reads what the connectors capture: each captured table needs a known column
    /// layout (StarRocksSchema) and the job's settings must be ones Routine Load accepts.
    mutating func starrocks() {
        let r = m.starrocks
        guard r.enabled else { return }
        if r.database.wholeMatch(of: #/[A-Za-z][A-Za-z0-9_]{0,63}/#) == nil {
            fail("starrocks.database", "'\(r.database)' is not a plain StarRocks database name", fix: "letters, digits and '_', starting with a letter, e.g. cdc")
        }
        if m.connect.connectors.isEmpty {
            fail("starrocks.enabled", "StarRocks loads the Debezium topics, but connect.connectors is empty",
                 fix: "declare the connector whose tables it loads, or set starrocks.enabled: false")
        }
        if r.maxBatchIntervalSeconds < 5 || r.maxBatchIntervalSeconds > 60 {
            fail("starrocks.maxBatchIntervalSeconds", "\(r.maxBatchIntervalSeconds) is outside Routine Load's 5–60 s",
                 fix: "e.g. 10: each task commits a batch at least this often")
        }
        if r.desiredConcurrentNumber < 1 {
            fail("starrocks.desiredConcurrentNumber", "must be at least 1", fix: "1 on a single BE")
        }
        if r.maxErrorNumber < 0 {
            fail("starrocks.maxErrorNumber", "must be 0 or more", fix: "0 pauses the job on the first bad row")
        }
        if r.minMaxMapCount < 1 {
            fail("starrocks.minMaxMapCount", "must be positive", fix: "262144, StarRocks' documented minimum")
        }
        for (i, c) in m.connect.connectors.enumerated() {
            for (j, table) in c.tables.enumerated() where StarRocksTables.columns(for: table) == nil {
                fail("connect.connectors[\(i)].tables[\(j)]", at: "starrocks.enabled",
                     "StarRocks has no column layout for captured table '\(table)'",
                     fix: "StarRocks knows the seed tables (\(StarRocksTables.known.joined(separator: ", "))); capture only those, or set starrocks.enabled: false")
            }
        }
    }

    mutating func names() {
        if !Naming.isComposeProject(m.cluster.name) {
            fail("cluster.name", "'\(m.cluster.name)' is not a valid Docker Compose project name",
                 fix: "use lowercase letters, digits, '-' and '_', starting with a letter or digit")
        }
        if m.cluster.bindAddress == "0.0.0.0" || m.cluster.bindAddress == "::" {
            fail("cluster.bindAddress", "Kafka brokers advertise this address to clients, and '\(m.cluster.bindAddress)' is not one a client can connect to",
                 fix: "use 127.0.0.1 (reach the UIs through the tunnel) or the host's LAN address")
        }
        if m.source.database.isEmpty || !m.source.database.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "_" }) {
            fail("source.database", "'\(m.source.database)' is not a plain database name", fix: "use letters, digits and '_'")
        }
        // Migrations write `{{clickhouse.database}}.table` unquoted, and the user names an XML element.
        for (path, name) in [("clickhouse.database", m.clickhouse.database), ("clickhouse.user", m.clickhouse.user),
                             ("clickhouse.writerUser", m.clickhouse.writerUser), ("clickhouse.readerUser", m.clickhouse.readerUser)]
            where !Naming.isPlainIdentifier(name) {
            fail(path, "'\(name)' is not a plain identifier", fix: "use ASCII letters, digits and '_', not starting with a digit")
        }
    }

    mutating func secrets() {
        let s = m.secrets
        for (key, value) in [("mysqlRootPassword", s.mysqlRootPassword), ("mysqlCdcPassword", s.mysqlCdcPassword),
                             ("mysqlAppPassword", s.mysqlAppPassword),
                             ("clickhousePassword", s.clickhousePassword), ("clickhouseWriterPassword", s.clickhouseWriterPassword),
                             ("clickhouseReaderPassword", s.clickhouseReaderPassword), ("grafanaAdminPassword", s.grafanaAdminPassword),
                             ("kafkaUIPassword", s.kafkaUIPassword), ("cloudflareTunnelToken", s.cloudflareTunnelToken),
                             ("postgresPassword", s.postgresPassword)] {
            switch SecretRef(value) {
            case nil:
                fail("secrets.\(key)", "expected a reference (env:NAME, file:PATH or generate), not a value",
                     fix: "keep secrets out of the manifest: e.g. \(key): env:\(key.snakeUpper) and export \(key.snakeUpper)")
            case .empty? where !key.hasPrefix("clickhouse"):
                fail("secrets.\(key)", "`none` (no password) is accepted only for the ClickHouse passwords (a server whose user has none)",
                     fix: "use env:NAME, file:PATH or generate")
            default:
                break
            }
        }
    }

    mutating func images() {
        var images = [("source.image", m.source.image), ("kafka.image", m.kafka.image), ("connect.image", m.connect.image),
                      ("clickhouse.image", m.clickhouse.image), ("prometheus.image", m.prometheus.image),
                      ("grafana.image", m.grafana.image)]
        if m.kafkaUI.enabled { images.append(("kafkaUI.image", m.kafkaUI.image)) }
        if m.cloudflared.enabled { images.append(("cloudflared.image", m.cloudflared.image)) }
        if m.starrocks.enabled { images += [("starrocks.feImage", m.starrocks.feImage), ("starrocks.beImage", m.starrocks.beImage)] }
        if m.postgresEnabled { images.append(("postgres.image", m.postgres.image)) }
        for (path, image) in images {
            let name = image.split(separator: "/").last.map(String.init) ?? image
            if image.isEmpty || !(name.contains(":") || image.contains("@sha256:")) || name.hasSuffix(":latest") {
                fail(path, "'\(image)' is not pinned to a version",
                     fix: "name a tag or digest, e.g. \(image.isEmpty ? "image" : image.replacing(":latest", with: "")):X.Y.Z, so every render and restart runs the same bits")
            }
        }
    }

    mutating func kafka() {
        if m.clickhouse.openFiles < 1024 {
            fail("clickhouse.openFiles", "must be at least 1024, found \(m.clickhouse.openFiles)",
                 fix: "use 262144 (the default), or the Docker daemon's own open-files limit if that is lower")
        }
        if m.kafka.brokers < 1 {
            fail("kafka.brokers", "must be at least 1, found \(m.kafka.brokers)", fix: "the default profile runs 3 brokers")
        }
        if !Naming.isKRaftClusterId(m.kafka.clusterId) {
            fail("kafka.clusterId", "'\(m.kafka.clusterId)' is not a KRaft cluster id (22 characters of base64url, a 16-byte UUID)",
                 fix: "generate one with `kafka-storage.sh random-uuid`, e.g. MkU3OEVBNTcwNTJENDM2Qk")
        }
        let d = m.kafka.defaults
        let brokers = m.kafka.brokers
        if d.replicationFactor > brokers && written("kafka.defaults.replicationFactor") {
            fail("kafka.defaults.replicationFactor", "\(d.replicationFactor) exceeds the \(brokers) brokers",
                 fix: "set it to \(brokers) or fewer, or add brokers")
        } else if d.replicationFactor > brokers && brokers >= 1 {
            // Only the broker count was written: say that the other side of the rule is a default.
            let setDefaults = brokers >= 2
                ? "set kafka.defaults.replicationFactor: \(brokers) and kafka.defaults.minInsyncReplicas: \(brokers - 1) (it must stay below the replication factor)"
                : "durable topics need at least 2 replicas on 2 brokers; one broker suits only topics marked durable: false, replicationFactor: 1, minInsyncReplicas: 1"
            fail("kafka.brokers", "\(brokers) \(brokers == 1 ? "broker is" : "brokers are") fewer than the default replication factor \(d.replicationFactor) (kafka.defaults.replicationFactor is not set, so every topic without its own replicationFactor takes \(d.replicationFactor))",
                 fix: "\(setDefaults), or set kafka.brokers: \(d.replicationFactor)")
        }
        if d.uncleanLeaderElection {
            fail("kafka.defaults.uncleanLeaderElection", "must stay false: unclean election loses acknowledged writes",
                 fix: "remove the line; restore availability by bringing a replica back instead")
        }
    }

    mutating func topics() {
        var seen: [String: Int] = [:]
        var collisions: [String: String] = [:]
        let historyTopics = Set(m.connect.connectors.map(\.schemaHistoryTopic))
        for (i, t) in m.kafka.topics.enumerated() {
            let p = "kafka.topics[\(i)]"
            if !Naming.isKafkaTopic(t.name) {
                fail("\(p).name", t.name.isEmpty ? "is missing" : "'\(t.name)' is not a valid Kafka topic name",
                     fix: "use 1–249 of a-z A-Z 0-9 . _ -, and not '.' or '..'")
            }
            if let first = seen[t.name] {
                fail("\(p).name", "'\(t.name)' is declared twice (also kafka.topics[\(first)])", fix: "keep one entry")
            }
            seen[t.name] = seen[t.name] ?? i
            let folded = t.name.replacing(".", with: "_")
            if let other = collisions[folded], other != t.name {
                fail("\(p).name", "'\(t.name)' collides with '\(other)' in Kafka's metric names ('.' and '_' are the same there)",
                     fix: "rename one of them")
            }
            collisions[folded] = t.name
            let d = m.kafka.defaults
            let rfOrigin = origin(i, "replicationFactor", t.replicationFactor, d.replicationFactor)
            let mirOrigin = origin(i, "minInsyncReplicas", t.minInsyncReplicas, d.minInsyncReplicas)
            /// A value written on the topic is reported there; one taken from a written default
            /// once, at the default's line.
            func report(_ key: String, _ o: Origin, _ message: String, fix: String) {
                if o == .defaults {
                    failShared("kafka.defaults.\(key)", at: "kafka.defaults.\(key)", topic: t.name, message, fix: fix)
                } else {
                    fail("\(p).\(key)", message, fix: fix)
                }
            }
            if t.partitions < 1 {
                report("partitions", origin(i, "partitions", t.partitions, d.partitions), "must be at least 1, found \(t.partitions)", fix: "use 1 or more")
            }
            if t.replicationFactor < 1 {
                report("replicationFactor", rfOrigin, "must be at least 1, found \(t.replicationFactor)", fix: "use \(min(3, m.kafka.brokers))")
            } else if t.replicationFactor > m.kafka.brokers && rfOrigin == .topic {
                // A defaulted replication factor above the broker count is reported once, by kafka().
                fail("\(p).replicationFactor", "\(t.replicationFactor) exceeds the \(m.kafka.brokers) brokers",
                     fix: "set it to \(m.kafka.brokers) or fewer, or add brokers")
            }
            if t.durable && t.replicationFactor < 2 {
                if t.replicationFactor >= 1 {
                    report("replicationFactor", rfOrigin, "a durable topic needs at least 2 replicas, found \(t.replicationFactor)",
                           fix: "use replicationFactor: 3 with minInsyncReplicas: 2, or mark the topic durable: false")
                }
            } else {
                let mir = t.minInsyncReplicas
                if mir < 1 || mir > t.replicationFactor || (t.durable && mir == t.replicationFactor) {
                    let rule = t.durable
                        ? "must be at least 1 and below the replication factor \(t.replicationFactor) for a durable topic"
                        : "must be between 1 and the replication factor \(t.replicationFactor)"
                    let good = t.durable ? t.replicationFactor - 1 : 1
                    let why = t.durable ? ": acks=all then survives one broker loss and still refuses writes below it" : " for a non-durable topic"
                    switch (mirOrigin, rfOrigin) {
                    case (.topic, _), (.builtIn, .builtIn):
                        fail("\(p).minInsyncReplicas", "\(rule), found \(t.minInsyncReplicas)", fix: "use \(good)\(why)")
                    case (.defaults, _):
                        failShared("kafka.defaults.minInsyncReplicas", at: "kafka.defaults.minInsyncReplicas", topic: t.name,
                                   "\(rule), found \(t.minInsyncReplicas)",
                                   fix: "use \(good)\(why); or set minInsyncReplicas on the topics that need another value")
                    case (.builtIn, .topic):
                        // Reported at the replication factor this topic sets: that line makes the default wrong.
                        fail("\(p).minInsyncReplicas", at: "\(p).replicationFactor",
                             "is not set, and its default \(mir) does not fit this topic's replication factor \(t.replicationFactor): it \(rule)",
                             fix: "set minInsyncReplicas: \(good) on this topic\(why)")
                    case (.builtIn, .defaults):
                        failShared("kafka.defaults.minInsyncReplicas", at: "kafka.defaults.replicationFactor", topic: t.name,
                                   "is not set, and its default \(mir) does not fit the replication factor \(t.replicationFactor) that kafka.defaults.replicationFactor sets: it \(rule)",
                                   fix: "set kafka.defaults.minInsyncReplicas: \(good)\(why)")
                    }
                }
            }
            if t.retentionHours == 0 || t.retentionHours < -1 {
                report("retentionHours", origin(i, "retentionHours", t.retentionHours, d.retentionHours),
                       "must be positive or -1 (keep forever), found \(t.retentionHours)", fix: "e.g. 72")
            }
            if t.retentionBytes == 0 || t.retentionBytes < -1 {
                report("retentionBytes", origin(i, "retentionBytes", t.retentionBytes, d.retentionBytes),
                       "must be positive or -1 (no size limit), found \(t.retentionBytes)", fix: "e.g. 1073741824 (1 GiB per partition)")
            }
            if historyTopics.contains(t.name) && (t.partitions != 1 || t.retentionHours != -1 || t.retentionBytes != -1) {
                fail(p, "'\(t.name)' is a Debezium schema history topic: it needs exactly 1 partition and infinite retention",
                     fix: "set partitions: 1, retentionHours: -1, retentionBytes: -1 (Debezium cannot recover its schema otherwise)")
            }
        }
        nameSharedTopics()
    }

    mutating func connectors() {
        let topicNames = Set(m.kafka.topics.map(\.name))
        var names: Set<String> = []
        var serverIds: [Int: String] = [m.source.serverId: "source.serverId"]
        for (i, c) in m.connect.connectors.enumerated() {
            let p = "connect.connectors[\(i)]"
            if c.name.isEmpty || !c.name.allSatisfy({ $0.isLetter || $0.isNumber || "-_.".contains($0) }) {
                fail("\(p).name", c.name.isEmpty ? "is missing" : "'\(c.name)' is not a usable connector name",
                     fix: "use letters, digits, '-', '_' and '.' (it becomes part of a REST path)")
            }
            if !names.insert(c.name).inserted {
                fail("\(p).name", "'\(c.name)' is declared twice", fix: "give each connector its own name")
            }
            if !Naming.isKafkaTopic(c.topicPrefix) {
                fail("\(p).topicPrefix", "'\(c.topicPrefix)' cannot prefix Kafka topic names", fix: "use a-z A-Z 0-9 . _ -")
            }
            if c.serverId < 1 || c.serverId > 4_294_967_295 {
                fail("\(p).serverId", "must be between 1 and 4294967295, found \(c.serverId)", fix: "pick a number no other MySQL client uses")
            } else if let other = serverIds[c.serverId] {
                fail("\(p).serverId", "\(c.serverId) is already used by \(other)",
                     fix: "every replication client needs its own server id; e.g. \(c.serverId + 100)")
            }
            serverIds[c.serverId] = "\(p).serverId"
            if c.tables.isEmpty {
                fail("\(p).tables", "captures no tables", fix: "list schema.table names, e.g. - shop.orders")
            }
            for (j, table) in c.tables.enumerated() {
                let parts = table.split(separator: ".", omittingEmptySubsequences: false)
                if parts.count != 2 || parts.contains(where: \.isEmpty) {
                    fail("\(p).tables[\(j)]", "'\(table)' is not schema.table", fix: "e.g. shop.orders")
                } else if !topicNames.contains(c.topic(for: table)) {
                    fail("\(p).tables[\(j)]", "captures \(table) into topic '\(c.topic(for: table))', which kafka.topics does not declare",
                         fix: "add it to kafka.topics so it is created with RF \(m.kafka.defaults.replicationFactor) and min.insync.replicas \(m.kafka.defaults.minInsyncReplicas) (auto-created topics get broker defaults)")
                }
            }
            if !topicNames.contains(c.schemaHistoryTopic) {
                fail("\(p).schemaHistoryTopic", "'\(c.schemaHistoryTopic)' is not declared in kafka.topics",
                     fix: "declare it with partitions: 1, retentionHours: -1, retentionBytes: -1")
            }
            if c.maxQueueSize <= c.maxBatchSize {
                fail("\(p).maxQueueSize", "must be larger than maxBatchSize (\(c.maxBatchSize)), found \(c.maxQueueSize)",
                     fix: "Debezium requires max.queue.size > max.batch.size; e.g. \(c.maxBatchSize * 4)")
            }
            let heapBytes = m.connect.heapMiB * 1_048_576
            if c.maxQueueSizeBytes <= 0 || c.maxQueueSizeBytes > heapBytes / 4 {
                fail("\(p).maxQueueSizeBytes", "must be positive and at most a quarter of the Connect heap (\(heapBytes / 4) bytes), found \(c.maxQueueSizeBytes)",
                     fix: "an uncapped queue lets a snapshot fill the worker's heap; e.g. \(min(67_108_864, heapBytes / 4))")
            }
            if c.heartbeatIntervalMs < 0 {
                fail("\(p).heartbeatIntervalMs", "must be 0 (off) or positive", fix: "e.g. 10000")
            }
            if c.pollIntervalMs < 1 || c.pollIntervalMs > 60_000 {
                fail("\(p).pollIntervalMs", "must be between 1 and 60000 ms, found \(c.pollIntervalMs)",
                     fix: "50 (low latency, the default) or Debezium's own 500 (fewer, larger batches)")
            }
        }
    }

    mutating func heaps() {
        for (path, heap, limit) in [("kafka.heap", m.kafka.heapMiB, m.kafka.memoryMiB),
                                    ("connect.heap", m.connect.heapMiB, m.connect.memoryMiB)]
            + (m.kafkaUI.enabled ? [("kafkaUI.heap", m.kafkaUI.heapMiB, m.kafkaUI.memoryMiB)] : [])
            + (m.starrocks.enabled ? [("starrocks.feHeap", m.starrocks.feHeapMiB, m.starrocks.feMemoryMiB)] : []) where heap >= limit {
            fail(path, "JVM heap \(heap) MiB must be below the container limit \(limit) MiB",
                 fix: "leave room for metaspace, threads and direct buffers: heap ≤ \(limit * 2 / 3) MiB, or raise \(path.replacing(".heap", with: ".memory").replacing("Heap", with: "Memory"))")
        }
    }

    mutating func ports() {
        var ports: [(String, Int)] = [("source.port", m.source.port)]
        for (i, port) in m.kafka.externalPorts.enumerated() { ports.append(("kafka.externalPortBase (broker \(i + 1))", port)) }
        ports += [("connect.port", m.connect.port), ("clickhouse.httpPort", m.clickhouse.httpPort),
                  ("prometheus.port", m.prometheus.port), ("grafana.port", m.grafana.port),
                  ("processor.metricsPort", m.processor.metricsPort), ("reports.memoryMetricsPort", m.reports.memoryMetricsPort),
                  ("monitor.port", m.monitor.port)]
        if m.kafkaUI.enabled { ports.append(("kafkaUI.port", m.kafkaUI.port)) }
        if m.starrocks.enabled { ports += [("starrocks.queryPort", m.starrocks.queryPort), ("starrocks.httpPort", m.starrocks.httpPort)] }
        if m.postgresEnabled { ports.append(("postgres.port", m.postgres.port)) }
        var owner: [Int: String] = [:]
        for (path, port) in ports {
            let fieldPath = path.components(separatedBy: " (").first ?? path
            if port < 1 || port > 65535 {
                fail(fieldPath, "port \(port) is outside 1–65535", fix: "pick a free port")
            } else if let other = owner[port] {
                fail(fieldPath, "host port \(port) is already taken by \(other)", fix: "give each service its own host port")
            } else {
                owner[port] = path
            }
        }
    }

    mutating func budget() {
        let b = MemoryBudget(m)
        if b.reserveMiB < 0 || b.reserveMiB >= b.hostMiB {
            fail("cluster.host.reserve", "must be between 0 and the host memory", fix: "e.g. 2g")
            return
        }
        if !b.fits {
            fail("cluster.host", "memory limits add up to \(b.totalMiB) MiB, over the \(b.budgetMiB) MiB budget by \(-b.headroomMiB) MiB\n\(b.table)",
                 fix: "lower the largest limits (see the table) or disable optional services")
        }
    }

    mutating func processorAndProducers() {
        let topicNames = Set(m.kafka.topics.map(\.name))
        for (path, topic) in [("processor.tradesTopic", m.processor.tradesTopic), ("processor.ordersTopic", m.processor.ordersTopic),
                              ("producers.trades.topic", m.producers.trades.topic)] where !topicNames.contains(topic) {
            fail(path, "topic '\(topic)' is not declared in kafka.topics", fix: "declare it, or name one of: \(topicNames.sorted().joined(separator: ", "))")
        }
        let p = m.processor
        for (path, value, range) in [("processor.windowMinutes", p.windowMinutes, 1...1440),
                                     ("processor.flushIntervalMs", p.flushIntervalMs, 10...60_000),
                                     ("processor.batchMaxRows", p.batchMaxRows, 1...1_000_000),
                                     ("processor.maxBufferedEvents", p.maxBufferedEvents, 1_000...10_000_000),
                                     ("processor.watermarkDelaySeconds", p.watermarkDelaySeconds, 0...3600),
                                     ("processor.allowedLatenessSeconds", p.allowedLatenessSeconds, 0...86_400),
                                     ("processor.idleTimeoutSeconds", p.idleTimeoutSeconds, 0...86_400),
                                     ("processor.maxFutureSkewSeconds", p.maxFutureSkewSeconds, 1...604_800),
                                     ("processor.anomalies.priceWindow", p.anomalies.priceWindow, 2...100_000),
                                     ("processor.anomalies.volumeWindows", p.anomalies.volumeWindows, 1...10_000)]
            where !range.contains(value) {
            fail(path, "must be between \(range.lowerBound) and \(range.upperBound), found \(value)", fix: "see manifests/default.yaml for the usual value")
        }
        if m.bench.e2e.p99Ms < 1 {
            fail("bench.e2e.p99Ms", "must be a positive number of milliseconds, found \(m.bench.e2e.p99Ms)", fix: "e.g. 5000 (the seed's target)")
        }
        if !(m.bench.e2e.minRate > 0) {
            fail("bench.e2e.minRate", "must be a positive rate of changes per second, found \(m.bench.e2e.minRate)", fix: "e.g. 200 (the seed's target)")
        }
        if m.producers.trades.source == "replay" && (m.producers.trades.replayFile ?? "").isEmpty {
            fail("producers.trades.replayFile", "is required when source is replay", fix: "name a recorded trades file (JSON lines)")
        }
        if m.producers.orders.ratePerSecond <= 0 {
            fail("producers.orders.ratePerSecond", "must be positive", fix: "e.g. 20")
        }
        if m.producers.trades.ratePerSecond <= 0 {
            fail("producers.trades.ratePerSecond", "must be positive", fix: "e.g. 50")
        }
        let o = m.producers.orders
        for (path, share) in [("producers.orders.deleteShare", o.deleteShare), ("producers.orders.cancelShare", o.cancelShare),
                              ("producers.orders.oversizedShare", o.oversizedShare), ("producers.orders.offHoursFactor", o.offHoursFactor)]
            where !(0...1).contains(share) {
            fail(path, "must be between 0 and 1, found \(share)", fix: "a share: 0.05 is one in twenty")
        }
        if o.symbols.isEmpty { fail("producers.orders.symbols", "must name at least one symbol", fix: "e.g. [\"005930\"]") }
        for (i, symbol) in o.symbols.enumerated() where !SymbolFormat.isOrderSymbol(symbol) {
            fail("producers.orders.symbols[\(i)]", "'\(symbol)' is not a symbol the orders table holds (1 to 16 letters, digits, '-' or '.')",
                 fix: "a KRX ticker such as 005930")
        }
        let t = m.producers.trades
        if t.symbols.isEmpty { fail("producers.trades.symbols", "must name at least one symbol", fix: "e.g. [KRW-BTC]") }
        for (i, symbol) in t.symbols.enumerated() where !SymbolFormat.isTradeSymbol(symbol, source: t.source) {
            fail("producers.trades.symbols[\(i)]", "'\(symbol)' is not a \(t.source) symbol", fix: SymbolFormat.example(source: t.source))
        }
        if !SymbolFormat.isUserName(m.source.appUser) || m.source.appUser == m.source.cdcUser || m.source.appUser == "root" {
            fail("source.appUser", "'\(m.source.appUser)' must be a plain user name other than root and source.cdcUser",
                 fix: "e.g. app")
        }
        let ttl = m.clickhouse.ttl
        for (path, days) in [("clickhouse.ttl.rawDays", ttl.rawDays), ("clickhouse.ttl.tradesDays", ttl.tradesDays),
                             ("clickhouse.ttl.aggregatesDays", ttl.aggregatesDays), ("clickhouse.ttl.alertsDays", ttl.alertsDays)] where days < 1 {
            fail(path, "must be at least 1 day, found \(days)", fix: "e.g. 7")
        }
        if !(0.1...0.95).contains(m.clickhouse.maxServerMemoryRatio) {
            fail("clickhouse.maxServerMemoryRatio", "must be between 0.1 and 0.95", fix: "0.75 leaves room under the container limit")
        }
    }
}

extension Checks {
    /// Least privilege (issue 21): one ClickHouse user per role, narrow networks, and nothing
    /// published through the tunnel that asks for no login.
    mutating func access() {
        let c = m.clickhouse
        let users = [("clickhouse.user", c.user), ("clickhouse.writerUser", c.writerUser), ("clickhouse.readerUser", c.readerUser)]
        for (i, (path, name)) in users.enumerated() {
            if let other = users[..<i].first(where: { $0.1 == name }) {
                fail(path, "'\(name)' is also \(other.0): each role needs its own ClickHouse user",
                     fix: "the defaults are cdcctl (migrations), cdcctl_writer (processor) and grafana_reader (Grafana)")
            }
            if name == "default" {
                fail(path, "'default' is the user ClickHouse creates itself, which render removes", fix: "name another user")
            }
        }
        for (path, value) in [("clickhouse.readerMaxExecutionSeconds", c.readerMaxExecutionSeconds),
                              ("clickhouse.readerMaxResultRows", c.readerMaxResultRows),
                              ("clickhouse.readerMaxRowsToRead", c.readerMaxRowsToRead)] where value < 1 {
            fail(path, "must be positive, found \(value) (0 would lift the limit for every visitor)", fix: "see manifests/default.yaml")
        }
        if !CIDR.isPrivateIPv4Subnet(m.cluster.subnet) {
            fail("cluster.subnet", "'\(m.cluster.subnet)' is not a private IPv4 subnet of /16 to /28",
                 fix: "a range no other network on this host uses, e.g. 172.29.0.0/24 (10/8, 172.16/12 or 192.168/16)")
        }
        if c.networks.isEmpty {
            fail("clickhouse.networks", "lists no network: no user could log in", fix: "keep the default: loopback and cluster.subnet (the compose network)")
        }
        for (i, net) in c.networks.enumerated() {
            if !CIDR.isValid(net) {
                fail("clickhouse.networks[\(i)]", "'\(net)' is not an IP address or CIDR", fix: "e.g. 127.0.0.1/32 or 172.16.0.0/12")
            } else if CIDR.isEverything(net) {
                fail("clickhouse.networks[\(i)]", "'\(net)' lets every address log in",
                     fix: "list loopback and the compose network's range (the default: 127.0.0.1/32, ::1/128 and cluster.subnet)")
            }
        }
        if m.kafkaUI.login && !SymbolFormat.isUserName(m.kafkaUI.loginUser) {
            fail("kafkaUI.loginUser", "'\(m.kafkaUI.loginUser)' is not a plain user name", fix: "letters, digits and '_', e.g. admin")
        }
        guard m.cloudflared.enabled else { return }
        if m.cloudflared.domain.isEmpty || !m.cloudflared.domain.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "." || $0 == "-") }) {
            fail("cloudflared.domain", "'\(m.cloudflared.domain)' is not a DNS domain", fix: "e.g. example.com (services are published as grafana.example.com)")
        }
        let names = Exposure.tunnelTargets.map(\.service)
        for (i, service) in m.cloudflared.publish.enumerated() {
            let path = "cloudflared.publish[\(i)]"
            guard names.contains(service) else {
                fail(path, "'\(service)' is not a service the tunnel can publish", fix: "name one of: \(names.joined(separator: ", "))")
                continue
            }
            if service == "kafka-ui" && !m.kafkaUI.enabled {
                fail(path, "publishes kafka-ui, which kafkaUI.enabled turns off", fix: "set kafkaUI.enabled: true and kafkaUI.login: true, or remove it")
                continue
            }
            guard Exposure.authentication(of: service, m) == Authentication.none else { continue }
            let fix: String
            switch service {
            case "kafka-ui": fix = "set kafkaUI.login: true (user kafkaUI.loginUser, password secrets.kafkaUIPassword), or remove kafka-ui from cloudflared.publish"
            case "prometheus": fix = "remove prometheus from cloudflared.publish: Grafana shows its metrics behind a login"
            default: fix = "remove \(service) from cloudflared.publish: reach it from the host (ssh) instead"
            }
            fail(path, "would publish \(service) through the tunnel without authentication: anyone with the URL gets in", fix: fix)
        }
    }
}

/// Problems that do not stop a render but that an operator must hear about (`validate` prints them).
public enum ManifestWarnings {
    public static func check(_ m: Manifest) -> [String] {
        var out: [String] = []
        if !Exposure.isLoopback(m.cluster.bindAddress) {
            let open = Exposure.services(m).filter { $0.authentication == .none }.map { "\($0.service) (\($0.hostPort.map(String.init) ?? "-"))" }
            out.append("cluster.bindAddress is \(m.cluster.bindAddress), not loopback: every host port is reachable from that network, and "
                       + "Kafka and Kafka Connect listen in PLAINTEXT without authentication — anyone there can read and write every topic "
                       + "and change connectors. Unauthenticated: \(open.joined(separator: ", ")). "
                       + "Fix: set cluster.bindAddress: 127.0.0.1 and publish Grafana through the tunnel, or firewall that network")
        }
        return out
    }
}

/// IPv4/IPv6 addresses and CIDR ranges, as ClickHouse's `<networks><ip>` takes them.
public enum CIDR {
    public static func isValid(_ s: String) -> Bool {
        let parts = s.split(separator: "/", omittingEmptySubsequences: false)
        guard (1...2).contains(parts.count) else { return false }
        let address = String(parts[0])
        let v4 = isIPv4(address)
        guard v4 || isIPv6(address) else { return false }
        if parts.count == 2 {
            guard let bits = Int(parts[1]), bits >= 0, bits <= (v4 ? 32 : 128) else { return false }
        }
        return true
    }

    /// An IPv4 network address with a /16–/28 prefix inside 10/8, 172.16/12 or 192.168/16.
    public static func isPrivateIPv4Subnet(_ s: String) -> Bool {
        let parts = s.split(separator: "/")
        guard parts.count == 2, isIPv4(String(parts[0])), let bits = Int(parts[1]), (16...28).contains(bits) else { return false }
        let o = parts[0].split(separator: ".").map { UInt32($0)! }
        let address = o[0] << 24 | o[1] << 16 | o[2] << 8 | o[3]
        guard address & ~(UInt32.max << UInt32(32 - bits)) == 0 else { return false }  // the network address itself
        return o[0] == 10 || (o[0] == 172 && (16...31).contains(o[1])) || (o[0] == 192 && o[1] == 168)
    }

    public static func isEverything(_ s: String) -> Bool {
        s.hasSuffix("/0") || s == "::" || s == "0.0.0.0"
    }

    static func isIPv4(_ s: String) -> Bool {
        let octets = s.split(separator: ".", omittingEmptySubsequences: false)
        return octets.count == 4 && octets.allSatisfy { !$0.isEmpty && $0.count <= 3 && $0.allSatisfy(\.isNumber) && Int($0)! <= 255 }
    }

    static func isIPv6(_ s: String) -> Bool {
        s.contains(":") && s.count <= 39 && s.allSatisfy { $0.isHexDigit || $0 == ":" }
    }
}

/// A secret reference from the manifest.
public enum SecretRef: Equatable, Sendable {
    case env(String)
    case file(String)
    case generate
    /// The empty password (a server user without one).
    case empty

    public init?(_ text: String) {
        if text == "generate" { self = .generate; return }
        if text == "none" { self = .empty; return }
        if text.hasPrefix("env:"), text.count > 4,
           text.dropFirst(4).allSatisfy({ $0.isLetter || $0.isNumber || $0 == "_" }) {
            self = .env(String(text.dropFirst(4))); return
        }
        if text.hasPrefix("file:"), text.count > 5 { self = .file(String(text.dropFirst(5))); return }
        return nil
    }
}

public enum Naming {
    /// `[A-Za-z_][A-Za-z0-9_]*`: usable in SQL without quoting.
    public static func isPlainIdentifier(_ s: String) -> Bool {
        guard let first = s.first, first.isASCII, first.isLetter || first == "_" else { return false }
        return s.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_") }
    }

    public static func isComposeProject(_ s: String) -> Bool {
        guard let first = s.first, first.isASCII, first.isLowercase || first.isNumber else { return false }
        return s.allSatisfy { $0.isASCII && ($0.isLowercase || $0.isNumber || $0 == "-" || $0 == "_") }
    }

    public static func isKafkaTopic(_ s: String) -> Bool {
        !s.isEmpty && s.count <= 249 && s != "." && s != ".."
            && s.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "." || $0 == "_" || $0 == "-") }
    }

    public static func isKRaftClusterId(_ s: String) -> Bool {
        s.count == 22 && s.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-" || $0 == "_") }
    }
}

extension String {
    /// `mysqlRootPassword` → `MYSQL_ROOT_PASSWORD`.
    var snakeUpper: String {
        var out = ""
        for ch in self {
            if ch.isUppercase && !out.isEmpty { out.append("_") }
            out += ch.uppercased()
        }
        return out
    }
}

/// What a symbol looks like for each producer (used by validation and by `produce` for --symbols).
public enum SymbolFormat {
    static let symbolCharacters = Set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-.")

    /// What the orders table's `symbol VARCHAR(16)` holds.
    public static func isOrderSymbol(_ s: String) -> Bool {
        (1...16).contains(s.count) && s.allSatisfy { symbolCharacters.contains($0) }
    }

    /// Upbit: `KRW-BTC` (market, '-', coin, upper case); KIS: a 6-digit KRX code; replay and
    /// synthetic: any order symbol.
    public static func isTradeSymbol(_ s: String, source: String) -> Bool {
        switch source {
        case "upbit":
            let parts = s.split(separator: "-", omittingEmptySubsequences: false)
            return parts.count == 2 && parts.allSatisfy { !$0.isEmpty && $0.allSatisfy { ("A"..."Z").contains($0) || ("0"..."9").contains($0) } }
        case "kis": return s.count == 6 && s.allSatisfy { ("0"..."9").contains($0) || ("A"..."Z").contains($0) }
        default: return isOrderSymbol(s)
        }
    }

    public static func example(source: String) -> String {
        switch source {
        case "upbit": "Upbit codes are MARKET-COIN in upper case, e.g. KRW-BTC"
        case "kis": "KIS codes are 6-character KRX tickers, e.g. 005930"
        default: "1 to 16 letters, digits, '-' or '.', e.g. KRW-BTC"
        }
    }

    static func isUserName(_ s: String) -> Bool {
        (1...32).contains(s.count) && s.allSatisfy { ("a"..."z").contains($0) || ("A"..."Z").contains($0) || ("0"..."9").contains($0) || $0 == "_" }
    }
}
