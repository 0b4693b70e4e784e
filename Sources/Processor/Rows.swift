/// The ClickHouse tables the processor writes. docs/processor.md gives their columns and the
/// engines that make replays harmless.
public enum ProcessorTable: String, CaseIterable, Sendable {
    case cdcOrdersRaw = "cdc_orders_raw"
    case cdcOrderExecutionsRaw = "cdc_order_executions_raw"
    case ordersCurrent = "orders_current"
    case trades
    case tradeAggregates = "trade_aggregates"
    case alerts
    /// Records and rows quarantined instead of stopping the pipeline (the dead-letter table).
    case processorRejects = "processor_rejects"
}

/// A row the sink inserts with `FORMAT JSONEachRow`.
public protocol ClickHouseRow: Sendable, Equatable {
    var table: ProcessorTable { get }
    /// Appends the row as one JSON object (no newline).
    func appendJSON(to bytes: inout [UInt8])
}

public enum JSONEachRow {
    /// One JSON object per line, each line ending in `\n`: the body of
    /// `INSERT INTO t FORMAT JSONEachRow`.
    public static func encode<Rows: Sequence>(_ rows: Rows) -> [UInt8] where Rows.Element: ClickHouseRow {
        var out: [UInt8] = []
        out.reserveCapacity(rows.underestimatedCount * 200)
        for row in rows {
            row.appendJSON(to: &out)
            out.append(UInt8(ascii: "\n"))
        }
        return out
    }
}

extension ClickHouseRow {
    /// The row's JSONEachRow line without its newline, as text.
    public var jsonLine: String {
        var out: [UInt8] = []
        appendJSON(to: &out)
        return String(decoding: out, as: UTF8.self)
    }
}

extension JSONWriter {
    /// Writes into `bytes` in place (no copy of the buffer).
    static func append(to bytes: inout [UInt8], _ body: (inout JSONWriter) -> Void) {
        var w = JSONWriter(capacity: 0)
        swap(&w.bytes, &bytes)
        w.beginObject()
        body(&w)
        w.endObject()
        swap(&w.bytes, &bytes)
    }
}

/// A row of `cdc_orders_raw` or `cdc_order_executions_raw`: every change as received, keyed by
/// its Kafka position (so a replayed change overwrites itself).
public struct CdcRawRow: ClickHouseRow {
    public var table: ProcessorTable
    public var position: RecordPosition
    public var op: DebeziumOp
    /// Set for `cdc_order_executions_raw` only.
    public var executionId: Int64?
    public var orderId: Int64
    public var before: String?
    public var after: String?
    public var sourceTsMs: Int64

    public init(table: ProcessorTable, position: RecordPosition, op: DebeziumOp, executionId: Int64?, orderId: Int64,
                before: String?, after: String?, sourceTsMs: Int64) {
        self.table = table
        self.position = position
        self.op = op
        self.executionId = executionId
        self.orderId = orderId
        self.before = before
        self.after = after
        self.sourceTsMs = sourceTsMs
    }

    public func appendJSON(to bytes: inout [UInt8]) {
        JSONWriter.append(to: &bytes) { w in
            w.field("topic", position.topic)
            w.field("partition", Int64(position.partition))
            w.field("offset", position.offset)
            w.field("op", op.rawValue)
            if let executionId { w.field("execution_id", executionId) }
            w.field("order_id", orderId)
            w.field("before", before)
            w.field("after", after)
            w.timestamp("source_ts", sourceTsMs)
        }
    }
}

/// A row of `orders_current` (ReplacingMergeTree(version, is_deleted) ordered by order_id).
public struct OrderCurrentRow: ClickHouseRow {
    public var order: OrderRow
    public var version: UInt64
    public var isDeleted: Bool

    public init(order: OrderRow, version: UInt64, isDeleted: Bool) {
        self.order = order
        self.version = version
        self.isDeleted = isDeleted
    }

    public var table: ProcessorTable { .ordersCurrent }

    public func appendJSON(to bytes: inout [UInt8]) {
        JSONWriter.append(to: &bytes) { w in
            w.field("order_id", order.orderId)
            w.field("customer_id", order.customerId)
            w.field("symbol", order.symbol)
            w.field("side", order.side)
            w.field("order_type", order.orderType)
            w.field("quantity", order.quantity)
            w.field("price", order.price)
            w.field("status", order.status)
            w.timestamp("created_at", order.createdAtMs)
            w.timestamp("updated_at", order.updatedAtMs)
            w.field("version", version)
            w.field("is_deleted", isDeleted ? 1 : 0)
        }
    }
}

/// A trade is a row of `trades` as it is.
extension TradeEvent: ClickHouseRow {
    public var table: ProcessorTable { .trades }

    public func appendJSON(to bytes: inout [UInt8]) {
        JSONWriter.append(to: &bytes) { w in fields(&w) }
    }

    /// The row with the Kafka record it came from (`partition`, `offset` in the trades topic,
    /// migration 0007), so `cdcctl trace trade` finds a trade's record from its row.
    public func appendJSON(to bytes: inout [UInt8], origin: TradeOrigin) {
        JSONWriter.append(to: &bytes) { w in
            fields(&w)
            w.field("partition", Int64(origin.partition))
            w.field("offset", origin.offset)
        }
    }

    private func fields(_ w: inout JSONWriter) {
        w.field("symbol", symbol)
        w.field("trade_id", tradeId)
        w.field("price", price)
        w.field("volume", volume)
        w.field("side", side.rawValue)
        w.timestamp("traded_at", tsMs)
        w.field("source", source)
    }
}

/// A row of `trade_aggregates`: one symbol's trades in one event-time window. Each emission of
/// the same window carries a higher `version` (the number of trades folded in), so a
/// ReplacingMergeTree keeps the newest.
public struct TradeAggregateRow: ClickHouseRow {
    public var windowStartMs: Int64
    public var windowMinutes: Int
    public var symbol: String
    public var tradeCount: UInt64
    public var volume: FixedDecimal
    public var notional: FixedDecimal
    public var vwap: Double
    public var open: FixedDecimal
    public var high: FixedDecimal
    public var low: FixedDecimal
    public var close: FixedDecimal
    public var buyVolume: FixedDecimal
    public var sellVolume: FixedDecimal
    public var version: UInt64

    public var table: ProcessorTable { .tradeAggregates }

    public func appendJSON(to bytes: inout [UInt8]) {
        JSONWriter.append(to: &bytes) { w in
            w.timestamp("window_start", windowStartMs)
            w.field("window_minutes", windowMinutes)
            w.field("symbol", symbol)
            w.field("trade_count", tradeCount)
            w.field("volume", volume)
            w.field("notional", notional)
            w.field("vwap", vwap)
            w.field("open", open)
            w.field("high", high)
            w.field("low", low)
            w.field("close", close)
            w.field("buy_volume", buyVolume)
            w.field("sell_volume", sellVolume)
            w.field("version", version)
        }
    }
}

public enum AlertRule: String, Sendable, CaseIterable {
    case priceZScore = "price_zscore"
    case volumeSpike = "volume_spike"
    case oversizedOrder = "oversized_order"
}

/// Which way a price moved (`price_zscore`); volume spikes and oversized orders are `up`.
public enum AlertDirection: String, Sendable {
    case up, down
}

public enum AlertSeverity: String, Sendable {
    /// Over the threshold.
    case warning
    /// At least twice the threshold.
    case critical

    static func of(value: Double, threshold: Double) -> AlertSeverity {
        value >= 2 * threshold ? .critical : .warning
    }
}

/// A row of `alerts`. `alertId` is a hash of the rule, the symbol and the identity of what
/// triggered it, so a replay writes the same id again instead of a second alert.
public struct AlertRow: ClickHouseRow {
    public var alertId: String
    public var rule: AlertRule
    public var symbol: String
    public var severity: AlertSeverity
    /// Event time of the trigger (the trade, the window's end, the order's update), never wall clock.
    public var detectedAtMs: Int64
    public var windowStartMs: Int64
    /// The magnitude compared with the threshold (|z| for price moves).
    public var value: Double
    public var threshold: Double
    /// A drop and a spike are different alerts to a trader: the sign of the move.
    public var direction: AlertDirection
    public var detail: String

    public init(rule: AlertRule, symbol: String, identity: String, detectedAtMs: Int64, windowStartMs: Int64,
                value: Double, threshold: Double, direction: AlertDirection = .up, detail: String) {
        self.alertId = AlertRow.id(rule: rule, symbol: symbol, identity: identity)
        self.rule = rule
        self.symbol = symbol
        self.severity = .of(value: value, threshold: threshold)
        self.detectedAtMs = detectedAtMs
        self.windowStartMs = windowStartMs
        self.value = value
        self.threshold = threshold
        self.direction = direction
        self.detail = detail
    }

    public var table: ProcessorTable { .alerts }

    /// 32 hex digits of FNV-1a (128 bit) over `rule 0x1f symbol 0x1f identity`: stable across
    /// runs, machines and Swift versions (unlike `Hasher`, which is seeded per process).
    public static func id(rule: AlertRule, symbol: String, identity: String) -> String {
        var hash: UInt128 = 0x6c62272e07bb014262b821756295c58d
        let prime: UInt128 = 0x0000000001000000000000000000013B
        for part in [rule.rawValue, symbol, identity].enumerated() {
            if part.offset > 0 { hash = (hash ^ 0x1f) &* prime }
            for byte in part.element.utf8 { hash = (hash ^ UInt128(byte)) &* prime }
        }
        let hex = String(hash, radix: 16)
        return String(repeating: "0", count: 32 - hex.count) + hex
    }

    public func appendJSON(to bytes: inout [UInt8]) {
        JSONWriter.append(to: &bytes) { w in
            w.field("alert_id", alertId)
            w.field("rule", rule.rawValue)
            w.field("symbol", symbol)
            w.field("severity", severity.rawValue)
            w.timestamp("detected_at", detectedAtMs)
            w.timestamp("window_start", windowStartMs)
            w.field("value", value)
            w.field("threshold", threshold)
            w.field("direction", direction.rawValue)
            w.field("detail", detail)
        }
    }
}

/// The partition and offset a row of `trades` came from.
public struct TradeOrigin: Sendable, Equatable {
    public var partition: Int32
    public var offset: Int64
}

/// What a quarantined record or row was stopped by.
public enum RejectStage: String, Sendable {
    /// The record could not be decoded (or its values do not fit their columns).
    case decode
    /// A trade's event time was too far ahead of its Kafka timestamp (a feed's clock glitch).
    case future
    /// A trade kept in `trades` but left out of its window: its notional, or the window's sums,
    /// would not fit the aggregate columns.
    case aggregate
    /// ClickHouse refused the row as bad data (the runtime isolates it from its batch).
    case insert
}

/// A row of `processor_rejects`: a record (or an output row) quarantined with the reason, so one
/// bad record never stops the pipeline. Keyed by position, stage and target, so a replay
/// writes the same row again.
public struct RejectRow: ClickHouseRow {
    public var position: RecordPosition
    public var stage: RejectStage
    /// The table the row was meant for (`insert`), or the empty string.
    public var targetTable: String
    public var reason: String
    /// The record's value (or the refused row) as UTF-8 text, invalid bytes replaced.
    public var payload: String

    public init(position: RecordPosition, stage: RejectStage, targetTable: String = "", reason: String, payload: String) {
        self.position = position
        self.stage = stage
        self.targetTable = targetTable
        self.reason = reason
        self.payload = payload
    }

    public var table: ProcessorTable { .processorRejects }

    public func appendJSON(to bytes: inout [UInt8]) {
        JSONWriter.append(to: &bytes) { w in
            w.field("topic", position.topic)
            w.field("partition", Int64(position.partition))
            w.field("offset", position.offset)
            w.field("stage", stage.rawValue)
            w.field("target_table", targetTable)
            w.field("reason", reason)
            w.field("payload", payload)
        }
    }
}

/// The rows produced since the runtime last took them, one list per table, in the order the
/// events that produced them were processed.
public struct OutputBatch: Sendable, Equatable {
    public var cdcOrdersRaw: [CdcRawRow] = []
    public var cdcOrderExecutionsRaw: [CdcRawRow] = []
    public var ordersCurrent: [OrderCurrentRow] = []
    public var trades: [TradeEvent] = []
    public var tradeAggregates: [TradeAggregateRow] = []
    public var alerts: [AlertRow] = []
    public var rejects: [RejectRow] = []
    /// Where each row of `trades` came from (same order; the topic is the trades topic), for
    /// quarantining a row ClickHouse refuses. Two integers, not a `RecordPosition`: no reference
    /// count per trade on the hot path.
    public var tradeOrigins: [TradeOrigin] = []
    /// The trades topic of `tradeOrigins`.
    public var tradesTopic = ""

    public init() {}

    public var count: Int {
        cdcOrdersRaw.count + cdcOrderExecutionsRaw.count + ordersCurrent.count + trades.count + tradeAggregates.count + alerts.count
            + rejects.count
    }

    public var isEmpty: Bool { count == 0 }

    /// Each non-empty table with its JSONEachRow body, in `ProcessorTable` order.
    public func encoded() -> [(table: ProcessorTable, rows: Int, body: [UInt8])] {
        var out: [(ProcessorTable, Int, [UInt8])] = []
        func add<R: ClickHouseRow>(_ table: ProcessorTable, _ rows: [R]) {
            if !rows.isEmpty { out.append((table, rows.count, JSONEachRow.encode(rows))) }
        }
        add(.cdcOrdersRaw, cdcOrdersRaw)
        add(.cdcOrderExecutionsRaw, cdcOrderExecutionsRaw)
        add(.ordersCurrent, ordersCurrent)
        if tradeOrigins.count == trades.count, !trades.isEmpty {
            var body: [UInt8] = []
            body.reserveCapacity(trades.count * 200)
            for (t, origin) in zip(trades, tradeOrigins) {
                t.appendJSON(to: &body, origin: origin)
                body.append(UInt8(ascii: "\n"))
            }
            out.append((.trades, trades.count, body))
        } else {
            add(.trades, trades)
        }
        add(.tradeAggregates, tradeAggregates)
        add(.alerts, alerts)
        add(.processorRejects, rejects)
        return out
    }

    /// The record each row of `table` came from, in body order, where one record makes the row
    /// (raw and current CDC rows, trades, rejects); nil for windows and alerts.
    public func positions(of table: ProcessorTable) -> [RecordPosition?] {
        switch table {
        case .cdcOrdersRaw: cdcOrdersRaw.map(\.position)
        case .cdcOrderExecutionsRaw: cdcOrderExecutionsRaw.map(\.position)
        case .ordersCurrent: ordersCurrent.map { _ in nil }
        case .trades:
            tradeOrigins.count == trades.count
                ? tradeOrigins.map { RecordPosition(topic: tradesTopic, partition: $0.partition, offset: $0.offset) }
                : trades.map { _ in nil }
        case .tradeAggregates: tradeAggregates.map { _ in nil }
        case .alerts: alerts.map { _ in nil }
        case .processorRejects: rejects.map(\.position)
        }
    }

    public mutating func removeAll(keepingCapacity: Bool = true) {
        cdcOrdersRaw.removeAll(keepingCapacity: keepingCapacity)
        cdcOrderExecutionsRaw.removeAll(keepingCapacity: keepingCapacity)
        ordersCurrent.removeAll(keepingCapacity: keepingCapacity)
        trades.removeAll(keepingCapacity: keepingCapacity)
        tradeAggregates.removeAll(keepingCapacity: keepingCapacity)
        alerts.removeAll(keepingCapacity: keepingCapacity)
        rejects.removeAll(keepingCapacity: keepingCapacity)
        tradeOrigins.removeAll(keepingCapacity: keepingCapacity)
    }
}
