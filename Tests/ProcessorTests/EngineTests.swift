import XCTest
@testable import Processor

final class EngineTests: XCTestCase {
    func testOrderChangesBecomeRawAndCurrentRows() throws {
        let h = Harness(config())
        let c = h.order("c", after: Fixtures.orderAfter, id: 1001)
        XCTAssertEqual(c.cdcOrdersRaw, [CdcRawRow(table: .cdcOrdersRaw, position: RecordPosition(topic: "cdc.shop.orders", partition: 0, offset: 0),
                                                  op: .create, executionId: nil, orderId: 1001, before: nil, after: Fixtures.orderAfter,
                                                  sourceTsMs: 1_700_000_000_000)])
        XCTAssertEqual(c.ordersCurrent.map(\.version), [1], "offset 0 + 1")
        XCTAssertEqual(c.ordersCurrent.first?.isDeleted, false)
        XCTAssertEqual(c.ordersCurrent.first?.order.status, "NEW")

        let u = h.order("u", before: Fixtures.orderAfter, after: Fixtures.orderFilled, id: 1001)
        XCTAssertEqual(u.ordersCurrent.first?.order.status, "FILLED")
        XCTAssertEqual(u.ordersCurrent.first?.version, 2, "a later change of the same order has a higher version")
        XCTAssertEqual(u.cdcOrdersRaw.first?.before, Fixtures.orderAfter)

        let d = h.order("d", before: Fixtures.orderFilled, id: 1001)
        XCTAssertEqual(d.ordersCurrent.first?.isDeleted, true)
        XCTAssertEqual(d.ordersCurrent.first?.order.status, "FILLED", "a delete row carries the last image")
        XCTAssertEqual(d.ordersCurrent.first?.version, 3)
        XCTAssertNil(d.cdcOrdersRaw.first?.after)

        let tombstone = h.record("cdc.shop.orders", key: #"{"order_id":1001}"#, value: nil)
        XCTAssertTrue(tombstone.isEmpty, "a tombstone changes nothing downstream")
        XCTAssertEqual(h.engine.metrics.tombstones, 1)
        XCTAssertEqual(h.engine.checkpoints(), [PartitionCheckpoint(topic: "cdc.shop.orders", partition: 0, offset: 4)])

        let e = h.record("cdc.shop.order_executions", key: #"{"execution_id":9}"#,
                         value: Fixtures.event(op: "c", before: nil, after: Fixtures.execution, table: "order_executions"))
        XCTAssertEqual(e.cdcOrderExecutionsRaw.first?.executionId, 9)
        XCTAssertEqual(e.cdcOrderExecutionsRaw.first?.orderId, 1001)
        XCTAssertEqual(e.cdcOrderExecutionsRaw.first?.table, .cdcOrderExecutionsRaw)
        XCTAssertEqual(h.engine.metrics.orders, 3)
        XCTAssertEqual(h.engine.metrics.executions, 1)
    }

    func testMalformedRecordsAreCountedSkippedAndCommittable() {
        let engine = ProcessorEngine(config: config())
        var out = OutputBatch()
        let bad = RecordedRecord(position: RecordPosition(topic: "trades.raw", partition: 1, offset: 7), key: nil, value: Array("{oops".utf8))
        let error = bad.process(with: engine, into: &out)
        XCTAssertEqual(error?.position.description, "trades.raw[1]@7")
        XCTAssertEqual(error?.field, "value")
        XCTAssertEqual(out.count, 1, "only the quarantine row")
        XCTAssertEqual(out.rejects.map(\.position.description), ["trades.raw[1]@7"])
        let other = RecordedRecord(position: RecordPosition(topic: "elsewhere", partition: 0, offset: 3), key: nil, value: Array("{}".utf8))
        XCTAssertEqual(other.process(with: engine, into: &out)?.message, "the processor does not read topic 'elsewhere'")
        XCTAssertEqual(engine.metrics.malformed, 2)
        XCTAssertEqual(engine.checkpoints().map { "\($0.topic)[\($0.partition)]@\($0.offset)" }, ["elsewhere[0]@4", "trades.raw[1]@8"],
                       "a skipped record is processed: the next start is after it")
    }

    func testCheckpointsKeepWhatOpenWindowsAndPriceRingsNeed() throws {
        let h = Harness(config(priceWindow: 2))
        h.trade("S", "1", "10", "1", at: B + 1000)        // offset 0
        h.trade("S", "2", "10", "1", at: B + 2000)        // offset 1
        h.trade("S", "3", "10", "1", at: B + 3000)        // offset 2: the ring now holds offsets 1, 2
        var cp = try XCTUnwrap(h.engine.checkpoints().first)
        XCTAssertEqual(cp.offset, 0, "window [B, B+60 s) is open and was built from offset 0")
        XCTAssertNil(cp.maxEventTimeMs, "nothing was seen before offset 0")
        XCTAssertEqual(cp.coverageStartMs, B + 60_000)

        // Much later: the window is closed and forgotten, the volume history too; only the
        // ring (the last 2 trades of S) and the newest window hold the commit back.
        for k in 1...10 { h.trade("S", "t\(k)", "10", "1", at: B + Int64(k) * 60_000 + 1000) }   // offsets 3…12
        cp = try XCTUnwrap(h.engine.checkpoints().first)
        XCTAssertGreaterThan(cp.offset, 3)
        XCTAssertLessThanOrEqual(cp.offset, 11, "the ring still needs offsets 11 and 12")
        XCTAssertNotNil(cp.maxEventTimeMs)
    }

    func testCheckpointMetadataRoundTrips() {
        let cp = PartitionCheckpoint(topic: "trades.raw", partition: 2, offset: 10, maxEventTimeMs: 1_700_000_000_000,
                                     coverageStartMs: 1_699_999_980_000, processedOffset: 25)
        XCTAssertEqual(cp.metadata, "cdcctl/1 max=1700000000000 cov=1699999980000 done=25")
        XCTAssertEqual(PartitionCheckpoint(topic: "trades.raw", partition: 2, offset: 10, metadata: cp.metadata), cp)
        XCTAssertEqual(PartitionCheckpoint(topic: "t", partition: 0, offset: 1, metadata: "cdcctl/1"), PartitionCheckpoint(topic: "t", partition: 0, offset: 1))
        XCTAssertNil(PartitionCheckpoint(topic: "t", partition: 0, offset: 1, metadata: ""))
        XCTAssertNil(PartitionCheckpoint(topic: "t", partition: 0, offset: 1, metadata: "cdcctl/1 max=x"))
        XCTAssertNil(PartitionCheckpoint(topic: "t", partition: 0, offset: 1, metadata: "cdcctl/1 what=1"))
    }

    /// The same records give the same rows, in the same order, with the same alert ids.
    func testSameInputGivesIdenticalRows() {
        let cfg = config(priceWindow: 20)
        let input = ProcessorBenchmark.generate(events: 20_000, config: cfg, seed: 42, millisecondsPerEvent: 20)
        func run() -> (OutputBatch, ProcessorMetrics) {
            let engine = ProcessorEngine(config: cfg)
            var out = OutputBatch()
            for r in input { XCTAssertNil(r.process(with: engine, into: &out)) }
            return (out, engine.metrics)
        }
        let (a, ma) = run()
        let (b, mb) = run()
        XCTAssertEqual(a, b)
        XCTAssertEqual(a.alerts.map(\.alertId), b.alerts.map(\.alertId))
        XCTAssertEqual(ma, mb)
        XCTAssertEqual(JSONEachRow.encode(a.tradeAggregates), JSONEachRow.encode(b.tradeAggregates))
        // The input exercises what it should.
        XCTAssertGreaterThan(a.tradeAggregates.count, 50)
        XCTAssertGreaterThan(ma.lateEventsUpdated, 0)
        XCTAssertGreaterThan(ma.lateEventsDropped, 0)
        XCTAssertGreaterThan(ma.tombstones, 0)
        XCTAssertTrue(a.alerts.contains { $0.rule == .oversizedOrder })
        XCTAssertTrue(a.alerts.contains { $0.rule == .priceZScore })
        XCTAssertEqual(Set(a.alerts.map(\.alertId)).count, Set(a.alerts.map { "\($0.alertId) \($0.value)" }).count,
                       "an id names one alert (a re-emission may update its value)")
    }

    /// A crash after `crash` records: a new engine restored from the checkpoints of the rows
    /// emitted so far replays from them, emits nothing for the records whose rows ClickHouse
    /// already holds, and from the crash on emits exactly the rows of an engine that never
    /// crashed.
    func testReplayFromCheckpointsRebuildsTheStateExactly() throws {
        let cfg = config(priceWindow: 20)
        let input = ProcessorBenchmark.generate(events: 20_000, config: cfg, seed: 7, millisecondsPerEvent: 30)
        let reference = ProcessorEngine(config: cfg)
        let perRecord: [OutputBatch] = input.map { r in
            var out = OutputBatch()
            r.process(with: reference, into: &out)
            return out
        }
        for crash in [2_500, 11_111, 19_000] {
            let before = ProcessorEngine(config: cfg)
            var sink = OutputBatch()
            var maxTime: [Int32: Int64] = [:]
            for r in input[..<crash] {
                r.process(with: before, into: &sink)
                if r.position.topic == cfg.tradesTopic, let t = try? TradeCodec.decode(String(decoding: r.value!, as: UTF8.self)) {
                    maxTime[r.position.partition] = max(maxTime[r.position.partition] ?? 0, t.tsMs)
                }
            }
            // What the runtime commits, and reads back from Kafka on restart.
            let checkpoints = before.checkpoints().map {
                PartitionCheckpoint(topic: $0.topic, partition: $0.partition, offset: $0.offset, metadata: $0.metadata)!
            }
            let restored = ProcessorEngine(config: cfg)
            restored.restore(checkpoints)
            let start = Dictionary(uniqueKeysWithValues: checkpoints.map { ("\($0.topic)#\($0.partition)", $0.offset) })

            var replayed = 0
            for (i, r) in input.enumerated() where r.position.offset >= start["\(r.position.topic)#\(r.position.partition)", default: 0] {
                var out = OutputBatch()
                r.process(with: restored, into: &out)
                if i >= crash {
                    XCTAssertEqual(out, perRecord[i], "crash at \(crash), record \(i) \(r.position)")
                } else {
                    replayed += 1
                    XCTAssertTrue(out.isEmpty, "crash at \(crash): record \(i)'s rows are in ClickHouse already")
                }
            }
            XCTAssertEqual(restored.metrics.replayed, UInt64(replayed))
            XCTAssertGreaterThan(replayed, 0, "crash at \(crash): open windows make the replay start before the crash")
            // How far back: twice the volume rule's previous windows (whether a symbol traded
            // before its baseline), the open one and the lateness (2 × 3 + 1 windows of 60 s
            // + 30 s + 5 s), plus how late this input's trades arrive (90 s).
            for cp in checkpoints where cp.topic == cfg.tradesTopic {
                let lag = maxTime[cp.partition]! - (cp.maxEventTimeMs ?? 1_700_000_000_000)
                XCTAssertLessThanOrEqual(lag, 7 * 60_000 + 30_000 + 5_000 + 90_000, "crash at \(crash): \(cp)")
                if crash == 19_000 { XCTAssertGreaterThan(cp.offset, 0, "commits advance once old windows are forgotten") }
            }
        }
    }

    func testStateStaysBoundedAcrossManySymbolsAndWindows() throws {
        // 5 000 symbols, each trading three times in its own 20-second slot: 28 hours of event time.
        let h = Harness(config(volumeWindows: 3))
        var peak = StateSize()
        for i in 0..<5_000 {
            let t = B + Int64(i) * 20_000
            for j in 0..<3 { h.trade("SYM\(i)", "\(j)", "\(100 + j)", "1", at: t + Int64(j), partition: Int32(i % 2)) }
            let s = h.engine.stateSize
            peak.symbols = max(peak.symbols, s.symbols)
            peak.windows = max(peak.windows, s.windows)
            peak.volumeEntries = max(peak.volumeEntries, s.volumeEntries)
            peak.ringSamples = max(peak.ringSamples, s.ringSamples)
        }
        // A symbol is kept while its price history (3 min) or its volume history (3 windows
        // + lateness) can matter: some 15 slots of 20 s.
        XCTAssertLessThan(peak.symbols, 40, "\(peak)")
        XCTAssertLessThan(peak.windows, 20, "\(peak)")
        XCTAssertLessThan(peak.volumeEntries, 60, "\(peak)")
        XCTAssertLessThan(peak.ringSamples, 120, "\(peak)")
        // And the commit offset keeps up.
        for cp in h.engine.checkpoints() { XCTAssertGreaterThan(cp.offset, 7_400, "\(cp)") }

        // One symbol over 2 000 windows keeps a few windows and volumeWindows + lateness entries.
        let one = Harness(config(volumeWindows: 3))
        for k in 0..<2_000 { one.trade("S", "\(k)", "10", "1", at: B + Int64(k) * 60_000 + 1) }
        let s = one.engine.stateSize
        XCTAssertEqual(s.symbols, 1)
        XCTAssertLessThanOrEqual(s.windows, 2)
        XCTAssertLessThanOrEqual(s.volumeEntries, 6)
        XCTAssertLessThanOrEqual(s.ringSamples, 5)
        XCTAssertEqual(one.all.tradeAggregates.count, 1_998, "every window fired once but the last two: the watermark trails by 5 s")
    }
}
