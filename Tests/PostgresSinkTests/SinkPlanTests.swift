import PostgresSink
import Processor
import XCTest

/// The pure planning of one batch: history for every change, the net effect per key on the
/// current tables, the users whose statistics change, rejects and the next offsets.
final class SinkPlanTests: XCTestCase {
    static func order(_ id: Int64, customer: Int64, status: String = "NEW", qty: String = "10", price: String = "100.5") -> String {
        #"{"order_id":\#(id),"customer_id":\#(customer),"symbol":"005930","side":"BUY","order_type":"LIMIT","quantity":"\#(qty)","price":"\#(price)","status":"\#(status)","created_at":1700000000000,"updated_at":1700000000500}"#
    }

    static func change(_ op: String, before: String?, after: String?, ts: Int64 = 1_700_000_001_000) -> String {
        #"{"before":\#(before ?? "null"),"after":\#(after ?? "null"),"source":{"ts_ms":\#(ts),"db":"shop","table":"orders"},"op":"\#(op)","ts_ms":\#(ts + 5)}"#
    }

    func decode(_ offset: Int64, key: String?, value: String?, partition: Int32 = 0) -> SinkChange {
        SinkDecoder.decode(.orders, position: RecordPosition(topic: "o", partition: partition, offset: offset),
                           key: key.map { Array($0.utf8) }, value: value.map { Array($0.utf8) })
    }

    func testNetEffectPerKeyHistoryForEveryChangeAndNextOffsets() {
        let changes = [
            decode(0, key: #"{"order_id":1}"#, value: Self.change("r", before: nil, after: Self.order(1, customer: 7))),
            decode(1, key: #"{"order_id":2}"#, value: Self.change("c", before: nil, after: Self.order(2, customer: 8))),
            decode(2, key: #"{"order_id":1}"#, value: Self.change("u", before: Self.order(1, customer: 7), after: Self.order(1, customer: 7, status: "FILLED"))),
            decode(3, key: #"{"order_id":2}"#, value: Self.change("d", before: Self.order(2, customer: 8), after: nil)),
            decode(4, key: #"{"order_id":2}"#, value: nil),  // tombstone
            decode(5, key: "x", value: "not json"),
            decode(9, key: #"{"order_id":3}"#, value: Self.change("c", before: nil, after: Self.order(3, customer: 9)), partition: 1),
        ]
        let plan = SinkPlan(changes)
        XCTAssertEqual(plan.orderHistory.map(\.op), ["r", "c", "u", "d", "c"])
        XCTAssertEqual(plan.orderHistory.map(\.position.offset), [0, 1, 2, 3, 9])
        XCTAssertNil(plan.orderHistory[3].after)
        XCTAssertNotNil(plan.orderHistory[3].before)
        XCTAssertEqual(plan.orderUpserts.map { $0.row.orderId }, [1, 3])
        XCTAssertEqual(plan.orderUpserts.first?.row.status, "FILLED", "the last change of a key wins")
        XCTAssertEqual(plan.orderUpserts.first?.position.offset, 2)
        XCTAssertEqual(plan.orderDeletes, [2])
        XCTAssertEqual(plan.affectedUsers, [7, 8, 9])
        XCTAssertEqual(plan.tombstones, 1)
        XCTAssertEqual(plan.rejects.map(\.position.offset), [5])
        XCTAssertEqual(plan.rejects.first?.stage, "decode")
        XCTAssertEqual(plan.nextOffsets, [RecordPosition(topic: "o", partition: 0, offset: 6), RecordPosition(topic: "o", partition: 1, offset: 10)])
    }

    func testWrongTableAndMissingImagesAreRejectedNotApplied() {
        let wrongTable = Self.change("c", before: nil, after: Self.order(1, customer: 1)).replacing(#""table":"orders""#, with: #""table":"users""#)
        let plan = SinkPlan([
            decode(0, key: nil, value: wrongTable),
            decode(1, key: nil, value: Self.change("u", before: nil, after: nil)),
            decode(2, key: nil, value: nil),  // a tombstone without a key
        ])
        XCTAssertEqual(plan.rejects.count, 3)
        XCTAssertTrue(plan.orderHistory.isEmpty && plan.orderUpserts.isEmpty)
        XCTAssertEqual(plan.nextOffsets.first?.offset, 3, "rejected records still move the offsets (quarantined, not retried)")
    }
}
