import Diagnostics
import Kafka
import Manifest
import XCTest
@testable import TopicAdmin

/// Issue 13: what cdcctl must get right on Apache Kafka 3.x with the librdkafka users link
/// (Debian's 2.0.2). Unit tests over constructed metadata, DescribeConfigs answers and probe
/// results, because the testbed's Tansu cannot show these behaviours (one logical broker, no
/// ISR or leader changes, no legacy AlterConfigs, config sources all reported as DEFAULT_CONFIG).
final class KafkaCorrectnessTests: XCTestCase {
    let manifest = try! ManifestLoader.parse("apiVersion: cdcctl/v1\n", file: "x").manifest
    var orders: Topic { manifest.kafka.topics.first { $0.name == "cdc.shop.orders" }! }

    /// What Apache Kafka 3.x answers to DescribeConfigs for a topic created by cdcctl: its five
    /// overrides (DYNAMIC_TOPIC_CONFIG) and 26 inherited entries (broker settings and defaults).
    func describedLikeApacheKafka(retentionMs: String = "259200000") -> [ConfigEntry] {
        var entries = [
            ConfigEntry(name: "cleanup.policy", value: "delete", source: "DYNAMIC_TOPIC_CONFIG"),
            ConfigEntry(name: "min.insync.replicas", value: "2", source: "DYNAMIC_TOPIC_CONFIG"),
            ConfigEntry(name: "retention.bytes", value: "1073741824", source: "DYNAMIC_TOPIC_CONFIG"),
            ConfigEntry(name: "retention.ms", value: retentionMs, source: "DYNAMIC_TOPIC_CONFIG"),
            ConfigEntry(name: "unclean.leader.election.enable", value: "false", source: "DYNAMIC_TOPIC_CONFIG"),
        ]
        let inherited: [(String, String, String)] = [
            ("compression.type", "producer", "DEFAULT_CONFIG"), ("delete.retention.ms", "86400000", "DEFAULT_CONFIG"),
            ("file.delete.delay.ms", "60000", "DEFAULT_CONFIG"), ("flush.messages", "9223372036854775807", "DEFAULT_CONFIG"),
            ("flush.ms", "9223372036854775807", "DEFAULT_CONFIG"), ("follower.replication.throttled.replicas", "", "DEFAULT_CONFIG"),
            ("index.interval.bytes", "4096", "DEFAULT_CONFIG"), ("leader.replication.throttled.replicas", "", "DEFAULT_CONFIG"),
            ("local.retention.bytes", "-2", "DEFAULT_CONFIG"), ("local.retention.ms", "-2", "DEFAULT_CONFIG"),
            ("max.compaction.lag.ms", "9223372036854775807", "DEFAULT_CONFIG"), ("max.message.bytes", "1048588", "DEFAULT_CONFIG"),
            ("message.downconversion.enable", "true", "DEFAULT_CONFIG"), ("message.format.version", "3.0-IV1", "DEFAULT_CONFIG"),
            ("message.timestamp.after.max.ms", "9223372036854775807", "DEFAULT_CONFIG"),
            ("message.timestamp.before.max.ms", "9223372036854775807", "DEFAULT_CONFIG"),
            ("message.timestamp.difference.max.ms", "9223372036854775807", "DEFAULT_CONFIG"),
            ("message.timestamp.type", "CreateTime", "DEFAULT_CONFIG"), ("min.cleanable.dirty.ratio", "0.5", "DEFAULT_CONFIG"),
            ("min.compaction.lag.ms", "0", "DEFAULT_CONFIG"), ("preallocate", "false", "DEFAULT_CONFIG"),
            ("remote.storage.enable", "false", "DEFAULT_CONFIG"), ("segment.bytes", "1073741824", "DEFAULT_CONFIG"),
            ("segment.index.bytes", "10485760", "DEFAULT_CONFIG"), ("segment.jitter.ms", "0", "DEFAULT_CONFIG"),
            ("segment.ms", "604800000", "STATIC_BROKER_CONFIG"),
        ]
        entries += inherited.map { ConfigEntry(name: $0.0, value: $0.1, isDefault: $0.2 == "DEFAULT_CONFIG", source: $0.2) }
        return entries.sorted { $0.name < $1.name }
    }

    // MARK: 1. legacy AlterConfigs resends only the topic's overrides

    func testLegacyAlterConfigsResendsOnlyTheTopicsOverrides_unitOverApacheKafkaDescribeConfigs() {
        let described = describedLikeApacheKafka(retentionMs: "60000")
        XCTAssertEqual(described.count, 31)
        let observed = ObservedTopic.from(name: orders.name, partitions: 6, replicationFactor: 3, described: described)
        XCTAssertEqual(observed.configs.count, 31, "the plan still sees every effective value")
        XCTAssertEqual(observed.overrides, ["cleanup.policy", "min.insync.replicas", "retention.bytes", "retention.ms",
                                            "unclean.leader.election.enable"])
        let step = TopicPlanner.plan(desired: [orders], observed: [observed])[0]
        XCTAssertEqual(step.kind, .alter)
        let sent = AlterConfigsMode.legacyEntries(currentOverrides: observed.overrideValues,
                                                  changes: step.changes.map { ($0.key, $0.desired) })
        XCTAssertEqual(sent.map(\.0), ["cleanup.policy", "min.insync.replicas", "retention.bytes", "retention.ms",
                                       "unclean.leader.election.enable"], "5 overrides stay 5, not 31")
        XCTAssertEqual(sent.first { $0.0 == "retention.ms" }?.1, "259200000")
        XCTAssertFalse(sent.contains { $0.0 == "segment.ms" }, "a broker setting must not be pinned on the topic")
    }

    func testTansuSourcesAreNotTrustedEveryDescribedKeyIsAnOverride_unitTansuQuirk() {
        // Measured on the testbed: Tansu describes only the keys set on a topic and labels them DEFAULT_CONFIG.
        let described = [ConfigEntry(name: "min.insync.replicas", value: "2", isDefault: true, source: "DEFAULT_CONFIG")]
        let tansu = ObservedTopic.from(name: "t", partitions: 1, replicationFactor: 3, described: described, trustSources: false)
        XCTAssertEqual(tansu.overrides, ["min.insync.replicas"])
        let kafka = ObservedTopic.from(name: "t", partitions: 1, replicationFactor: 3, described: described)
        XCTAssertEqual(kafka.overrides, [])
    }

    func testAlterModeCanBeForcedForDiagnosis() {
        XCTAssertEqual(AlterConfigsMode.resolve(environment: ["CDCCTL_KAFKA_ALTER_CONFIGS": "legacy"]), .legacy)
        XCTAssertEqual(AlterConfigsMode.resolve(environment: ["CDCCTL_KAFKA_ALTER_CONFIGS": "incremental"]), .incremental)
    }

    // MARK: 3. min.insync.replicas from the cluster, drift reported apart

    func testHealthJudgesMinIsrFromTheClusterNotTheManifest_unitConstructedMetadata() {
        let md = ClusterMetadata(origin: 1, brokers: (1...3).map { BrokerInfo(id: $0, host: "h", port: 9091 + $0) }, topics: [
            TopicInfo(name: orders.name, partitions: [PartitionInfo(id: 0, leader: 1, replicas: [1, 2, 3], isr: [1, 2], error: nil)], error: nil),
        ])
        let brokers = TopicHealth.brokerStates(engine: "kafka", metadata: md, probes: [], expected: 3)
        let report = TopicHealth.assess([HealthTopic(name: orders.name, manifestMinInsync: 2)], metadata: md, brokers: brokers,
                                        brokersExpected: 3,
                                        configs: [orders.name: [ConfigEntry(name: "min.insync.replicas", value: "3", source: "DYNAMIC_TOPIC_CONFIG")]])
        XCTAssertEqual(report.problems, ["cdc.shop.orders: live ISR below min.insync.replicas 3, acks=all writes are refused: 0 (ISR 2)"])
        XCTAssertFalse(report.partitions[0].acksAllWritesSucceed)
        XCTAssertEqual(report.drift.count, 1)
        XCTAssertTrue(report.drift[0].hasPrefix("cdc.shop.orders: min.insync.replicas is 3 on the cluster, the manifest says 2"), report.drift[0])
    }

    func testMinIsrFallsBackToTheManifestOnlyWhenTheClusterSaysNothing() {
        let t = HealthTopic(name: "x", manifestMinInsync: 2)
        XCTAssertEqual(TopicHealth.effectiveMinInsync(t, described: []).value, 2)
        XCTAssertEqual(TopicHealth.effectiveMinInsync(HealthTopic(name: "__consumer_offsets", internalRole: "consumer offsets"), described: nil).value, 1)
        XCTAssertEqual(TopicHealth.effectiveMinInsync(t, described: [ConfigEntry(name: "min.insync.replicas", value: "1", source: "STATIC_BROKER_CONFIG")]).source,
                       "cluster")
    }

    // MARK: 4 + 7. the dead broker, named at once

    /// Seconds after SIGKILL: metadata still lists broker 2 as leader and ISR member; only a direct probe shows it is gone.
    func staleMetadataAfterKill() -> ClusterMetadata {
        ClusterMetadata(origin: 1, brokers: (1...3).map { BrokerInfo(id: $0, host: "127.0.0.1", port: 9091 + $0) }, topics: [
            TopicInfo(name: orders.name, partitions: [
                PartitionInfo(id: 0, leader: 1, replicas: [1, 2, 3], isr: [1, 2, 3], error: nil),
                PartitionInfo(id: 1, leader: 2, replicas: [2, 3, 1], isr: [2, 3, 1], error: nil),
                PartitionInfo(id: 2, leader: 3, replicas: [3, 1, 2], isr: [3, 2], error: nil),
            ], error: nil),
        ])
    }

    func testKilledBrokerIsDownAtOnceWithItsPartitionsUnavailable_unitStaleMetadataAndProbes() {
        let md = staleMetadataAfterKill()
        let probes = [BrokerProbe(address: "127.0.0.1:9092", answered: true, nodeId: 1, error: nil),
                      BrokerProbe(address: "127.0.0.1:9093", answered: false, nodeId: nil, error: "__TRANSPORT within 1500 ms"),
                      BrokerProbe(address: "127.0.0.1:9094", answered: true, nodeId: 3, error: nil)]
        let brokers = TopicHealth.brokerStates(engine: "kafka", metadata: md, probes: probes, expected: 3)
        XCTAssertEqual(brokers.map(\.live), [true, false, true])
        XCTAssertEqual(brokers[1].label, "broker 2 (kafka-2)")
        let report = TopicHealth.assess([HealthTopic(name: orders.name, manifestMinInsync: 2)], metadata: md, brokers: brokers, brokersExpected: 3,
                                        configs: [orders.name: [ConfigEntry(name: "min.insync.replicas", value: "2", source: "DYNAMIC_TOPIC_CONFIG")]])
        XCTAssertEqual(report.brokersLive, 2)
        XCTAssertEqual(report.partitions.map(\.state), ["UNDER-REPLICATED", "LEADER-DOWN", "UNDER-MIN-ISR"])
        XCTAssertEqual(report.partitions.map(\.acksAllWritesSucceed), [true, false, false])
        XCTAssertTrue(report.problems.contains(
            "broker 2 (kafka-2) is down: still listed in metadata but does not answer at 127.0.0.1:9093 (__TRANSPORT within 1500 ms); "
                + "it leads 1 partition(s), unavailable until leadership moves: cdc.shop.orders[1]; still in the ISR of 3 partition(s)"), "\(report.problems)")
        XCTAssertTrue(report.problems.contains("acks=all writes are refused on 2 of 3 partition(s): cdc.shop.orders[1], cdc.shop.orders[2]"),
                      "\(report.problems)")
    }

    func testFencedBrokerIsNamedWithThePartitionsItLed_unitConstructedMetadata() {
        // After fencing: broker 2 is gone from metadata, leadership moved, ISRs shrank.
        let md = ClusterMetadata(origin: 1, brokers: [BrokerInfo(id: 1, host: "h", port: 9092), BrokerInfo(id: 3, host: "h", port: 9094)], topics: [
            TopicInfo(name: orders.name, partitions: [
                PartitionInfo(id: 0, leader: 1, replicas: [1, 2, 3], isr: [1, 3], error: nil),
                PartitionInfo(id: 1, leader: 3, replicas: [2, 3, 1], isr: [3, 1], error: nil),
            ], error: nil),
        ])
        let brokers = TopicHealth.brokerStates(engine: "kafka", metadata: md, probes: [], expected: 3)
        let report = TopicHealth.assess([HealthTopic(name: orders.name, manifestMinInsync: 2)], metadata: md, brokers: brokers, brokersExpected: 3,
                                        configs: [:])
        XCTAssertTrue(report.problems.contains(
            "broker 2 (kafka-2) is down: not in the cluster's metadata (fenced by the controller, or not started); it leads no partitions; "
                + "1 partition(s) it led moved: cdc.shop.orders[1] → broker 3"), "\(report.problems)")
        XCTAssertTrue(report.problems.contains("acks=all writes still succeed on all 2 partition(s)"), "\(report.problems)")
    }

    // MARK: 8. internal topics the pipeline depends on

    func testHealthCoversInternalTopicsMarkedAsSuch_unitConstructedMetadata() {
        let names = ["cdc.shop.orders", "__consumer_offsets", "__transaction_state", "_connect-configs", "_connect-offsets",
                     "_connect-status", "__debezium-heartbeat.cdc", "__share_group_state", "other-team"]
        let ts = TopicHealth.topics(manifest, onCluster: names)
        let roles = Dictionary(uniqueKeysWithValues: ts.filter(\.isInternal).map { ($0.name, $0.internalRole!) })
        XCTAssertEqual(roles["__consumer_offsets"], "consumer offsets")
        XCTAssertEqual(roles["__transaction_state"], "transaction state")
        XCTAssertEqual(roles["_connect-configs"], "Connect configs")
        XCTAssertEqual(roles["_connect-offsets"], "Connect source offsets")
        XCTAssertEqual(roles["_connect-status"], "Connect status")
        XCTAssertEqual(roles["__debezium-heartbeat.cdc"], "Debezium heartbeats of \(manifest.connect.connectors[0].name)")
        XCTAssertEqual(roles["__share_group_state"], "Kafka internal")
        XCTAssertNil(roles["other-team"])
        let history = manifest.connect.connectors[0].schemaHistoryTopic
        XCTAssertEqual(ts.first { $0.name == history }?.internalRole, "Debezium schema history of \(manifest.connect.connectors[0].name)")
        XCTAssertNotNil(ts.first { $0.name == history }?.manifestMinInsync, "declared in the manifest, so missing is a problem")
        XCTAssertEqual(manifest.connect.connectors[0].topicPrefix, "cdc")

        let md = ClusterMetadata(origin: 1, brokers: [BrokerInfo(id: 1, host: "h", port: 1), BrokerInfo(id: 3, host: "h", port: 3)], topics: [
            TopicInfo(name: "__consumer_offsets", partitions: (0..<50).map {
                PartitionInfo(id: $0, leader: $0 % 2 == 0 ? 1 : 3, replicas: [1, 2, 3], isr: [1, 3], error: nil)
            }, error: nil),
        ])
        let report = TopicHealth.assess(ts.filter { $0.name == "__consumer_offsets" }, metadata: md,
                                        brokers: TopicHealth.brokerStates(engine: "kafka", metadata: md, probes: [], expected: 3), brokersExpected: 3,
                                        configs: ["__consumer_offsets": [ConfigEntry(name: "min.insync.replicas", value: "2", source: "STATIC_BROKER_CONFIG")]])
        XCTAssertTrue(report.problems.contains { $0.hasPrefix("__consumer_offsets (internal: consumer offsets): under-replicated, acks=all writes still succeed: 0 (ISR 2 of 3), 1 (ISR 2 of 3)") && $0.hasSuffix("and 38 more") },
                      "\(report.problems)")
        XCTAssertTrue(report.partitions.allSatisfy(\.internalTopic))
    }

    // MARK: 9. leader imbalance

    func testLeaderImbalanceIsAWarningWithTheWayBack_unitConstructedMetadata() {
        let md = ClusterMetadata(origin: 1, brokers: (1...3).map { BrokerInfo(id: $0, host: "h", port: 9091 + $0) }, topics: [
            TopicInfo(name: orders.name, partitions: [
                PartitionInfo(id: 0, leader: 1, replicas: [1, 2, 3], isr: [1, 2, 3], error: nil),
                PartitionInfo(id: 1, leader: 3, replicas: [2, 3, 1], isr: [2, 3, 1], error: nil),
                PartitionInfo(id: 2, leader: 3, replicas: [3, 1, 2], isr: [3, 1, 2], error: nil),
            ], error: nil),
        ])
        let report = TopicHealth.assess([HealthTopic(name: orders.name, manifestMinInsync: 2)], metadata: md,
                                        brokers: TopicHealth.brokerStates(engine: "kafka", metadata: md, probes: [], expected: 3), brokersExpected: 3,
                                        configs: [:], electionHint: "kafka-leader-election.sh …")
        XCTAssertTrue(report.healthy, "imbalance is not unhealthy")
        XCTAssertEqual(report.warnings, ["leader imbalance: 1 partition(s) not led by their preferred replica (cdc.shop.orders[1] led by 3, preferred 2); "
                                         + "broker 1 leads 1, broker 3 leads 2; restore preferred leaders: kafka-leader-election.sh …"])
    }

    func testElectionHintRunsKafkasToolInALiveBroker() throws {
        let op = try TopicsOperation(manifest: manifest, timeoutMs: 1000)
        let hint = op.electionHint([BrokerState(id: 1, service: "kafka-1", address: nil, live: false, reason: "x"),
                                    BrokerState(id: 2, service: "kafka-2", address: nil, live: true, reason: nil)])
        XCTAssertEqual(hint, "docker exec -e KAFKA_HEAP_OPTS=-Xmx128m -e KAFKA_OPTS= \(manifest.cluster.name)-kafka-2 /opt/kafka/bin/kafka-leader-election.sh "
                       + "--bootstrap-server kafka-2:19092 --election-type PREFERRED --all-topic-partitions")
    }

    // MARK: 5. one creation rule

    func testOneCreationRuleForApplyAndBench() {
        XCTAssertNil(TopicsOperation.creationRule(live: 3, topics: [("a", 3)]))
        let refused = TopicsOperation.creationRule(live: 2, topics: [("a", 3), ("b", 1)])
        XCTAssertEqual(refused?.kind, .unhealthy)
        XCTAssertEqual(refused?.exitCode, 3)
        XCTAssertEqual(refused?.message, "2 live broker(s), but topic(s) a need replication factor 3")
    }

    // MARK: 6. plan: wait on every broker, unpinned overrides, the next step that works

    func testApplyWaitsOnEveryBrokerMetadataListsNotOnlyTheBootstrapOnes() {
        let md = ClusterMetadata(origin: 1, brokers: (1...3).map { BrokerInfo(id: $0, host: "127.0.0.1", port: 9091 + $0) }, topics: [])
        XCTAssertEqual(TopicsOperation.brokerAddresses(bootstrap: "127.0.0.1:9092", metadata: md),
                       ["127.0.0.1:9092", "127.0.0.1:9093", "127.0.0.1:9094"])
    }

    func testPlanSaysAnInheritedValueIsNoLongerPinned_unitConfigSources() {
        var described = describedLikeApacheKafka()
        // Someone deleted the retention.ms override; the broker default happens to be the same value.
        let i = described.firstIndex { $0.name == "retention.ms" }!
        described[i] = ConfigEntry(name: "retention.ms", value: "259200000", source: "STATIC_BROKER_CONFIG")
        let step = TopicPlanner.plan(desired: [orders], observed: [ObservedTopic.from(name: orders.name, partitions: 6, replicationFactor: 3,
                                                                                   described: described)])[0]
        XCTAssertEqual(step.kind, .alter)
        XCTAssertEqual(step.changes, [ConfigChange(key: "retention.ms", current: "259200000", desired: "259200000", inherited: true)])
        XCTAssertEqual(step.changes[0].summary, "retention.ms: 259200000 is inherited, no longer pinned to the topic → pin 259200000")
    }

    func testPlanWithAnUnsafeStepDoesNotSuggestApply() {
        let steps = TopicPlanner.plan(desired: manifest.kafka.topics, observed: manifest.kafka.topics.map {
            ObservedTopic(name: $0.name, partitions: $0.name == orders.name ? 12 : $0.partitions, replicationFactor: $0.replicationFactor,
                          configs: Dictionary(uniqueKeysWithValues: $0.configs.map { ($0.key, $0.value) }))
        })
        let next = TopicPlanner.nextStep(steps)!
        XCTAssertFalse(next.contains("cdcctl topics apply"), next)
        XCTAssertTrue(next.contains("topics apply refuses while cdc.shop.orders is unsafe"), next)
        XCTAssertEqual(TopicPlanner.nextStep(TopicPlanner.plan(desired: manifest.kafka.topics, observed: [])), "cdcctl topics apply")
    }
}
