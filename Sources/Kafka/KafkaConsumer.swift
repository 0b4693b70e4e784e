import CRdKafka
import Diagnostics
import Foundation

public struct ConsumedMessage: Sendable, Equatable {
    public var topic: String
    public var partition: Int32
    public var offset: Int64
    public var key: [UInt8]?
    public var value: [UInt8]?
    public var timestampMs: Int64

    public var valueString: String? { value.map { String(decoding: $0, as: UTF8.self) } }
    public var keyString: String? { key.map { String(decoding: $0, as: UTF8.self) } }
}

/// A group consumer with manual commits: offsets move only when the caller says its effect is done.
public final class KafkaConsumer: @unchecked Sendable {
    let handle: KafkaHandle
    public let group: String

    /// `fromBeginning`: where a group with no committed offset starts. `partitionEnds`: `next`
    /// also reports reaching a partition's end (librdkafka's `enable.partition.eof`).
    public init(_ settings: KafkaSettings, group: String, fromBeginning: Bool = true, readCommitted: Bool = true,
                prefetchKilobytes: Int = 65_536, partitionEnds: Bool = false) throws {
        handle = try KafkaHandle(RD_KAFKA_CONSUMER, settings: settings, extra: [
            // Bounds what librdkafka buffers ahead of the application (backpressure).
            "queued.max.messages.kbytes": String(prefetchKilobytes),
            "group.id": group, "enable.auto.commit": "false", "enable.auto.offset.store": "false",
            "auto.offset.reset": fromBeginning ? "earliest" : "latest",
            "isolation.level": readCommitted ? "read_committed" : "read_uncommitted",
            "enable.partition.eof": partitionEnds ? "true" : "false",
        ])
        self.group = group
        rd_kafka_poll_set_consumer(handle.rk)
    }

    deinit { rd_kafka_consumer_close(handle.rk) }

    public func subscribe(_ topics: [String]) throws {
        let list = rd_kafka_topic_partition_list_new(Int32(topics.count))
        defer { rd_kafka_topic_partition_list_destroy(list) }
        for t in topics { rd_kafka_topic_partition_list_add(list, t, RD_KAFKA_PARTITION_UA) }
        let err = rd_kafka_subscribe(handle.rk, list)
        if err != RD_KAFKA_RESP_ERR_NO_ERROR { throw handle.error("cannot subscribe to \(topics.joined(separator: ","))", err) }
    }

    /// Reads given partitions directly, without group rebalancing (offset -2 = beginning).
    public func assign(_ partitions: [(topic: String, partition: Int32, offset: Int64)]) throws {
        let list = rd_kafka_topic_partition_list_new(Int32(partitions.count))
        defer { rd_kafka_topic_partition_list_destroy(list) }
        for p in partitions { rd_kafka_topic_partition_list_add(list, p.topic, p.partition)?.pointee.offset = p.offset }
        let err = rd_kafka_assign(handle.rk, list)
        if err != RD_KAFKA_RESP_ERR_NO_ERROR { throw handle.error("cannot assign partitions", err) }
    }

    /// One message, or nil when none arrived in time. Partition EOF is not an error.
    public func poll(timeoutMs: Int32) throws -> ConsumedMessage? {
        guard case let .message(m)? = try next(timeoutMs: timeoutMs) else { return nil }
        return m
    }

    public enum Event: Sendable, Equatable {
        case message(ConsumedMessage)
        /// A fetch answered with nothing past `offset`: the partition's end when it answered
        /// (only with `partitionEnds`). Comes after the broker answered, however slowly.
        case partitionEnd(topic: String, partition: Int32, offset: Int64)
    }

    /// Assigns `starts` and reads until every one of those partitions reported its end, `take`
    /// returns true, or `seconds` pass. The end is librdkafka's partition-end event: it comes after
    /// a fetch answered, however slowly, and needs no watermark (Tansu misreports it). The consumer
    /// must be made with `partitionEnds: true`.
    public func readToEnd(from starts: [(topic: String, partition: Int32, offset: Int64)], seconds: Double,
                          _ take: (ConsumedMessage) -> Bool) throws {
        guard !starts.isEmpty else { return }
        try assign(starts)
        var pending = Set(starts.map { "\($0.topic)/\($0.partition)" })
        let deadline = Date().addingTimeInterval(seconds)
        while !pending.isEmpty, Date() < deadline {
            switch try next(timeoutMs: 200) {
            case .message(let m)?: if take(m) { return }
            case .partitionEnd(let topic, let partition, _)?: pending.remove("\(topic)/\(partition)")
            case nil: continue
            }
        }
    }

    /// The next message or partition end, or nil when nothing arrived in time.
    public func next(timeoutMs: Int32) throws -> Event? {
        guard let m = rd_kafka_consumer_poll(handle.rk, timeoutMs) else { return nil }
        defer { rd_kafka_message_destroy(m) }
        let msg = m.pointee
        if msg.err == RD_KAFKA_RESP_ERR__PARTITION_EOF {
            return .partitionEnd(topic: msg.rkt.map { cString(rd_kafka_topic_name($0)) } ?? "", partition: msg.partition, offset: msg.offset)
        }
        if msg.err != RD_KAFKA_RESP_ERR_NO_ERROR {
            throw handle.error("consume failed", msg.err, cString(rd_kafka_err2str(msg.err)))
        }
        var tsType = RD_KAFKA_TIMESTAMP_NOT_AVAILABLE
        let ts = rd_kafka_message_timestamp(m, &tsType)
        return .message(ConsumedMessage(
            topic: cString(rd_kafka_topic_name(msg.rkt)), partition: msg.partition, offset: msg.offset,
            key: msg.key.map { Array(UnsafeRawBufferPointer(start: $0, count: msg.key_len)) },
            value: msg.payload.map { Array(UnsafeRawBufferPointer(start: $0, count: msg.len)) },
            timestampMs: ts))
    }

    /// Commits "next offset to read" per partition, synchronously.
    public func commit(_ offsets: [(topic: String, partition: Int32, nextOffset: Int64)]) throws {
        try commit(offsets.map { CommittedOffset(topic: $0.topic, partition: $0.partition, offset: $0.nextOffset, metadata: nil) })
    }

    /// Commits offsets with per-partition metadata (a small string Kafka stores beside the
    /// offset; the processor keeps its checkpoint there), synchronously.
    public func commit(_ offsets: [CommittedOffset]) throws {
        guard !offsets.isEmpty else { return }
        let list = rd_kafka_topic_partition_list_new(Int32(offsets.count))
        defer { rd_kafka_topic_partition_list_destroy(list) }
        for o in offsets {
            guard let e = rd_kafka_topic_partition_list_add(list, o.topic, o.partition) else { continue }
            e.pointee.offset = o.offset
            if let metadata = o.metadata {
                // The list owns (and frees) the metadata buffer: give it a malloc'd copy.
                let bytes = Array(metadata.utf8)
                let buffer = malloc(max(bytes.count, 1))!
                bytes.withUnsafeBytes { buffer.copyMemory(from: $0.baseAddress!, byteCount: bytes.count) }
                e.pointee.metadata = buffer
                e.pointee.metadata_size = bytes.count
            }
        }
        let err = rd_kafka_commit(handle.rk, list, 0)
        if err != RD_KAFKA_RESP_ERR_NO_ERROR { throw handle.error("cannot commit offsets for group \(group)", err) }
    }

    /// The group's committed offsets (offset -1001 = none) and their metadata.
    public func committed(_ partitions: [(topic: String, partition: Int32)], timeoutMs: Int32 = 10_000) throws -> [CommittedOffset] {
        let list = rd_kafka_topic_partition_list_new(Int32(max(partitions.count, 1)))
        defer { rd_kafka_topic_partition_list_destroy(list) }
        for p in partitions { rd_kafka_topic_partition_list_add(list, p.topic, p.partition) }
        let err = rd_kafka_committed(handle.rk, list, timeoutMs)
        if err != RD_KAFKA_RESP_ERR_NO_ERROR { throw handle.error("cannot read committed offsets of group \(group)", err) }
        return (0..<Int(list!.pointee.cnt)).map { i in
            let e = list!.pointee.elems[i]
            let metadata = e.metadata.map { String(decoding: UnsafeRawBufferPointer(start: $0, count: e.metadata_size), as: UTF8.self) }
            return CommittedOffset(topic: cString(e.topic), partition: e.partition, offset: e.offset,
                                   metadata: (metadata?.isEmpty ?? true) ? nil : metadata)
        }
    }

    /// Polls one message and hands it to `body` without copying; the buffers are valid only
    /// during the call. Returns false when no message arrived in time.
    public func poll<R>(timeoutMs: Int32, _ body: (RawMessage) throws -> R) throws -> R? {
        guard let m = rd_kafka_consumer_poll(handle.rk, timeoutMs) else { return nil }
        defer { rd_kafka_message_destroy(m) }
        let msg = m.pointee
        if msg.err == RD_KAFKA_RESP_ERR__PARTITION_EOF { return nil }
        if msg.err != RD_KAFKA_RESP_ERR_NO_ERROR { throw handle.error("consume failed", msg.err, cString(rd_kafka_err2str(msg.err))) }
        var kind = RD_KAFKA_TIMESTAMP_NOT_AVAILABLE
        let timestamp = rd_kafka_message_timestamp(m, &kind)
        return try body(RawMessage(topic: cString(rd_kafka_topic_name(msg.rkt)), partition: msg.partition, offset: msg.offset,
                                   key: msg.key.map { UnsafeRawBufferPointer(start: $0, count: msg.key_len) },
                                   value: msg.payload.map { UnsafeRawBufferPointer(start: $0, count: msg.len) },
                                   timestampMs: kind == RD_KAFKA_TIMESTAMP_NOT_AVAILABLE || timestamp < 0 ? nil : timestamp))
    }

    /// Stops fetching the given partitions (already fetched messages may still arrive).
    public func pause(_ partitions: [(topic: String, partition: Int32)]) throws {
        try pauseOrResume(partitions, pause: true)
    }

    public func resume(_ partitions: [(topic: String, partition: Int32)]) throws {
        try pauseOrResume(partitions, pause: false)
    }

    private func pauseOrResume(_ partitions: [(topic: String, partition: Int32)], pause: Bool) throws {
        guard !partitions.isEmpty else { return }
        let list = rd_kafka_topic_partition_list_new(Int32(partitions.count))
        defer { rd_kafka_topic_partition_list_destroy(list) }
        for p in partitions { rd_kafka_topic_partition_list_add(list, p.topic, p.partition) }
        let err = pause ? rd_kafka_pause_partitions(handle.rk, list) : rd_kafka_resume_partitions(handle.rk, list)
        if err != RD_KAFKA_RESP_ERR_NO_ERROR { throw handle.error(pause ? "cannot pause partitions" : "cannot resume partitions", err) }
    }

    /// A partition's low and high watermark offsets, asked of its leader (bounded; a topic this
    /// handle has not seen yet is looked up again first, see `KafkaHandle.watermarks`).
    public func watermarks(topic: String, partition: Int32, timeoutMs: Int32 = 10_000) throws -> (low: Int64, high: Int64) {
        let (err, low, high) = handle.watermarks(topic: topic, partition: partition, timeoutMs: timeoutMs)
        if err != RD_KAFKA_RESP_ERR_NO_ERROR { throw handle.error("cannot read watermarks of \(topic)[\(partition)]", err) }
        return (low, high)
    }

    /// Currently assigned partitions (empty until the group assigned some).
    public func assignment() -> [(topic: String, partition: Int32)] {
        var list: UnsafeMutablePointer<rd_kafka_topic_partition_list_t>?
        guard rd_kafka_assignment(handle.rk, &list) == RD_KAFKA_RESP_ERR_NO_ERROR, let list else { return [] }
        defer { rd_kafka_topic_partition_list_destroy(list) }
        return (0..<Int(list.pointee.cnt)).map { (cString(list.pointee.elems[$0].topic), list.pointee.elems[$0].partition) }
    }
}

public struct CommittedOffset: Sendable, Equatable {
    public var topic: String
    public var partition: Int32
    public var offset: Int64
    public var metadata: String?

    public init(topic: String, partition: Int32, offset: Int64, metadata: String?) {
        self.topic = topic
        self.partition = partition
        self.offset = offset
        self.metadata = metadata
    }
}

/// A consumed message whose key and value point into librdkafka's buffer.
public struct RawMessage {
    public var topic: String
    public var partition: Int32
    public var offset: Int64
    public var key: UnsafeRawBufferPointer?
    public var value: UnsafeRawBufferPointer?
    /// The record's timestamp (epoch ms, CreateTime or LogAppendTime); nil when it has none.
    public var timestampMs: Int64?

    public init(topic: String, partition: Int32, offset: Int64, key: UnsafeRawBufferPointer?, value: UnsafeRawBufferPointer?,
                timestampMs: Int64? = nil) {
        self.topic = topic
        self.partition = partition
        self.offset = offset
        self.key = key
        self.value = value
        self.timestampMs = timestampMs
    }
}
