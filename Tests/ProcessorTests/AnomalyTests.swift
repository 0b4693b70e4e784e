import XCTest
@testable import Processor

final class AnomalyTests: XCTestCase {
    // MARK: (a) price z-score over the last priceWindow (5) trades, threshold 3σ

    func testPriceMoveBeyondZScoreFires() throws {
        let h = Harness(config())
        for (i, p) in ["100", "101", "99", "100", "100"].enumerated() {
            XCTAssertEqual(h.trade("S", "\(i)", p, "1", at: B + Int64(i)).alerts, [])
        }
        // Ring 100 101 99 100 100: mean 500/5 = 100; Σ(x−mean)² = 0+1+1+0+0 = 2;
        // σ = √(2/4) = 0.70711; 103 is |103−100|/0.70711 = 4.2426σ away: > 3, < 2×3 → warning.
        let alert = try XCTUnwrap(h.trade("S", "t103", "103", "1", at: B + 10).alerts.first)
        XCTAssertEqual(alert.rule, .priceZScore)
        XCTAssertEqual(alert.symbol, "S")
        XCTAssertEqual(alert.value, 3 / (0.5).squareRoot(), accuracy: 1e-9)
        XCTAssertEqual(alert.threshold, 3)
        XCTAssertEqual(alert.severity, .warning)
        XCTAssertEqual(alert.detectedAtMs, B + 10, "event time of the trade, never the wall clock")
        XCTAssertEqual(alert.windowStartMs, B)
        XCTAssertEqual(alert.alertId, AlertRow.id(rule: .priceZScore, symbol: "S", identity: "t103"))
        XCTAssertTrue(alert.detail.contains("trade t103 at 103 is 4.2426σ above the mean 100.0 of the last 5 trades (sample σ 0.7071)"), alert.detail)

        // Ring 101 99 100 100 103: mean 100.6; Σ(x−mean)² = .16+2.56+.36+.36+5.76 = 9.2; σ = √2.3 = 1.5166;
        // 100.5 is 0.066σ away: no alert.
        XCTAssertEqual(h.trade("S", "a", "100.5", "1", at: B + 11).alerts, [])
        // Ring 99 100 100 103 100.5: mean 100.5; Σ = 2.25+.25+.25+6.25+0 = 9; σ = 1.5;
        // 110 is 9.5/1.5 = 6.333σ away: ≥ 2×3 → critical.
        let critical = try XCTUnwrap(h.trade("S", "b", "110", "1", at: B + 12).alerts.first)
        XCTAssertEqual(critical.value, 9.5 / 1.5, accuracy: 1e-9)
        XCTAssertEqual(critical.severity, .critical)
    }

    func testPriceRuleNeedsAFullRingAndSomeDeviation() {
        let h = Harness(config())
        for (i, p) in ["100", "100", "100", "1000"].enumerated() {
            XCTAssertEqual(h.trade("S", "\(i)", p, "1", at: B + Int64(i)).alerts, [], "fewer than 5 trades before it")
        }
        let flat = Harness(config())
        for i in 0..<5 { flat.trade("F", "\(i)", "100", "1", at: B + Int64(i)) }
        XCTAssertEqual(flat.trade("F", "x", "100.01", "1", at: B + 9).alerts, [], "σ = 0: no scale to measure against")
    }

    func testPriceStatisticsResetAfterASilence() {
        // priceHistory 120 s: a symbol silent for longer starts its statistics afresh.
        let h = Harness(config(priceHistoryMs: 120_000))
        for (i, p) in ["100", "101", "99", "100", "100"].enumerated() { h.trade("S", "\(i)", p, "1", at: B + Int64(i)) }
        h.trade("D", "d", "1", "1", at: B + 200_000)   // watermark B+195 s; cutoff B+75 s > S's last trade
        XCTAssertEqual(h.trade("S", "x", "1000", "1", at: B + 200_001).alerts, [], "the ring was reset: not full any more")
        // Without the silence the same trade alerts.
        let h2 = Harness(config(priceHistoryMs: 120_000))
        for (i, p) in ["100", "101", "99", "100", "100"].enumerated() { h2.trade("S", "\(i)", p, "1", at: B + Int64(i)) }
        h2.trade("D", "d", "1", "1", at: B + 100_000)
        XCTAssertEqual(h2.trade("S", "x", "1000", "1", at: B + 100_001).alerts.count, 1)
    }

    // MARK: (b) volume spike: factor 2 over the previous 3 one-minute windows

    /// Trades `volumes[k]` in window k (nil: no trade) and closes each window with a driver
    /// symbol; returns the volume-spike alerts for S.
    func volumeAlerts(_ volumes: [String?], h: Harness = Harness(config())) -> [AlertRow] {
        for (k, v) in volumes.enumerated() {
            let start = B + Int64(k) * 60_000
            if let v { h.trade("S", "s\(k)", "10", v, at: start + 1000) }
            h.trade("D", "d\(k)", "1", "1", at: start + 65_000)       // watermark passes the window's end
        }
        return h.all.alerts.filter { $0.rule == .volumeSpike && $0.symbol == "S" }
    }

    func testVolumeSpikeFires() throws {
        // Window 0 is where the engine started: it may be partial, so it is never a baseline.
        // Window 4: previous windows 1, 2, 3 have volumes 1, 2, 3 → mean 2, threshold 2×2 = 4.
        let alerts = volumeAlerts(["100", "1", "2", "3", "4.1"])
        XCTAssertEqual(alerts.count, 1)
        let a = try XCTUnwrap(alerts.first)
        XCTAssertEqual(a.windowStartMs, B + 240_000)
        XCTAssertEqual(a.value, 4.1, accuracy: 1e-12)
        XCTAssertEqual(a.threshold, 4.0, accuracy: 1e-12)
        XCTAssertEqual(a.severity, .warning)
        XCTAssertEqual(a.detectedAtMs, B + 300_000, "detected when the window closed (its end, in event time)")
        XCTAssertEqual(a.alertId, AlertRow.id(rule: .volumeSpike, symbol: "S", identity: "\(B + 240_000)/1"))
        XCTAssertTrue(a.detail.contains("volume 4.1 in 1 min is 2.05× the mean 2.0 of the previous 3 windows"), a.detail)
    }

    func testVolumeSpikeDoesNotFireAtOrBelowTheThreshold() {
        XCTAssertEqual(volumeAlerts(["100", "1", "2", "3", "4"]), [], "4 is not above 2 × 2")
        // Window 3 (volume 100) has only windows 0..2 before it, and 0 is not a full baseline.
        XCTAssertEqual(volumeAlerts(["1", "1", "1", "100"]), [])
    }

    func testWindowsWithoutTradesCountAsZero() {
        // Window 4: previous windows 1, 2, 3 = 1, (none), 3 → mean (1+0+3)/3 = 1.3333, threshold 2.6667.
        XCTAssertEqual(volumeAlerts(["5", "1", nil, "3", "2.7"]).map(\.value), [2.7])
        XCTAssertEqual(volumeAlerts(["5", "1", nil, "3", "2.6"]), [])
        // No trades at all in the previous windows: no baseline, no alert.
        XCTAssertEqual(volumeAlerts(["5", nil, nil, nil, nil, "50"]), [])
    }

    func testALateTradeCanPushAWindowOverTheThreshold() throws {
        let h = Harness(config())
        XCTAssertEqual(volumeAlerts(["100", "1", "2", "3", "3.9"], h: h), [])
        // Watermark is B+300 s − … within window 4's lateness: a late 0.2 makes it 4.1 > 4.
        let again = h.trade("S", "late", "10", "0.2", at: B + 250_000)
        XCTAssertEqual(again.tradeAggregates.first?.version, 2)
        let alert = try XCTUnwrap(again.alerts.first)
        XCTAssertEqual(alert.value, 4.1, accuracy: 1e-12)
        XCTAssertEqual(alert.alertId, AlertRow.id(rule: .volumeSpike, symbol: "S", identity: "\(B + 240_000)/1"),
                       "the same id as if it had fired on time")
    }

    // MARK: (c) oversized orders: quantity × price > 1 000 000

    func testOversizedOrderFiresWhenCreatedOrWhenAnUpdateCrossesTheLimit() throws {
        let h = Harness(config())
        // 10 × 71 500 = 715 000: below.
        XCTAssertEqual(h.order("c", after: Fixtures.order(id: 1), id: 1).alerts, [])
        // 20 × 71 500 = 1 430 000: above, under 2× → warning. Version = offset 1 + 1.
        let created = h.order("c", after: Fixtures.order(id: 2, quantity: "20.0000"), id: 2)
        let a = try XCTUnwrap(created.alerts.first)
        XCTAssertEqual(a.rule, .oversizedOrder)
        XCTAssertEqual(a.symbol, "005930")
        XCTAssertEqual(a.value, 1_430_000)
        XCTAssertEqual(a.threshold, 1_000_000)
        XCTAssertEqual(a.severity, .warning)
        XCTAssertEqual(a.detectedAtMs, 1_700_000_000_123)
        XCTAssertEqual(a.windowStartMs, 1_700_000_000_123 - 1_700_000_000_123 % 60_000)
        XCTAssertEqual(a.alertId, AlertRow.id(rule: .oversizedOrder, symbol: "005930", identity: "2@2"))
        XCTAssertEqual(a.detail, "order 2 (customer 42) BUY 20.0000 × 71500.0000 = 1430000.00000000")

        // A status change of an order already over the limit does not alert again.
        XCTAssertEqual(h.order("u", before: Fixtures.order(id: 2, quantity: "20.0000"),
                               after: Fixtures.order(id: 2, quantity: "20.0000", status: "FILLED"), id: 2).alerts, [])
        // Order 1 raised from 10 to 30: 2 145 000 ≥ 2 × 1 000 000 → critical.
        let raised = h.order("u", before: Fixtures.order(id: 1), after: Fixtures.order(id: 1, quantity: "30.0000"), id: 1)
        XCTAssertEqual(raised.alerts.map(\.severity), [.critical])
        XCTAssertEqual(raised.alerts.first?.alertId, AlertRow.id(rule: .oversizedOrder, symbol: "005930", identity: "1@4"))
        // Snapshot reads and deletes never alert.
        XCTAssertEqual(h.order("r", after: Fixtures.order(id: 3, quantity: "99.0000"), id: 3).alerts, [])
        XCTAssertEqual(h.order("d", before: Fixtures.order(id: 2, quantity: "20.0000"), id: 2).alerts, [])
    }

    func testAlertIdsAreStableAndDistinct() {
        // A fixed value (FNV-1a 128 of "price_zscore\u{1f}KRW-BTC\u{1f}1", computed independently in
        // Python): changing the hash would make replays after an upgrade duplicate old alerts.
        XCTAssertEqual(AlertRow.id(rule: .priceZScore, symbol: "KRW-BTC", identity: "1"), "07c340ad85b93592047acf0cc24d02b0")
        XCTAssertEqual(AlertRow.id(rule: .priceZScore, symbol: "", identity: "").count, 32)
        let ids = Set([AlertRow.id(rule: .priceZScore, symbol: "A", identity: "1"),
                       AlertRow.id(rule: .priceZScore, symbol: "A", identity: "2"),
                       AlertRow.id(rule: .priceZScore, symbol: "B", identity: "1"),
                       AlertRow.id(rule: .volumeSpike, symbol: "A", identity: "1"),
                       AlertRow.id(rule: .priceZScore, symbol: "A1", identity: ""),
                       AlertRow.id(rule: .priceZScore, symbol: "A", identity: "1\u{1f}")])
        XCTAssertEqual(ids.count, 6, "the separator keeps (A, 1) apart from (A1, '')")
    }
}
