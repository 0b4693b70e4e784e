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

    /// Live brokers. Apache Kafka lists them in metadata. Tansu's processes each report the same
    /// single node id, so there each bootstrap address that answers counts as one.
    public func liveBrokers() throws -> Int {
        switch manifest.kafka.engine {
        case "tansu":
            let addresses = manifest.access.kafkaBootstrap.split(separator: ",").map(String.init)
            return addresses.filter { address in
                (try? KafkaAdmin(KafkaSettings(bootstrap: address, clientId: "cdcctl-probe"), timeoutMs: 3000).metadata()) != nil
            }.count
        default:
            return try admin.metadata().brokers.count
        }
    }

    public func observe() throws -> (ClusterMetadata, [ObservedTopic]) {
        let md = try admin.metadata()
        let present = md.topics.filter { $0.error == nil && !$0.partitions.isEmpty }
        let managed = Set(manifest.kafka.topics.map(\.name))
        let configs = try admin.describeTopicConfigs(present.map(\.name).filter { managed.contains($0) })
        let observed = present.map { t in
            ObservedTopic(name: t.name, partitions: t.partitions.count,
                          replicationFactor: t.partitions.map(\.replicas.count).max() ?? 0,
                          configs: Dictionary((configs[t.name] ?? []).compactMap { e in e.value.map { (e.name, $0) } },
                                              uniquingKeysWith: { a, _ in a }))
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
        if let needed = creates.compactMap(\.replicationFactor).max() {
            let live = try liveBrokers()
            if live < needed {
                throw CdcError(.unhealthy, "\(live) live broker(s), but topic(s) \(creates.map(\.topic).joined(separator: ", ")) need replication factor \(needed)",
                               subject: "kafka", fix: "start the missing brokers (cdcctl status) and run apply again; nothing was changed")
            }
        }
        guard !dryRun else { return TopicsApplyResult(dryRun: true, steps: steps, created: [], altered: []) }
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
        for step in steps where step.kind == .alter {
            let current = observedByName[step.topic]?.configs.map { ($0.key, $0.value) } ?? []
            try admin.setTopicConfigs(step.topic, step.changes.map { ($0.key, $0.desired) }, currentDynamic: current)
        }
        try waitForBrokers("config changes") { md, broker in
            let altered = steps.filter { $0.kind == .alter }
            let seen = try broker.describeTopicConfigs(altered.map(\.topic))
            return altered.filter { step in
                step.changes.contains { c in seen[step.topic]?.first { $0.name == c.key }?.value != c.desired }
            }.map(\.topic)
        }
        return TopicsApplyResult(dryRun: false, steps: steps, created: creates.map(\.topic),
                                 altered: steps.filter { $0.kind == .alter }.map(\.topic))
    }

    /// Brokers learn about new topics and config changes shortly after the controller
    /// acknowledged them. Wait until every bootstrap broker shows them, so the next command (on
    /// any broker) sees what apply made.
    func waitForMetadata(_ topics: [String]) throws {
        let expected = Dictionary(manifest.kafka.topics.map { ($0.name, $0.partitions) }, uniquingKeysWith: { a, _ in a })
        guard !topics.isEmpty else { return }
        try waitForBrokers("new topics") { md, _ in
            topics.filter { name in
                !md.topics.contains { $0.name == name && $0.error == nil && $0.partitions.count >= (expected[name] ?? 1) }
            }
        }
    }

    /// Polls each bootstrap broker until `pending` returns nothing for it (bounded).
    func waitForBrokers(_ what: String, timeoutSeconds: Double = 20,
                        pending: (ClusterMetadata, KafkaAdmin) throws -> [String]) throws {
        let addresses = manifest.access.kafkaBootstrap.split(separator: ",").map(String.init)
        let deadline = Date().addingTimeInterval(timeoutSeconds)
        for address in addresses {
            let broker = try KafkaAdmin(KafkaSettings(bootstrap: address, clientId: "cdcctl-wait"), timeoutMs: 5000)
            while true {
                // A broker that does not answer is reported by health, not waited for here.
                guard let md = try? broker.metadata() else { break }
                let left = try pending(md, broker)
                if left.isEmpty { break }
                if Date() > deadline {
                    throw CdcError.failed("broker \(address) still does not show the \(what) for \(left.joined(separator: ", ")) after \(Int(timeoutSeconds)) s",
                                          subject: "kafka", fix: "check broker health with cdcctl topics health, then run apply again")
                }
                Thread.sleep(forTimeInterval: 0.2)
            }
        }
    }

    public func health() throws -> TopicHealthReport {
        let md = try admin.metadata()
        return TopicHealth.assess(manifest.kafka.topics, metadata: md, brokersLive: try liveBrokers(),
                                  brokersExpected: manifest.kafka.brokers)
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
