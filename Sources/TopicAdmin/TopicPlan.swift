import Kafka
import Manifest

/// A topic as the cluster has it.
public struct ObservedTopic: Sendable, Codable, Equatable {
    public var name: String
    public var partitions: Int
    public var replicationFactor: Int
    /// Effective config values the cluster reports (only managed keys matter to the plan).
    public var configs: [String: String]
    /// The keys set on the topic itself (DescribeConfigs source DYNAMIC_TOPIC_CONFIG); the others
    /// are inherited from broker settings or Kafka's defaults and follow their changes.
    public var overrides: Set<String>

    /// `overrides` defaults to every key in `configs`.
    public init(name: String, partitions: Int, replicationFactor: Int, configs: [String: String], overrides: Set<String>? = nil) {
        self.name = name
        self.partitions = partitions
        self.replicationFactor = replicationFactor
        self.configs = configs
        self.overrides = overrides ?? Set(configs.keys)
    }

    /// The topic's own overrides with their values: what legacy AlterConfigs must resend.
    public var overrideValues: [String: String] { configs.filter { overrides.contains($0.key) } }

    /// From a DescribeConfigs answer. `trustSources` is false for Tansu, which labels the keys
    /// that were set on a topic DEFAULT_CONFIG (measured) but describes only those: there every
    /// described key is taken as an override.
    public static func from(name: String, partitions: Int, replicationFactor: Int, described: [ConfigEntry],
                            trustSources: Bool = true) -> ObservedTopic {
        let withValues = described.filter { $0.value != nil }
        return ObservedTopic(name: name, partitions: partitions, replicationFactor: replicationFactor,
                             configs: Dictionary(withValues.map { ($0.name, $0.value!) }, uniquingKeysWith: { a, _ in a }),
                             overrides: Set(withValues.filter { !trustSources || $0.isTopicOverride }.map(\.name)))
    }
}

public struct ConfigChange: Sendable, Codable, Equatable {
    public var key: String
    public var current: String?
    public var desired: String
    /// The value matches but is inherited (its topic override was deleted): the topic would follow
    /// a later broker-level change. Apply sets it on the topic again.
    public var inherited: Bool

    public init(key: String, current: String?, desired: String, inherited: Bool = false) {
        self.key = key
        self.current = current
        self.desired = desired
        self.inherited = inherited
    }

    /// `retention.ms: 60000 → 86400000`, or `retention.ms: 86400000 inherited, no longer pinned to the topic → pin it`.
    public var summary: String {
        inherited ? "\(key): \(desired) is inherited, no longer pinned to the topic → pin \(desired)"
            : "\(key): \(current ?? "unset") → \(desired)"
    }
}

/// One line of `cdcctl topics plan`: what apply would do for a topic, or why it will not.
public struct TopicStep: Sendable, Codable, Equatable {
    public enum Kind: String, Sendable, Codable {
        /// Missing: apply creates it.
        case create
        /// Config drift: apply sets the managed configs back.
        case alter
        /// Matches the manifest.
        case ok
        /// A change Kafka cannot make in place or that would break ordering: apply refuses it.
        case unsafe
        /// On the cluster but not in the manifest: reported, never deleted.
        case extra
    }

    public var topic: String
    public var kind: Kind
    public var partitions: Int?
    public var replicationFactor: Int?
    public var changes: [ConfigChange]
    public var reason: String?
}

/// The diff between the manifest's topics and the cluster's, like `terraform plan`. Pure.
public enum TopicPlanner {
    public static func plan(desired: [Topic], observed: [ObservedTopic]) -> [TopicStep] {
        let byName = Dictionary(observed.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
        var steps: [TopicStep] = []
        for t in desired {
            guard let o = byName[t.name] else {
                steps.append(TopicStep(topic: t.name, kind: .create, partitions: t.partitions, replicationFactor: t.replicationFactor,
                                       changes: t.configs.map { ConfigChange(key: $0.key, current: nil, desired: $0.value) }, reason: nil))
                continue
            }
            let changes = t.configs.compactMap { kv -> ConfigChange? in
                guard o.configs[kv.key] == kv.value else { return ConfigChange(key: kv.key, current: o.configs[kv.key], desired: kv.value) }
                return o.overrides.contains(kv.key) ? nil : ConfigChange(key: kv.key, current: kv.value, desired: kv.value, inherited: true)
            }
            if o.replicationFactor != t.replicationFactor {
                steps.append(TopicStep(topic: t.name, kind: .unsafe, partitions: o.partitions, replicationFactor: o.replicationFactor, changes: changes,
                                       reason: "replication factor is \(o.replicationFactor), the manifest says \(t.replicationFactor): Kafka cannot change it in place; "
                                           + "reassign replicas with kafka-reassign-partitions.sh (a plan with \(t.replicationFactor) replicas per partition), then run apply again"))
            } else if o.partitions > t.partitions {
                steps.append(TopicStep(topic: t.name, kind: .unsafe, partitions: o.partitions, replicationFactor: o.replicationFactor, changes: changes,
                                       reason: "has \(o.partitions) partitions, the manifest says \(t.partitions): Kafka cannot remove partitions; "
                                           + "set partitions: \(o.partitions) in the manifest, or create a new topic and migrate consumers to it"))
            } else if o.partitions < t.partitions {
                steps.append(TopicStep(topic: t.name, kind: .unsafe, partitions: o.partitions, replicationFactor: o.replicationFactor, changes: changes,
                                       reason: "has \(o.partitions) partitions, the manifest says \(t.partitions): adding partitions moves keys"
                                           + (t.key.map { " (\($0))" } ?? "") + " to other partitions and breaks per-key order; "
                                           + "stop producers, drain consumers, run kafka-topics.sh --alter --topic \(t.name) --partitions \(t.partitions), then restart"))
            } else if !changes.isEmpty {
                steps.append(TopicStep(topic: t.name, kind: .alter, partitions: o.partitions, replicationFactor: o.replicationFactor,
                                       changes: changes, reason: nil))
            } else {
                steps.append(TopicStep(topic: t.name, kind: .ok, partitions: o.partitions, replicationFactor: o.replicationFactor,
                                       changes: [], reason: nil))
            }
        }
        let wanted = Set(desired.map(\.name))
        for o in observed.sorted(by: { $0.name < $1.name }) where !wanted.contains(o.name) && !isInternal(o.name) {
            steps.append(TopicStep(topic: o.name, kind: .extra, partitions: o.partitions, replicationFactor: o.replicationFactor, changes: [],
                                   reason: "not in the manifest; cdcctl never deletes topics: add it to kafka.topics or delete it by hand"))
        }
        return steps
    }

    /// Kafka's, Connect's and Debezium's own topics (`__consumer_offsets`, `_connect-configs`,
    /// `__debezium-heartbeat.…`) are not the manifest's business.
    public static func isInternal(_ name: String) -> Bool { name.hasPrefix("_") }

    /// What to run next after a plan with drift. Apply refuses the whole plan while any step is
    /// unsafe, so then it is the manual path, not apply.
    public static func nextStep(_ steps: [TopicStep]) -> String? {
        let unsafe = steps.filter { $0.kind == .unsafe }
        if !unsafe.isEmpty {
            return "make the unsafe change(s) by hand as the DETAIL column says, or edit the manifest to match the cluster, "
                + "then run cdcctl topics plan again (topics apply refuses while \(unsafe.map(\.topic).joined(separator: ", ")) "
                + (unsafe.count == 1 ? "is" : "are") + " unsafe)"
        }
        return hasDrift(steps) ? "cdcctl topics apply" : nil
    }

    /// Whether apply has work (or refuses work). Extra topics count only when asked: a shared
    /// cluster has other teams' topics, and those are not drift of this manifest.
    public static func hasDrift(_ steps: [TopicStep], countExtra: Bool = false) -> Bool {
        steps.contains { $0.kind == .create || $0.kind == .alter || $0.kind == .unsafe || (countExtra && $0.kind == .extra) }
    }
}
