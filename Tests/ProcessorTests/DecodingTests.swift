import XCTest
@testable import Processor

/// Debezium MySQL change events as the JSON converter writes them with schemas.enable=false,
/// decimal.handling.mode=string and the default time.precision.mode.
enum Fixtures {
    static let orderAfter = #"{"order_id":1001,"customer_id":42,"symbol":"005930","side":"BUY","order_type":"LIMIT","quantity":"10.0000","price":"71500.0000","status":"NEW","created_at":1700000000123,"updated_at":1700000000123}"#
    static let orderFilled = #"{"order_id":1001,"customer_id":42,"symbol":"005930","side":"BUY","order_type":"LIMIT","quantity":"10.0000","price":"71500.0000","status":"FILLED","created_at":1700000000123,"updated_at":1700000001456}"#

    static func source(table: String = "orders", tsMs: Int64 = 1_700_000_000_000, snapshot: String = "false") -> String {
        #"{"version":"3.0.7.Final","connector":"mysql","name":"cdc","ts_ms":\#(tsMs),"snapshot":"\#(snapshot)","db":"shop","sequence":null,"ts_us":\#(tsMs * 1000),"ts_ns":\#(tsMs * 1_000_000),"table":"\#(table)","server_id":1,"gtid":"0-1-42","file":"mysql-bin.000003","pos":1234,"row":0,"thread":7,"query":null}"#
    }

    static func event(op: String, before: String?, after: String?, table: String = "orders", tsMs: Int64 = 1_700_000_000_000) -> String {
        #"{"before":\#(before ?? "null"),"after":\#(after ?? "null"),"source":\#(source(table: table, tsMs: tsMs, snapshot: op == "r" ? "true" : "false")),"transaction":null,"op":"\#(op)","ts_ms":\#(tsMs + 456),"ts_us":\#((tsMs + 456) * 1000),"ts_ns":\#((tsMs + 456) * 1_000_000)}"#
    }

    static func order(id: Int64, symbol: String = "005930", side: String = "BUY", quantity: String = "10.0000", price: String = "71500.0000",
                      status: String = "NEW", at ms: Int64 = 1_700_000_000_123) -> String {
        #"{"order_id":\#(id),"customer_id":42,"symbol":"\#(symbol)","side":"\#(side)","order_type":"LIMIT","quantity":"\#(quantity)","price":"\#(price)","status":"\#(status)","created_at":\#(ms),"updated_at":\#(ms)}"#
    }

    static let execution = #"{"execution_id":9,"order_id":1001,"symbol":"005930","quantity":"4.0000","price":"71400.0000","executed_at":1700000002000}"#
}

final class DebeziumDecodingTests: XCTestCase {
    let at = RecordPosition(topic: "cdc.shop.orders", partition: 0, offset: 42)

    func order(key: String? = #"{"order_id":1001}"#, value: String?) throws(DecodeError) -> CdcMessage<OrderRow> {
        let k = key.map { Array($0.utf8) }
        let v = value.map { Array($0.utf8) }
        let result = withBytes(k) { kb in withBytes(v) { vb in
            Result { () throws(DecodeError) in try Debezium.decodeOrder(key: kb, value: vb, at: at) }
        } }
        return try result.get()
    }

    func change(_ value: String) throws -> ChangeEvent<OrderRow> {
        guard case .change(let e) = try order(value: value) else {
            XCTFail("expected a change event, got a tombstone: \(value)")
            throw CancellationError()
        }
        return e
    }

    func error(_ value: String?, key: String? = #"{"order_id":1001}"#) -> DecodeError? {
        do {
            _ = try order(key: key, value: value)
            return nil
        } catch {
            return error
        }
    }

    func testCreateDecodesEveryColumn() throws {
        let e = try change(Fixtures.event(op: "c", before: nil, after: Fixtures.orderAfter))
        XCTAssertEqual(e.op, .create)
        XCTAssertNil(e.before)
        XCTAssertNil(e.beforeJSON)
        XCTAssertEqual(e.after, OrderRow(orderId: 1001, customerId: 42, symbol: "005930", side: "BUY", orderType: "LIMIT",
                                         quantity: FixedDecimal("10.0000")!, price: FixedDecimal("71500.0000")!, status: "NEW",
                                         createdAtMs: 1_700_000_000_123, updatedAtMs: 1_700_000_000_123))
        XCTAssertEqual(e.after?.quantity.description, "10.0000", "the DECIMAL(18,4) string keeps its scale")
        XCTAssertEqual(e.afterJSON, Fixtures.orderAfter, "the row image is kept as received for cdc_orders_raw")
        XCTAssertEqual(e.source, SourceInfo(tsMs: 1_700_000_000_000, db: "shop", table: "orders"))
        XCTAssertEqual(e.tsMs, 1_700_000_000_456)
        XCTAssertEqual(e.row.orderId, 1001)
    }

    func testUpdateHasBothImages() throws {
        let e = try change(Fixtures.event(op: "u", before: Fixtures.orderAfter, after: Fixtures.orderFilled))
        XCTAssertEqual(e.op, .update)
        XCTAssertEqual(e.before?.status, "NEW")
        XCTAssertEqual(e.after?.status, "FILLED")
        XCTAssertEqual(e.after?.updatedAtMs, 1_700_000_001_456)
        XCTAssertEqual(e.beforeJSON, Fixtures.orderAfter)
        XCTAssertEqual(e.afterJSON, Fixtures.orderFilled)
        XCTAssertEqual(e.row.status, "FILLED")
        // binlog_row_image=MINIMAL would give no before image: still a valid update.
        XCTAssertNil(try change(Fixtures.event(op: "u", before: nil, after: Fixtures.orderFilled)).before)
    }

    func testDeleteHasOnlyTheBeforeImage() throws {
        let e = try change(Fixtures.event(op: "d", before: Fixtures.orderFilled, after: nil))
        XCTAssertEqual(e.op, .delete)
        XCTAssertNil(e.after)
        XCTAssertNil(e.afterJSON)
        XCTAssertEqual(e.row.status, "FILLED", "a delete is about its before image")
    }

    func testSnapshotRead() throws {
        let e = try change(Fixtures.event(op: "r", before: nil, after: Fixtures.orderAfter))
        XCTAssertEqual(e.op, .read)
        XCTAssertEqual(e.row.orderId, 1001)
    }

    func testTombstonesAreNullValuesWithAKey() throws {
        XCTAssertEqual(try order(value: nil), .tombstone(key: 1001))
        XCTAssertEqual(try order(value: ""), .tombstone(key: 1001), "an empty payload is a null value")
        XCTAssertEqual(try order(value: " null "), .tombstone(key: 1001), "so is the JSON literal null")
        XCTAssertEqual(try order(key: #"{"extra":[1],"order_id":"77"}"#, value: nil), .tombstone(key: 77))
        let noKey = error(nil, key: nil)
        XCTAssertEqual(noKey?.field, "key")
        XCTAssertTrue(noKey?.message.contains("needs a key {\"order_id\":N}") ?? false, "\(String(describing: noKey))")
        XCTAssertEqual(error(nil, key: #"{"id":1}"#)?.field, "key.order_id")
        XCTAssertEqual(error(nil, key: "not json")?.field, "key")
    }

    func testExecutionsDecode() throws {
        let text = Fixtures.event(op: "c", before: nil, after: Fixtures.execution, table: "order_executions")
        let bytes = Array(text.utf8)
        let r = bytes.withUnsafeBytes { v in
            Result { () throws(DecodeError) in
                try Debezium.decodeExecution(key: nil, value: v, at: RecordPosition(topic: "cdc.shop.order_executions", partition: 0, offset: 3))
            }
        }
        guard case .change(let e) = try r.get() else { return XCTFail("expected a change") }
        XCTAssertEqual(e.after, ExecutionRow(executionId: 9, orderId: 1001, symbol: "005930", quantity: FixedDecimal("4")!,
                                             price: FixedDecimal("71400")!, executedAtMs: 1_700_000_002_000))
    }

    func testFieldOrderWhitespaceAndUnknownFieldsDoNotMatter() throws {
        let reordered = """
        {
          "op" : "u",
          "ts_ms" : null,
          "source" : { "table" : "orders", "ts_ms" : 5, "new_field" : {"x":[1,2]} },
          "after" : {"updated_at":2,"created_at":1,"status":"NEW","price":71500,"quantity":"1e1","order_type":"LIMIT",
                     "side":"BUY","symbol":"0059\\u0033\\u0030","customer_id":"42","order_id":1001,"note":"added column"},
          "before" : null,
          "transaction" : {"id":"t1","total_order":1,"data_collection_order":1}
        }
        """
        let e = try change(reordered)
        XCTAssertEqual(e.op, .update)
        XCTAssertNil(e.tsMs)
        XCTAssertEqual(e.after?.symbol, "005930")
        XCTAssertEqual(e.after?.customerId, 42)
        XCTAssertEqual(e.after?.price, FixedDecimal("71500"))
        XCTAssertEqual(e.after?.quantity, FixedDecimal("10"))
        XCTAssertEqual(e.source, SourceInfo(tsMs: 5, db: nil, table: "orders"))
    }

    func testMalformedEventsGiveAClearError() {
        let cases: [(String, String, String)] = [
            ("not json", "value", "expected an object, found 'n'"),
            (#"{"before":null,"after":"#, "value.after", "expected an object, found end of input"),
            (Fixtures.event(op: "c", before: nil, after: Fixtures.orderAfter, table: "order_executions"), "value.source.table",
             "the event is for table 'order_executions', this topic carries 'orders'"),
            (Fixtures.event(op: "t", before: nil, after: nil), "value.op", "unsupported op 't' (expected c, u, d or r)"),
            (Fixtures.event(op: "c", before: nil, after: nil), "value.after", "op 'c' needs an after image"),
            (Fixtures.event(op: "c", before: Fixtures.orderAfter, after: Fixtures.orderAfter), "value.before", "op 'c' must have a null before image"),
            (Fixtures.event(op: "d", before: nil, after: nil), "value.before", "op 'd' needs a before image"),
            (Fixtures.event(op: "d", before: Fixtures.orderAfter, after: Fixtures.orderAfter), "value.after", "op 'd' must have a null after image"),
            (Fixtures.event(op: "c", before: nil, after: Fixtures.orderAfter.replacing(#""price":"71500.0000","#, with: "")), "value.after.price", "required field is missing"),
            (Fixtures.event(op: "c", before: nil, after: Fixtures.orderAfter.replacing(#""71500.0000""#, with: #""71,500""#)), "value.after.price", "expected a decimal number"),
            (Fixtures.event(op: "c", before: nil, after: Fixtures.orderAfter.replacing(#""order_id":1001"#, with: #""order_id":null"#)), "value.after.order_id", "expected a number, found 'n'"),
            (Fixtures.event(op: "c", before: nil, after: Fixtures.orderAfter.replacing("1700000000123,", with: "\"2023-11-14T22:13:20Z\",")), "value.after.created_at", "expected a whole number"),
            (Fixtures.event(op: "c", before: nil, after: "[1]"), "value.after", "expected an object, found '['"),
            (#"{"before":null,"after":\#(Fixtures.orderAfter),"op":"c"}"#, "value.source", "required field is missing"),
            (#"{"before":null,"after":\#(Fixtures.orderAfter),"source":{"table":"orders"},"op":"c"}"#, "value.source.ts_ms", "required field is missing"),
            (#"{"after":\#(Fixtures.orderAfter),"source":\#(Fixtures.source())}"#, "value.op", "required field is missing"),
            (Fixtures.event(op: "c", before: nil, after: Fixtures.orderAfter) + "}", "value", "unexpected '}' after the value"),
        ]
        for (value, field, message) in cases {
            guard let e = error(value) else { XCTFail("no error for \(value)"); continue }
            XCTAssertEqual(e.field, field, "\(e)")
            XCTAssertTrue(e.message.contains(message), "'\(e.message)' lacks '\(message)'")
            XCTAssertEqual(e.position, at)
            XCTAssertTrue(e.description.hasPrefix("cdc.shop.orders[0]@42 \(field): "), e.description)
            XCTAssertEqual(e.cdcError.subject, "cdc.shop.orders[0]@42")
        }
    }
}

final class TradeCodecTests: XCTestCase {
    let line = #"{"symbol":"KRW-BTC","trade_id":"1700000000123000","price":"97000000.0","volume":"0.0123","side":"buy","ts_ms":1700000000123,"source":"upbit"}"#

    func decode(_ text: String) throws(DecodeError) -> TradeEvent {
        try TradeCodec.decode(text, at: RecordPosition(topic: "trades.raw", partition: 2, offset: 9))
    }

    func testDecodesOurFormat() throws {
        let t = try decode(line)
        XCTAssertEqual(t, TradeEvent(symbol: "KRW-BTC", tradeId: "1700000000123000", price: FixedDecimal("97000000.0")!,
                                     volume: FixedDecimal("0.0123")!, side: .buy, tsMs: 1_700_000_000_123, source: "upbit"))
        XCTAssertEqual(t.notional?.description, "1193100.00000")
    }

    func testEncoderRoundTripsAndWritesTheDocumentedLine() throws {
        let t = try decode(line)
        XCTAssertEqual(String(decoding: TradeCodec.encode(t), as: UTF8.self), line)
        let odd = TradeEvent(symbol: "삼성\"전자\\", tradeId: "a\nb\u{1}", price: FixedDecimal("0.00000001")!,
                             volume: FixedDecimal("123456.123456789012")!, side: .sell, tsMs: 1, source: "")
        let text = String(decoding: TradeCodec.encode(odd), as: UTF8.self)
        XCTAssertTrue(text.contains(#""symbol":"삼성\"전자\\""#), text)
        XCTAssertTrue(text.contains(#""trade_id":"a\nb\u0001""#), text)
        XCTAssertEqual(try decode(text), odd)
    }

    func testLenientWhereHarmless() throws {
        let t = try decode(#"{"ts_ms":"1700000000123","side":"SELL","volume":0.5,"price":100,"trade_id":12345,"symbol":"AAPL","extra":{"a":[1]}}"#)
        XCTAssertEqual(t.side, .sell)
        XCTAssertEqual(t.tradeId, "12345", "a numeric id keeps its text")
        XCTAssertEqual(t.price.description, "100")
        XCTAssertEqual(t.volume.description, "0.5")
        XCTAssertEqual(t.source, "", "source is optional")
        XCTAssertEqual(try decode(#"{"symbol":"X","trade_id":"1","price":"1.000000000000","volume":"1","side":"buy","ts_ms":1}"#).price.description,
                       "1", "zeros past the column's 8 decimals are dropped")
    }

    func testMalformedTradesGiveAClearError() {
        let cases: [(String, String, String)] = [
            ("", "value", "a trade needs a value, found a null record"),
            ("  ", "value", "expected an object, found end of input"),
            ("[]", "value", "expected an object, found '['"),
            (line.replacing(#""price":"97000000.0","#, with: ""), "value.price", "required field is missing"),
            (line.replacing(#""buy""#, with: #""hold""#), "value.side", #"expected "buy" or "sell", found "hold""#),
            (line.replacing(#""97000000.0""#, with: #""0""#), "value.price", "must be greater than 0, found 0"),
            (line.replacing(#""0.0123""#, with: #""-1""#), "value.volume", "must be greater than 0"),
            (line.replacing(#""97000000.0""#, with: #""0.000000001""#), "value.price", "0.000000001 does not fit Decimal(20,8)"),
            (line.replacing(#""97000000.0""#, with: #""1234567890123.5""#), "value.price", "does not fit Decimal(20,8)"),
            (line.replacing(#""0.0123""#, with: #""0.0000000000001""#), "value.volume", "does not fit Decimal(28,12)"),
            (line.replacing("1700000000123,", with: "0,"), "value.ts_ms", "expected epoch milliseconds > 0"),
            (line.replacing(#""KRW-BTC""#, with: #""""#), "value.symbol", "must not be empty"),
            (line.replacing(#""KRW-BTC""#, with: "null"), "value.symbol", "expected a string, found 'n'"),
            (line.replacing("}", with: ",}"), "value", "expected a key, found '}'"),
        ]
        for (text, field, message) in cases {
            do {
                _ = try decode(text)
                XCTFail("no error for \(text)")
            } catch {
                XCTAssertEqual(error.field, field, "\(error)")
                XCTAssertTrue(error.message.contains(message), "'\(error.message)' lacks '\(message)'")
                XCTAssertEqual(error.position.description, "trades.raw[2]@9")
            }
        }
        XCTAssertThrowsError(try TradeCodec.decode(nil, at: RecordPosition(topic: "trades.raw", partition: 0, offset: 1))) {
            XCTAssertTrue("\($0)".contains("a trade needs a value"), "\($0)")
        }
    }
}

/// Bytes of an optional array for the duration of `body`.
func withBytes<R>(_ bytes: [UInt8]?, _ body: (UnsafeRawBufferPointer?) -> R) -> R {
    guard let bytes else { return body(nil) }
    return bytes.withUnsafeBytes { body($0) }
}
