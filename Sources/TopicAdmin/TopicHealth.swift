import Kafka
import Manifest

/// A topic `topics health` judges: one of the manifest's, or an internal topic the pipeline
/// depends on (consumer offsets, transaction state, Connect's own topics, Debezium heartbeats).
public struct HealthTopic: Sendable, Codable, Equatable {
    public var name: String
    /// What an internal topic is for (`consumer offsets`, `Connect configs`, …); nil for the manifest's topics.
    public var internalRole: String?
    /// The manifest's min.insync.replicas, for the manifest's topics only (nil: not in the
    /// manifest). Drift is reported against it; a manifest topic that is missing is a problem.
    public var manifestMinInsync: Int?

    public init(name: String, internalRole: String? = nil, manifestMinInsync: Int? = nil) {
        self.name = name
        self.internalRole = internalRole
        self.manifestMinInsync = manifestMinInsync
    }

    public var isInternal: Bool { internalRole != nil }
    public var label: String { internalRole.map { "\(name) (internal: \($0))" } ?? name }
}

/// One broker as health sees it: listed in metadata and answering when probed directly.
public struct BrokerState: Sendable, Codable, Equatable {
    /// Node id (Tansu: every process reports the same one).
    public var id: Int32?
    /// The compose service (`kafka-2`) for the brokers cdcctl renders.
    public var service: String?
    /// The advertised (or, for Tansu, bootstrap) address that was probed.
    public var address: String?
    public var live: Bool
    /// Why it counts as down.
    public var reason: String?

    public init(id: Int32?, service: String?, address: String?, live: Bool, reason: String?) {
        self.id = id
        self.service = service
        self.address = address
        self.live = live
        self.reason = reason
    }

    /// `broker 2 (kafka-2)`, or `broker at 127.0.0.1:19093` when the id says nothing.
    public var label: String {
        switch (id, service) {
        case let (id?, service?): "broker \(id) (\(service))"
        case let (id?, nil): "broker \(id)" + (address.map { " at \($0)" } ?? "")
        default: "broker at \(address ?? "?")"
        }
    }
}

public struct PartitionHealth: Sendable, Codable, Equatable {
    public var topic: String
    public var partition: Int32
    public var leader: Int32
    public var replicas: [Int32]
    public var isr: [Int32]
    /// The effective value on the cluster (see `TopicHealthReport.minInsyncSources`).
    public var minInsyncReplicas: Int
    public var internalTopic: Bool
    /// ISR members that are down (metadata lags behind a killed broker until it is fenced).
    public var downInIsr: [Int32]
    /// The leader named by metadata is down: the partition is unavailable until leadership moves.
    public var leaderDown: Bool
    public var leaderless: Bool
    public var underReplicated: Bool
    public var underMinIsr: Bool
    /// Whether an acks=all write is accepted now: a live leader and at least min.insync.replicas live ISR members.
    public var acksAllWritesSucceed: Bool
    /// The first replica: where Kafka moves leadership back on a preferred-leader election.
    public var preferredLeader: Int32?
    public var ledByPreferred: Bool

    public init(topic: String, partition: Int32, leader: Int32, replicas: [Int32], isr: [Int32], minInsyncReplicas: Int,
                internalTopic: Bool = false, down: Set<Int32> = []) {
        self.topic = topic
        self.partition = partition
        self.leader = leader
        self.replicas = replicas
        self.isr = isr
        self.minInsyncReplicas = minInsyncReplicas
        self.internalTopic = internalTopic
        downInIsr = isr.filter { down.contains($0) }
        leaderDown = leader >= 0 && down.contains(leader)
        leaderless = leader < 0 || leaderDown
        let liveIsr = isr.count - downInIsr.count
        underReplicated = liveIsr < replicas.count
        underMinIsr = liveIsr < minInsyncReplicas
        acksAllWritesSucceed = !leaderless && !underMinIsr
        preferredLeader = replicas.first
        ledByPreferred = leaderless || replicas.first == nil || replicas.first == leader
    }

    public var healthy: Bool { !leaderless && !underReplicated && !underMinIsr }

    public var state: String {
        leaderless ? (leaderDown ? "LEADER-DOWN" : "LEADERLESS") : underMinIsr ? "UNDER-MIN-ISR" : underReplicated ? "UNDER-REPLICATED" : "ok"
    }
}

public struct TopicHealthReport: Sendable, Codable, Equatable {
    public var brokersExpected: Int
    public var brokersLive: Int
    public var brokers: [BrokerState]
    public var topics: [HealthTopic]
    public var partitions: [PartitionHealth]
    /// Where each topic's min.insync.replicas came from: `cluster`, or a fallback when the
    /// cluster did not report it (Tansu describes only keys that were set).
    public var minInsyncSources: [String: String]
    /// Unhealthy: brokers down, partitions unavailable, under min ISR or under-replicated, manifest topics missing.
    public var problems: [String]
    /// The cluster differs from the manifest (as `topics plan` reports it); not a health verdict.
    public var drift: [String]
    /// Worth acting on but not unhealthy: leader imbalance.
    public var warnings: [String]
    public var healthy: Bool { problems.isEmpty }
}

/// Verdicts over observed metadata, probes and configs. Pure: the same inputs give the same report.
public enum TopicHealth {
    /// Debezium's default heartbeat topic prefix (`topic.heartbeat.prefix`).
    public static let heartbeatPrefix = "__debezium-heartbeat"

    /// The manifest's topics, then the internal topics the pipeline depends on that exist on the
    /// cluster: Kafka's consumer offsets and transaction state, Connect's config/offset/status
    /// topics (names as rendered in connect/worker.env), Debezium's heartbeat topics, and any
    /// other `__`-prefixed topic.
    public static func topics(_ m: Manifest, onCluster: [String]) -> [HealthTopic] {
        // Debezium's schema history topic is declared in the manifest (validation requires it) and internal to the connector.
        let history = Dictionary(m.connect.connectors.map { ($0.schemaHistoryTopic, "Debezium schema history of \($0.name)") },
                                 uniquingKeysWith: { a, _ in a })
        var out = m.kafka.topics.map { t in
            HealthTopic(name: t.name, internalRole: history[t.name], manifestMinInsync: t.minInsyncReplicas)
        }
        var internalTopics: [(String, String)] = [
            ("__consumer_offsets", "consumer offsets"),
            ("__transaction_state", "transaction state"),
            ("_connect-configs", "Connect configs"),
            ("_connect-offsets", "Connect source offsets"),
            ("_connect-status", "Connect status"),
        ]
        for c in m.connect.connectors {
            internalTopics.append(("\(heartbeatPrefix).\(c.topicPrefix)", "Debezium heartbeats of \(c.name)"))
        }
        let present = Set(onCluster)
        var seen = Set(out.map(\.name))
        for (name, role) in internalTopics where present.contains(name) && !seen.contains(name) {
            out.append(HealthTopic(name: name, internalRole: role))
            seen.insert(name)
        }
        for name in onCluster.sorted() where name.hasPrefix("__") && !seen.contains(name) {
            out.append(HealthTopic(name: name, internalRole: "Kafka internal"))
            seen.insert(name)
        }
        return out
    }

    /// Which brokers are live. Apache Kafka (`engine: kafka`): the brokers cdcctl renders are node
    /// ids 1…expected (`kafka-1`…); one is down when metadata does not list it (fenced, or never
    /// started) or when it does not answer a direct probe of its advertised address (killed but not
    /// yet fenced: metadata keeps it for seconds). Tansu: each bootstrap address probed is a
    /// process; all report one node id.
    public static func brokerStates(engine: String, metadata: ClusterMetadata, probes: [BrokerProbe], expected: Int) -> [BrokerState] {
        let byAddress = Dictionary(probes.map { ($0.address, $0) }, uniquingKeysWith: { a, _ in a })
        if engine == "tansu" {
            return probes.map { p in
                BrokerState(id: p.nodeId, service: nil, address: p.address, live: p.answered,
                            reason: p.answered ? nil : "does not answer at \(p.address) (\(p.error ?? "no answer"))")
            }
        }
        var out: [BrokerState] = []
        let listed = Dictionary(metadata.brokers.map { ($0.id, $0) }, uniquingKeysWith: { a, _ in a })
        let ids = Set((1...max(expected, 1)).map { Int32($0) }).union(listed.keys).sorted()
        for id in ids {
            let service = id >= 1 && Int(id) <= expected ? KafkaListeners.serviceName(Int(id)) : nil
            guard let b = listed[id] else {
                let stillNamed = metadata.topics.contains { $0.partitions.contains { $0.leader == id || $0.isr.contains(id) } }
                out.append(BrokerState(id: id, service: service, address: nil, live: false,
                                       reason: stillNamed ? "not in the cluster's broker list, though partitions still name it as leader or ISR member"
                                           : "not in the cluster's metadata (fenced by the controller, or not started)"))
                continue
            }
            let address = "\(b.host):\(b.port)"
            if let p = byAddress[address], !p.answered {
                out.append(BrokerState(id: id, service: service, address: address, live: false,
                                       reason: "still listed in metadata but does not answer at \(address) (\(p.error ?? "no answer"))"))
            } else {
                out.append(BrokerState(id: id, service: service, address: address, live: true, reason: nil))
            }
        }
        return out
    }

    /// The effective min.insync.replicas: what the cluster reports (topic override, broker setting
    /// or default); otherwise the manifest's; otherwise Kafka's default 1.
    public static func effectiveMinInsync(_ topic: HealthTopic, described: [ConfigEntry]?) -> (value: Int, source: String) {
        if let v = described?.first(where: { $0.name == "min.insync.replicas" })?.value.flatMap(Int.init) {
            return (v, "cluster")
        }
        if let m = topic.manifestMinInsync { return (m, "manifest (the cluster did not report it)") }
        return (1, "Kafka's default 1 (the cluster did not report it)")
    }

    public static func assess(_ topics: [HealthTopic], metadata: ClusterMetadata, brokers: [BrokerState], brokersExpected: Int,
                              configs: [String: [ConfigEntry]], electionHint: String? = nil) -> TopicHealthReport {
        var problems: [String] = []
        var drift: [String] = []
        var warnings: [String] = []
        var sources: [String: String] = [:]
        let liveIds = Set(brokers.filter(\.live).compactMap(\.id))
        let down = Set(brokers.filter { !$0.live }.compactMap(\.id)).subtracting(liveIds)
        let live = brokers.filter(\.live).count
        if live < brokersExpected {
            problems.append("\(live) of \(brokersExpected) brokers are live")
        }
        var partitions: [PartitionHealth] = []
        let byName = Dictionary(metadata.topics.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
        for t in topics {
            guard let info = byName[t.name], info.error == nil, !info.partitions.isEmpty else {
                if t.manifestMinInsync != nil { problems.append("\(t.label): missing (run cdcctl topics apply)") }
                continue
            }
            let (minIsr, source) = effectiveMinInsync(t, described: configs[t.name])
            sources[t.name] = source
            if source == "cluster", let m = t.manifestMinInsync, m != minIsr {
                drift.append("\(t.name): min.insync.replicas is \(minIsr) on the cluster, the manifest says \(m) "
                             + "(health is judged by the cluster's value; cdcctl topics plan shows the drift, apply sets it back)")
            }
            let ps = info.partitions.map {
                PartitionHealth(topic: t.name, partition: $0.id, leader: $0.leader, replicas: $0.replicas, isr: $0.isr,
                                minInsyncReplicas: minIsr, internalTopic: t.isInternal, down: down)
            }
            partitions += ps
            let leaderless = ps.filter(\.leaderless)
            if !leaderless.isEmpty {
                problems.append("\(t.label): no live leader, unavailable: " + list(leaderless) { p in
                    p.leaderDown ? "\(p.partition) (leader \(p.leader) is down)" : "\(p.partition)"
                })
            }
            let belowMin = ps.filter { !$0.leaderless && $0.underMinIsr }
            if !belowMin.isEmpty {
                problems.append("\(t.label): live ISR below min.insync.replicas \(minIsr), acks=all writes are refused: "
                                + list(belowMin) { "\($0.partition) (ISR \($0.isr.count - $0.downInIsr.count))" })
            }
            let under = ps.filter { !$0.leaderless && !$0.underMinIsr && $0.underReplicated }
            if !under.isEmpty {
                problems.append("\(t.label): under-replicated, acks=all writes still succeed: "
                                + list(under) { "\($0.partition) (ISR \($0.isr.count - $0.downInIsr.count) of \($0.replicas.count))" })
            }
        }
        for b in brokers where !b.live {
            var line = "\(b.label) is down: \(b.reason ?? "no answer")"
            if let id = b.id, down.contains(id) {
                let led = partitions.filter { $0.leader == id }
                let inIsr = partitions.filter { $0.downInIsr.contains(id) }
                line += led.isEmpty ? "; it leads no partitions"
                    : "; it leads \(led.count) partition(s), unavailable until leadership moves: " + list(led) { "\($0.topic)[\($0.partition)]" }
                if !inIsr.isEmpty { line += "; still in the ISR of \(inIsr.count) partition(s)" }
                // Once fenced, metadata shows leadership already moved: name what it led (as preferred leader).
                let moved = partitions.filter { $0.preferredLeader == id && $0.leader != id }
                if !moved.isEmpty {
                    line += "; \(moved.count) partition(s) it led moved: " + list(moved) {
                        $0.leaderless ? "\($0.topic)[\($0.partition)] → no leader" : "\($0.topic)[\($0.partition)] → broker \($0.leader)"
                    }
                }
            } else if b.id != nil {
                line += "; another process serves the same node id, so no partition lost its leader"
            }
            problems.append(line)
        }
        if (!down.isEmpty || live < brokersExpected) && !partitions.isEmpty {
            let refused = partitions.filter { !$0.acksAllWritesSucceed }
            problems.append(refused.isEmpty
                ? "acks=all writes still succeed on all \(partitions.count) partition(s)"
                : "acks=all writes are refused on \(refused.count) of \(partitions.count) partition(s): " + list(refused) { "\($0.topic)[\($0.partition)]" })
        }
        let offPreferred = partitions.filter { !$0.ledByPreferred }
        if !offPreferred.isEmpty {
            let counts = Dictionary(grouping: partitions.filter { !$0.leaderless }, by: \.leader).mapValues(\.count)
            let leaders = counts.keys.sorted().map { "broker \($0) leads \(counts[$0]!)" }.joined(separator: ", ")
            warnings.append("leader imbalance: \(offPreferred.count) partition(s) not led by their preferred replica ("
                            + list(offPreferred) { "\($0.topic)[\($0.partition)] led by \($0.leader), preferred \($0.preferredLeader ?? -1)" }
                            + "); \(leaders)" + (electionHint.map { "; restore preferred leaders: \($0)" } ?? ""))
        }
        return TopicHealthReport(brokersExpected: brokersExpected, brokersLive: live, brokers: brokers, topics: topics,
                                 partitions: partitions, minInsyncSources: sources, problems: problems, drift: drift, warnings: warnings)
    }

    /// At most 12 items, then a count of the rest.
    static func list(_ ps: [PartitionHealth], _ item: (PartitionHealth) -> String) -> String {
        let shown = ps.prefix(12).map(item).joined(separator: ", ")
        return ps.count > 12 ? shown + " and \(ps.count - 12) more" : shown
    }
}
