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
    /// Orders whose last known quantity × price is over `oversizedOrderNotional`: the state an
    /// update without a before image (`binlog_row_image=MINIMAL`) is compared with. Holds only
    /// orders over the limit (rare), and forgets them on delete or when they drop under it.
    private var ordersOverLimit: Set<Int64> = []

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
                apply(trade: trade, at: p, ingestedAtMs: record.timestampMs, into: &out)
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
            // Quarantined with its payload, except while replaying records already written.
            if !(p.topic == config.tradesTopic && p.offset < partition(p.partition).emitFrom) {
                out.rejects.append(RejectRow(position: p, stage: .decode, reason: "\(error.field): \(error.message)"
                                             + (error.byteOffset.map { " (at byte \($0))" } ?? ""),
                                             payload: record.value.map { String(decoding: $0, as: UTF8.self) } ?? ""))
            }
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
        let wasOver = ordersOverLimit.contains(row.orderId)
        if let alert = AnomalyRules.oversizedOrder(e, version: version, windowMs: config.windowMs, rules: config.anomalies,
                                                   limit: config.oversizedOrderLimit, lastKnownOverLimit: wasOver) {
            metrics.alerts += 1
            out.alerts.append(alert)
        }
        if e.op != .delete, let after = e.after, AnomalyRules.isOver(after, limit: config.oversizedOrderLimit) {
            ordersOverLimit.insert(row.orderId)
        } else if wasOver {
            ordersOverLimit.remove(row.orderId)
        }
    }

    /// Orders known to be over the oversized limit (from `orders_current`) before the first
    /// record: what an update without a before image is compared with after a restart.
    public func restore(ordersOverLimit ids: some Sequence<Int64>) {
        ordersOverLimit.formUnion(ids)
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

    public func apply(trade t: TradeEvent, at p: RecordPosition, ingestedAtMs: Int64? = nil, into out: inout OutputBatch) {
        var part = partition(p.partition)
        if let (offset, fingerprint) = part.verify, p.offset >= offset {
            part.verify = nil
            if p.offset == offset && Self.fingerprint(t) != fingerprint {
                // The record the checkpoint was built from is not there any more: the topic was
                // deleted and recreated (or truncated) since. Its state and offsets belong to the
                // old topic; replaying silently up to the old `done` would drop these records.
                metrics.checkpointsDiscarded += 1
                part = TradePartition(id: p.partition, delayMs: config.watermarkDelayMs)
                tradePartitions[p.partition] = part
            }
        }
        guard p.offset < part.emitFrom else { return consume(t, at: p, ingestedAtMs: ingestedAtMs, part, into: &out) }
        // Replaying records whose rows ClickHouse already holds: rebuild the state only.
        // (Rows here may differ from the first run's for state that was complete then and is
        // forgotten by now; they are not needed again. Counters skip them too.)
        let counted = metrics
        consume(t, at: p, ingestedAtMs: ingestedAtMs, part, into: &replayScratch)
        metrics = counted
        metrics.replayed += 1
        replayScratch.removeAll()
    }

    private func consume(_ t: TradeEvent, at p: RecordPosition, ingestedAtMs: Int64?, _ part: TradePartition,
                         into out: inout OutputBatch) {
        part.nextOffset = p.offset + 1
        // Decoding guarantees a positive time; the bound keeps window arithmetic from overflowing.
        guard t.tsMs > 0 && t.tsMs < Int64.max / 4 else { metrics.malformed += 1; return }
        // A clock glitch (a trade hours ahead) would move the partition's watermark past every
        // open window and make all later trades "too late". The reference is the record's Kafka
        // timestamp: when it entered the pipeline, i.e. the wall clock of its producer or broker,
        // and part of the input, so a replay decides alike. (The partition's watermark alone
        // cannot tell a glitch from a market reopening after a night; records without a
        // timestamp, pre-0.10 message format, are not capped.)
        if let reference = ingestedAtMs, reference > 0, t.tsMs > reference + config.maxFutureSkewMs {
            metrics.futureEventsRejected += 1
            out.rejects.append(RejectRow(position: p, stage: .future,
                                         reason: "event time \(t.tsMs) is \(t.tsMs - reference) ms ahead of the record's Kafka timestamp \(reference) (processor.maxFutureSkewSeconds = \(config.maxFutureSkewMs / 1000))",
                                         payload: String(decoding: TradeCodec.encode(t), as: UTF8.self)))
            return
        }
        metrics.trades += 1
        let windowMs = config.windowMs
        let start = t.tsMs - t.tsMs.floorMod(windowMs)
        let end = start + windowMs
        let maxBefore = part.maxEventTime
        let watermark = part.watermark
        if part.coverageStart == nil { part.coverageStart = end }

        out.trades.append(t)
        out.tradeOrigins.append(TradeOrigin(partition: p.partition, offset: p.offset))
        if out.tradesTopic.isEmpty { out.tradesTopic = config.tradesTopic }
        let symbol = part.symbols[t.symbol] ?? part.addSymbol(t.symbol, ringCapacity: config.anomalies.priceWindow)
        // Reset here, not only in the sweep, so the moment of the reset depends on the input
        // alone (sweeps run at different records after a restart). Measured from this trade's
        // own time too: after a silence of the whole partition the watermark has not moved yet,
        // and the first trade back must not be compared with the market before the gap.
        if symbol.ring.isStale(before: max(watermark, t.tsMs) - config.priceHistoryMs) { symbol.ring.removeAll() }
        let price = t.price.doubleValue
        if let alert = AnomalyRules.priceMove(t, ring: symbol.ring, rules: config.anomalies, windowStart: start) {
            metrics.alerts += 1
            out.alerts.append(alert)
        }
        let origin = Origin(offset: p.offset, maxEventTimeBefore: maxBefore, fingerprint: Self.fingerprint(t))
        symbol.ring.push(price, tsMs: t.tsMs, origin: origin)

        if watermark >= end + config.allowedLatenessMs {
            metrics.lateEventsDropped += 1
        } else if let notional = t.notional, notional.fits(integerDigits: WindowState.notionalIntegerDigits) {
            let index = symbol.windowIndex(start: start) ?? symbol.insertWindow(WindowState(start: start, first: t, origin: origin))
            if symbol.windows[index].fold(t, notional: notional) {
                symbol.markActive(windowStart: start, streakGapMs: Int64(config.anomalies.volumeWindows) * windowMs)
                if watermark >= end {
                    // Late but within the allowed lateness: emit the window again, with a higher version.
                    metrics.lateEventsUpdated += 1
                    emit(symbol, index, part, into: &out)
                } else {
                    part.nextFire = min(part.nextFire, end)
                }
                part.nextEvict = min(part.nextEvict, end + config.allowedLatenessMs)
            } else {
                if symbol.windows[index].tradeCount == 0 { symbol.windows.remove(at: index) }
                overflow(t, at: p, "the window's sums would not fit trade_aggregates (volume Decimal(38,12), notional Decimal(38,20))", into: &out)
            }
        } else {
            overflow(t, at: p, "price × volume = \(t.notional.map { "\($0)" } ?? "more than 38 digits") does not fit notional Decimal(38,20)", into: &out)
        }

        if t.tsMs > part.maxEventTime {
            part.maxEventTime = t.tsMs
            let wm = part.watermark
            if wm >= part.nextFire || wm >= part.nextEvict || wm >= part.nextMaintenance {
                sweep(part, watermark: wm, into: &out)
            }
        }
    }

    /// A trade kept in `trades` but left out of its window: counted and quarantined (stage
    /// `aggregate`), so it is visible without stopping anything.
    private func overflow(_ t: TradeEvent, at p: RecordPosition, _ reason: String, into out: inout OutputBatch) {
        metrics.aggregateOverflows += 1
        out.rejects.append(RejectRow(position: p, stage: .aggregate, targetTable: ProcessorTable.tradeAggregates.rawValue,
                                     reason: reason, payload: String(decoding: TradeCodec.encode(t), as: UTF8.self)))
    }

    // MARK: - Windows

    /// The idle rule (docs/processor.md): writes the current result of every open window of
    /// `partition` (nil: all partitions) that ends at or before `watermark`, without firing it.
    /// The partition's watermark itself does not move, so late-data decisions stay a function
    /// of the records (replays decide alike); when the window later fires for real, or a late
    /// trade re-emits it, the row comes again with the same or a higher version. A window whose
    /// current result was already written is not written again. Returns the windows written.
    @discardableResult
    public func emitOpenWindows(partition id: Int32? = nil, upTo watermark: Int64 = .max, into out: inout OutputBatch) -> Int {
        var written = 0
        for (pid, part) in tradePartitions.sorted(by: { $0.key < $1.key }) where id == nil || pid == id {
            var due: [(start: Int64, symbol: SymbolState)] = []
            for s in part.symbols.values {
                for w in s.windows where !w.fired && w.emittedVersion != w.tradeCount && w.start <= watermark - config.windowMs {
                    due.append((w.start, s))
                }
            }
            due.sort { $0.start != $1.start ? $0.start < $1.start : $0.symbol.name < $1.symbol.name }
            for d in due {
                emit(d.symbol, d.symbol.windowIndex(start: d.start)!, part, fire: false, into: &out)
                written += 1
            }
        }
        metrics.idleWindowsEmitted += UInt64(written)
        return written
    }

    /// A cheap fingerprint of a trade for checkpoints (no hashing of strings on the hot path).
    @inline(__always)
    static func fingerprint(_ t: TradeEvent) -> Int64 {
        let f = t.tsMs &* 1_000_003 &+ Int64(truncatingIfNeeded: t.price.mantissa) &* 8_191 &+ Int64(truncatingIfNeeded: t.volume.mantissa)
        return f == 0 ? 1 : f
    }

    /// The highest event time seen per trades partition (for the idle rule's clock).
    public func maxEventTime(partition id: Int32) -> Int64? {
        guard let t = tradePartitions[id]?.maxEventTime, t != .min else { return nil }
        return t
    }

    private func partition(_ id: Int32) -> TradePartition {
        if let p = tradePartitions[id] { return p }
        let p = TradePartition(id: id, delayMs: config.watermarkDelayMs)
        tradePartitions[id] = p
        return p
    }

    /// Emits a window's current result and evaluates the volume rule on it (`fire`: the
    /// watermark passed its end; otherwise the idle rule writes it provisionally). A result
    /// already written (same version) is not written again.
    private func emit(_ symbol: SymbolState, _ index: Int, _ part: TradePartition, fire: Bool = true, into out: inout OutputBatch) {
        let w = symbol.windows[index]
        if fire { symbol.windows[index].fired = true }
        guard w.emittedVersion != w.tradeCount else { return }
        symbol.windows[index].emittedVersion = w.tradeCount
        metrics.windowsEmitted += 1
        out.tradeAggregates.append(w.row(symbol: symbol.name, windowMinutes: config.windowMinutes))
        // The baseline must be known: the partition seen for all of it (the first window may be
        // partial), and the symbol itself trading since before it (a new or resumed symbol
        // warms up for volumeWindows windows of its own).
        let from = w.start - Int64(config.anomalies.volumeWindows) * config.windowMs
        let known = (part.coverageStart.map { $0 <= from } ?? false) && symbol.activeSince <= from
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
        // that can still be emitted, nor decide whether its symbol was already trading a
        // baseline before it (2 × volumeWindows: docs/processor.md, "Anomaly rules"); price
        // rings of symbols silent since `ringCutoff` are reset.
        let historyCutoff = wm - lateness - windowMs - 2 * Int64(config.anomalies.volumeWindows) * windowMs
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
            var cp = PartitionCheckpoint(topic: config.tradesTopic, partition: id, offset: c.offset,
                                         maxEventTimeMs: c.maxEventTime == .min ? nil : c.maxEventTime,
                                         coverageStartMs: p.coverageStart, processedOffset: p.nextOffset)
            if c.fingerprint != 0 { cp.firstRecordFingerprint = c.fingerprint }
            out.append(cp)
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
                p.verify = c.firstRecordFingerprint.map { (c.offset, $0) }
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
    /// Trades kept in `trades` but left out of their window because their notional or the
    /// window's sums would not fit the aggregate columns (quarantined, stage `aggregate`).
    public var aggregateOverflows: UInt64 = 0
    /// Trades too far ahead of their Kafka timestamp (`maxFutureSkewSeconds`): quarantined.
    public var futureEventsRejected: UInt64 = 0
    /// Windows written provisionally by the idle rule (or at a stop).
    public var idleWindowsEmitted: UInt64 = 0
    public var windowsEmitted: UInt64 = 0
    public var alerts: UInt64 = 0
    /// Trades replayed after a restart to rebuild state, without emitting rows.
    public var replayed: UInt64 = 0
    /// Restored trade checkpoints whose first record was not there any more (a recreated
    /// topic): the partition started afresh instead of replaying silently.
    public var checkpointsDiscarded: UInt64 = 0
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
    /// A fingerprint of the record at `offset` (trade partitions holding state): a restart
    /// checks it, so a recreated topic is not replayed as if it were the old one.
    public var firstRecordFingerprint: Int64?

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
        if let firstRecordFingerprint { s += " at=\(firstRecordFingerprint)" }
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
            case "at": firstRecordFingerprint = v
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
    /// The offset and fingerprint of the record a restored checkpoint was built from.
    var verify: (offset: Int64, fingerprint: Int64)?

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
    func checkpoint() -> (offset: Int64, maxEventTime: Int64, fingerprint: Int64) {
        var oldest = Origin(offset: nextOffset ?? 0, maxEventTimeBefore: maxEventTime)
        func consider(_ o: Origin) { if o.offset < oldest.offset { oldest = o } }
        for s in symbols.values {
            for w in s.windows { consider(w.origin) }
            for h in s.history { consider(h.origin) }
            if let o = s.ring.oldest { consider(o) }
        }
        return (oldest.offset, oldest.maxEventTimeBefore, oldest.fingerprint)
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
    /// The first window of the symbol's current run of trading (a gap of more than
    /// volumeWindows windows without trades starts a new one), and its latest window with
    /// trades: the volume rule needs a baseline of the symbol's own.
    var activeSince = Int64.max
    var lastActive = Int64.min

    func markActive(windowStart start: Int64, streakGapMs: Int64) {
        if lastActive == .min || start - lastActive > streakGapMs {
            activeSince = start
        } else if start < activeSince {
            activeSince = start
        }
        if start > lastActive { lastActive = start }
    }

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
