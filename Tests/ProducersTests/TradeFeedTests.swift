import Polling
import Processor
@testable import Producers
import XCTest

/// A sink in memory: what was sent, and deliveries that fail on cue.
final class MemoryTrades: TradeSink {
    var sent: [TradeLine] = []
    var failEvery: Int?
    var flushed = false
    func send(_ trade: TradeLine) throws { sent.append(trade) }
    func poll() {}
    func flush(timeoutMs: Int32) throws { flushed = true }
    var failed: Int { failEvery.map { sent.count / $0 } ?? 0 }
    var acknowledged: Int { sent.count - failed }
    var firstError: String? { failed > 0 ? "Broker: Not enough in-sync replicas" : nil }
}

final class TradeFeedTests: XCTestCase {
    func testTradeLinesAreWhatTheProcessorsCodecReads() throws {
        let line = TradeLine(symbol: "KRW-BTC", tradeId: "syn-1-0", price: "97000000.50", volume: "0.01230000", side: "sell",
                             tsMs: 1_700_000_000_123, source: "synthetic")
        let e = try TradeCodec.decode(line.json)
        XCTAssertEqual(e.symbol, "KRW-BTC")
        XCTAssertEqual(e.tradeId, "syn-1-0")
        XCTAssertEqual("\(e.price)", "97000000.50")
        XCTAssertEqual(e.side, .sell)
        XCTAssertEqual(e.tsMs, 1_700_000_000_123)
        XCTAssertEqual(try TradeLine.parse(line.json), line)
        let odd = TradeLine(symbol: "A\"B\\C", tradeId: "x", price: "1", volume: "1", side: "buy", tsMs: 1, source: "s")
        XCTAssertEqual(try TradeCodec.decode(odd.json).symbol, "A\"B\\C", "quotes and backslashes escaped")
    }

    func testSyntheticIsSeededAndEveryTradeDecodes() throws {
        func run(_ seed: UInt64) -> [TradeLine] {
            var g = SyntheticTrades(symbols: ["KRW-BTC", "KRW-ETH"], seed: seed, startMs: 1_000, stepMs: 100)
            return (0..<500).map { _ in g.next() }
        }
        let a = run(9)
        XCTAssertEqual(a, run(9))
        XCTAssertNotEqual(a, run(10))
        XCTAssertEqual(Set(a.map(\.tradeId)).count, 500)
        XCTAssertEqual(a.map(\.tsMs), (0..<500).map { 1_000 + Int64($0) * 100 }, "event time strictly increasing")
        for t in a { XCTAssertNoThrow(try TradeCodec.decode(t.json)) }
        XCTAssertGreaterThan(Set(a.filter { $0.symbol == "KRW-BTC" }.map(\.price)).count, 200, "prices walk")
    }

    func testInjectedAnomaliesSitOnTheFirstSymbolAfterTheWarmUp() {
        let plan = InjectedAnomalies.schedule(symbols: 3, priceWindow: 100, volumeWindows: 3, windowMs: 60_000, stepMs: 100)
        XCTAssertEqual(plan.priceJumpAt, 330, "after 110 trades of each symbol: a full price ring")
        XCTAssertEqual(plan.volumeBurst?.lowerBound, 3000, "after 5 windows of volume history")
        var g = SyntheticTrades(symbols: ["KRW-BTC", "KRW-ETH", "KRW-XRP"], seed: 1, startMs: 0, stepMs: 100, anomalies: plan)
        let trades = (0..<3200).map { _ in g.next() }
        let btc = trades.enumerated().filter { $0.element.symbol == "KRW-BTC" }
        let before = Double(btc.last { $0.offset < 330 }!.element.price)!
        let jumped = Double(trades[330].price)!
        XCTAssertEqual(trades[330].symbol, "KRW-BTC")
        XCTAssertGreaterThan(jumped / before, 1.04, "a 5 % jump")
        let burst = btc.filter { plan.volumeBurst!.contains($0.offset) }.map { Double($0.element.volume)! }
        let normal = btc.filter { $0.offset < 3000 }.map { Double($0.element.volume)! }
        XCTAssertGreaterThan(burst.reduce(0, +), 5 * normal.suffix(200).reduce(0, +), "one window's burst outweighs 5 normal windows")
    }

    func testReplayKeepsThePaceLoopsWithNewIdsAndRefusesBadLines() throws {
        let text = (0..<3).map { TradeLine(symbol: "KRW-BTC", tradeId: "t\($0)", price: "1.5", volume: "2", side: "buy",
                                           tsMs: 10_000 + Int64($0) * 500, source: "upbit").json }.joined(separator: "\n") + "\n\n"
        let trades = try ReplayTrades.load(text: text, path: "f")
        XCTAssertEqual(trades.count, 3)
        var r = ReplayTrades(trades: trades, speed: 2, loop: true)
        let seven = (0..<7).compactMap { _ in r.next() }
        XCTAssertEqual(seven.map(\.1), [0, 0.25, 0.5, 0.5005, 0.7505, 1.0005, 1.001], "half the recorded gaps at ×2; each pass follows the last")
        XCTAssertEqual(seven.map(\.0.tradeId), ["t0", "t1", "t2", "t0#2", "t1#2", "t2#2", "t0#3"])
        XCTAssertEqual(seven[3].0.tsMs, 10_000 + 1_001, "event time moved past the first pass")
        var once = ReplayTrades(trades: trades, speed: 0, loop: false)
        XCTAssertEqual((0..<5).compactMap { _ in once.next() }.map { $0.1 == nil }, [true, true, true], "as fast as possible, then the end")
        XCTAssertThrowsError(try ReplayTrades.load(text: text + "{\"symbol\":\"x\"}\n", path: "f")) { e in
            XCTAssertEqual((e as? ReplayFileError)?.line, 5, "the line that is wrong, counting blank ones")
        }
    }

    func testRunnerPacesReportsFailedDeliveriesAndFlushesOnStop() throws {
        let clock = FakeClock()
        let sink = MemoryTrades()
        sink.failEvery = 100
        var g = SyntheticTrades(symbols: ["KRW-BTC"], seed: 1, startMs: 0, stepMs: 10)
        var schedule = SyntheticSchedule(rate: 100, pattern: .constant)
        let runner = TradeRunner(clock: clock, durationSeconds: 10)
        let s = try runner.run(into: sink) { (g.next(), schedule.nextAt()) }
        XCTAssertEqual(s.endedBy, "duration")
        XCTAssertEqual(Double(s.queued), 1000, accuracy: 2, "100/s for 10 s")
        XCTAssertEqual(s.failed, s.queued / 100, "failed deliveries are counted")
        XCTAssertEqual(s.acknowledged + s.failed, s.queued)
        XCTAssertTrue(sink.flushed)

        let stopping = MemoryTrades()
        var stopAfter = 50
        var h = SyntheticTrades(symbols: ["KRW-BTC"], seed: 1, startMs: 0, stepMs: 10)
        let s2 = try TradeRunner(clock: FakeClock(), shouldStop: { stopAfter -= 1; return stopAfter < 0 }).run(into: stopping) { (h.next(), nil) }
        XCTAssertEqual(s2.endedBy, "signal")
        XCTAssertTrue(stopping.flushed, "SIGTERM flushes what is queued")
        XCTAssertEqual(s2.acknowledged, stopping.sent.count)

        var burst = SyntheticSchedule(rate: 100, pattern: RatePattern.named("burst", offHours: 0)!)
        var times: [Double] = []
        while let t = burst.nextAt(), t < 60 { times.append(t) }
        XCTAssertEqual(Double(times.filter { $0 < 10 }.count), 1000, accuracy: 2, "full rate in the burst")
        XCTAssertEqual(Double(times.filter { $0 >= 10 }.count), 500, accuracy: 2, "a tenth of it for the rest of the minute")
    }

    /// A counted run sent faster than its event time ends at now: no trade lies in the future,
    /// where the processor would quarantine it (processor.maxFutureSkewSeconds).
    func testAFastCountedRunEndsAtNowNotInTheFuture() {
        XCTAssertEqual(SyntheticTrades.startMs(now: 1_000_000, count: 4800, stepMs: 100, paced: false), 520_000)
        XCTAssertEqual(SyntheticTrades.startMs(now: 1_000_000, count: 4800, stepMs: 100, paced: true), 1_000_000, "paced: event time is wall time")
        XCTAssertEqual(SyntheticTrades.startMs(now: 1_000_000, count: nil, stepMs: 100, paced: false), 1_000_000)
    }
}

