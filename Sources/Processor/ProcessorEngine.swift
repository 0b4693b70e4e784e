/// The stream engine: takes records in partition order with their Kafka positions, and appends
/// the rows they produce to an `OutputBatch`. Pure and deterministic: the same records (from
/// the same checkpoints) give the same rows in the same order, so a replay after a crash writes
/// rows ClickHouse already has (docs/processor.md).
///
/// Trades are windowed per partition: the watermark of a partition is the highest event time
/// seen in it minus `watermarkDelay`. Trades are keyed by symbol, so each symbol lives in one
/// partition and its windows depend only on that partition's order, never on how the consumer
/// interleaves partitions.
///
/// Not thread-safe: one engine per consumer thread.
public final class ProcessorEngine {
    public let config: ProcessorConfig
    public private(set) var metrics = ProcessorMetrics()

    private var tradePartitions: [Int32: TradePartition] = [:]
    /// Next offset of each CDC partition (their effect is complete as soon as they are processed).
    private var cdcOffsets: [TopicPartition: Int64] = [:]
    /// Where replayed records' rows go (and are dropped).
    private var replayScratch = OutputBatch()

    public init(config: ProcessorConfig) {
        self.config = config
    }

    // MARK: - Input

    /// Decodes and applies one record. A record that cannot be decoded (or comes from a topic
    /// the engine does not read) is counted, skipped and returned as an error to log; its
    /// offset still counts as processed.
    @discardableResult
    public func process(_ record: InputRecord, into out: inout OutputBatch) -> DecodeError? {
        let p = record.position
        do throws(DecodeError) {
            if p.topic == config.tradesTopic {
                let trade = try TradeCodec.decode(record.value, at: p)
                apply(trade: trade, at: p, into: &out)
            } else if p.topic == config.ordersTopic {
                apply(order: try Debezium.decodeOrder(key: record.key, value: record.value, at: p), at: p, into: &out)
            } else if p.topic == config.executionsTopic {
                apply(execution: try Debezium.decodeExecution(key: record.key, value: record.value, at: p), at: p, into: &out)
            } else {
                throw DecodeError(position: p, field: "topic", message: "the processor does not read topic '\(p.topic)'")
            }
            return nil
        } catch {
            metrics.malformed += 1
            skip(p)
            return error
        }
    }

    /// Marks a record as processed without effect (malformed, or not for this engine).
    public func skip(_ p: RecordPosition) {
        if p.topic == config.tradesTopic {
            partition(p.partition).nextOffset = p.offset + 1
        } else {
            cdcOffsets[TopicPartition(topic: p.topic, partition: p.partition)] = p.offset + 1
        }
    }

    public func apply(order message: CdcMessage<OrderRow>, at p: RecordPosition, into out: inout OutputBatch) {
        cdcOffsets[TopicPartition(topic: p.topic, partition: p.partition)] = p.offset + 1
        guard case .change(let e) = message else { metrics.tombstones += 1; return }
        metrics.orders += 1
        let row = e.row
        out.cdcOrdersRaw.append(CdcRawRow(table: .cdcOrdersRaw, position: p, op: e.op, executionId: nil, orderId: row.orderId,
                                          before: e.beforeJSON, after: e.afterJSON, sourceTsMs: e.source.tsMs))
        let version = Self.version(of: p)
        out.ordersCurrent.append(OrderCurrentRow(order: row, version: version, isDeleted: e.op == .delete))
        if let alert = AnomalyRules.oversizedOrder(e, version: version, windowMs: config.windowMs, rules: config.anomalies) {
            metrics.alerts += 1
            out.alerts.append(alert)
        }
    }

    public func apply(execution message: CdcMessage<ExecutionRow>, at p: RecordPosition, into out: inout OutputBatch) {
        cdcOffsets[TopicPartition(topic: p.topic, partition: p.partition)] = p.offset + 1
        guard case .change(let e) = message else { metrics.tombstones += 1; return }
        metrics.executions += 1
        let row = e.row
        out.cdcOrderExecutionsRaw.append(CdcRawRow(table: .cdcOrderExecutionsRaw, position: p, op: e.op, executionId: row.executionId,
                                                   orderId: row.orderId, before: e.beforeJSON, after: e.afterJSON,
                                                   sourceTsMs: e.source.tsMs))
    }

    /// The `orders_current` version of a change: its Kafka offset + 1. All changes of one
    /// order are in one partition (the topic is keyed by order_id) in binlog order, so the
    /// offset orders them exactly, with no ties (unlike source.ts_ms, which MariaDB gives in
    /// whole seconds) and no packing of binlog file/position into 64 bits. Replays give the same
    /// offsets. The cost: recreating or repartitioning the CDC topic restarts offsets, so
    /// `orders_current` must then be rebuilt (docs/processor.md).
    public static func version(of p: RecordPosition) -> UInt64 { UInt64(p.offset) + 1 }

    public func apply(trade t: TradeEvent, at p: RecordPosition, into out: inout OutputBatch) {
        let part = partition(p.partition)
        guard p.offset < part.emitFrom else { return consume(t, at: p, part, into: &out) }
        // Replaying records whose rows ClickHouse already holds: rebuild the state only.
        // (Rows here may differ from the first run's for state that was complete then and is
        // forgotten by now; they are not needed again. Counters skip them too.)
        let counted = metrics
        consume(t, at: p, part, into: &replayScratch)
        metrics = counted
        metrics.replayed += 1
        replayScratch.removeAll()
    }

    private func consume(_ t: TradeEvent, at p: RecordPosition, _ part: TradePartition, into out: inout OutputBatch) {
        part.nextOffset = p.offset + 1
        // Decoding guarantees a positive time; the bound keeps window arithmetic from overflowing.
        guard t.tsMs > 0 && t.tsMs < Int64.max / 4 else { metrics.malformed += 1; return }
        metrics.trades += 1
        let windowMs = config.windowMs
        let start = t.tsMs - t.tsMs.floorMod(windowMs)
        let end = start + windowMs
        let maxBefore = part.maxEventTime
        let watermark = part.watermark
        if part.coverageStart == nil { part.coverageStart = end }

        out.trades.append(t)
        let symbol = part.symbols[t.symbol] ?? part.addSymbol(t.symbol, ringCapacity: config.anomalies.priceWindow)
        // Reset here, not only in the sweep, so the moment of the reset depends on the
        // watermark alone (sweeps run at different records after a restart).
        if watermark != .min, symbol.ring.isStale(before: watermark - config.priceHistoryMs) { symbol.ring.removeAll() }
        let price = t.price.doubleValue
        if let alert = AnomalyRules.priceMove(t, ring: symbol.ring, rules: config.anomalies, windowStart: start) {
            metrics.alerts += 1
            out.alerts.append(alert)
        }
        let origin = Origin(offset: p.offset, maxEventTimeBefore: maxBefore)
        symbol.ring.push(price, tsMs: t.tsMs, origin: origin)

        if watermark >= end + config.allowedLatenessMs {
            metrics.lateEventsDropped += 1
        } else if let notional = t.notional {
            let index = symbol.windowIndex(start: start) ?? symbol.insertWindow(WindowState(start: start, first: t, origin: origin))
            if symbol.windows[index].fold(t, notional: notional) {
                if watermark >= end {
                    // Late but within the allowed lateness: emit the window again, with a higher version.
                    metrics.lateEventsUpdated += 1
                    emit(symbol, index, part, into: &out)
                } else {
                    part.nextFire = min(part.nextFire, end)
                }
                part.nextEvict = min(part.nextEvict, end + config.allowedLatenessMs)
            } else {
                metrics.aggregateOverflows += 1
                if symbol.windows[index].tradeCount == 0 { symbol.windows.remove(at: index) }
            }
        }

        if t.tsMs > part.maxEventTime {
            part.maxEventTime = t.tsMs
            let wm = part.watermark
            if wm >= part.nextFire || wm >= part.nextEvict || wm >= part.nextMaintenance {
                sweep(part, watermark: wm, into: &out)
            }
        }
    }

    // MARK: - Windows

    private func partition(_ id: Int32) -> TradePartition {
        if let p = tradePartitions[id] { return p }
        let p = TradePartition(id: id, delayMs: config.watermarkDelayMs)
        tradePartitions[id] = p
        return p
    }

    /// Emits a window's current result and evaluates the volume rule on it.
    private func emit(_ symbol: SymbolState, _ index: Int, _ part: TradePartition, into out: inout OutputBatch) {
        let w = symbol.windows[index]
        symbol.windows[index].fired = true
        metrics.windowsEmitted += 1
        out.tradeAggregates.append(w.row(symbol: symbol.name, windowMinutes: config.windowMinutes))
        let known = part.coverageStart.map { $0 <= w.start - Int64(config.anomalies.volumeWindows) * config.windowMs } ?? false
        if let alert = AnomalyRules.volumeSpike(symbol: symbol.name, window: w, windowMs: config.windowMs,
                                                windowMinutes: config.windowMinutes, history: symbol.history,
                                                known: known, rules: config.anomalies) {
            metrics.alerts += 1
            out.alerts.append(alert)
        }
        symbol.record(VolumeEntry(start: w.start, volume: w.volume.doubleValue, origin: w.origin))
    }

    /// Fires windows the watermark has passed (in window-start, then symbol order), evicts those
    /// past their allowed lateness, and forgets what no rule can need any more.
    private func sweep(_ part: TradePartition, watermark wm: Int64, into out: inout OutputBatch) {
        let windowMs = config.windowMs
        let lateness = config.allowedLatenessMs
        if wm >= part.nextFire {
            var due: [(start: Int64, symbol: SymbolState)] = []
            for s in part.symbols.values {
                for w in s.windows where !w.fired && w.start + windowMs <= wm { due.append((w.start, s)) }
            }
            due.sort { $0.start != $1.start ? $0.start < $1.start : $0.symbol.name < $1.symbol.name }
            for d in due { emit(d.symbol, d.symbol.windowIndex(start: d.start)!, part, into: &out) }
        }
        // Volume entries older than this cannot be among the previous windows of any window
        // that can still be emitted; price rings of symbols silent since `ringCutoff` are reset.
        let historyCutoff = wm - lateness - windowMs - Int64(config.anomalies.volumeWindows) * windowMs
        let ringCutoff = wm - config.priceHistoryMs
        var nextFire = Int64.max, nextEvict = Int64.max
        for (name, s) in part.symbols {
            s.windows.removeAll { $0.start + windowMs + lateness <= wm }
            for w in s.windows {
                if !w.fired { nextFire = min(nextFire, w.start + windowMs) }
                nextEvict = min(nextEvict, w.start + windowMs + lateness)
            }
            s.history.removeAll { $0.start < historyCutoff }
            if s.ring.isStale(before: ringCutoff) { s.ring.removeAll() }
            if s.windows.isEmpty && s.history.isEmpty && s.ring.isEmpty { part.symbols[name] = nil }
        }
        part.nextFire = nextFire
        part.nextEvict = nextEvict
        part.nextMaintenance = wm - wm.floorMod(windowMs) + windowMs
    }

    // MARK: - Checkpoints

    /// Per partition, the offset to commit once every row emitted so far is acknowledged by
    /// ClickHouse: everything before it is fully contained in those rows, and everything the
    /// engine still holds (open windows, the volume rule's previous windows, price rings) was
    /// built from records at or after it, so replaying from it rebuilds the state exactly. Its
    /// `processedOffset` says from where the replay emits rows again.
    public func checkpoints() -> [PartitionCheckpoint] {
        var out: [PartitionCheckpoint] = []
        for (id, p) in tradePartitions where p.nextOffset != nil {
            let c = p.checkpoint()
            out.append(PartitionCheckpoint(topic: config.tradesTopic, partition: id, offset: c.offset,
                                           maxEventTimeMs: c.maxEventTime == .min ? nil : c.maxEventTime,
                                           coverageStartMs: p.coverageStart, processedOffset: p.nextOffset))
        }
        for (tp, offset) in cdcOffsets {
            out.append(PartitionCheckpoint(topic: tp.topic, partition: tp.partition, offset: offset))
        }
        return out.sorted { ($0.topic, $0.partition) < ($1.topic, $1.partition) }
    }

    /// Starts from committed checkpoints (before the first record). Records must then come from
    /// each checkpoint's offset on.
    public func restore(_ checkpoints: [PartitionCheckpoint]) {
        for c in checkpoints {
            if c.topic == config.tradesTopic {
                let p = partition(c.partition)
                p.nextOffset = c.offset
                p.maxEventTime = c.maxEventTimeMs ?? .min
                p.coverageStart = c.coverageStartMs
                p.emitFrom = c.processedOffset ?? c.offset
            } else {
                cdcOffsets[TopicPartition(topic: c.topic, partition: c.partition)] = c.offset
            }
        }
    }

    /// How much the engine holds: it stays bounded by the windows, lateness and price history
    /// of the symbols that traded recently.
    public var stateSize: StateSize {
        var s = StateSize()
        for p in tradePartitions.values {
            s.symbols += p.symbols.count
            for sym in p.symbols.values {
                s.windows += sym.windows.count
                s.volumeEntries += sym.history.count
                s.ringSamples += sym.ring.count
            }
        }
        return s
    }
}

/// Counters for the metrics endpoint (`cdcctl_processor_*`).
public struct ProcessorMetrics: Sendable, Equatable {
    public var trades: UInt64 = 0
    public var orders: UInt64 = 0
    public var executions: UInt64 = 0
    public var tombstones: UInt64 = 0
    /// Records that could not be decoded (or came from a topic the engine does not read).
    public var malformed: UInt64 = 0
    /// Trades later than the allowed lateness: kept in `trades`, left out of `trade_aggregates`.
    public var lateEventsDropped: UInt64 = 0
    /// Late trades within the allowed lateness: their window was emitted again.
    public var lateEventsUpdated: UInt64 = 0
    /// Trades left out of a window because a sum would exceed 38 digits.
    public var aggregateOverflows: UInt64 = 0
    public var windowsEmitted: UInt64 = 0
    public var alerts: UInt64 = 0
    /// Trades replayed after a restart to rebuild state, without emitting rows.
    public var replayed: UInt64 = 0
}

public struct StateSize: Sendable, Equatable {
    public var symbols = 0
    public var windows = 0
    public var volumeEntries = 0
    public var ringSamples = 0
}

/// What to commit for one partition, and what the engine needs back on restart.
public struct PartitionCheckpoint: Sendable, Equatable {
    public var topic: String
    public var partition: Int32
    /// The offset to commit: where a restarted consumer starts reading (Kafka's convention).
    public var offset: Int64
    /// The partition's highest event time before `offset` (trade partitions): the watermark a
    /// replay starts from.
    public var maxEventTimeMs: Int64?
    /// The first window start from which the engine has seen all the partition's trades.
    public var coverageStartMs: Int64?
    /// The offset after the last record whose rows this checkpoint covers (trade partitions):
    /// a replay rebuilds state from `offset` and emits rows again from here on.
    public var processedOffset: Int64?

    public init(topic: String, partition: Int32, offset: Int64, maxEventTimeMs: Int64? = nil, coverageStartMs: Int64? = nil,
                processedOffset: Int64? = nil) {
        self.topic = topic
        self.partition = partition
        self.offset = offset
        self.maxEventTimeMs = maxEventTimeMs
        self.coverageStartMs = coverageStartMs
        self.processedOffset = processedOffset
    }

    /// Kafka commit metadata carrying the rest: `cdcctl/1 max=… cov=… done=…`.
    public var metadata: String {
        var s = "cdcctl/1"
        if let maxEventTimeMs { s += " max=\(maxEventTimeMs)" }
        if let coverageStartMs { s += " cov=\(coverageStartMs)" }
        if let processedOffset { s += " done=\(processedOffset)" }
        return s
    }

    /// Reads the metadata committed with the offset; nil when it is not ours.
    public init?(topic: String, partition: Int32, offset: Int64, metadata: String) {
        let words = metadata.split(separator: " ")
        guard words.first == "cdcctl/1" else { return nil }
        self.init(topic: topic, partition: partition, offset: offset)
        for w in words.dropFirst() {
            let kv = w.split(separator: "=", maxSplits: 1)
            guard kv.count == 2, let v = Int64(kv[1]) else { return nil }
            switch kv[0] {
            case "max": maxEventTimeMs = v
            case "cov": coverageStartMs = v
            case "done": processedOffset = v
            default: return nil
            }
        }
    }
}

struct TopicPartition: Hashable {
    var topic: String
    var partition: Int32
}

/// One partition of the trades topic.
final class TradePartition {
    let id: Int32
    let delayMs: Int64
    var maxEventTime = Int64.min
    var coverageStart: Int64?
    var nextOffset: Int64?
    var symbols: [String: SymbolState] = [:]
    /// The earliest window end not yet fired, end + lateness not yet evicted, and the next
    /// window boundary (when to forget old history): the sweep runs when the watermark reaches one.
    var nextFire = Int64.max
    var nextEvict = Int64.max
    var nextMaintenance = Int64.min
    /// Records before this offset are replayed after a restart: their rows are in ClickHouse.
    var emitFrom = Int64.min

    init(id: Int32, delayMs: Int64) {
        self.id = id
        self.delayMs = delayMs
    }

    var watermark: Int64 { maxEventTime == .min ? .min : maxEventTime - delayMs }

    func addSymbol(_ name: String, ringCapacity: Int) -> SymbolState {
        let s = SymbolState(name: name, ringCapacity: ringCapacity)
        symbols[name] = s
        return s
    }

    /// The commit offset and the maximum event time before it: the oldest record any state
    /// still held was built from (or the next record, when the engine holds nothing).
    func checkpoint() -> (offset: Int64, maxEventTime: Int64) {
        var oldest = Origin(offset: nextOffset ?? 0, maxEventTimeBefore: maxEventTime)
        func consider(_ o: Origin) { if o.offset < oldest.offset { oldest = o } }
        for s in symbols.values {
            for w in s.windows { consider(w.origin) }
            for h in s.history { consider(h.origin) }
            if let o = s.ring.oldest { consider(o) }
        }
        return (oldest.offset, oldest.maxEventTimeBefore)
    }
}

/// One symbol's state within its partition.
final class SymbolState {
    let name: String
    /// Open windows and fired ones still within their allowed lateness, by start.
    var windows: [WindowState] = []
    var ring: PriceRing
    /// Fired windows' volumes, by start, for the volume rule.
    var history: [VolumeEntry] = []

    init(name: String, ringCapacity: Int) {
        self.name = name
        self.ring = PriceRing(capacity: ringCapacity)
    }

    func windowIndex(start: Int64) -> Int? {
        // Few windows are open per symbol (size + lateness); the newest is the likeliest.
        var i = windows.count - 1
        while i >= 0 {
            if windows[i].start == start { return i }
            i -= 1
        }
        return nil
    }

    func insertWindow(_ w: WindowState) -> Int {
        let i = windows.firstIndex { $0.start > w.start } ?? windows.count
        windows.insert(w, at: i)
        return i
    }

    /// Records (or updates, on a re-emission) a fired window's volume.
    func record(_ entry: VolumeEntry) {
        if let i = history.lastIndex(where: { $0.start <= entry.start }) {
            if history[i].start == entry.start { history[i] = entry } else { history.insert(entry, at: i + 1) }
        } else {
            history.insert(entry, at: 0)
        }
    }
}
