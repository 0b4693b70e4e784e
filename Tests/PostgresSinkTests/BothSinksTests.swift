import ClickHouse
import Foundation
import Postgres
import TestSupport
import XCTest

/// `processor.sinks: [clickhouse, postgres]`: one `cdcctl process run` runs both loops side by
/// side, each with its own consumer group, on the testbed's ClickHouse engine and PostgreSQL 15.
extension PostgresSinkIntegrationTests {
    func testBothSinksRunSideBySideEachWithItsOwnGroup() throws {
        let (pgManifest, db) = try database("both")
        let chDatabase = "it_pgboth_\(id)"
        let clickhouse = ClickHouseClient(ClickHouseConfig(url: testbed["TESTBED_CLICKHOUSE_URL"], user: testbed.clickhouseUser,
                                                           password: testbed.clickhousePassword))
        addTeardownBlock { _ = try? clickhouse.execute("DROP DATABASE IF EXISTS \(chDatabase)") }
        let text = try String(contentsOfFile: pgManifest, encoding: .utf8)
            .replacingOccurrences(of: "sinks: [postgres]", with: "sinks: [clickhouse, postgres]")
            .replacingOccurrences(of: "access:\n", with: """
                clickhouse:
                  database: \(chDatabase)
                access:
                  clickhouseURL: \(testbed["TESTBED_CLICKHOUSE_URL"])
                  clickhouseUser: \(testbed.clickhouseUser)
                  clickhouseWriterUser: \(testbed.clickhouseUser)
                  clickhouseReaderUser: \(testbed.clickhouseUser)

                """)
        let m = dir + "/both-sinks.yaml"
        try text.write(toFile: m, atomically: true, encoding: .utf8)
        let schema = try CLI(directory: dir, environment: environment())(["schema", "apply", "-m", m])
        XCTAssertEqual(schema.status, 0, schema.output)

        try produce(lifecycle(1, customer: 3) + lifecycle(2, customer: 3, delete: true))
        let r = try run(m, idle: 4)
        XCTAssertEqual(r.status, 0, r.output)
        XCTAssertTrue(r.output.contains("processor: sinks clickhouse, postgres"), r.output)
        XCTAssertTrue(r.output.contains("group pgs-\(id)-both.postgres"), r.output)
        XCTAssertTrue(r.output.contains("group pgs-\(id)-both"), r.output)
        // PostgreSQL: 5 changes (the tombstone writes nothing); ClickHouse: the same 5 in its raw table.
        XCTAssertEqual(try db.exec("SELECT count(*) FROM orders_history").scalar, "5")
        XCTAssertEqual(try db.exec("SELECT order_id FROM orders_current").rows, [["1"]])
        XCTAssertEqual(try clickhouse.execute("SELECT count() FROM \(chDatabase).cdc_orders_raw").trimmingCharacters(in: .whitespacesAndNewlines), "5", r.output)
    }
}
