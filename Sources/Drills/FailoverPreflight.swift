import TopicAdmin

/// Whether taking the target down is safe now. Pure: judged over what health observed.
public enum FailoverPreflight {
    /// Every broker live; no partition under-replicated, under min ISR or without a leader; and,
    /// on Apache Kafka, Strimzi's `canRoll`: no partition whose ISR holds the target may fall
    /// below min.insync.replicas when it goes (ISR below min ISR, or equal to it with the target in it).
    public static func problems(brokers: [BrokerState], expected: Int, partitions: [PartitionHealth], target: FailoverTarget,
                                engine: String) -> [String] {
        var out: [String] = []
        let live = brokers.filter(\.live)
        if live.count < expected { out.append("\(live.count) of \(expected) brokers are live") }
        for b in brokers where !b.live { out.append("\(b.label) is down: \(b.reason ?? "no answer")") }
        let leaderless = partitions.filter(\.leaderless)
        if !leaderless.isEmpty { out.append("no live leader: " + names(leaderless)) }
        let underMin = partitions.filter { !$0.leaderless && $0.underMinIsr }
        if !underMin.isEmpty { out.append("under min.insync.replicas: " + names(underMin)) }
        let under = partitions.filter { !$0.leaderless && !$0.underMinIsr && $0.underReplicated }
        if !under.isEmpty { out.append("under-replicated: " + names(under)) }
        if engine != "tansu" {
            let id = Int32(target.broker)
            let wouldDrop = partitions.filter { $0.isr.contains(id) && $0.isr.count - $0.downInIsr.count - 1 < $0.minInsyncReplicas }
            if !wouldDrop.isEmpty {
                out.append("taking \(target.service) down would leave ISR below min.insync.replicas (Strimzi's canRoll): "
                           + names(wouldDrop, detail: { "ISR \($0.isr.count), min \($0.minInsyncReplicas)" }))
            }
        }
        return out
    }

    static func names(_ ps: [PartitionHealth], detail: ((PartitionHealth) -> String)? = nil) -> String {
        let shown = ps.prefix(8).map { p in "\(p.topic)[\(p.partition)]" + (detail.map { " (\($0(p)))" } ?? "") }.joined(separator: ", ")
        return ps.count > 8 ? shown + " and \(ps.count - 8) more" : shown
    }

    /// The test topic's partitions that do not fit a failover test (RF below 3 or min ISR not 2).
    public static func topicProblems(_ partitions: [PartitionHealth], topic: String, engine: String) -> [String] {
        guard engine != "tansu" else { return [] }
        let mine = partitions.filter { $0.topic == topic }
        var out: [String] = []
        if let p = mine.first(where: { $0.replicas.count < FailoverParameters.replicationFactor }) {
            out.append("\(topic)[\(p.partition)] has \(p.replicas.count) replicas, the test needs \(FailoverParameters.replicationFactor)")
        }
        if let p = mine.first(where: { $0.minInsyncReplicas != FailoverParameters.minInsyncReplicas }) {
            out.append("\(topic) has min.insync.replicas \(p.minInsyncReplicas), the test needs \(FailoverParameters.minInsyncReplicas)")
        }
        return out
    }
}
