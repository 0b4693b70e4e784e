@testable import EndToEnd
import XCTest

/// When `trace` stops reading a partition: at the end it had when the scan began, not after a
/// quiet spell that a slow first fetch can also produce.
final class PartitionScanEndTests: XCTestCase {
    func testNothingPastTheStartIsDoneAtOnce() {
        XCTAssertTrue(PartitionScanEnd(from: 7, low: 0, high: 7).done)
        XCTAssertTrue(PartitionScanEnd(from: -2, low: 4, high: 4).done, "an empty partition read from its beginning")
        XCTAssertFalse(PartitionScanEnd(from: 6, low: 0, high: 7).done)
        XCTAssertFalse(PartitionScanEnd(from: -2, low: 0, high: 7).done)
    }

    func testASlowFirstFetchIsWaitedForAndTheRecordBeforeTheWatermarkEndsIt() {
        var end = PartitionScanEnd(from: 3, low: 0, high: 6)
        for _ in 0..<40 { end.observe(offset: nil) }  // ten seconds of nothing: the fetch has not answered yet
        XCTAssertFalse(end.done, "quiet before any record is not the end when the watermark says records are there")
        end.observe(offset: 3)
        end.observe(offset: 4)
        XCTAssertFalse(end.done)
        end.observe(offset: 5)
        XCTAssertTrue(end.done, "offset high - 1 read")
    }

    func testQuietEndsAScanOnlyAfterRecordsFlowedOrWithoutAWatermark() {
        // The last offset before the watermark is a transaction marker: records stop at 4.
        var marker = PartitionScanEnd(from: 0, low: 0, high: 6)
        marker.observe(offset: 4)
        for _ in 0..<(PartitionScanEnd.quietPollsToEnd - 1) { marker.observe(offset: nil) }
        XCTAssertFalse(marker.done)
        marker.observe(offset: nil)
        XCTAssertTrue(marker.done)

        var unknown = PartitionScanEnd(from: 0, low: nil, high: nil)
        XCTAssertFalse(unknown.done)
        for _ in 0..<PartitionScanEnd.quietPollsToEnd { unknown.observe(offset: nil) }
        XCTAssertTrue(unknown.done, "no watermark: the old two-quiet-seconds rule")
    }
}
