import OperationsCore
import Diagnostics
import Foundation
import Kafka
import Manifest

public struct TopicsApplyResult: Sendable, Codable {
    public var dryRun: Bool
    public var steps: [TopicStep]
    public var created: [String]
    public var altered: [String]
    /// How the configs were altered (nil when nothing was): `incremental`, or `legacy` AlterConfigs
    /// with librdkafka < 2.2 (see docs/architecture.md, "librdkafka versions").
    public var alterMode: AlterConfigsMode?
    public var changed: Bool { !created.isEmpty || !altered.isEmpty }
}

public struct TopicDescription: Sendable, Codable {
    public var name: String
    public var partitions: [PartitionHealth]
    public var configs: [ConfigEntry]
}

/// `cdcctl topics …`: observe the cluster, plan against the manifest, apply safe steps.
public struct TopicsOperation {
    public let manifest: Manifest
    public let admin: KafkaAdmin

    public init(manifest: Manifest, timeoutMs: Int32 = 10_000) throws {
        self.manifest = manifest
        admin = try KafkaAdmin(KafkaSettings(bootstrap: manifest.access.kafkaBootstrap), timeoutMs: timeoutMs)
    }

    var bootstrapAddresses: [String] { manifest.access.kafkaBootstrap.split(separator: ",").map(String.init) }

    /// Each broker asked directly (see `TopicHealth.brokerStates`): Apache Kafka's brokers at the
    /// addresses metadata advertises, Tansu's processes at the bootstrap addresses.
    public func brokerStates(_ md: ClusterMetadata) -> [BrokerState] {
        let addresses = manifest.kafka.engine == "tansu" ? bootstrapAddresses : md.brokers.map { "\($0.host):\($0.port)" }
        let probes = KafkaAdmin.probe(addresses, settings: KafkaSettings(bootstrap: manifest.access.kafkaBootstrap))
        return TopicHealth.brokerStates(engine: manifest.kafka.engine, metadata: md, probes: probes, expected: manifest.kafka.brokers)
    }

    public func liveBrokers() throws -> Int {
        brokerStates(try admin.metadata()).filter(\.live).count
    }

    /// The one rule for creating topics, for `topics apply` and `bench producer` alike: a topic is
    /// created only when at least its replication factor of brokers are live (listed in metadata
    /// and answering a direct probe). Otherwise it would be born under-replicated (Apache Kafka
    /// places replicas on a killed broker until the controller fences it) or be refused.
    public static func creationRule(live: Int, topics: [(name: String, replicationFactor: Int)]) -> CdcError? {
        guard let needed = topics.map(\.replicationFactor).max(), live < needed else { return nil }
        let names = topics.filter { $0.replicationFactor > live }.map(\.name)
        return CdcError(.unhealthy, "\(live) live broker(s), but topic(s) \(names.joined(separator: ", ")) need replication factor \(needed)",
                        subject: "kafka", fix: "start the missing brokers (cdcctl topics health names them) and run again; nothing was created")
    }

    public func requireBrokersToCreate(_ topics: [(name: String, replicationFactor: Int)]) throws {
        guard !topics.isEmpty else { return }
        if let error = Self.creationRule(live: try liveBrokers(), topics: topics) { throw error }
    }

    public func observe() throws -> (ClusterMetadata, [ObservedTopic]) {
        let md = try admin.metadata()
        let present = md.topics.filter { $0.error == nil && !$0.partitions.isEmpty }
        let managed = Set(manifest.kafka.topics.map(\.name))
        let configs = try admin.describeTopicConfigs(present.map(\.name).filter { managed.contains($0) })
        let observed = present.map { t in
            ObservedTopic.from(name: t.name, partitions: t.partitions.count,
                               replicationFactor: t.partitions.map(\.replicas.count).max() ?? 0,
                               described: configs[t.name] ?? [], trustSources: manifest.kafka.engine != "tansu")
        }
        return (md, observed)
    }

    public func plan() throws -> [TopicStep] {
        TopicPlanner.plan(desired: manifest.kafka.topics, observed: try observe().1)
    }

    /// Creates missing topics and fixes config drift. Refuses, before changing anything, when a
    /// step is unsafe or when fewer brokers are live than a new topic's replication factor.
    public func apply(dryRun: Bool) throws -> TopicsApplyResult {
        let (_, observed) = try observe()
        let steps = TopicPlanner.plan(desired: manifest.kafka.topics, observed: observed)
        let unsafe = steps.filter { $0.kind == .unsafe }
        if !unsafe.isEmpty {
            throw CdcErrors(unsafe.map { .invalid($0.reason ?? "unsafe change", subject: "topic \($0.topic)",
                                                  fix: "nothing was changed; make the change by hand as described, or edit the manifest") })
        }
        let creates = steps.filter { $0.kind == .create }
        try requireBrokersToCreate(creates.map { ($0.topic, $0.replicationFactor ?? 1) })
        guard !dryRun else { return TopicsApplyResult(dryRun: true, steps: steps, created: [], altered: [], alterMode: nil) }
        let desired = Dictionary(manifest.kafka.topics.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
        let errors = try admin.createTopics(creates.compactMap { desired[$0.topic] }.map { t in
            NewTopic(name: t.name, partitions: t.partitions, replicationFactor: t.replicationFactor,
                     configs: t.configs.map { ($0.key, $0.value) })
        })
        // Another client (or a broker whose metadata lagged behind our plan) may have created it
        // first: that is fine if it ends up as the manifest says, which the check below verifies.
        let failures = errors.filter { $0.value.code != KafkaError.Code.topicAlreadyExists }
        if !failures.isEmpty { throw CdcErrors(failures.keys.sorted().map { failures[$0]!.cdcError }) }
        try waitForMetadata(creates.map(\.topic))
        let observedByName = Dictionary(observed.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
        let alters = steps.filter { $0.kind == .alter }
        var mode: AlterConfigsMode?
        for step in alters {
            // Legacy AlterConfigs replaces all of the topic's overrides: resend only those (never
            // inherited values, which would pin broker defaults on the topic), plus the changes.
            mode = try admin.setTopicConfigs(step.topic, step.changes.map { ($0.key, $0.desired) },
                                             currentOverrides: observedByName[step.topic]?.overrideValues ?? [:])
        }
        let trustSources = manifest.kafka.engine != "tansu"
        try waitForBrokers("config changes") { _, broker, id in
            // Ask the broker at this address itself, not whichever one librdkafka would pick.
            let seen = try broker.describeTopicConfigs(alters.map(\.topic), broker: id)
            return alters.filter { step in
                step.changes.contains { c in
                    guard let e = seen[step.topic]?.first(where: { $0.name == c.key }) else { return true }
                    return e.value != c.desired || (trustSources && !e.isTopicOverride)
                }
            }.map(\.topic)
        }
        return TopicsApplyResult(dryRun: false, steps: steps, created: creates.map(\.topic),
                                 altered: alters.map(\.topic), alterMode: mode)
    }

    /// Brokers learn about new topics and config changes shortly after the controller
    /// acknowledged them. Wait until every broker shows them (each one metadata lists, not only
    /// the bootstrap addresses: the next command may ask any), so the next command sees what
    /// apply made.
    func waitForMetadata(_ topics: [String]) throws {
        let expected = Dictionary(manifest.kafka.topics.map { ($0.name, $0.partitions) }, uniquingKeysWith: { a, _ in a })
        guard !topics.isEmpty else { return }
        try waitForBrokers("new topics") { md, _, _ in
            topics.filter { name in
                !md.topics.contains { $0.name == name && $0.error == nil && $0.partitions.count >= (expected[name] ?? 1) }
            }
        }
    }

    /// The addresses to wait on: the bootstrap addresses and every broker metadata advertises.
    public static func brokerAddresses(bootstrap: String, metadata: ClusterMetadata?) -> [String] {
        var out = bootstrap.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
        for b in metadata?.brokers ?? [] where !out.contains("\(b.host):\(b.port)") { out.append("\(b.host):\(b.port)") }
        return out
    }

    /// Polls each broker until `pending` returns nothing for it (bounded).
    func waitForBrokers(_ what: String, timeoutSeconds: Double = 20,
                        pending: (ClusterMetadata, KafkaAdmin, Int32?) throws -> [String]) throws {
        let addresses = Self.brokerAddresses(bootstrap: manifest.access.kafkaBootstrap, metadata: try? admin.metadata())
        let deadline = Date().addingTimeInterval(timeoutSeconds)
        for address in addresses {
            let broker = try KafkaAdmin(KafkaSettings(bootstrap: address, clientId: "cdcctl-wait"), timeoutMs: 5000)
            while true {
                // A broker that does not answer is reported by health, not waited for here.
                guard let md = try? broker.metadata() else { break }
                let id = md.brokers.first { "\($0.host):\($0.port)" == address }?.id ?? (md.origin >= 0 ? md.origin : nil)
                let left = try pending(md, broker, id)
                if left.isEmpty { break }
                if Date() > deadline {
                    throw CdcError.failed("broker \(address) still does not show the \(what) for \(left.joined(separator: ", ")) after \(Int(timeoutSeconds)) s",
                                          subject: "kafka", fix: "check broker health with cdcctl topics health, then run apply again")
                }
                Thread.sleep(forTimeInterval: 0.2)
            }
        }
    }

    /// Health judged by what the cluster says: brokers probed directly, the effective
    /// min.insync.replicas of each topic, the manifest's topics and the internal ones.
    public func health() throws -> TopicHealthReport {
        let md = try admin.metadata()
        let brokers = brokerStates(md)
        let onCluster = md.topics.filter { $0.error == nil }.map(\.name)
        let topics = TopicHealth.topics(manifest, onCluster: onCluster)
        let present = Set(onCluster)
        // A verdict without configs beats none: then min.insync.replicas comes from the manifest, and the report says so.
        var configs: [String: [ConfigEntry]] = [:]
        var configsError: String?
        do {
            configs = try admin.describeTopicConfigs(topics.map(\.name).filter { present.contains($0) })
        } catch {
            configsError = String(String(describing: error).split(separator: "\n").first ?? "")
        }
        var report = TopicHealth.assess(topics, metadata: md, brokers: brokers, brokersExpected: manifest.kafka.brokers,
                                        configs: configs, electionHint: electionHint(brokers))
        if let configsError {
            report.warnings.insert("cannot read topic configs, so min.insync.replicas is the manifest's (or Kafka's default 1): \(configsError)", at: 0)
        }
        return report
    }

    /// How to move leadership back to the preferred replicas (docs/architecture.md): Kafka's own
    /// tool, run in a live broker's container with a small heap beside the broker's.
    public func electionHint(_ brokers: [BrokerState]) -> String {
        guard manifest.kafka.engine != "tansu" else { return "not applicable to Tansu (one logical broker)" }
        let service = brokers.first { $0.live && $0.service != nil }?.service ?? KafkaListeners.serviceName(1)
        return "docker exec -e KAFKA_HEAP_OPTS=-Xmx128m -e KAFKA_OPTS= \(manifest.cluster.name)-\(service) "
            + "/opt/kafka/bin/kafka-leader-election.sh --bootstrap-server \(service):\(KafkaListeners.internalPort) "
            + "--election-type PREFERRED --all-topic-partitions"
    }

    public func describe(_ topic: String?) throws -> [TopicDescription] {
        let md = try admin.metadata()
        let names: [String]
        if let topic {
            guard md.topics.contains(where: { $0.name == topic && $0.error == nil }) else {
                let known = md.topics.map(\.name).filter { !TopicPlanner.isInternal($0) }
                throw CdcError.invalid("topic '\(topic)' does not exist on the cluster", subject: topic,
                                       fix: known.isEmpty ? "run cdcctl topics apply" : "known topics: \(known.joined(separator: ", "))")
            }
            names = [topic]
        } else {
            names = manifest.kafka.topics.map(\.name).filter { n in md.topics.contains { $0.name == n && $0.error == nil } }
        }
        let configs = try admin.describeTopicConfigs(names)
        let minIsr = Dictionary(manifest.kafka.topics.map { ($0.name, $0.minInsyncReplicas) }, uniquingKeysWith: { a, _ in a })
        return names.map { name in
            let info = md.topics.first { $0.name == name }!
            let declared = (configs[name] ?? []).first { $0.name == "min.insync.replicas" }?.value.flatMap(Int.init)
            return TopicDescription(name: name, partitions: info.partitions.map {
                PartitionHealth(topic: name, partition: $0.id, leader: $0.leader, replicas: $0.replicas, isr: $0.isr,
                                minInsyncReplicas: declared ?? minIsr[name] ?? 1)
            }, configs: configs[name] ?? [])
        }
    }
}
