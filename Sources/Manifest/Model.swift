/// The cluster manifest (`cdcctl.yaml`): the single source of truth for the stack.
/// Defaults are those of the 16 GB single-box profile; `manifests/` shows them written out.
public struct Manifest: Sendable, Codable, Equatable {
    public static let apiVersion = "cdcctl/v1"

    public var cluster: Cluster
    public var secrets: Secrets
    public var source: Source
    public var kafka: Kafka
    public var connect: Connect
    public var clickhouse: ClickHouse
    public var prometheus: Prometheus
    public var grafana: Grafana
    public var kafkaUI: KafkaUI
    public var cloudflared: Cloudflared
    public var processor: Processor
    public var producers: Producers
    /// cdcctl's own reports (`report memory`): where its sampler serves /metrics.
    public var reports: ReportSettings
    /// `cdcctl monitor`: where it serves the stack's health for Prometheus.
    public var monitor: MonitorSettings
    public var access: Access
    /// StarRocks loading the Debezium topics itself (Routine Load); off unless enabled.
    public var starrocks: StarRocks
    /// PostgreSQL as an OLAP sink of the processor (`processor.sinks` contains `postgres`).
    public var postgres: Postgres
    public var bench: Bench
}

/// Targets `cdcctl bench` judges a run against.
public struct Bench: Sendable, Codable, Equatable {
    public var e2e: BenchE2E
}

/// `bench.e2e`: the seed's headline targets (end-to-end p99 under 5 s, over 200 changes/s).
public struct BenchE2E: Sendable, Codable, Equatable {
    /// End-to-end p99 latency (MySQL commit → visible in ClickHouse) must stay at or below this.
    public var p99Ms: Int
    /// The sustained rate of changes that reached ClickHouse must be at least this.
    public var minRate: Double
}

/// How cdcctl (on the host) reaches the stack. Derived from bindAddress and the host ports
/// unless set, e.g. to point cdcctl at servers it did not start (the testbed).
public struct Access: Sendable, Codable, Equatable {
    public var kafkaBootstrap: String
    public var connectURL: String
    public var clickhouseURL: String
    /// The ClickHouse user cdcctl connects as; `clickhouse.user` (the user render creates) unless set.
    public var clickhouseUser: String
    /// The user the processor (`cdcctl process run`) writes as; `clickhouse.writerUser` unless set.
    public var clickhouseWriterUser: String
    /// The user `schema status` checks Grafana's read-only grants with; `clickhouse.readerUser` unless set.
    public var clickhouseReaderUser: String
    public var mysqlHost: String
    public var mysqlPort: Int
    public var prometheusURL: String
    /// Where cdcctl (the processor, `schema --target postgres`) reaches PostgreSQL; bindAddress
    /// and `postgres.port` unless set.
    public var postgresHost: String
    public var postgresPort: Int
}

public struct Cluster: Sendable, Codable, Equatable {
    /// Compose project name and container-name prefix.
    public var name: String
    /// Address host ports bind to; loopback by default (expose through the tunnel, not the LAN).
    public var bindAddress: String
    /// The compose network's IPv4 subnet, pinned so ClickHouse's users can be limited to it.
    public var subnet: String = "172.29.0.0/24"
    public var host: Host
}

public struct Host: Sendable, Codable, Equatable {
    public var memoryMiB: Int
    /// Left to the OS, page cache and cdcctl itself; limits must fit in memory - reserve.
    public var reserveMiB: Int
    /// The disk the volumes live on (`cluster.host.disk`, default 500g): `report disk` holds the
    /// steady state the retentions imply against it.
    public var diskMiB: Int = 512_000
    public var budgetMiB: Int { memoryMiB - reserveMiB }
}

/// Where each secret comes from. Values are references, never the secret itself:
/// `env:NAME` (read at render time), `file:PATH`, `generate` (random, kept in the state dir), or
/// `none` (no password; clickhousePassword only, for a server whose user has none, like the testbed).
public struct Secrets: Sendable, Codable, Equatable {
    public var mysqlRootPassword: String
    public var mysqlCdcPassword: String
    /// The order generator's application user (`source.appUser`).
    public var mysqlAppPassword: String
    /// The ClickHouse admin (`clickhouse.user`): migrations and status, from the host only.
    public var clickhousePassword: String
    /// The processor's ClickHouse user (`clickhouse.writerUser`).
    public var clickhouseWriterPassword: String
    /// Grafana's read-only ClickHouse user (`clickhouse.readerUser`).
    public var clickhouseReaderPassword: String
    public var grafanaAdminPassword: String
    /// kafka-ui's login (`kafkaUI.login`).
    public var kafkaUIPassword: String
    public var cloudflareTunnelToken: String
    /// The PostgreSQL sink's user (`postgres.user`), when `processor.sinks` has `postgres`.
    public var postgresPassword: String
}

public struct Source: Sendable, Codable, Equatable {
    /// `mysql` (MySQL 8) or `mariadb` (the seed-002 variant).
    public var engine: String
    public var image: String
    public var memoryMiB: Int
    public var port: Int
    public var database: String
    public var serverId: Int
    public var gtid: Bool
    public var binlogExpireSeconds: Int
    public var innodbBufferPoolMiB: Int
    public var cdcUser: String
    /// The least-privilege user the order generator writes as (SELECT, INSERT, UPDATE, DELETE on
    /// `database` only): neither root nor the CDC user.
    public var appUser: String
}

public struct Kafka: Sendable, Codable, Equatable {
    /// `kafka` (Apache Kafka: brokers are counted from cluster metadata) or `tansu` (the
    /// testbed's Kafka-wire broker, whose processes all report one node id: each bootstrap
    /// address that answers counts as a live broker).
    public var engine: String
    public var image: String
    public var clusterId: String
    public var brokers: Int
    public var heapMiB: Int
    public var memoryMiB: Int
    /// Broker i (1-based) publishes its EXTERNAL listener on externalPortBase + i - 1.
    public var externalPortBase: Int
    public var defaults: TopicDefaults
    public var topics: [Topic]

    public var externalPorts: [Int] { (0..<brokers).map { externalPortBase + $0 } }
}

public struct TopicDefaults: Sendable, Codable, Equatable {
    public var partitions: Int
    public var replicationFactor: Int
    public var minInsyncReplicas: Int
    public var retentionHours: Int
    public var retentionBytes: Int
    public var uncleanLeaderElection: Bool
}

public struct Topic: Sendable, Codable, Equatable {
    public var name: String
    public var partitions: Int
    public var replicationFactor: Int
    public var minInsyncReplicas: Int
    /// Durable topics must survive one broker loss with acks=all: 1 ≤ min.insync < RF.
    public var durable: Bool
    public var retentionHours: Int
    public var retentionBytes: Int
    public var cleanupPolicy: String
    /// The record key producers use (documents the partitioning contract: order_id, symbol).
    public var key: String?
    /// Extra topic configs, passed through as written.
    public var config: [KeyValue]

    /// A topic cdcctl declares itself (failover-test's scratch topic), with the manifest's rules.
    public init(name: String, partitions: Int, replicationFactor: Int, minInsyncReplicas: Int, durable: Bool, retentionHours: Int,
                retentionBytes: Int, cleanupPolicy: String, key: String?, config: [KeyValue]) {
        self.name = name
        self.partitions = partitions
        self.replicationFactor = replicationFactor
        self.minInsyncReplicas = minInsyncReplicas
        self.durable = durable
        self.retentionHours = retentionHours
        self.retentionBytes = retentionBytes
        self.cleanupPolicy = cleanupPolicy
        self.key = key
        self.config = config
    }

    /// The topic-level configs cdcctl manages, in a stable order.
    public var configs: [KeyValue] {
        var out = [
            KeyValue(key: "cleanup.policy", value: cleanupPolicy),
            KeyValue(key: "min.insync.replicas", value: String(minInsyncReplicas)),
            KeyValue(key: "retention.bytes", value: String(retentionBytes)),
            KeyValue(key: "retention.ms", value: retentionHours < 0 ? "-1" : String(retentionHours * 3_600_000)),
            KeyValue(key: "unclean.leader.election.enable", value: "false"),
        ]
        for extra in config {
            if let i = out.firstIndex(where: { $0.key == extra.key }) { out[i] = extra } else { out.append(extra) }
        }
        return out.sorted { $0.key < $1.key }
    }
}

public struct Connect: Sendable, Codable, Equatable {
    public var image: String
    public var heapMiB: Int
    public var memoryMiB: Int
    public var port: Int
    public var groupId: String
    /// Where the worker reads the CDC password (Kafka's FileConfigProvider), so connector
    /// configs carry `${file:PATH:password}` instead of the password.
    public var secretsFile: String
    public var connectors: [Connector]
}

public struct Connector: Sendable, Codable, Equatable {
    public var name: String
    /// How the Connect worker reaches the source database and Kafka (compose service names by default).
    public var databaseHost: String
    public var databasePort: Int
    public var kafkaBootstrap: String
    public var topicPrefix: String
    /// `schema.table` names captured.
    public var tables: [String]
    public var serverId: Int
    public var snapshotMode: String
    public var heartbeatIntervalMs: Int
    /// Debezium's `poll.interval.ms`: how long the task waits for a batch to fill before it hands
    /// Connect what it has. Debezium's 500 ms default makes every change below ~4,000/s wait
    /// ~250 ms on average; 50 ms costs ten times the (mostly empty) wake-ups and smaller
    /// produce batches (docs/benchmarks.md).
    public var pollIntervalMs: Int
    public var maxQueueSize: Int
    /// Caps the connector's in-memory queue so the worker cannot OOM on a small box.
    public var maxQueueSizeBytes: Int
    public var maxBatchSize: Int
    public var schemaHistoryTopic: String
    public var config: [KeyValue]

    public var databases: [String] {
        var seen: [String] = []
        for t in tables { let db = String(t.split(separator: ".").first ?? ""); if !seen.contains(db) { seen.append(db) } }
        return seen
    }

    /// Debezium's topic for a captured table: `<prefix>.<db>.<table>`.
    public func topic(for table: String) -> String { "\(topicPrefix).\(table)" }
}

public struct ClickHouse: Sendable, Codable, Equatable {
    public var image: String
    public var memoryMiB: Int
    public var httpPort: Int
    public var database: String
    /// The admin/migration user: `cdcctl schema` and `status`, from the host side only.
    public var user: String
    /// The processor's user: INSERT and SELECT on `database`, no DDL (profile `allow_ddl = 0`).
    public var writerUser: String
    /// Grafana's user: `readonly = 1`, SELECT on `database` only, with the limits below.
    public var readerUser: String
    public var readerMaxExecutionSeconds: Int
    public var readerMaxResultRows: Int
    public var readerMaxRowsToRead: Int
    /// Where the users may log in from (CIDRs): loopback and the compose network's address range.
    public var networks: [String]
    public var maxServerMemoryRatio: Double
    public var markCacheMiB: Int
    public var maxThreads: Int
    public var maxConcurrentQueries: Int
    /// The container's open-files limit (soft = hard). The Docker daemon's own hard limit caps it:
    /// lower it where the daemon runs with fewer (rootless or sandboxed engines).
    public var openFiles: Int
    public var ttl: TTL
}

public struct TTL: Sendable, Codable, Equatable {
    public var rawDays: Int
    public var tradesDays: Int
    public var aggregatesDays: Int
    public var alertsDays: Int
}

public struct Prometheus: Sendable, Codable, Equatable {
    public var image: String
    public var memoryMiB: Int
    public var port: Int
    public var retentionDays: Int
    public var scrapeIntervalSeconds: Int
}

public struct Grafana: Sendable, Codable, Equatable {
    public var image: String
    public var memoryMiB: Int
    public var port: Int
    public var adminUser: String
    /// Visitors see the provisioned organisation's dashboards without an account (Viewer role).
    public var anonymousViewers: Bool
}

public struct KafkaUI: Sendable, Codable, Equatable {
    public var enabled: Bool
    public var image: String
    public var memoryMiB: Int
    public var heapMiB: Int
    public var port: Int
    /// kafka-ui's login form (user `loginUser`, password `secrets.kafkaUIPassword`); required to publish it.
    public var login: Bool
    public var loginUser: String
}

public struct Cloudflared: Sendable, Codable, Equatable {
    public var enabled: Bool
    public var image: String
    public var memoryMiB: Int
    public var metricsPort: Int
    /// Services the tunnel's ingress publishes (`grafana`, `kafka-ui`, …): each must ask for a login.
    public var publish: [String]
    /// The public domain: service `s` is published as `s.<domain>`.
    public var domain: String
}

public struct Processor: Sendable, Codable, Equatable {
    public var memoryMiB: Int
    public var consumerGroup: String
    public var tradesTopic: String
    public var ordersTopic: String
    public var windowMinutes: Int
    public var watermarkDelaySeconds: Int
    public var allowedLatenessSeconds: Int
    public var flushIntervalMs: Int
    public var batchMaxRows: Int
    /// Backpressure bound: consumption pauses above this many buffered events.
    public var maxBufferedEvents: Int
    public var metricsPort: Int
    /// Processing time without records on a trades partition after which its open windows
    /// are written provisionally (a market that closed); 0 turns the idle rule off.
    public var idleTimeoutSeconds: Int
    /// How far a trade's event time may be ahead of its Kafka timestamp (or, without one, of
    /// its partition's highest event time) before it is quarantined as a clock glitch.
    public var maxFutureSkewSeconds: Int
    public var anomalies: Anomalies
    /// Where the processor writes: `clickhouse` (the default), `postgres`, or both. Each sink
    /// runs its own loop with its own consumer group (docs/postgres.md).
    public var sinks: [String]
}

public struct Anomalies: Sendable, Codable, Equatable {
    /// Price move beyond N standard deviations of the last `priceWindow` trades.
    public var priceZScore: Double
    public var priceWindow: Int
    /// Window volume above `volumeSpikeFactor` × the mean of the previous `volumeWindows` windows.
    public var volumeSpikeFactor: Double
    public var volumeWindows: Int
    /// Orders whose quantity × price exceeds this notional value.
    public var oversizedOrderNotional: Double
}

public struct ReportSettings: Sendable, Codable, Equatable {
    /// The host port `cdcctl report memory --record --every …` serves /metrics on (127.0.0.1);
    /// the rendered Prometheus scrapes it as job `cdcctl-memory`.
    public var memoryMetricsPort: Int
}

public struct MonitorSettings: Sendable, Codable, Equatable {
    /// The host port `cdcctl monitor` serves /metrics on (127.0.0.1 and the Docker bridge); the
    /// rendered Prometheus scrapes it as job `monitor` at host.docker.internal.
    public var port: Int
}

public struct Producers: Sendable, Codable, Equatable {
    public var orders: OrderGenerator
    public var trades: TradeFeed
}

public struct OrderGenerator: Sendable, Codable, Equatable {
    public var memoryMiB: Int
    /// Lifecycle steps per second at the pattern's peak (each step is one transaction).
    public var ratePerSecond: Double
    /// `time-of-day` (the KRX session's U shape in KST), `constant` (`flat` is the same), or `burst`.
    public var pattern: String
    public var symbols: [String]
    /// Share of finished orders that are then deleted (Debezium `d` events and tombstones).
    public var deleteShare: Double
    /// Share of orders cancelled instead of filled.
    public var cancelShare: Double
    /// Share of orders large enough to trip the processor's `oversized_order` rule.
    public var oversizedShare: Double
    /// Rate multiplier outside the KRX session for `time-of-day` (0 = nothing at night).
    public var offHoursFactor: Double
}

public struct TradeFeed: Sendable, Codable, Equatable {
    public var memoryMiB: Int
    /// `upbit`, `kis`, `replay` or `synthetic`.
    public var source: String
    public var topic: String
    public var symbols: [String]
    public var replayFile: String?
    /// Trades per second for `synthetic` (replay keeps the recorded pace unless told otherwise).
    public var ratePerSecond: Double
}

/// StarRocks as a second analytics sink that reads the Debezium topics itself with Routine Load
/// (one FE, one BE, sized for the 16 GB box). The processor is not involved: each captured table
/// gets a primary-key table and a routine load job (`cdcctl schema apply --target starrocks`).
public struct StarRocks: Sendable, Codable, Equatable {
    public var enabled: Bool
    public var feImage: String
    public var beImage: String
    public var feMemoryMiB: Int
    /// The FE's JVM heap (-Xmx), below feMemoryMiB.
    public var feHeapMiB: Int
    public var beMemoryMiB: Int
    /// Host port of the FE's MySQL-protocol listener (container port 9030).
    public var queryPort: Int
    /// Host port of the FE's HTTP listener (container port 8030).
    public var httpPort: Int
    public var database: String
    /// The user `schema apply` connects as (the FE starts with a passwordless root).
    public var user: String
    /// How the BE reaches Kafka (compose service names by default).
    public var kafkaBootstrap: String
    /// Routine Load: how often a task commits, and how many tasks a job runs at once.
    public var maxBatchIntervalSeconds: Int
    public var desiredConcurrentNumber: Int
    /// Rows a job may reject per error window before it pauses itself.
    public var maxErrorNumber: Int
    /// The BE refuses to start (or crashes later) below this vm.max_map_count.
    public var minMaxMapCount: Int
}

/// PostgreSQL as an OLAP sink (docs/postgres.md): history, current-state and per-user statistics
/// tables written by the processor's PostgreSQL loop, exactly once (rows and offsets in one
/// transaction). Rendered and started only when `processor.sinks` contains `postgres`.
public struct Postgres: Sendable, Codable, Equatable {
    /// The official image (its contract: POSTGRES_PASSWORD, POSTGRES_USER, POSTGRES_DB,
    /// /docker-entrypoint-initdb.d, /var/lib/postgresql/data).
    public var image: String
    public var memoryMiB: Int
    /// Host port (on cluster.bindAddress) of the container's 5432.
    public var port: Int
    public var database: String
    /// The owner of `database`, the user the processor writes as.
    public var user: String
    /// The PostgreSQL loop's transaction size: records per transaction at most.
    public var batchMaxRecords: Int
}

extension Manifest {
    /// Whether the processor writes to PostgreSQL (and render/up run it).
    public var postgresEnabled: Bool { processor.sinks.contains("postgres") }
    /// Whether the processor writes to ClickHouse.
    public var clickhouseSinkEnabled: Bool { processor.sinks.contains("clickhouse") }
}
