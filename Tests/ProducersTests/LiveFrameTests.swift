import Processor
@testable import Producers
import XCTest

/// Sample frames written from the documented formats (docs.upbit.com websocket-trade; the KIS
/// open-trading-api samples for H0STCNT0). No server here: LiveFeedIntegrationTests has one.
final class LiveFrameTests: XCTestCase {
    func upbit(_ sid: Int, price: String = "97000000.0", volume: String = "0.0123", askBid: String = "BID") -> String {
        """
        {"type":"trade","code":"KRW-BTC","timestamp":1700000000200,"trade_date":"2023-11-14","trade_time":"22:13:20",\
        "trade_timestamp":1700000000123,"trade_price":\(price),"trade_volume":\(volume),"ask_bid":"\(askBid)",\
        "prev_closing_price":96000000.0,"change":"RISE","change_price":1000000.0,"sequential_id":\(sid),"stream_type":"REALTIME"}
        """
    }

    func testUpbitTradesBecomeTradeLinesAndReplayedOnesAreDropped() throws {
        var f = UpbitFrames(dedupCapacity: 3)
        guard case let .trades(one) = f.decode(upbit(17_000_000_001_230_000)) else { return XCTFail() }
        XCTAssertEqual(one, [TradeLine(symbol: "KRW-BTC", tradeId: "17000000001230000", price: "97000000.0", volume: "0.0123",
                                       side: "buy", tsMs: 1_700_000_000_123, source: "upbit")])
        XCTAssertNoThrow(try TradeCodec.decode(one[0].json), "the processor reads it")
        XCTAssertEqual(f.decode(upbit(17_000_000_001_230_000)), .trades([]), "the same sequential_id after a reconnect is dropped")
        // Not ordered: an older id arriving later is still a new trade.
        guard case let .trades(older) = f.decode(upbit(16_999_999_999_000_000, volume: "5.0E-4", askBid: "ASK")) else { return XCTFail() }
        XCTAssertEqual(older.first?.side, "sell", "ASK: the taker sold")
        XCTAssertEqual(older.first?.volume, "0.0005", "exponent notation becomes a plain decimal")
        XCTAssertEqual(f.dedup.duplicates, 1)
        let simple = #"{"ty":"trade","cd":"KRW-ETH","tp":4500000,"tv":1.5,"ab":"ASK","ttms":1700000000999,"sid":42,"st":"SNAPSHOT"}"#
        guard case let .trades(s) = f.decode(simple) else { return XCTFail() }
        XCTAssertEqual(s.first?.symbol, "KRW-ETH")
        XCTAssertEqual(f.decode(#"{"status":"UP"}"#), .control("status UP"))
        XCTAssertEqual(f.decode(#"{"error":{"name":"INVALID_PARAM","message":"bad codes"}}"#), .serverError("INVALID_PARAM: bad codes"))
        if case .malformed = f.decode("{\"type\":\"trade\",\"code\":\"KRW-BTC\"") {} else { XCTFail("truncated frame is malformed") }
        if case .malformed = f.decode(#"{"type":"trade","code":"KRW-BTC","trade_price":1}"#) {} else { XCTFail("missing fields are malformed") }
        XCTAssertEqual(UpbitFrames.subscribe(ticket: "t-1", codes: ["krw-btc"]),
                       #"[{"ticket":"t-1"},{"type":"trade","codes":["KRW-BTC"],"is_only_realtime":true},{"format":"DEFAULT"}]"#)
    }

    func kisRecord(_ ticker: String, time: String, price: String, volume: String, cumulative: String, side: String = "1") -> [String] {
        var f = Array(repeating: "0", count: 46)
        f[0] = ticker; f[1] = time; f[2] = price; f[12] = volume; f[13] = cumulative; f[21] = side; f[33] = "20261130"
        return f
    }

    func testKISFramesCarrySeveralRecordsAndGetAStableDedupKey() throws {
        var k = KISFrames()
        let a = kisRecord("005930", time: "090001", price: "71000", volume: "10", cumulative: "1010")
        let b = kisRecord("005930", time: "090001", price: "71100", volume: "5", cumulative: "1015", side: "5")
        let frame = "0|H0STCNT0|002|" + (a + b).joined(separator: "^")
        guard case let .trades(t) = k.decode(frame) else { return XCTFail() }
        XCTAssertEqual(t.count, 2, "NNN records in one frame")
        XCTAssertEqual(t[0].tradeId, "20261130-005930-090001-1010")
        XCTAssertEqual(t[1].side, "sell")
        XCTAssertEqual(t[0].tsMs, 1_795_996_801_000, "2026-11-30 09:00:01 KST = 00:00:01 UTC")
        for line in t { XCTAssertNoThrow(try TradeCodec.decode(line.json)) }
        XCTAssertEqual(k.decode(frame), .trades([]), "the same frame again: both records dropped")
        if case .malformed = k.decode("0|H0STCNT0|002|" + a.joined(separator: "^")) {} else { XCTFail("a short frame is malformed") }
        if case .malformed = k.decode("1|H0STCNT0|001|" + a.joined(separator: "^")) {} else { XCTFail("encrypted is not expected") }
        let ping = #"{"header":{"tr_id":"PINGPONG","datetime":"20261130090000"}}"#
        XCTAssertEqual(k.decode(ping), .reply(ping), "PINGPONG is answered with itself")
        XCTAssertEqual(k.decode(#"{"header":{"tr_id":"H0STCNT0","tr_key":"005930","encrypt":"N"},"body":{"rt_cd":"1","msg_cd":"OPSP0011","msg1":"invalid approval"}}"#),
                       .serverError("OPSP0011: invalid approval"))
        XCTAssertTrue(KISFrames.inSession(kstSecondOfDay: 9 * 3600))
        XCTAssertFalse(KISFrames.inSession(kstSecondOfDay: 15 * 3600 + 30 * 60))
    }

    func testDedupWindowIsBounded() {
        var d = DedupWindow(capacity: 2)
        XCTAssertTrue(d.admit("a")); XCTAssertTrue(d.admit("b")); XCTAssertFalse(d.admit("a"))
        XCTAssertTrue(d.admit("c"), "evicts a")
        XCTAssertTrue(d.admit("a"), "a was forgotten: the window holds the last 2")
    }

    func testReplayReadsRecordedRawFramesWithTheLiveDedup() throws {
        let a = kisRecord("005930", time: "090001", price: "71000", volume: "10", cumulative: "1010")
        let kis = "0|H0STCNT0|001|" + a.joined(separator: "^")
        let recorded = [upbit(1), upbit(2), upbit(1), kis, #"{"header":{"tr_id":"PINGPONG"}}"#, kis, #"{"status":"UP"}"#].joined(separator: "\n")
        let trades = try ReplayTrades.load(text: recorded, path: "rec")
        XCTAssertEqual(trades.map(\.tradeId), ["1", "2", "20261130-005930-090001-1010"], "repeats dropped, control frames skipped")
        XCTAssertEqual(trades.map(\.source), ["upbit", "upbit", "kis"])
        XCTAssertThrowsError(try ReplayTrades.load(text: recorded + "\n0|H0STCNT0|002|1^2", path: "rec")) { e in
            XCTAssertEqual((e as? ReplayFileError)?.line, 8)
        }
    }
}
