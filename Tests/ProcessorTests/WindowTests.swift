import XCTest
@testable import Processor

/// Event-time tumbling windows: 1 minute, watermark = max event time − 5 s, lateness 30 s.
final class WindowTests: XCTestCase {
    func testWindowsAreHalfOpenAndFireWhenTheWatermarkReachesTheirEnd() {
        let h = Harness(config())
        XCTAssertEqual(h.trade("KRW-BTC", "1", "100", "1", at: B).tradeAggregates, [])
        h.trade("KRW-BTC", "2", "100", "1", at: B + 59_999)          // last millisecond of [B, B+60 s)
        h.trade("KRW-BTC", "3", "100", "1", at: B + 60_000)          // first of the next window
        XCTAssertEqual(h.trade("KRW-BTC", "4", "100", "1", at: B + 64_999).tradeAggregates, [], "watermark B+59.999 s < end")
        let fired = h.trade("KRW-BTC", "5", "100", "1", at: B + 65_000).tradeAggregates  // watermark = B+60 s = end
        XCTAssertEqual(fired.map(\.windowStartMs), [B])
        XCTAssertEqual(fired.first?.tradeCount, 2, "only trades 1 and 2 belong to [B, B+60 s)")
        XCTAssertEqual(fired.first?.version, 2)
        XCTAssertEqual(fired.first?.windowMinutes, 1)
        XCTAssertEqual(h.all.trades.count, 5, "every trade is also a row of trades")
        XCTAssertEqual(h.engine.metrics.windowsEmitted, 1)
    }

    func testAggregatesMatchHandComputedValues() throws {
        let h = Harness(config())
        h.trade("KRW-BTC", "1", "100.5", "2", .buy, at: B + 1000)
        h.trade("KRW-BTC", "2", "101.0", "1.5", .sell, at: B + 2000)
        h.trade("KRW-BTC", "3", "99.75", "0.5", .buy, at: B + 3000)
        h.trade("KRW-BTC", "4", "100.0", "1", .sell, at: B + 500)    // out of order, still on time
        let row = try XCTUnwrap(h.trade("OTHER", "9", "1", "1", at: B + 65_000).tradeAggregates.first { $0.symbol == "KRW-BTC" })
        XCTAssertEqual(row.windowStartMs, B)
        XCTAssertEqual(row.tradeCount, 4)
        // volume   = 2 + 1.5 + 0.5 + 1                                = 5.0
        XCTAssertEqual(row.volume.description, "5.0")
        // notional = 100.5×2 + 101.0×1.5 + 99.75×0.5 + 100.0×1
        //          = 201.0 + 151.50 + 49.875 + 100.0                  = 502.375 (scale 3: the largest product scale)
        XCTAssertEqual(row.notional.description, "502.375")
        // vwap     = 502.375 / 5                                      = 100.475
        XCTAssertEqual(row.vwap, 100.475, accuracy: 1e-12)
        // open = the earliest event time (B+0.5 s, trade 4), close = the latest (B+3 s, trade 3)
        XCTAssertEqual(row.open.description, "100.0")
        XCTAssertEqual(row.close.description, "99.75")
        XCTAssertEqual(row.high.description, "101.0")
        XCTAssertEqual(row.low.description, "99.75")
        // buy = 2 + 0.5 = 2.5; sell = 1.5 + 1 = 2.5
        XCTAssertEqual(row.buyVolume.description, "2.5")
        XCTAssertEqual(row.sellVolume.description, "2.5")
        XCTAssertEqual(row.version, 4)
    }

    func testOpenAndCloseTiesAreBrokenByTradeId() throws {
        let h = Harness(config())
        // Two trades share the earliest time and two the latest: the smaller id opens, the
        // larger closes, and ids compare as numbers when they are digits ("9" < "10").
        h.trade("S", "10", "2.0", "1", at: B + 100)
        h.trade("S", "9", "1.0", "1", at: B + 100)
        h.trade("S", "11", "3.0", "1", at: B + 900)
        h.trade("S", "100", "4.0", "1", at: B + 900)
        h.trade("S", "50", "5.0", "1", at: B + 500)
        let row = try XCTUnwrap(h.trade("OTHER", "1", "1", "1", at: B + 65_000).tradeAggregates.first { $0.symbol == "S" })
        XCTAssertEqual(row.open.description, "1.0", "trade 9 precedes trade 10 at B+100 ms")
        XCTAssertEqual(row.close.description, "4.0", "trade 100 follows trade 11 at B+900 ms")
        // The same trades in another order give the same row.
        let h2 = Harness(config())
        for (id, p, t) in [("100", "4.0", B + 900), ("50", "5.0", B + 500), ("11", "3.0", B + 900), ("9", "1.0", B + 100), ("10", "2.0", B + 100)] {
            h2.trade("S", id, p, "1", at: t)
        }
        XCTAssertEqual(h2.trade("OTHER", "1", "1", "1", at: B + 65_000).tradeAggregates.first { $0.symbol == "S" }, row)
    }

    func testLateEventsWithinLatenessReemitTheWindowWithAHigherVersion() throws {
        let h = Harness(config())
        h.trade("S", "1", "10", "1", at: B + 1000)
        h.trade("S", "2", "10", "2", at: B + 2000)
        let first = try XCTUnwrap(h.trade("D", "d1", "1", "1", at: B + 65_000).tradeAggregates.first { $0.symbol == "S" })
        XCTAssertEqual(first.version, 2)
        XCTAssertEqual(first.volume.description, "3")

        // Watermark B+60 s: the window [B, B+60 s) has fired; lateness lasts until B+90 s.
        let again = h.trade("S", "3", "10", "0.5", at: B + 10_000).tradeAggregates
        XCTAssertEqual(again.count, 1, "re-emitted at once")
        XCTAssertEqual(again.first?.version, 3, "a higher version, so ReplacingMergeTree keeps it")
        XCTAssertEqual(again.first?.volume.description, "3.5")
        XCTAssertEqual(h.engine.metrics.lateEventsUpdated, 1)

        // A late trade for a window that had no trades yet is emitted at once too, version 1.
        let fresh = h.trade("NEW", "n1", "5", "1", at: B + 30_000).tradeAggregates
        XCTAssertEqual(fresh.map(\.symbol), ["NEW"])
        XCTAssertEqual(fresh.first?.version, 1)
    }

    func testEventsLaterThanTheAllowedLatenessAreDroppedAndCounted() {
        let h = Harness(config())
        h.trade("S", "1", "10", "1", at: B + 1000)
        h.trade("D", "d1", "1", "1", at: B + 95_000)   // watermark B+90 s = end + lateness: window evicted
        let late = h.trade("S", "2", "10", "1", at: B + 20_000)
        XCTAssertEqual(late.tradeAggregates, [], "no new version of an evicted window")
        XCTAssertEqual(late.trades.count, 1, "the trade itself is still stored")
        XCTAssertEqual(h.engine.metrics.lateEventsDropped, 1)
        XCTAssertEqual(h.all.tradeAggregates.filter { $0.symbol == "S" }.map(\.version), [1])

        // One millisecond less late is still accepted.
        let h2 = Harness(config())
        h2.trade("S", "1", "10", "1", at: B + 1000)
        h2.trade("D", "d1", "1", "1", at: B + 94_999)  // watermark B+89.999 s
        XCTAssertEqual(h2.trade("S", "2", "10", "1", at: B + 20_000).tradeAggregates.map(\.version), [2])
        XCTAssertEqual(h2.engine.metrics.lateEventsDropped, 0)
    }

    func testWatermarksArePerPartition() {
        let h = Harness(config())
        h.trade("A", "1", "10", "1", at: B + 1000, partition: 0)
        // Partition 1 racing ahead does not close partition 0's windows: results must not
        // depend on how the consumer interleaves partitions.
        XCTAssertEqual(h.trade("B", "1", "10", "1", at: B + 600_000, partition: 1).tradeAggregates, [])
        XCTAssertEqual(h.trade("A", "2", "10", "1", at: B + 65_000, partition: 0).tradeAggregates.map(\.symbol), ["A"])
    }

    func testWindowsFiringTogetherComeOutInStartThenSymbolOrder() {
        let h = Harness(config())
        h.trade("ZZ", "1", "1", "1", at: B + 60_500)
        h.trade("AA", "1", "1", "1", at: B + 60_100)
        h.trade("MM", "1", "1", "1", at: B + 1000)
        h.trade("AA", "2", "1", "1", at: B + 2000)
        let fired = h.trade("D", "1", "1", "1", at: B + 600_000).tradeAggregates
        XCTAssertEqual(fired.map { "\($0.windowStartMs - B)/\($0.symbol)" }, ["0/AA", "0/MM", "60000/AA", "60000/ZZ"])
    }
}
