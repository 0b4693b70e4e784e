import CRdKafka
import Diagnostics
import Foundation
import Synchronization

public struct BrokerInfo: Sendable, Codable, Equatable {
    public var id: Int32
    public var host: String
    public var port: Int32

    public init(id: Int32, host: String, port: Int32) {
        self.id = id
        self.host = host
        self.port = port
    }
}

public struct PartitionInfo: Sendable, Codable, Equatable {
    public var id: Int32
    public var leader: Int32
    public var replicas: [Int32]
    public var isr: [Int32]
    public var error: String?

    public init(id: Int32, leader: Int32, replicas: [Int32], isr: [Int32], error: String?) {
        self.id = id
        self.leader = leader
        self.replicas = replicas
        self.isr = isr
        self.error = error
    }
}

public struct TopicInfo: Sendable, Codable, Equatable {
    public var name: String
    public var partitions: [PartitionInfo]
    public var error: String?

    public init(name: String, partitions: [PartitionInfo], error: String?) {
        self.name = name
        self.partitions = partitions
        self.error = error
    }
}

public struct ClusterMetadata: Sendable, Codable, Equatable {
    /// The broker that answered.
    public var origin: Int32
    public var brokers: [BrokerInfo]
    public var topics: [TopicInfo]

    public init(origin: Int32, brokers: [BrokerInfo], topics: [TopicInfo]) {
        self.origin = origin
        self.brokers = brokers
        self.topics = topics
    }
}

/// One broker asked directly (see `KafkaAdmin.probe`).
public struct BrokerProbe: Sendable, Codable, Equatable {
    /// host:port asked.
    public var address: String
    public var answered: Bool
    /// The node id that answered.
    public var nodeId: Int32?
    public var error: String?

    public init(address: String, answered: Bool, nodeId: Int32?, error: String?) {
        self.address = address
        self.answered = answered
        self.nodeId = nodeId
        self.error = error
    }
}

public struct NewTopic: Sendable, Equatable {
    public var name: String
    public var partitions: Int
    public var replicationFactor: Int
    public var configs: [(String, String)]

    public init(name: String, partitions: Int, replicationFactor: Int, configs: [(String, String)]) {
        self.name = name
        self.partitions = partitions
        self.replicationFactor = replicationFactor
        self.configs = configs
    }

    public static func == (a: NewTopic, b: NewTopic) -> Bool {
        a.name == b.name && a.partitions == b.partitions && a.replicationFactor == b.replicationFactor
            && a.configs.map { "\($0)=\($1)" } == b.configs.map { "\($0)=\($1)" }
    }
}

public struct ConfigEntry: Sendable, Codable, Equatable {
    public var name: String
    public var value: String?
    public var isDefault: Bool
    public var isReadOnly: Bool
    public var isSensitive: Bool
    /// librdkafka's source name: DYNAMIC_TOPIC_CONFIG, DEFAULT_CONFIG, STATIC_BROKER_CONFIG, …
    public var source: String

    public init(name: String, value: String?, isDefault: Bool = false, isReadOnly: Bool = false, isSensitive: Bool = false,
                source: String) {
        self.name = name
        self.value = value
        self.isDefault = isDefault
        self.isReadOnly = isReadOnly
        self.isSensitive = isSensitive
        self.source = source
    }

    public static let topicOverrideSource = "DYNAMIC_TOPIC_CONFIG"

    /// Set on the topic itself (not inherited from a broker setting or Kafka's default).
    public var isTopicOverride: Bool { source == Self.topicOverrideSource }
}

/// How topic configs are changed. librdkafka ≥ 2.2 has IncrementalAlterConfigs (looked up at run
/// time); Debian's 2.0.2 has only the legacy AlterConfigs, which replaces the topic's whole set of
/// overrides with what it is sent.
public enum AlterConfigsMode: String, Sendable, Codable {
    case incremental
    case legacy

    /// What the loaded library offers, unless `CDCCTL_KAFKA_ALTER_CONFIGS=legacy|incremental` forces
    /// one (a diagnostic override: it lets a newer library exercise the path 2.0.2 users take).
    public static func resolve(environment: [String: String] = ProcessInfo.processInfo.environment) -> AlterConfigsMode {
        switch environment["CDCCTL_KAFKA_ALTER_CONFIGS"] {
        case "legacy": .legacy
        case "incremental": .incremental
        default: cdc_has_incremental_alter_configs() != 0 ? .incremental : .legacy
        }
    }

    /// The full set legacy AlterConfigs must be sent: the topic's own overrides (and only those:
    /// resending inherited values would pin broker defaults on the topic) with the changes applied.
    public static func legacyEntries(currentOverrides: [String: String], changes: [(String, String)]) -> [(String, String)] {
        var merged = currentOverrides
        for (k, v) in changes { merged[k] = v }
        return merged.keys.sorted().map { ($0, merged[$0]!) }
    }
}

public struct PartitionLag: Sendable, Codable, Equatable {
    public var topic: String
    public var partition: Int32
    /// -1 when the group has committed nothing for the partition.
    public var committed: Int64
    public var highWatermark: Int64
    public var lag: Int64
}

/// Topics, configs, metadata and consumer-group offsets.
public final class KafkaAdmin: @unchecked Sendable {
    let handle: KafkaHandle
    public let timeoutMs: Int32

    public init(_ settings: KafkaSettings, timeoutMs: Int32 = 10_000) throws {
        handle = try KafkaHandle(RD_KAFKA_PRODUCER, settings: settings, extra: [:])
        self.timeoutMs = timeoutMs
    }

    // MARK: - Metadata

    public func metadata(topic: String? = nil) throws -> ClusterMetadata {
        var md: UnsafePointer<rd_kafka_metadata_t>?
        var rkt: OpaquePointer?
        if let topic { rkt = rd_kafka_topic_new(handle.rk, topic, nil) }
        defer { if let rkt { rd_kafka_topic_destroy(rkt) } }
        let err = rd_kafka_metadata(handle.rk, topic == nil ? 1 : 0, rkt, &md, timeoutMs)
        guard err == RD_KAFKA_RESP_ERR_NO_ERROR, let md else { throw handle.error("cannot fetch cluster metadata", err) }
        defer { rd_kafka_metadata_destroy(md) }
        let m = md.pointee
        let brokers = (0..<Int(m.broker_cnt)).map { i -> BrokerInfo in
            let b = m.brokers[i]
            return BrokerInfo(id: b.id, host: cString(b.host), port: b.port)
        }.sorted { $0.id < $1.id }
        let topics = (0..<Int(m.topic_cnt)).map { i -> TopicInfo in
            let t = m.topics[i]
            let partitions = (0..<Int(t.partition_cnt)).map { j -> PartitionInfo in
                let p = t.partitions[j]
                return PartitionInfo(id: p.id, leader: p.leader,
                                     replicas: (0..<Int(p.replica_cnt)).map { p.replicas[$0] },
                                     isr: (0..<Int(p.isr_cnt)).map { p.isrs[$0] },
                                     error: p.err == RD_KAFKA_RESP_ERR_NO_ERROR ? nil : String(cString: rd_kafka_err2name(p.err)))
            }.sorted { $0.id < $1.id }
            return TopicInfo(name: cString(t.topic), partitions: partitions,
                             error: t.err == RD_KAFKA_RESP_ERR_NO_ERROR ? nil : String(cString: rd_kafka_err2name(t.err)))
        }.sorted { $0.name < $1.name }
        return ClusterMetadata(origin: m.orig_broker_id, brokers: brokers, topics: topics)
    }

    /// Asks each address alone for metadata (in parallel, each bounded by `timeoutMs`): a broker
    /// that was killed keeps its place in the cluster's metadata until the controller fences it
    /// (seconds), but it stops answering at once.
    public static func probe(_ addresses: [String], settings: KafkaSettings, timeoutMs: Int32 = 1500) -> [BrokerProbe] {
        let results = Mutex<[BrokerProbe?]>(Array(repeating: nil, count: addresses.count))
        DispatchQueue.concurrentPerform(iterations: addresses.count) { i in
            let probe = probeOne(addresses[i], settings: settings, timeoutMs: timeoutMs)
            results.withLock { $0[i] = probe }
        }
        return results.withLock { $0.compactMap { $0 } }
    }

    static func probeOne(_ address: String, settings: KafkaSettings, timeoutMs: Int32) -> BrokerProbe {
        var s = settings
        s.bootstrap = address
        s.clientId = "cdcctl-probe"
        do {
            let h = try KafkaHandle(RD_KAFKA_PRODUCER, settings: s, extra: ["socket.connection.setup.timeout.ms": String(max(timeoutMs, 1000))])
            var md: UnsafePointer<rd_kafka_metadata_t>?
            // all_topics 0 and no topic: a fresh handle knows no topics, so this asks for brokers only.
            let err = rd_kafka_metadata(h.rk, 0, nil, &md, timeoutMs)
            guard err == RD_KAFKA_RESP_ERR_NO_ERROR, let md else {
                return BrokerProbe(address: address, answered: false, nodeId: nil,
                                   error: "\(String(cString: rd_kafka_err2name(err))) within \(timeoutMs) ms")
            }
            defer { rd_kafka_metadata_destroy(md) }
            // orig_broker_id is -1 while the bootstrap connection has no node id yet: find the
            // address in the broker list instead.
            let m = md.pointee
            let listed = (0..<Int(m.broker_cnt)).first { "\(cString(m.brokers[$0].host)):\(m.brokers[$0].port)" == address }
                .map { m.brokers[$0].id }
            return BrokerProbe(address: address, answered: true, nodeId: listed ?? (m.orig_broker_id >= 0 ? m.orig_broker_id : nil), error: nil)
        } catch {
            return BrokerProbe(address: address, answered: false, nodeId: nil, error: String(describing: error))
        }
    }

    // MARK: - Topics

    /// Creates topics; returns per-topic errors (empty when all were created).
    public func createTopics(_ topics: [NewTopic], validateOnly: Bool = false) throws -> [String: KafkaError] {
        guard !topics.isEmpty else { return [:] }
        var errbuf = [CChar](repeating: 0, count: 512)
        var newTopics: [OpaquePointer?] = []
        defer { newTopics.forEach { rd_kafka_NewTopic_destroy($0) } }
        for t in topics {
            guard let nt = rd_kafka_NewTopic_new(t.name, Int32(t.partitions), Int32(t.replicationFactor), &errbuf, errbuf.count) else {
                throw CdcError.invalid("cannot describe topic \(t.name): \(text(errbuf))", subject: t.name)
            }
            for (k, v) in t.configs { rd_kafka_NewTopic_set_config(nt, k, v) }
            newTopics.append(nt)
        }
        let event = try runAdmin(RD_KAFKA_ADMIN_OP_CREATETOPICS, validateOnly: validateOnly) { options, queue in
            newTopics.withUnsafeMutableBufferPointer { rd_kafka_CreateTopics(handle.rk, $0.baseAddress, $0.count, options, queue) }
        }
        defer { rd_kafka_event_destroy(event) }
        var count = 0
        guard let results = rd_kafka_CreateTopics_result_topics(rd_kafka_event_CreateTopics_result(event), &count) else { return [:] }
        return topicErrors(results, count, what: "cannot create topic")
    }

    public func deleteTopics(_ names: [String]) throws -> [String: KafkaError] {
        guard !names.isEmpty else { return [:] }
        var items: [OpaquePointer?] = names.map { rd_kafka_DeleteTopic_new($0) }
        defer { items.forEach { rd_kafka_DeleteTopic_destroy($0) } }
        let event = try runAdmin(RD_KAFKA_ADMIN_OP_DELETETOPICS) { options, queue in
            items.withUnsafeMutableBufferPointer { rd_kafka_DeleteTopics(handle.rk, $0.baseAddress, $0.count, options, queue) }
        }
        defer { rd_kafka_event_destroy(event) }
        var count = 0
        guard let results = rd_kafka_DeleteTopics_result_topics(rd_kafka_event_DeleteTopics_result(event), &count) else { return [:] }
        return topicErrors(results, count, what: "cannot delete topic")
    }

    private func topicErrors(_ results: UnsafeMutablePointer<OpaquePointer?>, _ count: Int, what: String) -> [String: KafkaError] {
        var out: [String: KafkaError] = [:]
        for i in 0..<count {
            let r = results[i]
            let err = rd_kafka_topic_result_error(r)
            if err != RD_KAFKA_RESP_ERR_NO_ERROR {
                let name = cString(rd_kafka_topic_result_name(r))
                out[name] = handle.error("\(what) \(name)", err, cString(rd_kafka_topic_result_error_string(r)))
            }
        }
        return out
    }

    // MARK: - Configs

    /// `broker`: ask that broker (each answers topic configs from its own metadata, which lags
    /// the controller briefly); nil lets librdkafka pick one.
    public func describeTopicConfigs(_ topics: [String], broker: Int32? = nil) throws -> [String: [ConfigEntry]] {
        guard !topics.isEmpty else { return [:] }
        var resources: [OpaquePointer?] = topics.map { rd_kafka_ConfigResource_new(RD_KAFKA_RESOURCE_TOPIC, $0) }
        defer { resources.forEach { rd_kafka_ConfigResource_destroy($0) } }
        let event = try runAdmin(RD_KAFKA_ADMIN_OP_DESCRIBECONFIGS, broker: broker) { options, queue in
            resources.withUnsafeMutableBufferPointer { rd_kafka_DescribeConfigs(handle.rk, $0.baseAddress, $0.count, options, queue) }
        }
        defer { rd_kafka_event_destroy(event) }
        var count = 0
        guard let results = rd_kafka_DescribeConfigs_result_resources(rd_kafka_event_DescribeConfigs_result(event), &count) else { return [:] }
        var out: [String: [ConfigEntry]] = [:]
        for i in 0..<count {
            let r = results[i]
            let name = cString(rd_kafka_ConfigResource_name(r))
            let err = rd_kafka_ConfigResource_error(r)
            if err != RD_KAFKA_RESP_ERR_NO_ERROR {
                throw handle.error("cannot describe configs of \(name)", err, cString(rd_kafka_ConfigResource_error_string(r)))
            }
            var n = 0
            let entries = rd_kafka_ConfigResource_configs(r, &n)
            out[name] = (0..<n).compactMap { j -> ConfigEntry? in
                guard let e = entries?[j] else { return nil }
                return ConfigEntry(name: cString(rd_kafka_ConfigEntry_name(e)),
                                   value: rd_kafka_ConfigEntry_value(e).map { String(cString: $0) },
                                   isDefault: rd_kafka_ConfigEntry_is_default(e) != 0,
                                   isReadOnly: rd_kafka_ConfigEntry_is_read_only(e) != 0,
                                   isSensitive: rd_kafka_ConfigEntry_is_sensitive(e) != 0,
                                   source: cString(rd_kafka_ConfigSource_name(rd_kafka_ConfigEntry_source(e))))
            }.sorted { $0.name < $1.name }
        }
        return out
    }

    /// Sets the given topic configs and leaves the others as they are; returns the mode used.
    /// IncrementalAlterConfigs sends only the changes. Legacy AlterConfigs replaces every topic
    /// override, so `currentOverrides` must be the topic's own overrides (DescribeConfigs entries
    /// whose source is DYNAMIC_TOPIC_CONFIG), never every described config.
    @discardableResult
    public func setTopicConfigs(_ topic: String, _ changes: [(String, String)], currentOverrides: [String: String],
                                mode: AlterConfigsMode = .resolve()) throws -> AlterConfigsMode {
        guard !changes.isEmpty else { return mode }
        guard let resource = rd_kafka_ConfigResource_new(RD_KAFKA_RESOURCE_TOPIC, topic) else {
            throw CdcError.failed("librdkafka: out of memory")
        }
        defer { rd_kafka_ConfigResource_destroy(resource) }
        let incremental = mode == .incremental
        let sent: [(String, String)]
        if incremental {
            var errbuf = [CChar](repeating: 0, count: 512)
            for (k, v) in changes {
                if let problem = cdc_add_incremental_config(resource, k, 0, v, &errbuf, errbuf.count) {
                    throw CdcError.invalid("cannot set \(k)=\(v) on \(topic): \(String(cString: problem))", subject: topic)
                }
            }
            sent = changes
        } else {
            sent = AlterConfigsMode.legacyEntries(currentOverrides: currentOverrides, changes: changes)
            for (k, v) in sent { rd_kafka_ConfigResource_set_config(resource, k, v) }
        }
        let what = incremental ? "IncrementalAlterConfigs" : "legacy AlterConfigs (the topic's overrides: \(sent.map(\.0).joined(separator: ", ")))"
        var resources: [OpaquePointer?] = [resource]
        let event: OpaquePointer
        do {
            event = try runAdmin(incremental ? RD_KAFKA_ADMIN_OP_ANY : RD_KAFKA_ADMIN_OP_ALTERCONFIGS) { options, queue in
                resources.withUnsafeMutableBufferPointer { buf in
                    if incremental {
                        cdc_incremental_alter_configs(handle.rk, buf.baseAddress, buf.count, options, queue)
                    } else {
                        rd_kafka_AlterConfigs(handle.rk, buf.baseAddress, buf.count, options, queue)
                    }
                }
            }
        } catch var error as KafkaError {
            error.operation = "cannot alter configs of \(topic) with \(what): " + error.operation
            throw error
        }
        defer { rd_kafka_event_destroy(event) }
        var count = 0
        let results = incremental
            ? cdc_incremental_alter_result_resources(event, &count).map { UnsafeMutablePointer(mutating: $0) }
            : rd_kafka_AlterConfigs_result_resources(rd_kafka_event_AlterConfigs_result(event), &count)
        for i in 0..<count {
            guard let r = results?[i] else { continue }
            let err = rd_kafka_ConfigResource_error(r)
            if err != RD_KAFKA_RESP_ERR_NO_ERROR {
                throw handle.error("cannot alter configs of \(topic) with \(what)", err, cString(rd_kafka_ConfigResource_error_string(r)))
            }
        }
        return mode
    }

    // MARK: - Consumer groups

    /// Committed offsets of a group against each partition's high watermark.
    public func groupLag(group: String, topics: [String]) throws -> [PartitionLag] {
        let md = try metadata()
        let consumer = try KafkaHandle(RD_KAFKA_CONSUMER, settings: KafkaSettings(bootstrap: handle.bootstrap, clientId: "cdcctl-lag"),
                                       extra: ["group.id": group, "enable.auto.commit": "false"])
        let list = rd_kafka_topic_partition_list_new(16)
        defer { rd_kafka_topic_partition_list_destroy(list) }
        for t in md.topics where topics.contains(t.name) {
            for p in t.partitions { rd_kafka_topic_partition_list_add(list, t.name, p.id) }
        }
        let err = rd_kafka_committed(consumer.rk, list, timeoutMs)
        guard err == RD_KAFKA_RESP_ERR_NO_ERROR else { throw handle.error("cannot read committed offsets of group \(group)", err) }
        var out: [PartitionLag] = []
        for i in 0..<Int(list!.pointee.cnt) {
            let e = list!.pointee.elems[i]
            let (werr, low, high) = consumer.watermarks(topic: cString(e.topic), partition: e.partition, timeoutMs: timeoutMs)
            guard werr == RD_KAFKA_RESP_ERR_NO_ERROR else { throw handle.error("cannot read watermarks of \(cString(e.topic))", werr) }
            let committed = e.offset < 0 ? -1 : e.offset
            out.append(PartitionLag(topic: cString(e.topic), partition: e.partition, committed: committed, highWatermark: high,
                                    lag: max(0, high - max(committed, low))))
        }
        return out.sorted { ($0.topic, $0.partition) < ($1.topic, $1.partition) }
    }

    // MARK: - Plumbing

    /// Runs one admin request and waits for its result event (bounded by the timeout).
    private func runAdmin(_ op: rd_kafka_admin_op_t, validateOnly: Bool = false, broker: Int32? = nil,
                          _ call: (OpaquePointer?, OpaquePointer?) -> Void) throws -> OpaquePointer {
        let options = rd_kafka_AdminOptions_new(handle.rk, op)
        defer { rd_kafka_AdminOptions_destroy(options) }
        var errbuf = [CChar](repeating: 0, count: 512)
        rd_kafka_AdminOptions_set_request_timeout(options, timeoutMs, &errbuf, errbuf.count)
        rd_kafka_AdminOptions_set_operation_timeout(options, timeoutMs, &errbuf, errbuf.count)
        if validateOnly { rd_kafka_AdminOptions_set_validate_only(options, 1, &errbuf, errbuf.count) }
        if let broker { rd_kafka_AdminOptions_set_broker(options, broker, &errbuf, errbuf.count) }
        let queue = rd_kafka_queue_new(handle.rk)
        defer { rd_kafka_queue_destroy(queue) }
        call(options, queue)
        guard let event = rd_kafka_queue_poll(queue, timeoutMs + 2000) else {
            throw handle.error("admin request got no answer", RD_KAFKA_RESP_ERR__TIMED_OUT)
        }
        let err = rd_kafka_event_error(event)
        if err != RD_KAFKA_RESP_ERR_NO_ERROR {
            let text = cString(rd_kafka_event_error_string(event))
            rd_kafka_event_destroy(event)
            throw handle.error("admin request failed", err, text)
        }
        return event
    }
}
