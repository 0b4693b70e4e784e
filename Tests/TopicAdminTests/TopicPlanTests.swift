import Kafka
import Manifest
import XCTest
@testable import TopicAdmin

/// The plan/diff and health verdicts, without a cluster.
final class TopicPlanTests: XCTestCase {
    let topics = try! ManifestLoader.parse("apiVersion: cdcctl/v1\n", file: "x").manifest.kafka.topics

    func observed(_ t: Topic, partitions: Int? = nil, rf: Int? = nil, configs: [String: String]? = nil) -> ObservedTopic {
        ObservedTopic(name: t.name, partitions: partitions ?? t.partitions, replicationFactor: rf ?? t.replicationFactor,
                      configs: configs ?? Dictionary(uniqueKeysWithValues: t.configs.map { ($0.key, $0.value) }))
    }

    func testMissingTopicsAreCreatedWithTheirConfigs() {
        let steps = TopicPlanner.plan(desired: topics, observed: [])
        XCTAssertEqual(steps.map(\.kind), Array(repeating: .create, count: topics.count))
        let orders = steps.first { $0.topic == "cdc.shop.orders" }!
        XCTAssertEqual(orders.partitions, 6)
        XCTAssertEqual(orders.replicationFactor, 3)
        XCTAssertTrue(orders.changes.contains(ConfigChange(key: "min.insync.replicas", current: nil, desired: "2")))
        XCTAssertTrue(TopicPlanner.hasDrift(steps))
    }

    func testMatchingClusterIsNoDrift() {
        let steps = TopicPlanner.plan(desired: topics, observed: topics.map { observed($0) } + [
            ObservedTopic(name: "__consumer_offsets", partitions: 50, replicationFactor: 3, configs: [:]),
            ObservedTopic(name: "_connect-configs", partitions: 1, replicationFactor: 3, configs: [:]),
        ])
        XCTAssertEqual(steps.map(\.kind), Array(repeating: .ok, count: topics.count))
        XCTAssertFalse(TopicPlanner.hasDrift(steps))
    }

    func testConfigDriftIsAlteredBackAndMissingKeysCount() {
        let t = topics[0]
        var configs = Dictionary(uniqueKeysWithValues: t.configs.map { ($0.key, $0.value) })
        configs["retention.ms"] = "3600000"
        configs["min.insync.replicas"] = nil
        let step = TopicPlanner.plan(desired: [t], observed: [observed(t, configs: configs)])[0]
        XCTAssertEqual(step.kind, .alter)
        XCTAssertEqual(step.changes, [ConfigChange(key: "min.insync.replicas", current: nil, desired: "2"),
                                      ConfigChange(key: "retention.ms", current: "3600000", desired: "259200000")])
    }

    func testUnsafeChangesAreRefusedWithTheManualPath() {
        let t = topics[0]
        let fewer = TopicPlanner.plan(desired: [t], observed: [observed(t, partitions: 12)])[0]
        XCTAssertEqual(fewer.kind, .unsafe)
        XCTAssertTrue(fewer.reason!.contains("Kafka cannot remove partitions"), fewer.reason!)
        let more = TopicPlanner.plan(desired: [t], observed: [observed(t, partitions: 3)])[0]
        XCTAssertEqual(more.kind, .unsafe)
        XCTAssertTrue(more.reason!.contains("moves keys (order_id)"), more.reason!)
        XCTAssertTrue(more.reason!.contains("kafka-topics.sh --alter --topic cdc.shop.orders --partitions 6"), more.reason!)
        let rf = TopicPlanner.plan(desired: [t], observed: [observed(t, rf: 1)])[0]
        XCTAssertEqual(rf.kind, .unsafe)
        XCTAssertTrue(rf.reason!.contains("kafka-reassign-partitions.sh"), rf.reason!)
    }

    func testExtraTopicsAreReportedNotDeleted() {
        let steps = TopicPlanner.plan(desired: [], observed: [ObservedTopic(name: "scratch", partitions: 1, replicationFactor: 1, configs: [:])])
        XCTAssertEqual(steps.map(\.kind), [.extra])
        XCTAssertTrue(steps[0].reason!.contains("never deletes"))
        XCTAssertFalse(TopicPlanner.hasDrift(steps), "other teams' topics are not this manifest's drift")
        XCTAssertTrue(TopicPlanner.hasDrift(steps, countExtra: true))
    }

    func testHealthFindsLeaderlessUnderReplicatedAndUnderMinIsr() {
        let t = topics[0]
        let md = ClusterMetadata(origin: 1, brokers: [BrokerInfo(id: 1, host: "a", port: 1), BrokerInfo(id: 2, host: "b", port: 1)], topics: [
            TopicInfo(name: t.name, partitions: [
                PartitionInfo(id: 0, leader: 1, replicas: [1, 2, 3], isr: [1, 2, 3], error: nil),
                PartitionInfo(id: 1, leader: 1, replicas: [1, 2, 3], isr: [1, 2], error: nil),
                PartitionInfo(id: 2, leader: 2, replicas: [2, 1, 3], isr: [2], error: nil),
                PartitionInfo(id: 3, leader: -1, replicas: [3, 1, 2], isr: [], error: nil),
            ], error: nil)])
        let brokers = TopicHealth.brokerStates(engine: "kafka", metadata: md, probes: [], expected: 3)
        let report = TopicHealth.assess([HealthTopic(name: t.name, manifestMinInsync: 2), HealthTopic(name: topics[1].name, manifestMinInsync: 2)],
                                        metadata: md, brokers: brokers, brokersExpected: 3,
                                        configs: [t.name: [ConfigEntry(name: "min.insync.replicas", value: "2", source: "DYNAMIC_TOPIC_CONFIG")]])
        XCTAssertFalse(report.healthy)
        // Broker 3 is not in metadata, so the ISR entry of partition 0 that still names it does not count.
        XCTAssertEqual(report.problems, [
            "2 of 3 brokers are live",
            "cdc.shop.orders: no live leader, unavailable: 3",
            "cdc.shop.orders: live ISR below min.insync.replicas 2, acks=all writes are refused: 2 (ISR 1)",
            "cdc.shop.orders: under-replicated, acks=all writes still succeed: 0 (ISR 2 of 3), 1 (ISR 2 of 3)",
            "cdc.shop.order_executions: missing (run cdcctl topics apply)",
            "broker 3 (kafka-3) is down: not in the cluster's broker list, though partitions still name it as leader or ISR member; it leads no partitions; "
                + "still in the ISR of 1 partition(s); 1 partition(s) it led moved: cdc.shop.orders[3] → no leader",
            "acks=all writes are refused on 2 of 4 partition(s): cdc.shop.orders[2], cdc.shop.orders[3]",
        ])
        XCTAssertEqual(report.partitions.map(\.state), ["UNDER-REPLICATED", "UNDER-REPLICATED", "UNDER-MIN-ISR", "LEADERLESS"])
        XCTAssertEqual(report.minInsyncSources, [t.name: "cluster"])
    }
}
