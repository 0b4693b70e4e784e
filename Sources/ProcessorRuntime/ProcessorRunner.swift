import ClickHouse
import Diagnostics
import Foundation
import Kafka
import Processor

/// Runs the pure `ProcessorEngine` between a Kafka source and a ClickHouse sink with an
/// exactly-once effect (docs/processor.md):
///
/// - Partitions are assigned statically (one processor per consumer group), offsets committed
///   by hand, with the engine's checkpoint in the commit metadata.
/// - A flush inserts each table's rows with `insert_deduplication_token` = table + the offset
///   range of every partition in the flush. Before inserting, the flush's end offsets are
///   committed as `pend=` metadata (offsets unchanged); after ClickHouse acknowledged every
///   insert, the new checkpoints are committed. A restart that finds `pend=` replays exactly
///   those ranges into one flush, so the tokens repeat and ClickHouse drops what it already has.
/// - While ClickHouse fails, the flush is retried with backoff and nothing is polled: the
///   prefetch queue is bounded, so memory stays bounded and consumption pauses.
public final class ProcessorRunner {
    public struct Options: Sendable {
        public var bootstrap: String
        public var group: String
        public var clickhouse: ClickHouseConfig
        public var database: String
        public var flushIntervalMs: Int
        public var batchMaxRows: Int
        public var maxBufferedEvents: Int
        /// Stop after this long without input (tests and one-shot backfills); nil runs forever.
        public var exitWhenIdleSeconds: Double?

        public init(bootstrap: String, group: String, clickhouse: ClickHouseConfig, database: String, flushIntervalMs: Int,
                    batchMaxRows: Int, maxBufferedEvents: Int, exitWhenIdleSeconds: Double? = nil) {
            self.bootstrap = bootstrap
            self.group = group
            self.clickhouse = clickhouse
            self.database = database
            self.flushIntervalMs = flushIntervalMs
            self.batchMaxRows = batchMaxRows
            self.maxBufferedEvents = maxBufferedEvents
            self.exitWhenIdleSeconds = exitWhenIdleSeconds
        }
    }

    let options: Options
    let engine: ProcessorEngine
    let sink: ClickHouseClient
    public let metrics = RuntimeMetrics()
    let log: (String) -> Void
    let stop: StopFlag

    private var consumer: KafkaConsumer!
    private var batch = OutputBatch()
    private var buffered = 0
    private var firstBufferedAt: Date?
    /// Next offset to read per partition (everything before it has been processed).
    private var next: [PartitionKey: Int64] = [:]
    /// Where the next flush's range starts per partition.
    private var flushedUpTo: [PartitionKey: Int64] = [:]
    private var lastCommitted: [PartitionKey: CommittedOffset] = [:]

    public init(options: Options, config: ProcessorConfig, stop: StopFlag, log: @escaping (String) -> Void) {
        self.options = options
        self.engine = ProcessorEngine(config: config)
        self.sink = ClickHouseClient(options.clickhouse)
        self.stop = stop
        self.log = log
    }

    var topics: [String] { [engine.config.tradesTopic, engine.config.ordersTopic, engine.config.executionsTopic] }

    public func run() throws {
        let settings = KafkaSettings(bootstrap: options.bootstrap, clientId: "cdcctl-processor")
        let admin = try KafkaAdmin(settings)
        let md = try admin.metadata()
        var partitions: [PartitionKey] = []
        for t in topics {
            guard let info = md.topics.first(where: { $0.name == t && $0.error == nil }) else {
                throw CdcError.invalid("input topic '\(t)' does not exist", subject: "processor",
                                       fix: "run `cdcctl topics apply` (and register the connector) first")
            }
            partitions += info.partitions.map { PartitionKey(topic: t, partition: $0.id) }
        }
        // librdkafka's prefetch bound applies per partition: 2 MiB × ~18 partitions keeps what
        // sits unprocessed in memory small (the cap on RSS under load).
        consumer = try KafkaConsumer(settings, group: options.group, prefetchKilobytes: 2_048)
        let committed = try consumer.committed(partitions.map { ($0.topic, $0.partition) })
        var checkpoints: [PartitionCheckpoint] = []
        var pending: [PartitionKey: Int64] = [:]
        var starts: [(String, Int32, Int64)] = []
        for c in committed {
            let key = PartitionKey(topic: c.topic, partition: c.partition)
            guard c.offset >= 0 else { starts.append((c.topic, c.partition, -2)); continue }
            let (meta, pend) = Self.splitPending(c.metadata)
            let cp = meta.flatMap { PartitionCheckpoint(topic: c.topic, partition: c.partition, offset: c.offset, metadata: $0) }
                ?? PartitionCheckpoint(topic: c.topic, partition: c.partition, offset: c.offset)
            checkpoints.append(cp)
            lastCommitted[key] = CommittedOffset(topic: c.topic, partition: c.partition, offset: c.offset, metadata: meta)
            flushedUpTo[key] = cp.processedOffset ?? c.offset
            if let pend { pending[key] = pend }
            starts.append((c.topic, c.partition, c.offset))
        }
        engine.restore(checkpoints)
        try consumer.assign(starts.map { (topic: $0.0, partition: $0.1, offset: $0.2) })
        log("processor: \(partitions.count) partitions of \(topics.joined(separator: ", ")), group \(options.group)"
            + (pending.isEmpty ? "" : ", replaying \(pending.count) unacknowledged range(s) first"))
        if !pending.isEmpty { try recover(pending, all: partitions) }
        try loop()
        // Graceful stop: what was processed is flushed and committed.
        try flush()
        log("processor: stopped after \(metrics.snapshot().eventsIn) events")
    }

    // MARK: - Main loop

    private func loop() throws {
        var lastInput = Date()
        while !stop.isSet {
            let timeout = Int32(max(1, min(100, options.flushIntervalMs)))
            let got = try consumer.poll(timeoutMs: timeout) { message -> Bool in
                process(message)
                return true
            } ?? false
            if got { lastInput = Date() }
            let due = firstBufferedAt.map { Date().timeIntervalSince($0) * 1000 >= Double(options.flushIntervalMs) } ?? false
            if buffered >= options.batchMaxRows || buffered >= options.maxBufferedEvents || due {
                try flush()
            }
            if let idle = options.exitWhenIdleSeconds, Date().timeIntervalSince(lastInput) >= idle, buffered == 0 {
                log("processor: idle for \(idle) s, stopping")
                return
            }
        }
    }

    private func process(_ m: RawMessage) {
        let position = RecordPosition(topic: m.topic, partition: m.partition, offset: m.offset)
        if let error = engine.process(InputRecord(position: position, key: m.key, value: m.value), into: &batch) {
            metrics.add(malformed: 1)
            log("processor: skipped \(error)")
        }
        next[PartitionKey(topic: m.topic, partition: m.partition)] = m.offset + 1
        buffered += 1
        metrics.add(eventsIn: 1)
        if firstBufferedAt == nil { firstBufferedAt = Date() }
    }

    // MARK: - Flush: pend → insert (dedup tokens) → commit

    /// Inserts everything processed since the last flush and commits the new checkpoints.
    /// Retries (with backoff, without polling) until ClickHouse acknowledges or stop is asked.
    func flush() throws {
        let ranges = next.filter { ($0.value) > (flushedUpTo[$0.key] ?? -1) }
            .map { (key: $0.key, start: flushedUpTo[$0.key] ?? -1, end: $0.value) }
            .sorted { ($0.key.topic, $0.key.partition) < ($1.key.topic, $1.key.partition) }
        guard !ranges.isEmpty else { return }
        let started = Date()
        // 1. Remember where this flush ends, before anything reaches ClickHouse.
        try commit(ranges.map { r -> CommittedOffset in
            let prev = lastCommitted[r.key]
            return CommittedOffset(topic: r.key.topic, partition: r.key.partition, offset: prev?.offset ?? max(r.start, 0),
                                   metadata: (prev?.metadata ?? "cdcctl/1") + " pend=\(r.end)")
        }, remember: false)
        // 2. Insert every table with a token derived from the offset ranges only.
        let rangeText = ranges.map { "\($0.key.topic)/\($0.key.partition):\($0.start)-\($0.end)" }.joined(separator: ",")
        for (table, rows, body) in batch.encoded() {
            let token = "\(table.rawValue)|\(rangeText)"
            var attempt = 0
            while true {
                do {
                    try sink.insert(into: table.rawValue, database: options.database, body: body, deduplicationToken: token)
                    metrics.add(rowsOut: rows, table: table.rawValue)
                    break
                } catch {
                    attempt += 1
                    metrics.add(sinkErrors: 1)
                    if stop.isSet {
                        throw CdcError.failed("stopping while ClickHouse is failing; nothing after the last commit is lost: the next run replays it",
                                              subject: "processor")
                    }
                    let wait = min(10.0, 0.2 * pow(2, Double(min(attempt, 6))))
                    log("processor: insert into \(table.rawValue) failed (attempt \(attempt)), retrying in \(String(format: "%.1f", wait)) s: \(error)")
                    Thread.sleep(forTimeInterval: wait)
                }
            }
        }
        // 3. ClickHouse has every row: move the offsets.
        try commit(engine.checkpoints().map {
            CommittedOffset(topic: $0.topic, partition: $0.partition, offset: $0.offset, metadata: $0.metadata)
        }, remember: true)
        for r in ranges { flushedUpTo[r.key] = r.end }
        batch.removeAll()
        buffered = 0
        firstBufferedAt = nil
        metrics.observeBatch(seconds: Date().timeIntervalSince(started))
        metrics.set(engine: engine.metrics)
    }

    private func commit(_ offsets: [CommittedOffset], remember: Bool) throws {
        var attempt = 0
        while true {
            do {
                try consumer.commit(offsets)
                break
            } catch {
                attempt += 1
                if attempt > 20 || stop.isSet { throw error }
                log("processor: commit failed (attempt \(attempt)), retrying: \(error)")
                Thread.sleep(forTimeInterval: min(5, 0.2 * Double(attempt)))
            }
        }
        if remember {
            for o in offsets { lastCommitted[PartitionKey(topic: o.topic, partition: o.partition)] = o }
        }
    }

    // MARK: - Recovery of an unacknowledged flush

    /// Replays exactly the ranges of the flush that was in flight when the last run died, into
    /// one flush with the same tokens. Other partitions wait (paused) until it is done.
    private func recover(_ pending: [PartitionKey: Int64], all: [PartitionKey]) throws {
        let others = all.filter { pending[$0] == nil }
        try consumer.pause(others.map { ($0.topic, $0.partition) })
        var deferred: [(RecordPosition, [UInt8]?, [UInt8]?)] = []
        let deadline = Date().addingTimeInterval(120)
        func reached() -> Bool { pending.allSatisfy { (next[$0.key] ?? flushedUpTo[$0.key] ?? 0) >= $0.value } }
        while !reached() && !stop.isSet {
            if Date() > deadline {
                log("processor: the replayed range is no longer fully readable (retention?); continuing")
                break
            }
            _ = try consumer.poll(timeoutMs: 200) { m in
                let key = PartitionKey(topic: m.topic, partition: m.partition)
                if let end = pending[key], m.offset < end {
                    process(m)
                } else {
                    // Beyond the replayed range (or a paused partition's prefetch): keep for later.
                    deferred.append((RecordPosition(topic: m.topic, partition: m.partition, offset: m.offset),
                                     m.key.map { Array($0) }, m.value.map { Array($0) }))
                }
            }
        }
        try flush()
        log("processor: replayed the unacknowledged range(s)")
        for (position, key, value) in deferred {
            withOptional(key) { k in
                withOptional(value) { v in
                    process(RawMessage(topic: position.topic, partition: position.partition, offset: position.offset, key: k, value: v))
                }
            }
        }
        try consumer.resume(others.map { ($0.topic, $0.partition) })
    }

    /// Splits `… pend=N` off the committed metadata.
    static func splitPending(_ metadata: String?) -> (String?, Int64?) {
        guard let metadata else { return (nil, nil) }
        var words = metadata.split(separator: " ").map(String.init)
        var pend: Int64?
        words.removeAll { w in
            guard w.hasPrefix("pend=") else { return false }
            pend = Int64(w.dropFirst(5))
            return true
        }
        return (words.isEmpty ? nil : words.joined(separator: " "), pend)
    }
}

struct PartitionKey: Hashable {
    var topic: String
    var partition: Int32
}

private func withOptional<R>(_ bytes: [UInt8]?, _ body: (UnsafeRawBufferPointer?) -> R) -> R {
    guard let bytes else { return body(nil) }
    return bytes.withUnsafeBytes { body($0) }
}

/// Set from a signal handler; read by the loop.
public final class StopFlag: @unchecked Sendable {
    private let lock = NSLock()
    private var value = false
    public init() {}
    public var isSet: Bool { lock.lock(); defer { lock.unlock() }; return value }
    public func set() { lock.lock(); value = true; lock.unlock() }
}
