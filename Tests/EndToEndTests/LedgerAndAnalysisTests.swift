import EndToEnd
import Foundation
import Reports
import State
import TestSupport
import XCTest

/// The pure parts of `bench e2e` and `bench history`: percentiles, hop attribution, consistency,
/// the verdict, regression flagging, and the ledger's table.
final class LedgerAndAnalysisTests: XCTestCase {
    // MARK: percentiles

    func testPercentilesAreNearestRankSamples() throws {
        let values = (1...100).map(Double.init).shuffled()
        let s = try XCTUnwrap(Percentiles.summary(values))
        XCTAssertEqual(s.p50, 50)
        XCTAssertEqual(s.p95, 95)
        XCTAssertEqual(s.p99, 99)
        XCTAssertEqual(s.max, 100)
        XCTAssertEqual(s.min, 1)
        XCTAssertEqual(Percentiles.nearestRank([7], 99), 7, "one sample is every percentile")
        XCTAssertEqual(Percentiles.nearestRank([1, 2, 3], 50), 2)
        XCTAssertEqual(Percentiles.nearestRank([1, 2, 3, 4], 50), 2, "rank ⌈0.5 × 4⌉ = 2, a sample, not 2.5")
        XCTAssertNil(Percentiles.summary([]))
    }

    // MARK: hop attribution

    func event(_ order: UInt64, _ offset: Int64, partition: Int32 = 0, op: String = "u", updated: Int64?, dbz: Int64, kafka: Int64,
               consumed: Int64) -> ObservedEvent {
        ObservedEvent(partition: partition, offset: offset, orderId: order, op: op, updatedAtMs: updated, debeziumMs: dbz, sourceMs: nil,
                      binlog: "bin.1:\(offset * 100):0", gtid: nil, kafkaMs: kafka, consumedMs: consumed)
    }

    func testEachChangeIsTimedAtEveryHopFromItsOwnEventAndTheFlushThatCoveredIt() throws {
        let writes = [WrittenChange(orderId: 7, kind: "place", startedAtMs: 1_005),
                      WrittenChange(orderId: 7, kind: "fill", startedAtMs: 2_005),
                      WrittenChange(orderId: 7, kind: "delete", startedAtMs: 3_005)]
        // Delivered out of order by the consumer: pairing is by offset within the order's partition.
        let events = [event(7, 11, updated: 2_000, dbz: 2_100, kafka: 2_110, consumed: 2_150),
                      event(7, 10, op: "c", updated: 1_000, dbz: 1_100, kafka: 1_120, consumed: 1_130),
                      event(7, 12, op: "d", updated: nil, dbz: 3_050, kafka: 3_060, consumed: 3_070)]
        let acks = [AcknowledgedRange(partition: 0, start: 10, end: 11, atMs: 1_200),
                    AcknowledgedRange(partition: 0, start: 11, end: 13, atMs: 3_100)]
        let confirmed = [PartitionOffset(partition: 0, offset: 10): 1, PartitionOffset(partition: 0, offset: 11): 1,
                         PartitionOffset(partition: 0, offset: 12): 1]
        let a = E2EAnalyzer.analyze(writes: writes, events: events, acknowledged: acks, confirmed: confirmed, measureFromMs: 0, measureToMs: 4_000)
        XCTAssertEqual(a.timelines.count, 3)
        let place = a.timelines[0]
        XCTAssertEqual(place.kind, "place")
        XCTAssertEqual(place.commitClock, "updated_at")
        XCTAssertEqual(place.latency(.debezium), 100)
        XCTAssertEqual(place.latency(.kafka), 20)
        XCTAssertEqual(place.latency(.processor), 10)
        XCTAssertEqual(place.latency(.clickhouse), 70)
        XCTAssertEqual(place.latency(.endToEnd), 200)
        let fill = a.timelines[1]
        XCTAssertEqual(fill.latency(.endToEnd), 1_100, "offset 11 was acknowledged by the second flush")
        let delete = a.timelines[2]
        XCTAssertEqual(delete.commitClock, "host", "a delete has no new updated_at: the generator's COMMIT time stands in")
        XCTAssertEqual(delete.commitMs, 3_005)
        XCTAssertEqual(a.consistency.committed, 3)
        XCTAssertEqual(a.consistency.inClickHouse, 3)
        XCTAssertEqual(a.consistency.notArrived, 0)
        XCTAssertEqual(a.consistency.percent, 100)
        XCTAssertEqual(a.hops[Hop.endToEnd.rawValue]?.max, 1_100)
    }

    func testTheTimeZoneOfMySQLIsTakenOutOfUpdatedAt() {
        // Debezium reads DATETIME digits as UTC: in KST (+9 h) they are 9 h ahead of the instant.
        let nine: Int64 = 9 * 3_600_000
        let a = E2EAnalyzer.analyze(writes: [WrittenChange(orderId: 1, kind: "place", startedAtMs: 1_010)],
                                    events: [event(1, 0, op: "c", updated: 1_000 + nine, dbz: 1_050, kafka: 1_060, consumed: 1_070)],
                                    acknowledged: [AcknowledgedRange(partition: 0, start: 0, end: 1, atMs: 1_100)],
                                    confirmed: [PartitionOffset(partition: 0, offset: 0): 1], measureFromMs: 0, measureToMs: 2_000,
                                    tzOffsetMs: nine)
        XCTAssertEqual(a.timelines[0].latency(.debezium), 50)
        XCTAssertEqual(a.timelines[0].latency(.endToEnd), 100)
        XCTAssertTrue(a.negative.isEmpty)
    }

    func testMissingChangesAreNamedAtTheFirstHopTheyLackAndDuplicatesAreCounted() {
        let writes = (1...4).map { WrittenChange(orderId: UInt64($0), kind: "place", startedAtMs: 1_000) }
        var events = [event(1, 0, op: "c", updated: 1_000, dbz: 1_010, kafka: 1_020, consumed: 1_030),
                      event(2, 1, op: "c", updated: 1_000, dbz: 1_010, kafka: 1_020, consumed: 1_030),
                      event(3, 2, op: "c", updated: 1_000, dbz: 1_010, kafka: 1_020, consumed: 1_030)]
        // Order 1's change delivered again at another offset (same binlog coordinates).
        var again = events[0]
        again.offset = 3
        events.append(again)
        events.append(event(99, 4, op: "c", updated: 1_000, dbz: 1_010, kafka: 1_020, consumed: 1_030))  // another writer's order
        let acks = [AcknowledgedRange(partition: 0, start: 0, end: 2, atMs: 1_100)]  // offset 2 never flushed
        let confirmed = [PartitionOffset(partition: 0, offset: 0): 2, PartitionOffset(partition: 0, offset: 1): 1]
        let a = E2EAnalyzer.analyze(writes: writes, events: events, acknowledged: acks, confirmed: confirmed, measureFromMs: 0, measureToMs: 2_000)
        XCTAssertEqual(a.consistency.committed, 4)
        XCTAssertEqual(a.consistency.inKafka, 3, "order 4 never reached Kafka; order 99 is not this run's")
        XCTAssertEqual(a.consistency.inClickHouse, 2)
        XCTAssertEqual(a.consistency.notArrived, 2)
        XCTAssertEqual(a.consistency.missingAt, ["not consumed (Kafka or processor)": 1, "clickhouse": 1])
        XCTAssertEqual(a.consistency.duplicatesInKafka, 1)
        XCTAssertEqual(a.consistency.duplicatesInClickHouse, 1)
        XCTAssertEqual(a.consistency.mismatchedOrders, 2, "order 1 has an extra event, order 4 none")
        let missed = E2EVerdict.judge(a, p99Ms: 5_000, minRate: 1, requestedRate: 10)
        XCTAssertEqual(missed.count, 1)
        XCTAssertTrue(missed[0].hasPrefix("consistency: 2/4"), missed[0])
    }

    func testTheVerdictNamesEachMissedTarget() {
        let writes = (0..<10).map { WrittenChange(orderId: UInt64($0), kind: "place", startedAtMs: 1_000) }
        let events = (0..<10).map { event(UInt64($0), Int64($0), op: "c", updated: 1_000, dbz: 1_010, kafka: 1_020, consumed: 1_030) }
        let acks = [AcknowledgedRange(partition: 0, start: 0, end: 10, atMs: 1_800)]
        let confirmed = Dictionary(uniqueKeysWithValues: (0..<10).map { (PartitionOffset(partition: 0, offset: Int64($0)), 1) })
        let a = E2EAnalyzer.analyze(writes: writes, events: events, acknowledged: acks, confirmed: confirmed, measureFromMs: 0, measureToMs: 2_000)
        XCTAssertEqual(a.throughputPerSecond, 5)
        XCTAssertEqual(E2EVerdict.judge(a, p99Ms: 800, minRate: 5, requestedRate: 5), [])
        let missed = E2EVerdict.judge(a, p99Ms: 500, minRate: 200, requestedRate: 5)
        XCTAssertEqual(missed.count, 2)
        XCTAssertTrue(missed[0].hasPrefix("bench.e2e.p99Ms: end-to-end p99 800 ms > 500 ms"), missed[0])
        XCTAssertTrue(missed[1].hasPrefix("bench.e2e.minRate: 5 changes/s"), missed[1])
        XCTAssertTrue(missed[1].contains("use --rate ≥ 200"), "a run that asked for too little says so")
    }

    func testWarmUpChangesCountForConsistencyButNotForTheFigures() {
        let writes = [WrittenChange(orderId: 1, kind: "place", startedAtMs: 500), WrittenChange(orderId: 2, kind: "place", startedAtMs: 1_500)]
        let events = [event(1, 0, op: "c", updated: 500, dbz: 510, kafka: 520, consumed: 530),
                      event(2, 1, op: "c", updated: 1_500, dbz: 1_510, kafka: 1_520, consumed: 1_530)]
        let a = E2EAnalyzer.analyze(writes: writes, events: events, acknowledged: [AcknowledgedRange(partition: 0, start: 0, end: 2, atMs: 5_000)],
                                    confirmed: [PartitionOffset(partition: 0, offset: 0): 1, PartitionOffset(partition: 0, offset: 1): 1],
                                    measureFromMs: 1_000, measureToMs: 2_000)
        XCTAssertEqual(a.consistency.inClickHouse, 2)
        XCTAssertEqual(a.measuredChanges, 1)
        XCTAssertEqual(a.hops[Hop.endToEnd.rawValue]?.count, 1)
        XCTAssertEqual(a.hops[Hop.endToEnd.rawValue]?.p50, 3_500)
    }

    // MARK: regressions

    func run(_ id: Int64, _ name: String = "e2e", rate: String = "200", p99: Double, throughput: Double = 200) -> BenchRunRecord {
        BenchRunRecord(id: id, cluster: "c", name: name, startedAtMs: id * 1000, durationMs: 1000, cdcctlVersion: "0.5.0", manifestHash: "h",
                       parameters: "{\"rate\":\"\(rate)\"}", results: "{\"e2eP99Ms\":\(p99),\"throughputPerSecond\":\(throughput)}", verdict: "met")
    }

    func testARunMoreThanTwentyPercentWorseThanTheMedianOfTheLastFiveComparableRunsIsFlagged() {
        // Seven runs: the median of the five before the last is 400 (the 100 and 9000 are outside the window or outvoted).
        let runs = [run(1, p99: 9000), run(2, p99: 100), run(3, p99: 400), run(4, p99: 390), run(5, p99: 410), run(6, p99: 420),
                    run(7, p99: 481, throughput: 150), run(8, rate: "1000", p99: 5000), run(9, "processor", p99: 5000)]
        let rows = BenchLedger.judge(runs)
        let last = rows[6]
        XCTAssertEqual(last.regressions.map(\.figure), ["e2eP99Ms", "throughputPerSecond"])
        XCTAssertEqual(last.regressions[0].baselineMedian, 400)
        XCTAssertEqual(last.regressions[0].comparedRuns, 5)
        XCTAssertEqual(last.regressions[0].worseBy, 0.2025, accuracy: 1e-9)
        XCTAssertEqual(last.regressions[1].worseBy, 0.25, accuracy: 1e-9, "throughput: lower is worse")
        XCTAssertEqual(rows[7].regressions, [], "another rate is not comparable")
        XCTAssertEqual(rows[8].regressions, [], "another benchmark is not comparable")
        XCTAssertEqual(rows[0].regressions, [], "the first run has nothing to compare with")
        // Exactly 20 % worse is not flagged; a faster run never is.
        XCTAssertNil(BenchLedger.regression(figure: "e2eP99Ms", value: 480, previous: [400, 400, 400]))
        XCTAssertNil(BenchLedger.regression(figure: "e2eP99Ms", value: 100, previous: [400]))
        XCTAssertNotNil(BenchLedger.regression(figure: "eventsPerSecond", value: 79, previous: [100]))
    }

    // MARK: the ledger table

    func testTheLedgerKeepsRunsInOrderAndFiltersByName() throws {
        let dir = try TestSupport.temporaryDirectory(self)
        let store = try StateStore(path: dir + "/state.db")
        for r in [run(0, p99: 300), run(0, "processor", p99: 1), run(0, p99: 310)] {
            var r = r
            r.id = nil
            try store.recordBenchRun(r)
        }
        let e2e = try store.benchRuns(name: "e2e")
        XCTAssertEqual(e2e.map(\.id), [1, 3], "oldest first, only e2e")
        XCTAssertEqual(e2e[1].results, "{\"e2eP99Ms\":310.0,\"throughputPerSecond\":200.0}")
        XCTAssertEqual(try store.benchRuns().count, 3)
        XCTAssertEqual(try store.benchRuns(limit: 1).map(\.id), [3], "the newest run when limited")
    }

    // MARK: the report's histogram

    func testTheHistogramCountsEveryValueInItsBucket() {
        let h = Histogram(title: "t", values: [1, 5, 6, 10, 11, 20000], bounds: [5, 10, 20], unit: "ms")
        XCTAssertEqual(h.counts, [2, 2, 1, 1])
        XCTAssertEqual(h.counts.reduce(0, +), 6)
        XCTAssertEqual(Histogram.latencyBounds(upTo: 700), [5, 10, 20, 50, 100, 200, 500, 1000])
        XCTAssertTrue(h.svg().contains("&gt;20 ms: 1"), "the overflow bar is labelled")
    }
}
