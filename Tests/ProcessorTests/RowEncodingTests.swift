import Foundation
import XCTest
@testable import Processor

/// Rows as ClickHouse JSONEachRow lines: DateTime64(3) as UTC text, Decimals as strings.
final class RowEncodingTests: XCTestCase {
    func testDateTime64Text() {
        XCTAssertEqual(DateTime64.format(0), "1970-01-01 00:00:00.000")
        XCTAssertEqual(DateTime64.format(1_700_000_000_123), "2023-11-14 22:13:20.123")
        XCTAssertEqual(DateTime64.format(951_782_400_000), "2000-02-29 00:00:00.000", "leap day")
        XCTAssertEqual(DateTime64.format(4_102_444_799_999), "2099-12-31 23:59:59.999")
        XCTAssertEqual(DateTime64.format(-1), "1969-12-31 23:59:59.999")
        // Against Foundation's calendar, over many instants.
        let f = DateFormatter()
        f.locale = Locale(identifier: "en_US_POSIX")
        f.timeZone = TimeZone(identifier: "UTC")
        f.dateFormat = "yyyy-MM-dd HH:mm:ss.SSS"
        var rng = SplitMix64(seed: 3)
        for _ in 0..<2_000 {
            let ms = Int64(rng.next() % 4_102_444_800_000)
            XCTAssertEqual(DateTime64.format(ms), f.string(from: Date(timeIntervalSince1970: Double(ms) / 1000)), "\(ms)")
        }
    }

    func testTradeRow() throws {
        let t = try TradeCodec.decode(#"{"symbol":"KRW-BTC","trade_id":"7","price":"97000000.0","volume":"0.0123","side":"sell","ts_ms":1700000000123,"source":"upbit"}"#)
        XCTAssertEqual(t.jsonLine, #"{"symbol":"KRW-BTC","trade_id":"7","price":"97000000.0","volume":"0.0123","side":"sell","traded_at":"2023-11-14 22:13:20.123","source":"upbit"}"#)
        XCTAssertEqual(t.table, .trades)
    }

    func testRawAndCurrentRows() {
        let p = RecordPosition(topic: "cdc.shop.order_executions", partition: 2, offset: 99)
        let raw = CdcRawRow(table: .cdcOrderExecutionsRaw, position: p, op: .create, executionId: 9, orderId: 1001, before: nil,
                            after: #"{"a":"x\"y"}"#, sourceTsMs: 1_700_000_000_000)
        XCTAssertEqual(raw.jsonLine, #"{"topic":"cdc.shop.order_executions","partition":2,"offset":99,"op":"c","execution_id":9,"order_id":1001,"before":null,"after":"{\"a\":\"x\\\"y\"}","source_ts":"2023-11-14 22:13:20.000"}"#)
        var orders = raw
        orders.table = .cdcOrdersRaw
        orders.executionId = nil
        XCTAssertFalse(orders.jsonLine.contains("execution_id"))

        let order = OrderRow(orderId: 1001, customerId: 42, symbol: "005930", side: "BUY", orderType: "LIMIT", quantity: FixedDecimal("10.0000")!,
                             price: FixedDecimal("71500.0000")!, status: "PARTIALLY_FILLED", createdAtMs: 1_700_000_000_123, updatedAtMs: 1_700_000_001_456)
        XCTAssertEqual(OrderCurrentRow(order: order, version: 43, isDeleted: true).jsonLine,
                       #"{"order_id":1001,"customer_id":42,"symbol":"005930","side":"BUY","order_type":"LIMIT","quantity":"10.0000","price":"71500.0000","status":"PARTIALLY_FILLED","created_at":"2023-11-14 22:13:20.123","updated_at":"2023-11-14 22:13:21.456","version":43,"is_deleted":1}"#)
    }

    func testAggregateAndAlertRows() {
        let w = TradeAggregateRow(windowStartMs: 1_700_000_040_000, windowMinutes: 5, symbol: "KRW-BTC", tradeCount: 4,
                                  volume: FixedDecimal("5.0")!, notional: FixedDecimal("502.375")!, vwap: 100.475,
                                  open: FixedDecimal("100.0")!, high: FixedDecimal("101.0")!, low: FixedDecimal("99.75")!,
                                  close: FixedDecimal("99.75")!, buyVolume: FixedDecimal("2.5")!, sellVolume: FixedDecimal("2.5")!, version: 4)
        XCTAssertEqual(w.jsonLine, #"{"window_start":"2023-11-14 22:14:00.000","window_minutes":5,"symbol":"KRW-BTC","trade_count":4,"volume":"5.0","notional":"502.375","vwap":100.475,"open":"100.0","high":"101.0","low":"99.75","close":"99.75","buy_volume":"2.5","sell_volume":"2.5","version":4}"#)
        let a = AlertRow(rule: .volumeSpike, symbol: "S", identity: "x", detectedAtMs: 0, windowStartMs: 0, value: 4.1, threshold: 4,
                         detail: "line\nbreak \"quoted\"")
        XCTAssertEqual(a.jsonLine, #"{"alert_id":"\#(a.alertId)","rule":"volume_spike","symbol":"S","severity":"warning","detected_at":"1970-01-01 00:00:00.000","window_start":"1970-01-01 00:00:00.000","value":4.1,"threshold":4,"direction":"up","detail":"line\nbreak \"quoted\""}"#)
    }

    func testNumbersJSONCannotHoldBecomeZero() {
        var w = JSONWriter()
        w.double(.nan); w.bytes.append(0x20); w.double(.infinity); w.bytes.append(0x20); w.double(1e-7); w.bytes.append(0x20); w.double(-2)
        XCTAssertEqual(String(decoding: w.bytes, as: UTF8.self), "0 0 1e-07 -2")
    }

    /// Every line of a real batch is one JSON object an independent parser accepts, with the
    /// columns of its table.
    func testBatchesEncodeAsJSONEachRowThatParses() throws {
        let engine = ProcessorEngine(config: config())
        var out = OutputBatch()
        for r in ProcessorBenchmark.generate(events: 5_000, config: config(), seed: 5, millisecondsPerEvent: 50) { r.process(with: engine, into: &out) }
        let columns: [ProcessorTable: [String]] = [
            .cdcOrdersRaw: ["topic", "partition", "offset", "op", "order_id", "before", "after", "source_ts"],
            .cdcOrderExecutionsRaw: ["topic", "partition", "offset", "op", "execution_id", "order_id", "before", "after", "source_ts"],
            .ordersCurrent: ["order_id", "customer_id", "symbol", "side", "order_type", "quantity", "price", "status", "created_at", "updated_at", "version", "is_deleted"],
            .trades: ["symbol", "trade_id", "price", "volume", "side", "traded_at", "source", "partition", "offset"],
            .tradeAggregates: ["window_start", "window_minutes", "symbol", "trade_count", "volume", "notional", "vwap", "open", "high", "low", "close", "buy_volume", "sell_volume", "version"],
            .alerts: ["alert_id", "rule", "symbol", "severity", "detected_at", "window_start", "value", "threshold", "direction", "detail"],
            .processorRejects: ["topic", "partition", "offset", "stage", "target_table", "reason", "payload"],
        ]
        let encoded = out.encoded()
        XCTAssertEqual(Set(encoded.map(\.table)), Set(ProcessorTable.allCases).subtracting([.processorRejects]),
                       "the input produces rows for every table (it has no bad records)")
        for (table, rows, body) in encoded {
            let lines = body.split(separator: UInt8(ascii: "\n"))
            XCTAssertEqual(lines.count, rows)
            XCTAssertEqual(body.last, UInt8(ascii: "\n"))
            for line in lines {
                let object = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(line)) as? [String: Any])
                XCTAssertEqual(Set(object.keys), Set(columns[table]!), "\(table)")
            }
        }
    }
}
