import Foundation
import Postgres
import TestSupport
import XCTest

/// SIGKILL of the real `cdcctl process run` at each point of a PostgreSQL transaction, then a
/// restart: every change is in the tables exactly once, as after a clean run.
extension PostgresSinkIntegrationTests {
    /// 12 orders of 4 users (the first two snapshot reads, every third deleted with its
    /// tombstone), 4 executions and one undecodable record: 37 records over 5 partitions.
    func crashStream() -> [(String, String, String?)] {
        var records: [(String, String, String?)] = []
        for i in 1...12 {
            records += lifecycle(100 + i, customer: i % 4 + 1, snapshot: i <= 2, delete: i % 3 == 0, offset: Int64(i) * 10_000)
            if i % 3 == 1 { records.append(execution(i, orderId: 100 + i)) }
        }
        records.insert((ordersTopic, #"{"order_id":999}"#, #"{"before":null,"after":{"order_id":"#), at: 17)
        return records
    }

    func testSigkillAtEveryPointOfATransactionLeavesEveryChangeOnce() throws {
        let records = crashStream()
        XCTAssertEqual(records.count, 37)
        try produce(records)
        let (cleanManifest, cleanDB) = try database("clean", batchMaxRecords: 4)
        let clean = try run(cleanManifest, idle: 2)
        XCTAssertEqual(clean.status, 0, clean.output)
        let expected = try dump(cleanDB)
        XCTAssertEqual(expected["orders_history"]?.count, 12 * 2 + 4)
        XCTAssertEqual(expected["orders_current"]?.count, 8)
        XCTAssertEqual(expected["order_executions_current"]?.count, 4)
        XCTAssertEqual(expected["sink_rejects"]?.count, 1)
        XCTAssertEqual(expected["user_order_stats"]?.count, 4)
        XCTAssertGreaterThanOrEqual(try Int(XCTUnwrap(cleanDB.exec("SELECT count(*) FROM cdcctl_offsets").scalar)) ?? 0, 4)

        for point in ["before-begin", "after-rows", "after-offsets", "after-commit"] {
            let (m, db) = try database(point.replacingOccurrences(of: "-", with: "_"), batchMaxRecords: 4)
            let killed = try run(m, idle: 2, failpoint: "pg.\(point)@3")
            XCTAssertTrue(killed.status == SIGKILL || killed.status == 128 + SIGKILL, "\(point): \(killed.status) \(killed.output)")
            XCTAssertTrue(killed.output.contains("failpoint pg.\(point) in batch 3: SIGKILL"), killed.output)
            // What PostgreSQL holds at the kill: batches 1–2 (3 too when the kill came after COMMIT).
            let stored = try db.exec("SELECT topic, partition, next_offset FROM cdcctl_offsets ORDER BY 1, 2").rows
            let consumed = stored.compactMap { $0[2].flatMap { Int($0) } }.reduce(0, +)
            XCTAssertEqual(consumed, point == "after-commit" ? 12 : 8, "\(point): \(stored)")
            // Nothing beyond them: the killed transaction left no row (rolled back with its offsets).
            XCTAssertEqual(try db.exec("""
                SELECT count(*) FROM (SELECT kafka_topic, kafka_partition, kafka_offset FROM orders_history
                                      UNION ALL SELECT kafka_topic, kafka_partition, kafka_offset FROM order_executions_history
                                      UNION ALL SELECT kafka_topic, kafka_partition, kafka_offset FROM sink_rejects) r
                LEFT JOIN cdcctl_offsets o ON o.topic = r.kafka_topic AND o.partition = r.kafka_partition
                WHERE o.next_offset IS NULL OR r.kafka_offset >= o.next_offset
                """).scalar, "0", "\(point): a row beyond the committed offsets")
            XCTAssertGreaterThan(try Int(XCTUnwrap(db.exec("SELECT count(*) FROM orders_history").scalar)) ?? 0, 0)

            let rerun = try run(m, idle: 2)
            XCTAssertEqual(rerun.status, 0, "\(point): \(rerun.output)")
            // The recovery path: a seek to the offsets PostgreSQL stored, each named in the log.
            XCTAssertTrue(rerun.output.contains("seeking to the offsets stored in PostgreSQL"), rerun.output)
            for row in stored {
                XCTAssertTrue(rerun.output.contains("\(row[0]!)[\(row[1]!)]=\(row[2]!)"), "\(point): \(row) in \(rerun.output)")
            }
            XCTAssertEqual(try dump(db), expected, "\(point): the tables after kill + restart equal a clean run's")
        }
    }
}
