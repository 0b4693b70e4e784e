import ProcessorRuntime
import XCTest

/// The flush decision alone (pure): flush when the burst is drained or the batch is full; the
/// interval only bounds a stream that never pauses.
final class FlushPolicyTests: XCTestCase {
    let policy = FlushPolicy(flushIntervalMs: 200, batchMaxRows: 1000, maxBufferedEvents: 5000)

    func testNothingBufferedNeverFlushes() {
        XCTAssertNil(policy.decide(buffered: 0, sinceFirstBufferedMs: 0, drained: true))
        XCTAssertNil(policy.decide(buffered: 0, sinceFirstBufferedMs: 10_000, drained: false))
    }

    func testADrainedBurstFlushesAtOnceWithoutWaitingForTheTimer() {
        XCTAssertEqual(policy.decide(buffered: 1, sinceFirstBufferedMs: 0, drained: true), .drained)
        XCTAssertEqual(policy.decide(buffered: 37, sinceFirstBufferedMs: 3, drained: true), .drained)
    }

    func testRecordsStillArrivingWaitUntilTheBatchIsFullOrTheTimerBounds() {
        XCTAssertNil(policy.decide(buffered: 999, sinceFirstBufferedMs: 199, drained: false))
        XCTAssertEqual(policy.decide(buffered: 1000, sinceFirstBufferedMs: 1, drained: false), .full)
        XCTAssertEqual(policy.decide(buffered: 10, sinceFirstBufferedMs: 200, drained: false), .timer)
        let small = FlushPolicy(flushIntervalMs: 200, batchMaxRows: 10_000, maxBufferedEvents: 50)
        XCTAssertEqual(small.decide(buffered: 50, sinceFirstBufferedMs: 0, drained: false), .full, "maxBufferedEvents bounds memory too")
    }

    func testFullWinsOverDrainedSoTheReasonCountsAreHonest() {
        XCTAssertEqual(policy.decide(buffered: 1000, sinceFirstBufferedMs: 0, drained: true), .full)
    }

    func testTheTimerOnlyPolicyKeptForBeforeAndAfterMeasurementsIgnoresDrains() {
        let before = FlushPolicy(flushIntervalMs: 200, batchMaxRows: 1000, maxBufferedEvents: 5000, flushWhenDrained: false)
        XCTAssertNil(before.decide(buffered: 3, sinceFirstBufferedMs: 10, drained: true))
        XCTAssertEqual(before.decide(buffered: 3, sinceFirstBufferedMs: 200, drained: true), .timer)
        XCTAssertEqual(before.pollTimeoutMs(buffered: 3), 100, "it waits in poll as before")
    }

    func testThePollDoesNotWaitWhileRecordsAreBufferedSoAnEmptyAnswerMeansDrained() {
        XCTAssertEqual(policy.pollTimeoutMs(buffered: 5), 0)
        XCTAssertEqual(policy.pollTimeoutMs(buffered: 0), 100)
        XCTAssertEqual(FlushPolicy(flushIntervalMs: 20, batchMaxRows: 1, maxBufferedEvents: 1).pollTimeoutMs(buffered: 0), 20)
    }
}

/// `cdcctl_freshness_seconds{hop}`: the age of the newest change consumed and acknowledged.
final class FreshnessMetricTests: XCTestCase {
    func testFreshnessIsTheAgeOfTheNewestChangeAtEachHopAndAbsentUntilSeen() {
        let m = RuntimeMetrics()
        XCTAssertFalse(m.render().contains("cdcctl_freshness_seconds"), "nothing seen: no made-up age")
        m.observe(consumedTimestampMs: 10_000)
        m.observe(consumedTimestampMs: 9_000)  // an older record does not make it fresher or staler
        m.observe(acknowledgedTimestampMs: 8_500)
        XCTAssertFalse(m.render().contains("hop=\"source\""), "no CDC change acknowledged yet: no source age")
        m.observe(sourceCommitAcknowledgedMs: 7_000)
        m.observe(sourceCommitAcknowledgedMs: 6_000)
        let text = m.render(nowMs: 12_500)
        XCTAssertTrue(text.contains("cdcctl_freshness_seconds{hop=\"source\"} 5.500"), "behind the source's newest commit in ClickHouse: \(text)")
        XCTAssertTrue(text.contains("cdcctl_freshness_seconds{hop=\"kafka\"} 2.500"), text)
        XCTAssertTrue(text.contains("cdcctl_freshness_seconds{hop=\"clickhouse\"} 4.000"), text)
        XCTAssertTrue(text.contains("# TYPE cdcctl_freshness_seconds gauge"))
    }
}
