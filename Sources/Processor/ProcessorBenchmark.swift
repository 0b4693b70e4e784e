/// `cdcctl bench processor [--events N]`: decode + window + anomaly throughput on one core,
/// over a generated input in the recorded format (trade JSON lines and Debezium order events).
public enum ProcessorBenchmark {
    public struct Result: Sendable, Equatable {
        public var events: Int
        public var trades: Int
        public var cdcRecords: Int
        public var inputBytes: Int
        /// Wall time of `ProcessorEngine.process` over all records (decode, windows, rules).
        public var seconds: Double
        public var eventsPerSecond: Double
        public var megabytesPerSecond: Double
        public var rows: Int
        public var alerts: Int
        public var malformed: UInt64
        public var lateEventsDropped: UInt64
        /// JSONEachRow encoding of the emitted rows, timed separately (the sink's share).
        public var encodeSeconds: Double
        public var encodedRowsPerSecond: Double
    }

    /// Runs the engine over `events` generated records (90% trades on 20 symbols, 10% CDC).
    public static func run(events: Int = 1_000_000, config: ProcessorConfig = .defaults, seed: UInt64 = 1) -> Result {
        let input = generate(events: events, config: config, seed: seed)
        let engine = ProcessorEngine(config: config)
        var batch = OutputBatch()
        var rows = 0, alerts = 0
        var processing = Duration.zero, encoding = Duration.zero
        let clock = ContinuousClock()
        let flushRows = 5000
        var index = 0
        while index < input.count {
            // Process up to a batch worth of rows, then encode it as the sink would.
            let start = clock.now
            while index < input.count && batch.count < flushRows {
                input[index].process(with: engine, into: &batch)
                index += 1
            }
            processing += clock.now - start
            rows += batch.count
            alerts += batch.alerts.count
            let encodeStart = clock.now
            var bytes = 0
            for table in batch.encoded() { bytes += table.body.count }
            encoding += clock.now - encodeStart
            precondition(bytes > 0 || batch.isEmpty)
            batch.removeAll()
        }
        let seconds = processing.seconds
        let inputBytes = input.reduce(0) { $0 + ($1.key?.count ?? 0) + ($1.value?.count ?? 0) }
        let trades = input.count { $0.position.topic == config.tradesTopic }
        return Result(events: input.count, trades: trades, cdcRecords: input.count - trades, inputBytes: inputBytes,
                      seconds: seconds, eventsPerSecond: Double(input.count) / seconds,
                      megabytesPerSecond: Double(inputBytes) / seconds / 1_048_576, rows: rows, alerts: alerts,
                      malformed: engine.metrics.malformed, lateEventsDropped: engine.metrics.lateEventsDropped,
                      encodeSeconds: encoding.seconds, encodedRowsPerSecond: Double(rows) / encoding.seconds)
    }

    static let symbols: [(name: String, price: Double, decimals: Int)] = [
        ("KRW-BTC", 97_000_000, 0), ("KRW-ETH", 4_800_000, 0), ("KRW-XRP", 850, 1), ("KRW-SOL", 210_000, 0),
        ("KRW-DOGE", 520, 1), ("KRW-ADA", 1_100, 1), ("BTC-ETH", 0.0495, 8), ("USDT-BTC", 68_000.5, 3),
        ("005930", 71_500, 0), ("000660", 182_000, 0), ("035420", 201_500, 0), ("035720", 45_150, 0),
        ("051910", 389_000, 0), ("006400", 412_000, 0), ("207940", 781_000, 0), ("068270", 178_900, 0),
        ("005380", 242_500, 0), ("AAPL", 227.52, 2), ("MSFT", 415.26, 2), ("NVDA", 135.07, 2),
    ]

    /// A deterministic input: trades on 3 partitions keyed by symbol (mostly in order, some a
    /// few seconds out of order, a few a minute or more late), and order create/update/delete
    /// events with tombstones and some executions on the CDC topics. Event time advances
    /// `millisecondsPerEvent` on average.
    public static func generate(events: Int, config: ProcessorConfig = .defaults, seed: UInt64 = 1,
                                symbolCount: Int = 20, millisecondsPerEvent: Int = 1) -> [RecordedRecord] {
        var rng = SplitMix64(seed: seed)
        let names = (0..<symbolCount).map { i in i < symbols.count ? symbols[i].name : "SYM\(i)" }
        var prices = (0..<symbolCount).map { i in i < symbols.count ? symbols[i].price : 1000 }
        let decimals = (0..<symbolCount).map { i in i < symbols.count ? symbols[i].decimals : 2 }
        var tradeSeq = [Int](repeating: 0, count: symbolCount)
        var tradeOffsets = [Int64](repeating: 0, count: 3)
        var orderOffset: Int64 = 0, executionOffset: Int64 = 0
        var openOrders: [(id: Int64, symbol: Int, quantity: String, price: String, createdAt: Int64, status: String)] = []
        var nextOrderId: Int64 = 1, nextExecutionId: Int64 = 1
        var now: Int64 = 1_700_000_000_000
        var out: [RecordedRecord] = []
        out.reserveCapacity(events)

        func uniform() -> Double { Double(rng.next() >> 11) / Double(1 << 53) }
        func format(_ v: Double, _ places: Int) -> String {
            let scale = (0..<places).reduce(1.0) { a, _ in a * 10 }
            let m = Int64((v * scale).rounded())
            return FixedDecimal(mantissa: Int128(m), scale: places).description
        }

        while out.count < events {
            now += Int64(rng.next() % UInt64(2 * millisecondsPerEvent + 1))
            if rng.next() % 10 != 0 {
                let s = Int(rng.next() % UInt64(symbolCount))
                prices[s] *= 1 + (uniform() - 0.5) * 0.002
                // Rare jumps give the z-score rule something to find.
                if rng.next() % 5000 == 0 { prices[s] *= uniform() < 0.5 ? 0.97 : 1.03 }
                tradeSeq[s] += 1
                var ts = now
                let r = rng.next() % 1000
                if r < 20 { ts -= Int64(rng.next() % 3000) } else if r < 21 { ts -= 30_000 + Int64(rng.next() % 60_000) }
                let trade = TradeEvent(symbol: names[s], tradeId: String(now * 1000 + Int64(tradeSeq[s] % 1000)), price: FixedDecimal(format(prices[s], decimals[s]))!,
                                       volume: FixedDecimal(format(uniform() * 2 + 0.0001, 8))!, side: rng.next() % 2 == 0 ? .buy : .sell,
                                       tsMs: ts, source: s < 8 ? "upbit" : (s < 17 ? "kis" : "synthetic"))
                let partition = s % 3
                out.append(RecordedRecord(position: RecordPosition(topic: config.tradesTopic, partition: Int32(partition), offset: tradeOffsets[partition]),
                                          key: Array(names[s].utf8), value: TradeCodec.encode(trade)))
                tradeOffsets[partition] += 1
                continue
            }
            let kind = rng.next() % 100
            if kind < 15, !openOrders.isEmpty {
                // An execution of an open order.
                let o = openOrders[Int(rng.next() % UInt64(openOrders.count))]
                let row = #"{"execution_id":\#(nextExecutionId),"order_id":\#(o.id),"symbol":"\#(names[o.symbol])","quantity":"\#(o.quantity)","price":"\#(o.price)","executed_at":\#(now)}"#
                out.append(RecordedRecord(position: RecordPosition(topic: config.executionsTopic, partition: 0, offset: executionOffset),
                                          key: Array(#"{"execution_id":\#(nextExecutionId)}"#.utf8),
                                          value: Array(debezium(op: "c", before: nil, after: row, table: "order_executions", tsMs: now).utf8)))
                nextExecutionId += 1
                executionOffset += 1
                continue
            }
            func orderRow(_ o: (id: Int64, symbol: Int, quantity: String, price: String, createdAt: Int64, status: String), updatedAt: Int64) -> String {
                #"{"order_id":\#(o.id),"customer_id":\#(o.id % 977 + 1),"symbol":"\#(names[o.symbol])","side":"\#(o.id % 2 == 0 ? "BUY" : "SELL")","order_type":"LIMIT","quantity":"\#(o.quantity)","price":"\#(o.price)","status":"\#(o.status)","created_at":\#(o.createdAt),"updated_at":\#(updatedAt)}"#
            }
            func emitOrder(_ value: String?, id: Int64) {
                out.append(RecordedRecord(position: RecordPosition(topic: config.ordersTopic, partition: 0, offset: orderOffset),
                                          key: Array(#"{"order_id":\#(id)}"#.utf8), value: value.map { Array($0.utf8) }))
                orderOffset += 1
            }
            if kind < 60 || openOrders.count < 10 {
                let s = Int(rng.next() % UInt64(symbolCount))
                // One order in 200 is large enough for the oversized-order rule.
                let quantity = rng.next() % 200 == 0 ? Double(rng.next() % 5000 + 2000) : Double(rng.next() % 100 + 1)
                let o = (id: nextOrderId, symbol: s, quantity: format(quantity, 4), price: format(prices[s], 4), createdAt: now, status: "NEW")
                nextOrderId += 1
                openOrders.append(o)
                if openOrders.count > 1000 { openOrders.removeFirst() }
                emitOrder(debezium(op: "c", before: nil, after: orderRow(o, updatedAt: now), table: "orders", tsMs: now), id: o.id)
            } else if kind < 95 {
                let i = Int(rng.next() % UInt64(openOrders.count))
                let before = openOrders[i]
                var after = before
                after.status = ["PARTIALLY_FILLED", "FILLED", "CANCELLED"][Int(rng.next() % 3)]
                openOrders[i] = after
                emitOrder(debezium(op: "u", before: orderRow(before, updatedAt: before.createdAt), after: orderRow(after, updatedAt: now),
                                   table: "orders", tsMs: now), id: after.id)
            } else {
                let o = openOrders.remove(at: Int(rng.next() % UInt64(openOrders.count)))
                emitOrder(debezium(op: "d", before: orderRow(o, updatedAt: o.createdAt), after: nil, table: "orders", tsMs: now), id: o.id)
                if out.count < events { emitOrder(nil, id: o.id) }
            }
        }
        return out
    }

    /// A change event as the MySQL connector writes it (schemas disabled).
    static func debezium(op: String, before: String?, after: String?, table: String, tsMs: Int64) -> String {
        let source = #"{"version":"3.0.7.Final","connector":"mysql","name":"cdc","ts_ms":\#(tsMs),"snapshot":"false","db":"shop","sequence":null,"ts_us":\#(tsMs * 1000),"ts_ns":\#(tsMs * 1_000_000),"table":"\#(table)","server_id":1,"gtid":"0-1-\#(tsMs % 1_000_000)","file":"mysql-bin.000003","pos":\#(tsMs % 100_000_000),"row":0,"thread":7,"query":null}"#
        return #"{"before":\#(before ?? "null"),"after":\#(after ?? "null"),"source":\#(source),"transaction":null,"op":"\#(op)","ts_ms":\#(tsMs + 7),"ts_us":\#((tsMs + 7) * 1000),"ts_ns":\#((tsMs + 7) * 1_000_000)}"#
    }
}

/// A small, fast, deterministic generator (Steele, Lea and Flood's SplitMix64).
struct SplitMix64 {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9e37_79b9_7f4a_7c15
        var z = state
        z = (z ^ (z >> 30)) &* 0xbf58_476d_1ce4_e5b9
        z = (z ^ (z >> 27)) &* 0x94d0_49bb_1331_11eb
        return z ^ (z >> 31)
    }
}

extension Duration {
    var seconds: Double {
        let (s, attoseconds) = components
        return Double(s) + Double(attoseconds) / 1e18
    }
}
