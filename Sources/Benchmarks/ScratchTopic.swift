import Foundation
import Kafka
import Manifest
import TopicAdmin

/// A throw-away topic for a benchmark, with the manifest's durability defaults and the same
/// creation rule as `topics apply` (no RF-3 topic while fewer than 3 brokers are live).
/// `drop()` deletes it.
struct ScratchTopic {
    let admin: KafkaAdmin
    let name: String

    init(_ m: Manifest, settings: KafkaSettings, prefix: String) throws {
        admin = try KafkaAdmin(settings)
        name = "\(prefix)-\(UUID().uuidString.prefix(8).lowercased())"
        let d = m.kafka.defaults
        try TopicsOperation(manifest: m).requireBrokersToCreate([(name, d.replicationFactor)])
        let errors = try admin.createTopics([NewTopic(name: name, partitions: d.partitions, replicationFactor: d.replicationFactor,
                                                      configs: [("min.insync.replicas", String(d.minInsyncReplicas))])])
        if let e = errors.values.first { throw e }
    }

    func drop() { _ = try? admin.deleteTopics([name]) }
}
