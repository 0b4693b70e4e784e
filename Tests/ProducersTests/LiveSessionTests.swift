@testable import LiveFeed
import Polling
@testable import Producers
import XCTest

/// The pure half of the live feeds around the framing: counting, reconnect schedule, KIS approval,
/// recordings, /metrics text, and the runner's wait for a feed that has nothing yet.
final class LiveSessionTests: XCTestCase {
    func testReconnectDelaysGrowWithJitterStayWithinLimitsAndResetAfterFrames() {
        var p = ReconnectPolicy(backoff: Backoff(initial: 1, factor: 2, maximum: 8), minimum: 0.25, rateLimitedMinimum: 10)
        // random 1 → the full delay; random 0 → half of it (equal jitter).
        XCTAssertEqual(p.delay(rateLimited: false, random: 1), 1)
        XCTAssertEqual(p.delay(rateLimited: false, random: 0), 1, "second failure: 2 s, half of it with no jitter")
        XCTAssertEqual(p.delay(rateLimited: false, random: 0.5), 3, "third: 4 s → 2 + 2 × 0.5")
        XCTAssertEqual(p.delay(rateLimited: false, random: 1), 8)
        XCTAssertEqual(p.delay(rateLimited: false, random: 1), 8, "capped at the maximum")
        XCTAssertEqual(p.delay(rateLimited: true, random: 0), 10, "a 429 waits at least rateLimitedMinimum (Upbit's limits)")
        p.succeeded()
        XCTAssertEqual(p.failures, 0)
        XCTAssertEqual(p.delay(rateLimited: false, random: 1), 1, "a connection that delivered frames starts the schedule over")
        var fast = ReconnectPolicy(backoff: Backoff(initial: 0.01, factor: 2, maximum: 0.01), minimum: 0.25)
        XCTAssertEqual(fast.delay(rateLimited: false, random: 0), 0.25, "never more than 4 connections a second")
    }

    func testFrameHandlerCountsTradesDuplicatesMalformedAndAnswersPingPong() {
        var c = LiveFeedCounters()
        var upbit = LiveFrameHandler(kind: .upbit)
        let trade = #"{"type":"trade","code":"KRW-BTC","trade_timestamp":1700000000123,"trade_price":97000000.0,"trade_volume":0.01,"ask_bid":"BID","sequential_id":7}"#
        XCTAssertEqual(upbit.handle(trade, counters: &c).trades.count, 1)
        XCTAssertEqual(upbit.handle(trade, counters: &c).trades.count, 0, "the same sequential_id again")
        XCTAssertEqual(upbit.handle(#"{"type":"trade","code":"#, counters: &c).refused, "malformed frame: not a JSON object")
        _ = upbit.handle(#"{"status":"UP"}"#, counters: &c)
        _ = upbit.handle(#"{"error":{"name":"TOO_MANY","message":"slow down"}}"#, counters: &c)
        XCTAssertEqual(c.frames, 5)
        XCTAssertEqual(c.trades, 1)
        XCTAssertEqual(c.duplicates, 1)
        XCTAssertEqual(c.malformed, 1)
        XCTAssertEqual(c.control, 1)
        XCTAssertEqual(c.serverErrors, 1)
        XCTAssertEqual(c.lastError, "server: TOO_MANY: slow down")

        var k = LiveFrameHandler(kind: .kis)
        let ping = #"{"header":{"tr_id":"PINGPONG","datetime":"20261130090000"}}"#
        let (t, reply, refused) = k.handle(ping, counters: &c)
        XCTAssertNil(refused)
        XCTAssertTrue(t.isEmpty)
        XCTAssertEqual(reply, ping, "PINGPONG echoed")
        XCTAssertEqual(c.pingPongs, 1)
    }

    func testKISApprovalRequestAndAnswer() throws {
        let body = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(KISApproval.body(appKey: "k\"1", appSecret: "s")) ) as? [String: String])
        XCTAssertEqual(body, ["grant_type": "client_credentials", "appkey": "k\"1", "secretkey": "s"])
        XCTAssertEqual(KISApproval.key(from: #"{"approval_key":"abc-123"}"#), "abc-123")
        XCTAssertNil(KISApproval.key(from: #"{"error_code":"EGW00105"}"#))
        XCTAssertEqual(KISApproval.minutesUntilSession(kstSecondOfDay: 10 * 3600), 0, "inside the session")
        XCTAssertEqual(KISApproval.minutesUntilSession(kstSecondOfDay: 8 * 3600 + 30 * 60), 30)
        XCTAssertEqual(KISApproval.minutesUntilSession(kstSecondOfDay: 16 * 3600), 17 * 60, "after the close: until 09:00 tomorrow")
    }

    func testRecordedFramesAreOneLineEach() throws {
        XCTAssertEqual(FrameRecording.line(#"{"a":1}"#), "{\"a\":1}\n")
        XCTAssertEqual(FrameRecording.line("{\"a\":\n1}"), "{\"a\": 1}\n", "a frame's own newline cannot split it")
        let kept = FrameRecording.line("{\"type\":\"trade\"", refused: "malformed frame: not a JSON object")
        XCTAssertEqual(kept, "# malformed frame: not a JSON object: {\"type\":\"trade\"\n", "a refused frame is kept as a comment")
        XCTAssertEqual(try ReplayTrades.load(text: kept, path: "rec"), [], "which replay skips")
    }

    func testMetricsTextNamesEveryCounter() {
        var s = TradeRunSummary()
        s.queued = 10; s.acknowledged = 9; s.failed = 1
        var c = LiveFeedCounters()
        c.reconnects = 2; c.duplicates = 3; c.malformed = 1
        let text = ProducerMetrics.text(source: "upbit", summary: s, live: c)
        for line in ["cdcctl_producer_written_total{producer=\"trades\",source=\"upbit\"} 10",
                     "cdcctl_producer_committed_total{producer=\"trades\",source=\"upbit\"} 9",
                     "cdcctl_producer_failed_total{producer=\"trades\",source=\"upbit\"} 1",
                     "cdcctl_producer_reconnects_total{producer=\"trades\",source=\"upbit\"} 2",
                     "cdcctl_producer_duplicates_total{producer=\"trades\",source=\"upbit\"} 3",
                     "cdcctl_producer_malformed_total{producer=\"trades\",source=\"upbit\"} 1"] {
            XCTAssertTrue(text.contains(line + "\n"), line)
        }
        XCTAssertFalse(ProducerMetrics.text(source: "replay", summary: s, live: nil).contains("reconnects"), "no feed counters without a feed")
        var o = OrderRunSummary()
        o.attempted = 5; o.committed = 3; o.failed = 1; o.indeterminate = 1
        let orders = ProducerMetrics.text(orders: o)
        for line in ["cdcctl_producer_written_total{producer=\"orders\"} 5", "cdcctl_producer_committed_total{producer=\"orders\"} 3",
                     "cdcctl_producer_failed_total{producer=\"orders\"} 2"] {
            XCTAssertTrue(orders.contains(line + "\n"), line)
        }
    }

    func testWebSocketURLsAreParsedAndAnOriginHeaderIsRefused() async throws {
        XCTAssertEqual(WebSocketClient.parse("wss://api.upbit.com/websocket/v1"), .init(tls: true, host: "api.upbit.com", port: 443, path: "/websocket/v1"))
        XCTAssertEqual(WebSocketClient.parse("ws://ops.koreainvestment.com:21000"), .init(tls: false, host: "ops.koreainvestment.com", port: 21000, path: "/"))
        XCTAssertNil(WebSocketClient.parse("https://api.upbit.com"))
        do {
            _ = try await WebSocketClient.connect(WebSocketOptions(url: "ws://127.0.0.1:9", headers: [("Origin", "x")])) { _ in 0 }
            XCTFail("an Origin header must be refused before connecting")
        } catch let f as WebSocketFailure {
            XCTAssertFalse(f.isTransient)
        }
        XCTAssertTrue(WebSocketFailure.upgradeRefused(status: 429).isTransient)
        XCTAssertFalse(WebSocketFailure.upgradeRefused(status: 404).isTransient)
        XCTAssertFalse(WebSocketFailure.tls("unknown CA").isTransient, "an untrusted certificate is not retried")
    }

    /// A live source with nothing yet: the runner keeps serving delivery reports and ends by duration.
    func testRunnerWaitsOnAnIdleFeedAndEndsByDuration() throws {
        final class Sink: TradeSink {
            var sent: [TradeLine] = []
            var polls = 0
            func send(_ trade: TradeLine) throws { sent.append(trade) }
            func poll() { polls += 1 }
            func flush(timeoutMs: Int32) throws {}
            var acknowledged: Int { sent.count }
            var failed: Int { 0 }
            var firstError: String? { nil }
        }
        final class FakeClock: Clock, @unchecked Sendable {
            var t = 0.0
            func now() -> Double { t }
            func sleep(_ seconds: Double) { t += seconds }
        }
        let clock = FakeClock()
        let sink = Sink()
        var pulls = 0
        let trade = TradeLine(symbol: "KRW-BTC", tradeId: "1", price: "1", volume: "1", side: "buy", tsMs: 1, source: "upbit")
        let s = try TradeRunner(clock: clock, durationSeconds: 2).run(into: sink, pull: {
            pulls += 1
            clock.t += 0.05
            return pulls == 3 ? .trade(trade, at: nil) : .wait
        })
        XCTAssertEqual(s.endedBy, "duration")
        XCTAssertEqual(sink.sent, [trade])
        XCTAssertGreaterThan(sink.polls, 30, "delivery reports served while waiting")
    }
}
