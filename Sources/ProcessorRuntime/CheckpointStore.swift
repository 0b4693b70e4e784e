import ClickHouse
import Diagnostics
import Foundation
import Kafka

/// Where a restart finds the processor's place: offsets and the engine's checkpoint metadata
/// (`cdcctl/1 max=… cov=… done=…`, plus `pend=` during a flush).
public enum RecoveryMode: String, Sendable, Codable {
    /// In the consumer group's commits (Apache Kafka keeps a commit's metadata string).
    case kafkaCommitMetadata = "kafka-commit-metadata"
    /// In ClickHouse's `processor_checkpoints`, for a broker that drops commit metadata
    /// (Tansu returns none); offsets are still committed to Kafka for lag reporting.
    case clickhouseCheckpoints = "clickhouse-checkpoints"

    public var explanation: String {
        switch self {
        case .kafkaCommitMetadata: "the broker keeps commit metadata: checkpoints ride on the group's commits"
        case .clickhouseCheckpoints: "the broker drops commit metadata: checkpoints are kept in ClickHouse (processor_checkpoints)"
        }
    }
}

/// Saves and loads checkpoints atomically for a set of partitions.
protocol CheckpointStore: AnyObject {
    var mode: RecoveryMode { get }
    /// The last saved offset and metadata of each partition (offset < 0: none).
    func load(_ partitions: [PartitionKey]) throws -> [CommittedOffset]
    /// `final`: a flush's end (ClickHouse has every row); otherwise its `pend=` marker.
    func save(_ offsets: [CommittedOffset], final: Bool) throws
}

enum CheckpointStores {
    /// Whether the broker keeps a commit's metadata: commits a random marker for a probe group
    /// (`<group>.metadata-probe`, never used to consume) and reads it back.
    static func brokerKeepsCommitMetadata(_ settings: KafkaSettings, group: String, topic: String) throws -> Bool {
        let probe = try KafkaConsumer(settings, group: group + ".metadata-probe", prefetchKilobytes: 64)
        // Learn the topic's metadata first (a commit to a partition the client has not seen fails).
        try probe.assign([(topic: topic, partition: 0, offset: -1)])
        _ = try? probe.poll(timeoutMs: 100)
        let marker = "cdcctl-probe \(UInt64.random(in: 1...UInt64.max))"
        try probe.commit([CommittedOffset(topic: topic, partition: 0, offset: 0, metadata: marker)])
        let back = try probe.committed([(topic, 0)])
        return back.first?.metadata == marker
    }
}

/// Checkpoints in the consumer group's commits.
final class KafkaCommitStore: CheckpointStore {
    let consumer: KafkaConsumer
    var mode: RecoveryMode { .kafkaCommitMetadata }

    init(_ consumer: KafkaConsumer) { self.consumer = consumer }

    func load(_ partitions: [PartitionKey]) throws -> [CommittedOffset] {
        try consumer.committed(partitions.map { ($0.topic, $0.partition) })
    }

    func save(_ offsets: [CommittedOffset], final: Bool) throws { try consumer.commit(offsets) }
}

/// Checkpoints in ClickHouse (`processor_checkpoints`, migration 0006), one row per partition
/// and save, the highest `seq` winning. One insert is one block, so a save is atomic like a
/// Kafka commit. Chosen over the local state store because ClickHouse is already required for
/// any progress (a flush cannot succeed without it) and is the same wherever the processor
/// runs, while the state store belongs to one machine's `--state-dir`.
final class ClickHouseCheckpointStore: CheckpointStore {
    let client: ClickHouseClient
    let database: String
    let group: String
    /// Offsets (without metadata) still go to the group, so `process status` shows lag.
    let consumer: KafkaConsumer?
    private var seq: UInt64 = 0
    var mode: RecoveryMode { .clickhouseCheckpoints }

    init(_ client: ClickHouseClient, database: String, group: String, consumer: KafkaConsumer?) {
        self.client = client
        self.database = database
        self.group = group
        self.consumer = consumer
    }

    struct Row: Codable {
        var topic: String
        var partition: Int32
        var offset: Int64
        var metadata: String
        var latest: UInt64
    }

    func load(_ partitions: [PartitionKey]) throws -> [CommittedOffset] {
        let rows: [Row]
        do {
            rows = try client.select("""
                SELECT topic, toInt32(partition) AS partition, argMax(offset, seq) AS offset, argMax(metadata, seq) AS metadata,
                       max(seq) AS latest
                FROM \(database).processor_checkpoints WHERE consumer_group = {group:String} GROUP BY topic, partition
                """, as: Row.self, parameters: ["group": group])
        } catch let e as ClickHouseError where e.code == ClickHouseError.Code.unknownTable || e.code == ClickHouseError.Code.unknownDatabase {
            throw CdcError.failed("ClickHouse has no \(database).processor_checkpoints, where this broker's checkpoints must go",
                                  subject: "processor", fix: "run `cdcctl schema apply` (migration 0006)")
        }
        seq = rows.map(\.latest).max() ?? 0
        let kafka = try consumer?.committed(partitions.map { ($0.topic, $0.partition) }) ?? []
        return partitions.map { p in
            if let r = rows.first(where: { $0.topic == p.topic && $0.partition == p.partition }) {
                return CommittedOffset(topic: p.topic, partition: p.partition, offset: r.offset, metadata: r.metadata.isEmpty ? nil : r.metadata)
            }
            // Never saved here: the group's own offset if it has one (its metadata is lost).
            let k = kafka.first { $0.topic == p.topic && $0.partition == p.partition }
            return CommittedOffset(topic: p.topic, partition: p.partition, offset: k?.offset ?? -1001, metadata: nil)
        }
    }

    func save(_ offsets: [CommittedOffset], final: Bool) throws {
        guard !offsets.isEmpty else { return }
        seq += 1
        struct Insert: Encodable {
            var consumer_group: String
            var topic: String
            var partition: Int32
            var offset: Int64
            var metadata: String
            var seq: UInt64
        }
        try client.insert(offsets.map {
            Insert(consumer_group: group, topic: $0.topic, partition: $0.partition, offset: $0.offset, metadata: $0.metadata ?? "", seq: seq)
        }, into: "processor_checkpoints", database: database)
        if final { try consumer?.commit(offsets.map { CommittedOffset(topic: $0.topic, partition: $0.partition, offset: $0.offset, metadata: nil) }) }
    }
}
