import Kafka
import Manifest

public struct PartitionHealth: Sendable, Codable, Equatable {
    public var topic: String
    public var partition: Int32
    public var leader: Int32
    public var replicas: [Int32]
    public var isr: [Int32]
    public var minInsyncReplicas: Int
    public var leaderless: Bool { leader < 0 }
    public var underReplicated: Bool { isr.count < replicas.count }
    public var underMinIsr: Bool { isr.count < minInsyncReplicas }
    public var healthy: Bool { !leaderless && !underReplicated && !underMinIsr }
}

public struct TopicHealthReport: Sendable, Codable, Equatable {
    public var brokersExpected: Int
    public var brokersLive: Int
    public var partitions: [PartitionHealth]
    public var problems: [String]
    public var healthy: Bool { problems.isEmpty }
}

/// Verdicts over observed metadata. Pure: the same inputs give the same report.
public enum TopicHealth {
    public static func assess(_ topics: [Topic], metadata: ClusterMetadata, brokersLive: Int, brokersExpected: Int) -> TopicHealthReport {
        var problems: [String] = []
        if brokersLive < brokersExpected {
            problems.append("\(brokersLive) of \(brokersExpected) brokers are live")
        }
        var partitions: [PartitionHealth] = []
        let byName = Dictionary(metadata.topics.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
        for t in topics {
            guard let info = byName[t.name], info.error == nil, !info.partitions.isEmpty else {
                problems.append("\(t.name): missing (run cdcctl topics apply)")
                continue
            }
            for p in info.partitions {
                let h = PartitionHealth(topic: t.name, partition: p.id, leader: p.leader, replicas: p.replicas, isr: p.isr,
                                        minInsyncReplicas: t.minInsyncReplicas)
                partitions.append(h)
                if h.leaderless { problems.append("\(t.name)[\(p.id)]: no leader") }
                if h.underMinIsr {
                    problems.append("\(t.name)[\(p.id)]: ISR \(p.isr.count) below min.insync.replicas \(t.minInsyncReplicas): acks=all writes are refused")
                } else if h.underReplicated {
                    problems.append("\(t.name)[\(p.id)]: under-replicated (ISR \(p.isr.count) of \(p.replicas.count))")
                }
            }
        }
        return TopicHealthReport(brokersExpected: brokersExpected, brokersLive: brokersLive, partitions: partitions, problems: problems)
    }
}
