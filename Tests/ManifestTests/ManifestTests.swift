import Diagnostics
import XCTest
@testable import Manifest

final class ManifestTests: XCTestCase {
    static let repo = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path

    /// Parses `yaml` and returns the problems found (none when it is valid). Snippets hold only
    /// the keys under test: the `apiVersion` line every manifest needs is added after them (so
    /// the lines they report are the snippet's own), unless the snippet sets it.
    func problems(_ yaml: String) -> [CdcError] {
        let manifest = yaml.contains("apiVersion:") || !yaml.hasSuffix("\n") ? yaml : yaml + "apiVersion: \(Manifest.apiVersion)\n"
        do {
            _ = try ManifestLoader.parse(manifest, file: "cdcctl.yaml")
            return []
        } catch let e as CdcErrors {
            return e.errors
        } catch {
            XCTFail("unexpected error type \(error)")
            return []
        }
    }

    /// Asserts exactly one problem about `subject`, at `line` when given, whose text contains `text`.
    func assertProblem(_ yaml: String, subject: String, contains text: String, line: Int? = nil,
                       file: StaticString = #filePath, lineNo: UInt = #line) {
        let found = problems(yaml).filter { $0.subject == subject }
        XCTAssertEqual(found.count, 1, "problems: \(problems(yaml).map(\.description))", file: file, line: lineNo)
        guard let p = found.first else { return }
        XCTAssertTrue(p.description.contains(text), "'\(p.description)' lacks '\(text)'", file: file, line: lineNo)
        XCTAssertEqual(p.kind, .invalidInput, file: file, line: lineNo)
        XCTAssertNotNil(p.fix, "every problem says how to fix it", file: file, line: lineNo)
        if let line { XCTAssertEqual(p.location?.line, line, file: file, line: lineNo) }
    }

    func testDefaultProfileCarriesTheDurabilityContract() throws {
        let loaded = try ManifestLoader.load(path: Self.repo + "/manifests/default.yaml")
        let m = loaded.manifest
        XCTAssertEqual(m.kafka.brokers, 3)
        XCTAssertEqual(m.kafka.topics.count, 5)
        for t in m.kafka.topics {
            XCTAssertEqual(t.replicationFactor, 3, t.name)
            XCTAssertEqual(t.minInsyncReplicas, 2, t.name)
            XCTAssertTrue(t.configs.contains(KeyValue(key: "unclean.leader.election.enable", value: "false")))
        }
        XCTAssertEqual(m.kafka.topics.first { $0.name == "cdc.shop.orders" }?.key, "order_id")
        XCTAssertEqual(m.kafka.topics.first { $0.name == "trades.raw" }?.key, "symbol")
        XCTAssertEqual(m.kafka.topics.first { $0.name == "cdc.shop.orders" }?.configs.first { $0.key == "retention.ms" }?.value, "259200000")
        XCTAssertEqual(m.kafka.heapMiB, 512)
        XCTAssertEqual(m.kafka.memoryMiB, 768)
        XCTAssertEqual(m.source.binlogExpireSeconds, 259_200)
        XCTAssertEqual(m.source.cdcUser, "debezium")
        XCTAssertEqual(m.access.kafkaBootstrap, "127.0.0.1:9092,127.0.0.1:9093,127.0.0.1:9094")
        XCTAssertEqual(loaded.location(of: "kafka.topics[2].name")?.line, 63)
    }

    func testEmptyManifestEqualsTheWrittenDefaultProfile() throws {
        // manifests/default.yaml documents the defaults: an empty manifest must mean the same.
        let written = try ManifestLoader.load(path: Self.repo + "/manifests/default.yaml").manifest
        let empty = try ManifestLoader.parse("apiVersion: cdcctl/v1\n", file: "empty.yaml").manifest
        XCTAssertEqual(empty, written)
    }

    func testLeanProfileIsValidAndSmaller() throws {
        let lean = try ManifestLoader.load(path: Self.repo + "/manifests/lean.yaml").manifest
        let budget = MemoryBudget(lean)
        XCTAssertTrue(budget.fits)
        XCTAssertLessThan(budget.totalMiB, MemoryBudget(try ManifestLoader.parse("apiVersion: cdcctl/v1\n", file: "x").manifest).totalMiB)
        XCTAssertFalse(budget.lines.contains { $0.service == "kafka-ui" })
        XCTAssertEqual(lean.kafka.defaults.replicationFactor, 3)
    }

    // MARK: - Structural problems

    func testUnknownKeyIsReportedWithSuggestionAndLine() {
        assertProblem("cluster:\n  name: cdc\n  hots: {}\n", subject: "cluster.hots", contains: "did you mean 'host'?", line: 3)
    }

    func testWrongTypeIsReported() {
        assertProblem("kafka:\n  brokers: three\n", subject: "kafka.brokers", contains: "expected a whole number, found 'three'", line: 2)
        assertProblem("kafka:\n  topics: trades\n", subject: "kafka.topics", contains: "expected a list")
        assertProblem("source: [1, 2]\n", subject: "source", contains: "expected a mapping")
        assertProblem("kafkaUI:\n  enabled: maybe\n", subject: "kafkaUI.enabled", contains: "expected true or false")
    }

    func testBadMemoryUnitIsReported() {
        assertProblem("source:\n  memory: 12x\n", subject: "source.memory", contains: "expected a memory size such as 768m", line: 2)
    }

    func testBadChoiceSuggestsTheClosestValue() {
        assertProblem("source:\n  engine: mysq\n", subject: "source.engine", contains: "did you mean 'mysql'?")
    }

    func testRemovedSnapshotModeIsRejected() {
        assertProblem("connect:\n  connectors:\n    - name: c1\n      snapshotMode: never\n",
                      subject: "connect.connectors[0].snapshotMode", contains: "expected one of initial")
    }

    func testDuplicateKeyIsReported() {
        let p = problems("cluster:\n  name: a\n  name: b\n")
        XCTAssertEqual(p.count, 1)
        XCTAssertTrue(p.first?.description.contains("key 'name' is set twice") ?? false, p.first?.description ?? "")
        XCTAssertEqual(p.first?.location?.line, 2)
    }

    func testYAMLSyntaxErrorNamesTheLine() {
        let p = problems("cluster:\n  name: [unclosed\nkafka: {}\n")
        XCTAssertEqual(p.count, 1)
        XCTAssertTrue(p.first?.description.contains("YAML syntax error") ?? false)
        XCTAssertNotNil(p.first?.location?.line)
    }

    func testWrongApiVersionIsRejected() {
        assertProblem("apiVersion: v2\n", subject: "apiVersion", contains: "expected 'cdcctl/v1'")
    }

    // MARK: - Kafka rules

    static let threeTopics = """
        kafka:
          topics:
            - name: cdc.shop.orders
            - name: cdc.shop.order_executions
            - name: trades.raw
              replicationFactor: 4
            - name: alerts
            - name: schemahistory.shop
              partitions: 1
              retentionHours: -1
              retentionBytes: -1

        """

    func testReplicationFactorAboveBrokersIsRejectedAtItsLine() {
        assertProblem(Self.threeTopics, subject: "kafka.topics[2].replicationFactor", contains: "4 exceeds the 3 brokers", line: 6)
        let p = problems(Self.threeTopics).first!
        XCTAssertEqual(p.description.split(separator: "\n").first, "cdcctl.yaml:6 kafka.topics[2].replicationFactor: 4 exceeds the 3 brokers")
    }

    func testMinInsyncMustBeBelowReplicationFactorForDurableTopics() {
        let yaml = Self.threeTopics.replacingOccurrences(of: "replicationFactor: 4", with: "minInsyncReplicas: 3")
        assertProblem(yaml, subject: "kafka.topics[2].minInsyncReplicas", contains: "below the replication factor 3", line: 6)
        let zero = Self.threeTopics.replacingOccurrences(of: "replicationFactor: 4", with: "minInsyncReplicas: 0")
        assertProblem(zero, subject: "kafka.topics[2].minInsyncReplicas", contains: "must be at least 1")
    }

    func testDurableTopicNeedsTwoReplicasButNonDurableMayHaveOne() {
        let single = Self.threeTopics.replacingOccurrences(of: "replicationFactor: 4", with: "replicationFactor: 1")
        assertProblem(single, subject: "kafka.topics[2].replicationFactor", contains: "a durable topic needs at least 2 replicas")
        let scratch = Self.threeTopics.replacingOccurrences(of: "replicationFactor: 4", with: "replicationFactor: 1\n      minInsyncReplicas: 1\n      durable: false")
        XCTAssertEqual(problems(scratch).map(\.description), [])
    }

    func testTopicNamesAreCheckedForKafka() {
        let bad = Self.threeTopics.replacingOccurrences(of: "- name: alerts", with: "- name: \"alerts!\"")
        assertProblem(bad, subject: "kafka.topics[3].name", contains: "not a valid Kafka topic name")
        let dup = Self.threeTopics.replacingOccurrences(of: "- name: alerts", with: "- name: trades.raw")
        XCTAssertTrue(problems(dup).contains { $0.description.contains("declared twice") })
        let collide = Self.threeTopics.replacingOccurrences(of: "- name: alerts", with: "- name: trades_raw")
        assertProblem(collide, subject: "kafka.topics[3].name", contains: "collides with 'trades.raw'")
    }

    func testSchemaHistoryTopicMustHaveOnePartitionAndInfiniteRetention() {
        let bad = Self.threeTopics.replacingOccurrences(of: "partitions: 1\n      retentionHours: -1", with: "partitions: 3\n      retentionHours: -1")
        assertProblem(bad, subject: "kafka.topics[4]", contains: "Debezium schema history topic")
    }

    func testUncleanLeaderElectionCannotBeEnabled() {
        assertProblem("kafka:\n  defaults:\n    uncleanLeaderElection: true\n", subject: "kafka.defaults.uncleanLeaderElection",
                      contains: "loses acknowledged writes")
    }

    func testClusterIdMustBeAKRaftId() {
        assertProblem("kafka:\n  clusterId: my-cluster\n", subject: "kafka.clusterId", contains: "not a KRaft cluster id")
    }

    // MARK: - Resources

    func testHeapMustBeBelowTheContainerLimit() {
        assertProblem("kafka:\n  heap: 1g\n  memory: 768m\n", subject: "kafka.heap", contains: "JVM heap 1024 MiB must be below the container limit 768 MiB", line: 2)
        assertProblem("connect:\n  heap: 1g\n  memory: 1g\n", subject: "connect.heap", contains: "must be below the container limit")
    }

    func testLimitsOverBudgetPrintTheBudgetTable() {
        assertProblem("clickhouse:\n  memory: 9g\n", subject: "cluster.host", contains: "add up to 15232 MiB, over the 14336 MiB budget by 896 MiB")
        let p = problems("clickhouse:\n  memory: 9g\n").first { $0.subject == "cluster.host" }
        XCTAssertTrue(p?.description.contains("clickhouse       container  9216 MiB") ?? false, p?.description ?? "")
        XCTAssertEqual(problems("clickhouse:\n  memory: 8g\n").count, 0, "14208 MiB fits the 14336 MiB budget")
    }

    func testHostPortsMustBeUnique() {
        assertProblem("grafana:\n  port: 8080\n", subject: "kafkaUI.port", contains: "host port 8080 is already taken by grafana.port")
        assertProblem("connect:\n  port: 9093\n", subject: "connect.port", contains: "already taken by kafka.externalPortBase (broker 2)")
        // The memory sampler's /metrics port is a host port like the others.
        assertProblem("reports:\n  memoryMetricsPort: 9400\n", subject: "reports.memoryMetricsPort", contains: "host port 9400 is already taken by processor.metricsPort")
        assertProblem("reports:\n  memoryMetricsPort: 70000\n", subject: "reports.memoryMetricsPort", contains: "outside 1–65535")
        XCTAssertEqual(problems("reports:\n  memoryMetricsPort: 9411\n").count, 0)
        // So is the monitor's.
        assertProblem("monitor:\n  port: 9401\n", subject: "monitor.port", contains: "host port 9401 is already taken by reports.memoryMetricsPort")
        assertProblem("monitor:\n  port: 0\n", subject: "monitor.port", contains: "outside 1–65535")
        XCTAssertEqual(problems("monitor:\n  port: 9412\n").count, 0)
    }

    func testBindingAllInterfacesIsRejectedBecauseKafkaAdvertisesIt() {
        assertProblem("cluster:\n  bindAddress: 0.0.0.0\n", subject: "cluster.bindAddress", contains: "not one a client can connect to")
    }

    func testComposeProjectNameIsChecked() {
        assertProblem("cluster:\n  name: My_Cluster\n", subject: "cluster.name", contains: "not a valid Docker Compose project name", line: 2)
    }

    func testImagesMustBePinned() {
        assertProblem("grafana:\n  image: grafana/grafana:latest\n", subject: "grafana.image", contains: "not pinned")
        assertProblem("grafana:\n  image: grafana/grafana\n", subject: "grafana.image", contains: "not pinned")
        XCTAssertEqual(problems("grafana:\n  image: registry.local:5000/grafana@sha256:abc\n").count, 0)
    }

    // MARK: - Connectors, secrets, processor

    func testSecretValuesAreRejectedInFavourOfReferences() {
        assertProblem("secrets:\n  mysqlRootPassword: hunter22\n", subject: "secrets.mysqlRootPassword",
                      contains: "expected a reference (env:NAME, file:PATH or generate), not a value", line: 2)
        XCTAssertEqual(problems("secrets:\n  mysqlRootPassword: env:ROOT_PW\n  clickhousePassword: file:/run/ch\n").count, 0)
    }

    func testNoPasswordIsAcceptedForClickHouseOnly() {
        XCTAssertEqual(problems("secrets:\n  clickhousePassword: none\n  clickhouseWriterPassword: none\n  clickhouseReaderPassword: none\n").count, 0)
        assertProblem("secrets:\n  mysqlCdcPassword: none\n", subject: "secrets.mysqlCdcPassword",
                      contains: "`none` (no password) is accepted only for the ClickHouse passwords", line: 2)
        assertProblem("secrets:\n  kafkaUIPassword: none\n", subject: "secrets.kafkaUIPassword",
                      contains: "`none` (no password) is accepted only for the ClickHouse passwords", line: 2)
    }

    func testClickHouseAccessUserDefaultsToTheUserRenderCreates() throws {
        XCTAssertEqual(try ManifestLoader.parse("apiVersion: cdcctl/v1\nclickhouse:\n  user: etl\n", file: "x").manifest.access.clickhouseUser, "etl")
        XCTAssertEqual(try ManifestLoader.parse("apiVersion: cdcctl/v1\naccess:\n  clickhouseUser: default\n", file: "x").manifest.access.clickhouseUser, "default")
        let testbed = try ManifestLoader.load(path: Self.repo + "/manifests/testbed.yaml", environment: [:]).manifest
        XCTAssertEqual(testbed.access.clickhouseUser, "default")
        XCTAssertEqual(testbed.secrets.clickhousePassword, "none")
    }

    func testClickHouseNamesMustBePlainIdentifiers() {
        assertProblem("clickhouse:\n  database: my-db\n", subject: "clickhouse.database", contains: "'my-db' is not a plain identifier", line: 2)
        assertProblem("clickhouse:\n  user: 1user\n", subject: "clickhouse.user", contains: "is not a plain identifier", line: 2)
    }

    /// The compose network is pinned so ClickHouse's users can be limited to it.
    func testClusterSubnetIsAPrivateNetworkAndClickHouseNetworksDefaultToIt() throws {
        assertProblem("cluster:\n  subnet: 172.29.0.5/24\n", subject: "cluster.subnet", contains: "is not a private IPv4 subnet of /16 to /28", line: 2)
        assertProblem("cluster:\n  subnet: 8.8.8.0/24\n", subject: "cluster.subnet", contains: "is not a private IPv4 subnet")
        assertProblem("cluster:\n  subnet: 10.0.0.0/8\n", subject: "cluster.subnet", contains: "is not a private IPv4 subnet")
        XCTAssertEqual(problems("apiVersion: cdcctl/v1\ncluster:\n  subnet: 192.168.77.0/24\n").filter { $0.subject == "cluster.subnet" }.count, 0)
        let m = try ManifestLoader.parse("apiVersion: cdcctl/v1\ncluster:\n  subnet: 10.42.0.0/24\n", file: "x").manifest
        XCTAssertEqual(m.clickhouse.networks, ["127.0.0.1/32", "::1/128", "10.42.0.0/24"])
    }

    func testCapturedTablesNeedDeclaredTopics() {
        let yaml = "connect:\n  connectors:\n    - name: c1\n      tables: [shop.orders, shop.customers]\n"
        assertProblem(yaml, subject: "connect.connectors[0].tables[1]", contains: "topic 'cdc.shop.customers', which kafka.topics does not declare")
        assertProblem("connect:\n  connectors:\n    - name: c1\n      tables: [orders]\n", subject: "connect.connectors[0].tables[0]", contains: "is not schema.table")
    }

    func testConnectorServerIdMustDifferFromTheSource() {
        assertProblem("source:\n  serverId: 7\nconnect:\n  connectors:\n    - name: c1\n      serverId: 7\n",
                      subject: "connect.connectors[0].serverId", contains: "7 is already used by source.serverId")
    }

    func testConnectorQueueIsCappedByTheHeap() {
        assertProblem("connect:\n  connectors:\n    - name: c1\n      maxQueueSizeBytes: 268435456\n",
                      subject: "connect.connectors[0].maxQueueSizeBytes", contains: "at most a quarter of the Connect heap")
        assertProblem("connect:\n  connectors:\n    - name: c1\n      maxQueueSize: 100\n      maxBatchSize: 200\n",
                      subject: "connect.connectors[0].maxQueueSize", contains: "must be larger than maxBatchSize")
    }

    func testProcessorTopicsMustExistAndSettingsBeInRange() {
        assertProblem("processor:\n  tradesTopic: trades\n", subject: "processor.tradesTopic", contains: "topic 'trades' is not declared")
        assertProblem("processor:\n  flushIntervalMs: 0\n", subject: "processor.flushIntervalMs", contains: "between 10 and 60000")
        assertProblem("producers:\n  trades:\n    source: replay\n", subject: "producers.trades.replayFile", contains: "required when source is replay")
    }

    func testProcessorIdleAndSkewSettingsHaveDefaultsAndRanges() throws {
        let m = try ManifestLoader.parse("apiVersion: cdcctl/v1\n", file: "m").manifest
        XCTAssertEqual(m.processor.idleTimeoutSeconds, 60)
        XCTAssertEqual(m.processor.maxFutureSkewSeconds, 300)
        assertProblem("processor:\n  idleTimeoutSeconds: -1\n", subject: "processor.idleTimeoutSeconds", contains: "between 0 and 86400, found -1")
        assertProblem("processor:\n  maxFutureSkewSeconds: 0\n", subject: "processor.maxFutureSkewSeconds", contains: "between 1 and 604800, found 0")
        assertProblem("processor:\n  metricsPort: 70000\n", subject: "processor.metricsPort", contains: "outside 1–65535")
    }

    func testAllProblemsAreReportedAtOnce() {
        let p = problems("grafana:\n  port: 8080\nkafka:\n  heap: 1g\nsecrets:\n  grafanaAdminPassword: x\n")
        XCTAssertEqual(Set(p.compactMap(\.subject)), ["kafkaUI.port", "kafka.heap", "secrets.grafanaAdminPassword"])
    }

    // MARK: - Budget and units

    func testBudgetAddsEveryLimitAndSkipsDisabledServices() throws {
        let m = try ManifestLoader.parse("apiVersion: cdcctl/v1\n", file: "x").manifest
        let b = MemoryBudget(m)
        XCTAssertEqual(b.totalMiB, 1024 + 3 * 768 + 1024 + 2048 + 512 + 256 + 384 + 256 + 128 + 128)
        XCTAssertEqual(b.budgetMiB, 14336)
        XCTAssertEqual(b.headroomMiB, 14336 - b.totalMiB)
        let noUI = try ManifestLoader.parse("apiVersion: cdcctl/v1\nkafkaUI:\n  enabled: false\ncloudflared:\n  enabled: true\n", file: "x").manifest
        XCTAssertEqual(MemoryBudget(noUI).totalMiB, b.totalMiB - 384 + 128)
    }

    func testMemorySizes() {
        XCTAssertEqual(MemorySize.parseMiB("768"), 768)
        XCTAssertEqual(MemorySize.parseMiB("768m"), 768)
        XCTAssertEqual(MemorySize.parseMiB("768MiB"), 768)
        XCTAssertEqual(MemorySize.parseMiB("1g"), 1024)
        XCTAssertEqual(MemorySize.parseMiB("1.5GiB"), 1536)
        XCTAssertEqual(MemorySize.parseMiB("2048k"), 2)
        XCTAssertNil(MemorySize.parseMiB("12x"))
        XCTAssertNil(MemorySize.parseMiB("-1g"))
        XCTAssertNil(MemorySize.parseMiB("100k"))
        XCTAssertEqual(MemorySize.format(1024), "1g")
        XCTAssertEqual(MemorySize.format(768), "768m")
    }

    func testDebeziumConfigReferencesThePasswordAndCapsTheQueue() throws {
        let m = try ManifestLoader.parse("apiVersion: cdcctl/v1\n", file: "x").manifest
        let config = Dictionary(uniqueKeysWithValues: DebeziumConfig.build(m.connect.connectors[0], manifest: m).map { ($0.key, $0.value) })
        XCTAssertEqual(config["database.password"], "${file:/kafka/secrets/mysql.properties:password}")
        XCTAssertEqual(config["max.queue.size.in.bytes"], "67108864")
        XCTAssertEqual(config["decimal.handling.mode"], "string")
        XCTAssertEqual(config["value.converter.schemas.enable"], "false")
        XCTAssertEqual(config["topic.creation.default.replication.factor"], "3")
        XCTAssertEqual(config["table.include.list"], "shop.orders,shop.order_executions")
    }

    func testProducerSettingsAreValidatedWithTheirLocation() {
        assertProblem("producers:\n  orders:\n    deleteShare: 1.5\n", subject: "producers.orders.deleteShare", contains: "between 0 and 1", line: 3)
        assertProblem("producers:\n  orders:\n    pattern: sometimes\n", subject: "producers.orders.pattern", contains: "burst")
        assertProblem("producers:\n  orders:\n    symbols: [\"a very long symbol name\"]\n", subject: "producers.orders.symbols[0]",
                      contains: "1 to 16")
        assertProblem("producers:\n  trades:\n    source: upbit\n    symbols: [btc]\n", subject: "producers.trades.symbols[0]",
                      contains: "not a upbit symbol")
        assertProblem("producers:\n  trades:\n    ratePerSecond: 0\n", subject: "producers.trades.ratePerSecond", contains: "positive")
        assertProblem("source:\n  appUser: debezium\n", subject: "source.appUser", contains: "other than root and source.cdcUser")
        assertProblem("secrets:\n  mysqlAppPassword: hunter2\n", subject: "secrets.mysqlAppPassword", contains: "expected a reference")
        XCTAssertTrue(problems("producers:\n  trades:\n    source: kis\n    symbols: [\"005930\"]\n").isEmpty)
    }
}

/// Issue 21's validation rules: nothing unauthenticated in the tunnel, one ClickHouse user per
/// role, narrow networks, and a loud warning for a non-loopback bindAddress.
final class LeastPrivilegeManifestTests: XCTestCase {
    func problems(_ yaml: String) -> [CdcError] {
        do {
            _ = try ManifestLoader.parse("apiVersion: cdcctl/v1\n" + yaml, file: "cdcctl.yaml")
            return []
        } catch let e as CdcErrors {
            return e.errors
        } catch {
            XCTFail("\(error)")
            return []
        }
    }

    func testTunnelRefusesKafkaUIWithoutItsLoginNamingTheServiceAndTheFix() throws {
        let found = problems("cloudflared:\n  enabled: true\n  publish: [grafana, kafka-ui]\n")
        XCTAssertEqual(found.map(\.subject), ["cloudflared.publish[1]"])
        let p = try XCTUnwrap(found.first)
        XCTAssertTrue(p.description.contains("would publish kafka-ui through the tunnel without authentication"), p.description)
        XCTAssertTrue(p.description.contains("set kafkaUI.login: true"), p.description)
        XCTAssertEqual(p.location?.line, 4)
        XCTAssertEqual(p.kind, .invalidInput)
        XCTAssertTrue(problems("cloudflared:\n  enabled: true\n  publish: [grafana, kafka-ui]\nkafkaUI:\n  login: true\n").isEmpty)
    }

    func testTunnelRefusesPrometheusAndConnectAndUnknownNames() {
        let found = problems("cloudflared:\n  enabled: true\n  publish: [prometheus, connect, grafna]\n")
        XCTAssertEqual(found.map(\.subject), ["cloudflared.publish[0]", "cloudflared.publish[1]", "cloudflared.publish[2]"])
        XCTAssertTrue(found[0].description.contains("would publish prometheus through the tunnel without authentication"))
        XCTAssertTrue(found[1].description.contains("would publish connect"))
        XCTAssertTrue(found[2].description.contains("is not a service the tunnel can publish"))
        // A disabled tunnel publishes nothing, whatever it lists.
        XCTAssertTrue(problems("cloudflared:\n  publish: [prometheus]\n").isEmpty)
    }

    func testEachRoleNeedsItsOwnClickHouseUserAndNetworksAreNarrow() {
        XCTAssertEqual(problems("clickhouse:\n  readerUser: cdcctl\n").map(\.subject), ["clickhouse.readerUser"])
        XCTAssertEqual(problems("clickhouse:\n  networks: [\"::/0\"]\n").map(\.subject), ["clickhouse.networks[0]"])
        XCTAssertEqual(problems("clickhouse:\n  networks: [\"0.0.0.0/0\", 10.1.2.0/24, nonsense]\n").map(\.subject),
                       ["clickhouse.networks[0]", "clickhouse.networks[2]"])
        XCTAssertEqual(problems("clickhouse:\n  readerMaxResultRows: 0\n").map(\.subject), ["clickhouse.readerMaxResultRows"])
    }

    func testNonLoopbackBindAddressWarnsLoudlyAboutPlaintextKafkaAndConnect() throws {
        let loopback = try ManifestLoader.parse("apiVersion: cdcctl/v1\n", file: "x.yaml").manifest
        XCTAssertEqual(ManifestWarnings.check(loopback), [])
        let lan = try ManifestLoader.parse("apiVersion: cdcctl/v1\ncluster:\n  bindAddress: 192.168.1.10\n", file: "x.yaml").manifest
        let warnings = ManifestWarnings.check(lan)
        XCTAssertEqual(warnings.count, 1)
        for text in ["192.168.1.10", "PLAINTEXT", "kafka-1 (9092)", "connect (8083)", "kafka-ui (8080)", "prometheus (9090)", "bindAddress: 127.0.0.1"] {
            XCTAssertTrue(warnings[0].contains(text), "lacks \(text): \(warnings[0])")
        }
    }
}
