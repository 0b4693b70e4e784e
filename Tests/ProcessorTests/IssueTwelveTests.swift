import XCTest
@testable import Processor

/// The engine's part of issue 12: bounded input, quarantine instead of a stopped pipeline,
/// idle and clock-skewed partitions, and rules exactly as docs/processor.md states them.
/// Each test fails on the code before the fix.
final class IssueTwelveTests: XCTestCase {
    // MARK: 5 / 13: what the columns cannot hold is quarantined, never sent to fail a batch

    func testATradeWhoseNotionalCannotBeStoredIsKeptInTradesButLeftOutOfItsWindow() throws {
        let h = Harness(config())
        h.trade("S", "a", "10", "1", at: B + 1_000)
        // Both fit their `trades` columns (Decimal(20,8), Decimal(28,12)); the product 1e26 does
        // not fit trade_aggregates.notional Decimal(38,20): ClickHouse answered Code 69 and the
        // flush retried forever.
        let poison = h.trade("S", "p", "100000000000", "1000000000000000", at: B + 2_000)
        XCTAssertEqual(poison.trades.map(\.tradeId), ["p"], "still a row of trades")
        XCTAssertEqual(poison.rejects.map(\.stage), [.aggregate])
        XCTAssertEqual(poison.rejects.first?.position, RecordPosition(topic: "trades.raw", partition: 0, offset: 1))
        XCTAssertTrue(poison.rejects.first?.payload.contains("\"trade_id\":\"p\"") ?? false)
        XCTAssertEqual(h.engine.metrics.aggregateOverflows, 1)
        h.trade("S", "b", "10", "2", at: B + 3_000)
        h.trade("D", "close", "1", "1", at: B + 70_000)
        let window = try XCTUnwrap(h.all.tradeAggregates.first { $0.symbol == "S" })
        XCTAssertEqual(window.tradeCount, 2)
        XCTAssertEqual(window.notional, FixedDecimal("30"))
    }

    func testATradeWhoseProductOverflows38DigitsIsStillATradeCountedInAggregateOverflows() {
        let h = Harness(config())
        // 21 + 28 = 49 digits: no Int128 holds the product. Before: a decode error, missing from trades.
        let out = h.trade("S", "x", "999999999999.99999999", "9999999999999999.999999999999", at: B + 1_000)
        XCTAssertEqual(out.trades.count, 1)
        XCTAssertEqual(h.engine.metrics.malformed, 0)
        XCTAssertEqual(h.engine.metrics.aggregateOverflows, 1)
        XCTAssertEqual(out.rejects.map(\.stage), [.aggregate])
    }

    func testWindowSumsThatWouldNotFitTheirColumnsAreRefused() {
        let h = Harness(config())
        // 9e17 each: one fits notional's 18 integer digits, two (1.8e18) do not.
        h.trade("S", "a", "900000000", "1000000000", at: B + 1_000)
        let second = h.trade("S", "b", "900000000", "1000000000", at: B + 2_000)
        XCTAssertEqual(second.rejects.map(\.stage), [.aggregate])
        h.trade("D", "close", "1", "1", at: B + 70_000)
        XCTAssertEqual(h.all.tradeAggregates.first { $0.symbol == "S" }?.tradeCount, 1)
    }

    func testOrderAmountsAndIdsMustFitTheirColumns() {
        let h = Harness(config())
        let big = h.record("cdc.shop.orders", key: #"{"order_id":1}"#,
                           value: Fixtures.event(op: "c", before: nil, after: Fixtures.order(id: 1, quantity: "123456789012345.0")),
                           expectError: true)
        XCTAssertEqual(big.ordersCurrent, [], "quantity does not fit Decimal(18,4): it would fail the whole insert")
        XCTAssertEqual(big.rejects.map(\.stage), [.decode])
        XCTAssertTrue(big.rejects.first?.reason.contains("Decimal(18,4)") ?? false, big.rejects.first?.reason ?? "")
        let negative = h.record("cdc.shop.orders", key: #"{"order_id":-1}"#,
                                value: Fixtures.event(op: "c", before: nil, after: Fixtures.order(id: -1)), expectError: true)
        XCTAssertEqual(negative.rejects.count, 1, "order_id is a UInt64 column")
        XCTAssertEqual(h.engine.metrics.malformed, 2)
        // The pipeline goes on: the next good record is applied.
        XCTAssertEqual(h.order("c", after: Fixtures.order(id: 2), id: 2).ordersCurrent.count, 1)
    }

    func testMalformedRecordsAreQuarantinedWithTheirPayload() {
        let h = Harness(config())
        let out = h.record("trades.raw", key: "S", value: #"{"symbol":"S"}"#, expectError: true)
        XCTAssertEqual(out.rejects.count, 1)
        XCTAssertEqual(out.rejects.first?.payload, #"{"symbol":"S"}"#)
        XCTAssertEqual(out.rejects.first?.stage, .decode)
        XCTAssertTrue(out.encoded().contains { $0.table == .processorRejects })
    }

    // MARK: 6: notional keeps all 20 decimals

    func testNotionalKeepsItsFullScale() throws {
        let h = Harness(config())
        h.trade("S", "a", "0.00000001", "0.000000000001", at: B + 1_000)
        h.trade("D", "close", "1", "1", at: B + 70_000)
        let row = try XCTUnwrap(h.all.tradeAggregates.first { $0.symbol == "S" })
        XCTAssertTrue(row.jsonLine.contains(#""notional":"0.00000000000000000001""#), row.jsonLine)
    }

    // MARK: 7: idle partitions

    func testOpenWindowsAreWrittenAtAStopAndLaterEmissionsSupersedeThem() throws {
        let h = Harness(config())
        h.trade("S", "a", "10", "1", at: B + 1_000)
        h.trade("S", "b", "10", "2", at: B + 61_000)   // window 0 fires when watermark ≥ B+60 s: not yet (delay 5 s)
        XCTAssertEqual(h.all.tradeAggregates, [], "the last windows of a quiet partition stay open")
        let stop = h.emitOpenWindows()
        XCTAssertEqual(stop.tradeAggregates.map(\.windowStartMs), [B, B + 60_000])
        XCTAssertEqual(h.engine.metrics.idleWindowsEmitted, 2)
        XCTAssertEqual(h.emitOpenWindows().tradeAggregates, [], "nothing new: nothing written twice")
        // Trades resume: a trade for window 1 is not late (the watermark did not move) and
        // re-emits it with a higher version; window 0 fires without writing the same row again.
        let more = h.trade("S", "c", "10", "4", at: B + 66_000)
        XCTAssertEqual(more.tradeAggregates, [], "window 0 was already written with this version")
        XCTAssertEqual(h.engine.metrics.lateEventsDropped, 0)
        h.trade("S", "d", "10", "1", at: B + 130_000)
        let w1 = h.all.tradeAggregates.filter { $0.windowStartMs == B + 60_000 }
        XCTAssertEqual(w1.map(\.version), [1, 2])
        XCTAssertEqual(w1.last?.volume, FixedDecimal("6"))
    }

    func testTheIdleRuleWritesOnlyWindowsEndingBeforeTheAdvancedWatermark() {
        let h = Harness(config())
        h.trade("S", "a", "10", "1", at: B + 1_000)
        h.trade("S", "b", "10", "2", at: B + 61_000)
        // Event time presumed to go on with processing time: 10 s idle → watermark B+66 s.
        XCTAssertEqual(h.emitOpenWindows(partition: 0, upTo: B + 66_000).tradeAggregates.map(\.windowStartMs), [B])
        XCTAssertEqual(h.emitOpenWindows(partition: 1, upTo: .max).tradeAggregates, [], "another partition")
    }

    // MARK: 8: one future timestamp must not poison a partition

    func testATradeFarAheadOfItsKafkaTimestampIsQuarantined() {
        let h = Harness(config())
        let now = B + 1_000
        h.trade("S", "a", "10", "1", at: B + 1_000, ingestedAt: now)
        let glitch = h.trade("S", "future", "10", "1", at: B + 86_400_000, ingestedAt: now + 10)
        XCTAssertEqual(glitch.trades, [], "not a trade of tomorrow")
        XCTAssertEqual(glitch.rejects.map(\.stage), [.future])
        XCTAssertEqual(h.engine.metrics.futureEventsRejected, 1)
        for i in 0..<10 { h.trade("S", "t\(i)", "10", "1", at: B + 2_000 + Int64(i) * 1000, ingestedAt: now + 2_000 + Int64(i) * 1000) }
        XCTAssertEqual(h.engine.metrics.lateEventsDropped, 0, "later trades are not 'too late'")
        h.trade("D", "close", "1", "1", at: B + 70_000, ingestedAt: B + 70_000)
        XCTAssertEqual(h.all.tradeAggregates.first { $0.symbol == "S" }?.tradeCount, 11)
    }

    func testAMarketReopeningAfterANightIsNotAGlitch() {
        let h = Harness(config())
        h.trade("S", "close", "10", "1", at: B + 1_000, ingestedAt: B + 1_000)
        // 17.5 hours later by event time, and by the Kafka timestamp too: not ahead of anything.
        let open = B + 63_000_000
        XCTAssertEqual(h.trade("S", "open", "10", "1", at: open, ingestedAt: open + 50).rejects, [])
        XCTAssertEqual(h.trade("S", "skewed", "10", "1", at: open + 299_000, ingestedAt: open + 100).rejects, [], "within 300 s")
        XCTAssertEqual(h.trade("S", "glitch", "10", "1", at: open + 301_000, ingestedAt: open + 100).rejects.map(\.stage), [.future])
    }

    // MARK: 9: the price baseline restarts after a quiet partition

    func testPriceBaselineStartsAfreshAfterTheWholePartitionWasQuiet() {
        // priceHistory 1 h, as in the report: 150 trades near 100, two quiet hours, then 103.
        let h = Harness(config(priceWindow: 100, priceHistoryMs: 3_600_000))
        for i in 0..<150 { h.trade("S", "a\(i)", i % 2 == 0 ? "100.01" : "99.99", "1", at: B + Int64(i) * 1000) }
        let back = B + 150_000 + 2 * 3_600_000
        var alerts: [AlertRow] = []
        for i in 0..<120 { alerts += h.trade("S", "b\(i)", i % 2 == 0 ? "103.01" : "102.99", "1", at: back + Int64(i) * 1000).alerts }
        XCTAssertEqual(alerts.filter { $0.rule == .priceZScore }, [], "the market before the gap is not a baseline")
    }

    // MARK: 10: the volume baseline is the symbol's own

    func testANewSymbolWarmsUpOnItsOwnBaseline() {
        let h = Harness(config())   // volumeWindows 3, factor 2, 1-minute windows
        for k in 0..<13 {
            let start = B + Int64(k) * 60_000
            h.trade("OLD", "o\(k)", "10", "1", at: start + 1_000)
            if k == 6 { h.trade("NEW", "n\(k)", "10", "1", at: start + 2_000) }
            if k == 7 { h.trade("NEW", "n\(k)", "10", "10", at: start + 2_000) }   // 10 > 2 × (0+0+1)/3: an empty baseline
            if k == 10 { h.trade("NEW", "n\(k)", "10", "10", at: start + 2_000) }  // baseline 7, 8, 9 = 10, 0, 0: its own
        }
        let alerts = h.all.alerts.filter { $0.rule == .volumeSpike && $0.symbol == "NEW" }
        XCTAssertEqual(alerts.map(\.windowStartMs), [B + 600_000], "no alert before NEW had 3 windows of its own")
        XCTAssertEqual(alerts.first?.value ?? 0, 10, accuracy: 1e-12)
    }

    func testAResumedSymbolWarmsUpAgain() {
        // S trades in windows 1-3, is quiet for 3 windows (a whole baseline), comes back in 7.
        // Window 8's baseline 5, 6, 7 = 0, 0, 5 (mean 1.67) is not a market: before, 5 > 2 × 1.67 alerted.
        // (An all-zero baseline cannot happen for a warmed-up symbol: it means the symbol resumed.)
        let h = Harness(config())
        for k in 0..<11 {
            let start = B + Int64(k) * 60_000
            h.trade("D", "d\(k)", "1", "1", at: start + 1_000)
            if (1...3).contains(k) { h.trade("S", "s\(k)", "10", "1", at: start + 2_000) }
            if k == 7 || k == 8 { h.trade("S", "s\(k)", "10", "5", at: start + 2_000) }
        }
        XCTAssertGreaterThanOrEqual(h.all.tradeAggregates.filter { $0.symbol == "S" }.count, 5, "windows 1-3, 7, 8 fired")
        XCTAssertEqual(h.all.alerts.filter { $0.rule == .volumeSpike && $0.symbol == "S" }, [])
    }

    // MARK: 11, 12: oversized orders, exactly

    func testOversizedOrderComparesExactly() throws {
        let h = Harness(config(oversized: 100_000_000))
        // 14314957.6993 × 6.9857 = 100000000.00000001 (as a Double: exactly 1e8, "not over").
        let out = h.order("c", after: Fixtures.order(id: 1, quantity: "14314957.6993", price: "6.9857"), id: 1)
        XCTAssertEqual(out.alerts.count, 1)
        XCTAssertTrue(out.alerts.first?.detail.contains("= 100000000.00000001") ?? false)
        XCTAssertEqual(h.order("c", after: Fixtures.order(id: 2, quantity: "10000000.0000", price: "10.0000"), id: 2).alerts, [],
                       "exactly at the limit is not over it")
    }

    func testAnUpdateWithoutABeforeImageUsesTheOrdersLastKnownState() throws {
        let h = Harness(config())   // limit 1 000 000
        XCTAssertEqual(h.order("c", after: Fixtures.order(id: 5, quantity: "20.0000"), id: 5).alerts.count, 1)
        // binlog_row_image=MINIMAL: no before image. The order was already over the limit.
        XCTAssertEqual(h.order("u", after: Fixtures.order(id: 5, quantity: "20.0000", status: "FILLED"), id: 5).alerts, [])
        // Under the limit, then over again without a before image: that is a crossing.
        XCTAssertEqual(h.order("u", after: Fixtures.order(id: 5, quantity: "1.0000"), id: 5).alerts, [])
        XCTAssertEqual(h.order("u", after: Fixtures.order(id: 5, quantity: "30.0000"), id: 5).alerts.count, 1)
        // After a restart the runtime restores what orders_current holds.
        let restarted = Harness(config())
        restarted.engine.restore(ordersOverLimit: [5])
        XCTAssertEqual(restarted.order("u", after: Fixtures.order(id: 5, quantity: "30.0000", status: "FILLED"), id: 5).alerts, [])
    }

    // MARK: 14: σ and the direction of the move

    func testPriceAlertsKeepTheDirectionOfTheMove() throws {
        let h = Harness(config())
        for (i, p) in ["100", "101", "99", "100", "100"].enumerated() { h.trade("S", "\(i)", p, "1", at: B + Int64(i)) }
        let drop = try XCTUnwrap(h.trade("S", "drop", "97", "1", at: B + 10).alerts.first)
        XCTAssertEqual(drop.direction, .down)
        XCTAssertEqual(drop.value, 3 / (0.5).squareRoot(), accuracy: 1e-9, "|z| with the sample σ (n − 1)")
        XCTAssertTrue(drop.jsonLine.contains(#""direction":"down""#), drop.jsonLine)
        XCTAssertTrue(drop.detail.contains("below the mean"), drop.detail)
        let h2 = Harness(config())
        for (i, p) in ["100", "101", "99", "100", "100"].enumerated() { h2.trade("S", "\(i)", p, "1", at: B + Int64(i)) }
        XCTAssertEqual(h2.trade("S", "spike", "103", "1", at: B + 10).alerts.first?.direction, .up)
    }

    // MARK: 4: a checkpoint of a recreated topic is not replayed silently

    func testACheckpointFromARecreatedTopicIsDiscardedNotReplayedSilently() {
        let cfg = config()
        let first = Harness(cfg)
        for i in 0..<10 { first.trade("S", "a\(i)", "10", "1", at: B + Int64(i) * 1000) }
        let saved = first.engine.checkpoints().compactMap {
            PartitionCheckpoint(topic: $0.topic, partition: $0.partition, offset: $0.offset, metadata: $0.metadata)
        }
        XCTAssertEqual(saved.first?.offset, 0, "the open window holds the checkpoint at its first trade")
        XCTAssertEqual(saved.first?.processedOffset, 10)
        XCTAssertNotNil(saved.first?.firstRecordFingerprint)
        func feed(_ engine: ProcessorEngine, id: String, price: String) -> OutputBatch {
            var out = OutputBatch()
            for i in 0..<10 {
                let t = TradeEvent(symbol: "S", tradeId: "\(id)\(i)", price: FixedDecimal(price)!, volume: FixedDecimal("1")!, side: .buy,
                                   tsMs: B + 500 + Int64(i) * 1000, source: "test")
                RecordedRecord(position: RecordPosition(topic: "trades.raw", partition: 0, offset: Int64(i)), key: nil,
                               value: TradeCodec.encode(t)).process(with: engine, into: &out)
            }
            return out
        }
        // The topic was recreated: other trades at the same offsets. Before, all ten were taken
        // for a replay of rows already written and silently dropped.
        let recreated = ProcessorEngine(config: cfg)
        recreated.restore(saved)
        XCTAssertEqual(feed(recreated, id: "b", price: "11").trades.count, 10)
        XCTAssertEqual(recreated.metrics.checkpointsDiscarded, 1)
        // The same topic: the same records replay silently, as they must.
        let same = ProcessorEngine(config: cfg)
        same.restore(saved)
        var out = OutputBatch()
        for (i, t) in first.all.trades.enumerated() {
            RecordedRecord(position: RecordPosition(topic: "trades.raw", partition: 0, offset: Int64(i)), key: nil,
                           value: TradeCodec.encode(t)).process(with: same, into: &out)
        }
        XCTAssertEqual(out.trades.count, 0)
        XCTAssertEqual(same.metrics.checkpointsDiscarded, 0)
        XCTAssertEqual(same.metrics.replayed, 10)
    }
}
