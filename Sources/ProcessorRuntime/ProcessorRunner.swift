import ClickHouse
import Diagnostics
import Foundation
import Kafka
import Processor
import Telemetry

/// Runs the pure `ProcessorEngine` between a Kafka source and a row sink (ClickHouse) with an
/// exactly-once effect (docs/processor.md):
///
/// - Partitions are assigned statically (one processor per consumer group), offsets committed
///   by hand, with the engine's checkpoint as metadata — in the group's commits when the broker
///   keeps commit metadata, in ClickHouse's `processor_checkpoints` when it drops it (probed at
///   start-up; `recoveryMode` says which).
/// - A flush inserts each table's rows with `insert_deduplication_token` = table + the offset
///   range of every partition in the flush + a hash of the records in each range (so a recreated
///   topic is never mistaken for a replay). Before inserting, the flush's end offsets are saved
///   as `pend=`; after the sink acknowledged every insert, the new checkpoints are saved. A
///   restart that finds `pend=` replays exactly those ranges into one flush, so the tokens repeat
///   and the sink drops what it already has.
/// - While the sink is unavailable, the flush is retried with backoff and nothing is polled.
///   Rows the sink refuses as bad data are isolated (the batch is split until the bad rows are
///   alone) into `processor_rejects`, and consumption goes on.
public final class ProcessorRunner: Service {
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
        /// `processor.idleTimeoutSeconds`: a trades partition without records this long has its
        /// open windows written (event time presumed to go on with processing time); 0: off.
        public var idleTimeoutSeconds: Double
        /// Where checkpoints go; `auto` probes the broker.
        public var recovery: RecoveryPreference
        /// Consume only these of the engine's input topics (nil: all three). `bench e2e` runs a
        /// processor of its own on the orders topic alone.
        public var onlyTopics: Set<String>?
        /// A partition without a committed offset starts at its end instead of its beginning
        /// (a benchmark's own group must not replay the topic's history).
        public var startAtEndWhenUncommitted = false
        /// false only for `bench e2e --flush-timer-only`: the flush timer alone decides (before issue 18).
        public var flushWhenDrained = true

        public init(bootstrap: String, group: String, clickhouse: ClickHouseConfig, database: String, flushIntervalMs: Int,
                    batchMaxRows: Int, maxBufferedEvents: Int, exitWhenIdleSeconds: Double? = nil, idleTimeoutSeconds: Double = 0,
                    recovery: RecoveryPreference = .auto) {
            self.bootstrap = bootstrap
            self.group = group
            self.clickhouse = clickhouse
            self.database = database
            self.flushIntervalMs = flushIntervalMs
            self.batchMaxRows = batchMaxRows
            self.maxBufferedEvents = maxBufferedEvents
            self.exitWhenIdleSeconds = exitWhenIdleSeconds
            self.idleTimeoutSeconds = idleTimeoutSeconds
            self.recovery = recovery
        }
    }

    public enum RecoveryPreference: String, Sendable {
        case auto, kafka, clickhouse
    }

    public let name = "processor"
    let options: Options
    let engine: ProcessorEngine
    let sink: RowSink
    let clickhouse: ClickHouseClient
    public let metrics = RuntimeMetrics()
    let log: (String) -> Void
    private var stop = StopFlag()
    /// How this run recovers (known once `run` has probed the broker).
    public private(set) var recoveryMode: RecoveryMode?

    private var consumer: KafkaConsumer!
    private var store: CheckpointStore!
    private var batch = OutputBatch()
    private var buffered = 0
    private var firstBufferedAt: Date?
    /// Next offset to read per partition (everything before it has been processed).
    private var next: [PartitionKey: Int64] = [:]
    /// Where the next flush's range starts per partition: the first offset this run will emit
    /// rows for (the same on a replay: the saved checkpoint's `done`, or the first record read).
    private var flushedUpTo: [PartitionKey: Int64] = [:]
    /// FNV-1a over the records of each partition's current range (offset, timestamp, key, value).
    private var rangeHash: [PartitionKey: UInt64] = [:]
    private var lastCommitted: [PartitionKey: CommittedOffset] = [:]
    /// When each trades partition last had a record (processing time), for the idle rule.
    private var lastArrival: [Int32: Date] = [:]
    private var dataFlushes = 0
    /// The newest Kafka timestamp among the records of the current flush (freshness at ClickHouse).
    private var newestInFlush: Int64?
    /// Quarantine log lines since the last flush (a flood is summarised, not logged line by line).
    private var quarantineLogged = 0
    /// Test-only (`CDCCTL_PROCESSOR_FAILPOINT=after-pend|after-insert:<table>|after-commit[@N]`).
    private let failpoint = Failpoint.fromEnvironment("CDCCTL_PROCESSOR_FAILPOINT", owner: "processor", unit: "flush")

    /// Sees every record as it is consumed and every flush once the sink acknowledged it
    /// (`bench e2e` time-stamps those hops); nil in `process run`.
    let observer: ProcessorObserver?

    public init(options: Options, config: ProcessorConfig, sink: RowSink? = nil, observer: ProcessorObserver? = nil,
                log: @escaping (String) -> Void) {
        self.options = options
        self.observer = observer
        self.engine = ProcessorEngine(config: config)
        self.clickhouse = ClickHouseClient(options.clickhouse)
        self.sink = sink ?? ClickHouseRowSink(clickhouse, database: options.database)
        self.log = log
    }

    var topics: [String] {
        let all = [engine.config.tradesTopic, engine.config.ordersTopic, engine.config.executionsTopic]
        guard let only = options.onlyTopics else { return all }
        var seen: [String] = []
        for t in all where only.contains(t) && !seen.contains(t) { seen.append(t) }
        return seen
    }

    public func run(until stop: StopFlag) throws {
        self.stop = stop
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
        let keeps: Bool
        switch options.recovery {
        case .auto: keeps = try CheckpointStores.brokerKeepsCommitMetadata(settings, group: options.group, topic: engine.config.tradesTopic)
        case .kafka: keeps = true
        case .clickhouse: keeps = false
        }
        store = keeps ? KafkaCommitStore(consumer)
            : ClickHouseCheckpointStore(clickhouse, database: options.database, group: options.group, consumer: consumer)
        recoveryMode = store.mode
        metrics.set(recoveryMode: store.mode.rawValue)
        log("processor: recovery mode \(store.mode.rawValue) (\(store.mode.explanation))")

        // The checkpoints may live in ClickHouse: a server that is down at start-up is waited for.
        let committed = try untilAvailable("reading the checkpoints") { try store.load(partitions) }
        var checkpoints: [PartitionCheckpoint] = []
        var pending: [PartitionKey: Int64] = [:]
        var starts: [(String, Int32, Int64)] = []
        var lost = 0
        for c in committed {
            let key = PartitionKey(topic: c.topic, partition: c.partition)
            // -2: the beginning; -1: the end (librdkafka's logical offsets).
            guard c.offset >= 0 else { starts.append((c.topic, c.partition, options.startAtEndWhenUncommitted ? -1 : -2)); continue }
            let (meta, pend) = Self.splitPending(c.metadata)
            if meta == nil { lost += 1 }
            let cp = meta.flatMap { PartitionCheckpoint(topic: c.topic, partition: c.partition, offset: c.offset, metadata: $0) }
                ?? PartitionCheckpoint(topic: c.topic, partition: c.partition, offset: c.offset)
            checkpoints.append(cp)
            lastCommitted[key] = CommittedOffset(topic: c.topic, partition: c.partition, offset: c.offset, metadata: meta)
            flushedUpTo[key] = cp.processedOffset ?? c.offset
            if let pend { pending[key] = pend }
            starts.append((c.topic, c.partition, c.offset))
        }
        if lost > 0 {
            log("processor: \(lost) partition(s) have an offset but no checkpoint metadata: their event-time state restarts (see docs/processor.md)")
        }
        engine.restore(checkpoints)
        do {
            let over = try sink.ordersOverLimit(engine.config.oversizedOrderLimit)
            engine.restore(ordersOverLimit: over)
        } catch {
            log("processor: could not read the orders over the oversized limit from \(sink.description) (\(error)); updates without a before image start from no known state")
        }
        try consumer.assign(starts.map { (topic: $0.0, partition: $0.1, offset: $0.2) })
        observer?.assigned(partitions: starts.map { ($0.0, $0.1) })
        let started = Date()
        for p in partitions where p.topic == engine.config.tradesTopic { lastArrival[p.partition] = started }
        log("processor: \(partitions.count) partitions of \(topics.joined(separator: ", ")), group \(options.group)"
            + (pending.isEmpty ? "" : ", replaying \(pending.count) unacknowledged range(s) first"))
        if !pending.isEmpty { try recover(pending, all: partitions) }
        try loop()
        // Drain: every open window is written (later emissions supersede it by version), then
        // what was processed is flushed and committed.
        let open = engine.emitOpenWindows(into: &batch)
        if open > 0 {
            buffered += open
            log("processor: stopping: wrote \(open) open window(s) as they stand")
        }
        try flush()
        log("processor: stopped after \(metrics.snapshot().eventsIn) events")
    }

    // MARK: - Main loop

    var policy: FlushPolicy {
        FlushPolicy(flushIntervalMs: options.flushIntervalMs, batchMaxRows: options.batchMaxRows, maxBufferedEvents: options.maxBufferedEvents,
                    flushWhenDrained: options.flushWhenDrained)
    }

    private func loop() throws {
        var lastInput = Date()
        let delayMs = engine.config.watermarkDelayMs
        while !stop.isSet {
            let got = try consumer.poll(timeoutMs: policy.pollTimeoutMs(buffered: buffered)) { message -> Bool in
                process(message)
                return true
            } ?? false
            let now = Date()
            if got { lastInput = now }
            if options.idleTimeoutSeconds > 0 {
                // The idle rule: a market that closed keeps no window open until the next day.
                for (p, at) in lastArrival where now.timeIntervalSince(at) >= options.idleTimeoutSeconds {
                    guard let maxTime = engine.maxEventTime(partition: p) else { continue }
                    let idleMs = Int64(now.timeIntervalSince(at) * 1000)
                    let n = engine.emitOpenWindows(partition: p, upTo: maxTime - delayMs + idleMs, into: &batch)
                    if n > 0 {
                        buffered += n
                        if firstBufferedAt == nil { firstBufferedAt = now }
                        log("processor: \(engine.config.tradesTopic)[\(p)] idle for \(Int(now.timeIntervalSince(at))) s: wrote \(n) open window(s)")
                    }
                }
            }
            // Flush when the burst is drained (the poll above did not wait and got nothing) or the
            // batch is full; the interval is only an upper bound (FlushPolicy).
            let waited = firstBufferedAt.map { now.timeIntervalSince($0) * 1000 } ?? 0
            if let reason = policy.decide(buffered: buffered, sinceFirstBufferedMs: waited, drained: !got) {
                metrics.add(flushReason: reason.rawValue)
                try flush()
            }
            if let idle = options.exitWhenIdleSeconds, now.timeIntervalSince(lastInput) >= idle, buffered == 0 {
                log("processor: idle for \(idle) s, stopping")
                return
            }
        }
    }

    private func process(_ m: RawMessage) {
        let key = PartitionKey(topic: m.topic, partition: m.partition)
        let position = RecordPosition(topic: m.topic, partition: m.partition, offset: m.offset)
        if next[key] == nil, let saved = lastCommitted[key], m.offset < saved.offset {
            // The consumer was reset below the saved checkpoint (auto.offset.reset): the topic
            // was deleted and recreated, or truncated, and the checkpoint belongs to the old one.
            // Replaying its records silently up to the old `done` would drop them: start over.
            log("processor: \(position.description) is below the saved checkpoint \(saved.offset): the topic was recreated or truncated; "
                + "its checkpoint is discarded and this partition starts afresh here")
            engine.restore([PartitionCheckpoint(topic: m.topic, partition: m.partition, offset: m.offset)])
            lastCommitted[key] = nil
            flushedUpTo[key] = m.offset
            rangeHash[key] = nil
        }
        // A partition this run has no checkpoint for starts its range at its first record, so
        // a replay of that range after a crash builds the same token.
        let from = flushedUpTo[key] ?? m.offset
        if flushedUpTo[key] == nil { flushedUpTo[key] = m.offset }
        if m.offset >= from { rangeHash[key] = Self.hash(m, into: rangeHash[key] ?? Self.fnvBasis) }
        let rejectsBefore = batch.rejects.count
        let discardedBefore = engine.metrics.checkpointsDiscarded
        if engine.process(InputRecord(position: position, key: m.key, value: m.value, timestampMs: m.timestampMs), into: &batch) != nil {
            metrics.add(malformed: 1)
        }
        if engine.metrics.checkpointsDiscarded != discardedBefore {
            // The record the saved checkpoint was built from is not this one: the topic was
            // recreated. The engine started the partition afresh; so does its range here.
            log("processor: \(position.description) is not the record its saved checkpoint was built from: the topic was recreated or "
                + "truncated; the checkpoint is discarded and this partition starts afresh here")
            lastCommitted[key] = nil
            flushedUpTo[key] = m.offset
            rangeHash[key] = Self.hash(m, into: Self.fnvBasis)
        }
        if batch.rejects.count > rejectsBefore {
            for r in batch.rejects[rejectsBefore...] {
                quarantineLogged += 1
                if quarantineLogged <= 20 { log("processor: quarantined \(r.position) (\(r.stage.rawValue)): \(r.reason)") }
            }
        }
        if m.topic == engine.config.tradesTopic { lastArrival[m.partition] = Date() }
        observer?.consumed(m, atMs: Self.nowMs())
        if let ts = m.timestampMs {
            metrics.observe(consumedTimestampMs: ts)
            newestInFlush = max(newestInFlush ?? ts, ts)
        }
        next[key] = m.offset + 1
        buffered += 1
        metrics.add(eventsIn: 1)
        if firstBufferedAt == nil { firstBufferedAt = Date() }
    }

    static let fnvBasis: UInt64 = 0xcbf29ce484222325

    static func nowMs() -> Int64 { Int64((Date().timeIntervalSince1970 * 1000).rounded()) }

    /// FNV-1a 64 over a record's offset, timestamp, key and value: the same records give the
    /// same value on a replay; a recreated topic's records at the same offsets do not.
    static func hash(_ m: RawMessage, into h: UInt64) -> UInt64 {
        var h = h
        @inline(__always) func word(_ v: Int64) {
            var x = UInt64(bitPattern: v)
            for _ in 0..<8 { h = (h ^ (x & 0xff)) &* 0x100000001b3; x >>= 8 }
        }
        @inline(__always) func bytes(_ b: UnsafeRawBufferPointer?) {
            guard let b else { word(-1); return }
            word(Int64(b.count))
            for byte in b { h = (h ^ UInt64(byte)) &* 0x100000001b3 }
        }
        word(m.offset)
        word(m.timestampMs ?? -1)
        bytes(m.key)
        bytes(m.value)
        return h
    }

    // MARK: - Flush: pend → insert (dedup tokens) → commit

    /// Inserts everything processed since the last flush and commits the new checkpoints.
    /// Retries (with backoff, without polling) while the sink is unavailable or stop is asked.
    func flush() throws {
        let ranges = next.filter { ($0.value) > (flushedUpTo[$0.key] ?? -1) }
            .map { (key: $0.key, start: flushedUpTo[$0.key] ?? -1, end: $0.value, hash: rangeHash[$0.key] ?? Self.fnvBasis) }
            .sorted { ($0.key.topic, $0.key.partition) < ($1.key.topic, $1.key.partition) }
        guard !ranges.isEmpty || !batch.isEmpty else { return }
        let started = Date()
        if !ranges.isEmpty {
            dataFlushes += 1
            // 1. Remember where this flush ends, before anything reaches the sink.
            try save(ranges.map { r -> CommittedOffset in
                let prev = lastCommitted[r.key]
                return CommittedOffset(topic: r.key.topic, partition: r.key.partition, offset: prev?.offset ?? r.start,
                                       metadata: (prev?.metadata ?? "cdcctl/1") + " pend=\(r.end)")
            }, final: false)
            failpoint?.hit("after-pend", round: dataFlushes, log: log)
        }
        // 2. Insert every table with a token derived from the ranges and their records; rows
        // written by the idle rule alone carry a hash of their body.
        let rangeText = ranges.isEmpty
            ? "idle#" + String(Self.hashBytes(batch.encoded().flatMap(\.body)), radix: 16)
            : ranges.map { "\($0.key.topic)/\($0.key.partition):\($0.start)-\($0.end)#\(String($0.hash, radix: 16))" }.joined(separator: ",")
        var insertRejects: [RejectRow] = []
        for (table, rows, body) in batch.encoded() {
            let token = "\(table.rawValue)|\(rangeText)"
            let refused = try insertIsolating(table, body: body, token: token)
            metrics.add(rowsOut: rows - refused.count, table: table.rawValue)
            if table == .processorRejects {
                for stage in Set(batch.rejects.map(\.stage)) {
                    metrics.add(rejects: batch.rejects.filter { $0.stage == stage }.count, stage: stage.rawValue)
                }
            }
            if !refused.isEmpty {
                let positions = batch.positions(of: table)
                for (index, line, reason) in refused {
                    let at = positions[index] ?? RecordPosition(topic: "", partition: 0, offset: -1)
                    log("processor: \(table.rawValue) refused a row from \(at.offset < 0 ? rangeText : at.description) as bad data, quarantined: \(reason)")
                    insertRejects.append(RejectRow(position: at, stage: .insert, targetTable: table.rawValue, reason: reason,
                                                   payload: String(decoding: line, as: UTF8.self)))
                }
            }
            failpoint?.hit("after-insert:\(table.rawValue)", round: dataFlushes, log: log)
        }
        if !insertRejects.isEmpty {
            let refused = try insertIsolating(.processorRejects, body: JSONEachRow.encode(insertRejects),
                                              token: "processor_rejects|insert|\(rangeText)")
            metrics.add(rejects: insertRejects.count, stage: RejectStage.insert.rawValue)
            if !refused.isEmpty { log("processor: processor_rejects itself refused \(refused.count) row(s); they are only in this log") }
        }
        // 3. The sink has every row: move the offsets.
        if !ranges.isEmpty {
            observer?.acknowledged(ranges: ranges.map { ($0.key.topic, $0.key.partition, $0.start, $0.end) }, atMs: Self.nowMs())
            if let newest = newestInFlush { metrics.observe(acknowledgedTimestampMs: newest) }
            newestInFlush = nil
            // The newest source commit (Debezium's source.ts_ms) whose change ClickHouse now holds.
            if let commit = (batch.cdcOrdersRaw.map(\.sourceTsMs) + batch.cdcOrderExecutionsRaw.map(\.sourceTsMs)).max() {
                metrics.observe(sourceCommitAcknowledgedMs: commit)
            }
            try save(engine.checkpoints().map {
                CommittedOffset(topic: $0.topic, partition: $0.partition, offset: $0.offset, metadata: $0.metadata)
            }, final: true)
            failpoint?.hit("after-commit", round: dataFlushes, log: log)
        }
        for r in ranges {
            flushedUpTo[r.key] = r.end
            rangeHash[r.key] = nil
        }
        if quarantineLogged > 20 { log("processor: … and \(quarantineLogged - 20) more quarantined in this flush (processor_rejects has them all)") }
        quarantineLogged = 0
        batch.removeAll()
        buffered = 0
        firstBufferedAt = nil
        metrics.observeBatch(seconds: Date().timeIntervalSince(started))
        metrics.set(engine: engine.metrics)
    }

    /// Inserts `body`; when the sink refuses it as bad data, splits it in halves (tokens
    /// `…/L`, `…/R`, the same on a replay) until the refused rows are alone, and returns them
    /// (index in the body, the line, the reason) for `processor_rejects`.
    private func insertIsolating(_ table: ProcessorTable, body: [UInt8], token: String) throws -> [(Int, ArraySlice<UInt8>, String)] {
        guard case .badData(let reason) = try send(table, body, token: token) else { return [] }
        let lines = body.split(separator: UInt8(ascii: "\n"))
        var refused: [(Int, ArraySlice<UInt8>, String)] = []
        func isolate(_ range: Range<Int>, _ token: String, knownBad reason: String?) throws {
            var outcome: SinkOutcome
            if let reason {
                outcome = .badData(reason)
            } else {
                var part: [UInt8] = []
                for l in lines[range] { part += l; part.append(UInt8(ascii: "\n")) }
                outcome = try send(table, part, token: token)
            }
            guard case .badData(let why) = outcome else { return }
            if range.count == 1 {
                refused.append((range.lowerBound, lines[range.lowerBound], why))
                return
            }
            let mid = range.lowerBound + range.count / 2
            try isolate(range.lowerBound..<mid, token + "/L", knownBad: nil)
            try isolate(mid..<range.upperBound, token + "/R", knownBad: nil)
        }
        try isolate(0..<lines.count, token, knownBad: reason)
        return refused
    }

    enum SinkOutcome { case ok, badData(String) }

    /// One insert, retried forever while the sink is unavailable and a few times for other
    /// errors; bad data is returned, not retried.
    private func send(_ table: ProcessorTable, _ body: [UInt8], token: String) throws -> SinkOutcome {
        var attempt = 0
        while true {
            do {
                try sink.insert(table, body: body, token: token)
                return .ok
            } catch {
                attempt += 1
                metrics.add(sinkErrors: 1)
                let failure = sink.classify(error)
                if case .badData(let reason) = failure { return .badData(reason) }
                if stop.isSet {
                    throw CdcError.failed("stopping while \(sink.description) is failing (\(error)); nothing after the last commit is lost: the next run replays it",
                                          subject: "processor")
                }
                if case .other(let reason) = failure, attempt >= 5 {
                    throw CdcError.failed("\(sink.description) refused the insert into \(table.rawValue) \(attempt) times: \(reason)",
                                          subject: "processor",
                                          fix: "fix what the error names (schema: `cdcctl schema apply`; privileges); the next run replays from the last commit")
                }
                let wait = min(10.0, 0.2 * pow(2, Double(min(attempt, 6))))
                log("processor: insert into \(table.rawValue) failed (attempt \(attempt)), retrying in \(String(format: "%.1f", wait)) s: \(error)")
                Thread.sleep(forTimeInterval: wait)
            }
        }
    }

    static func hashBytes(_ bytes: [UInt8]) -> UInt64 {
        var h = fnvBasis
        for b in bytes { h = (h ^ UInt64(b)) &* 0x100000001b3 }
        return h
    }

    private func save(_ offsets: [CommittedOffset], final: Bool) throws {
        try untilAvailable("saving the checkpoint") { try store.save(offsets, final: final) }
        if final {
            for o in offsets { lastCommitted[PartitionKey(topic: o.topic, partition: o.partition)] = o }
        }
    }

    /// Runs `body` until it succeeds: forever (with backoff) while the server is unavailable,
    /// a few times for any other failure; a stop asked for ends the wait with the error.
    private func untilAvailable<T>(_ what: String, _ body: () throws -> T) throws -> T {
        var attempt = 0
        while true {
            do {
                return try body()
            } catch {
                attempt += 1
                let unavailable = sink.classify(error) == .unavailable
                if stop.isSet || (!unavailable && attempt > 5) { throw error }
                let wait = min(5, 0.2 * Double(attempt))
                log("processor: \(what) failed (attempt \(attempt)\(unavailable ? ", server unavailable" : "")), retrying in \(String(format: "%.1f", wait)) s: \(error)")
                Thread.sleep(forTimeInterval: wait)
            }
        }
    }

    // MARK: - Recovery of an unacknowledged flush

    /// Replays exactly the ranges of the flush that was in flight when the last run died, into
    /// one flush with the same tokens. Other partitions wait (paused) until it is done.
    private func recover(_ pending: [PartitionKey: Int64], all: [PartitionKey]) throws {
        let others = all.filter { pending[$0] == nil }
        try consumer.pause(others.map { ($0.topic, $0.partition) })
        var deferred: [(RecordPosition, [UInt8]?, [UInt8]?, Int64?)] = []
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
                                     m.key.map { Array($0) }, m.value.map { Array($0) }, m.timestampMs))
                }
            }
        }
        try flush()
        log("processor: replayed the unacknowledged range(s) with their original tokens")
        for (position, key, value, timestamp) in deferred {
            withOptional(key) { k in
                withOptional(value) { v in
                    process(RawMessage(topic: position.topic, partition: position.partition, offset: position.offset, key: k, value: v,
                                       timestampMs: timestamp))
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

    /// Whether the broker at `bootstrap` keeps consumer-group commit metadata (for
    /// `process status`): the recovery mode a run would use.
    public static func probeRecoveryMode(bootstrap: String, group: String, topic: String) throws -> RecoveryMode {
        try CheckpointStores.brokerKeepsCommitMetadata(KafkaSettings(bootstrap: bootstrap, clientId: "cdcctl-processor"),
                                                       group: group, topic: topic)
            ? .kafkaCommitMetadata : .clickhouseCheckpoints
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

/// Watches the runtime's hops (for `bench e2e`): called on the processor's thread, so it must
/// only copy what it needs.
public protocol ProcessorObserver: AnyObject {
    /// The partitions were assigned (the consumer starts fetching).
    func assigned(partitions: [(topic: String, partition: Int32)])
    /// A record was handed to the engine, at the host's wall clock (ms since the epoch).
    func consumed(_ message: RawMessage, atMs: Int64)
    /// ClickHouse acknowledged every insert of a flush covering `[start, end)` of each partition.
    func acknowledged(ranges: [(topic: String, partition: Int32, start: Int64, end: Int64)], atMs: Int64)
}
