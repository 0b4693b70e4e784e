import Foundation
import Kafka
import Manifest
import TopicAdmin

/// Kafka's figures from what `topics health` already judges (brokers probed one by one,
/// partitions against their effective min.insync.replicas) and the consumer groups' offsets.
public enum KafkaMetrics {
    /// One group's committed offsets against the end offsets (the group reads these topics).
    public struct GroupLag: Sendable, Equatable {
        public var group: String
        public var partitions: [PartitionLag]
        public init(group: String, partitions: [PartitionLag]) {
            self.group = group
            self.partitions = partitions
        }
    }

    /// Pure. `processorGroup` names the group whose lag is also exported as
    /// `cdcctl_processor_consumer_lag{topic}` (what the "Consumer lag" panel and
    /// `ProcessorLagHigh` read).
    public static func write(_ health: TopicHealthReport, endOffsets: [PartitionLag], groups: [GroupLag], processorGroup: String,
                             into e: inout Exposition) {
        e.gauge("cdcctl_kafka_brokers_expected", "Brokers the manifest declares.", Double(health.brokersExpected))
        e.gauge("cdcctl_kafka_brokers_live", "Brokers listed in metadata that answer a direct probe of their address.", Double(health.brokersLive))
        e.gauge("cdcctl_kafka_broker_up", "1 when the broker answers a direct probe, 0 when it does not.",
                health.brokers.map { b in ([("broker", b.id.map(String.init) ?? "?"), ("address", b.address ?? "")], b.live ? 1 : 0) })
        let topics = health.topics.map(\.name)
        var per: [String: (all: Int, under: Int, underMin: Int, offline: Int)] = [:]
        for t in topics { per[t] = (0, 0, 0, 0) }
        for p in health.partitions {
            var v = per[p.topic] ?? (0, 0, 0, 0)
            v.all += 1
            if p.underReplicated { v.under += 1 }
            if p.underMinIsr { v.underMin += 1 }
            if p.leaderless { v.offline += 1 }
            per[p.topic] = v
        }
        let sorted = per.keys.sorted()
        e.gauge("cdcctl_kafka_topic_partitions", "Partitions of the topic in metadata.", sorted.map { ([("topic", $0)], Double(per[$0]!.all)) })
        e.gauge("cdcctl_kafka_topic_under_replicated_partitions", "Partitions whose ISR is smaller than their replica set.",
                sorted.map { ([("topic", $0)], Double(per[$0]!.under)) })
        e.gauge("cdcctl_kafka_topic_under_min_isr_partitions", "Partitions whose ISR is below min.insync.replicas: acks=all writes are refused.",
                sorted.map { ([("topic", $0)], Double(per[$0]!.underMin)) })
        e.gauge("cdcctl_kafka_topic_offline_partitions", "Partitions without a live leader.",
                sorted.map { ([("topic", $0)], Double(per[$0]!.offline)) })
        var ends: [String: Int64] = [:]
        for p in endOffsets { ends[p.topic, default: 0] += p.highWatermark }
        e.gauge("cdcctl_kafka_topic_end_offset", "Sum of the topic's partitions' end offsets (high watermarks).",
                ends.keys.sorted().map { ([("topic", $0)], Double(ends[$0]!)) })
        var lagSamples: [([(String, String)], Double)] = []
        var processor: [([(String, String)], Double)] = []
        for g in groups {
            var byTopic: [String: Int64] = [:]
            for p in g.partitions { byTopic[p.topic, default: 0] += p.lag }
            for t in byTopic.keys.sorted() {
                lagSamples.append(([("group", g.group), ("topic", t)], Double(byTopic[t]!)))
                if g.group == processorGroup { processor.append(([("topic", t)], Double(byTopic[t]!))) }
            }
        }
        e.gauge("cdcctl_kafka_consumergroup_lag", "Messages between the group's committed offsets and the end offsets, per topic.", lagSamples)
        e.gauge("cdcctl_processor_consumer_lag", "The processor's consumer lag per topic (its group's committed offsets vs the end offsets), read by the monitor.",
                processor)
    }
}

/// Reads Kafka through TopicAdmin (health) and KafkaAdmin (offsets). Thin.
public final class KafkaCollector: Collector {
    public let name = "kafka"
    let manifest: Manifest
    let timeoutMs: Int32

    public init(manifest: Manifest, timeoutMs: Int32) {
        self.manifest = manifest
        self.timeoutMs = timeoutMs
    }

    public func collect(into e: inout Exposition) throws {
        let m = manifest
        let op = try TopicsOperation(manifest: m, timeoutMs: timeoutMs)
        let health = try op.health()
        let md = try op.admin.metadata()
        let onCluster = Set(md.topics.map(\.name))
        let watched = health.topics.map(\.name).filter { onCluster.contains($0) }
        // The processor group's committed offsets on every watched topic: the end offsets come with them.
        let processorTopics = [m.processor.tradesTopic, m.processor.ordersTopic].filter { onCluster.contains($0) }
        let all = try op.admin.groupLag(group: m.processor.consumerGroup, topics: watched)
        let processor = all.filter { processorTopics.contains($0.topic) }
        KafkaMetrics.write(health, endOffsets: all, groups: [.init(group: m.processor.consumerGroup, partitions: processor)],
                           processorGroup: m.processor.consumerGroup, into: &e)
    }
}
