import Foundation
import Kafka
import Postgres
import TestSupport
import XCTest

/// The processor's PostgreSQL loop against the testbed's real PostgreSQL 15 and its Kafka-wire
/// brokers (Tansu): Debezium-shaped records produced here (no MySQL, no Connect), the real
/// `cdcctl process run` binary as a child process, each test in databases of its own.
final class PostgresSinkIntegrationTests: XCTestCase {
    var testbed: Testbed!
    var dir = ""
    var id = ""
    var prefix: String { "pgs\(id)" }
    var ordersTopic: String { "\(prefix).shop.orders" }
    var executionsTopic: String { "\(prefix).shop.order_executions" }
    var admin: PostgresConnection!
    let startedAt = Date()
    var base: PostgresEndpoint!

    override func setUpWithError() throws {
        testbed = try Testbed.require().requirePostgres()
        dir = try TestSupport.temporaryDirectory(self)
        id = String(UUID().uuidString.prefix(8).lowercased())
        base = PostgresEndpoint(host: testbed.postgresHost, port: testbed.postgresPort, user: testbed.postgresUser,
                                password: testbed.postgresPassword, database: testbed.postgresDatabase)
        admin = try PostgresConnection(base)
        let setup = try manifest(database: "unused", kafka: testbed.kafkaBootstrap, name: "setup")
        let r = try CLI(directory: dir, environment: environment())(["topics", "apply", "-m", setup])
        XCTAssertEqual(r.status, 0, r.output)
    }

    /// A database of its own on the testbed's PostgreSQL with the sink's schema applied by
    /// `cdcctl schema apply --target postgres`; dropped after the test. Returns its manifest
    /// (one Tansu process for the processor: another process sees records ~5 s late).
    func database(_ suffix: String, batchMaxRecords: Int = 2000, endpoint: PostgresEndpoint? = nil) throws -> (manifest: String, db: PostgresConnection) {
        let name = "pgsink_\(id)_\(suffix)"
        let server = endpoint ?? base!
        let adminConnection = endpoint == nil ? admin! : try PostgresConnection(server)
        try adminConnection.exec("CREATE DATABASE \(name)")
        if endpoint == nil {
            addTeardownBlock { [admin] in _ = try? admin?.exec("DROP DATABASE IF EXISTS \(name) WITH (FORCE)") }
        }
        let path = try manifest(database: name, kafka: testbed["TESTBED_KAFKA_BOOTSTRAP_SINGLE"], name: suffix, batchMaxRecords: batchMaxRecords,
                                server: server)
        let r = try CLI(directory: dir, environment: environment(server))(["schema", "apply", "--target", "postgres", "-m", path])
        XCTAssertEqual(r.status, 0, r.output)
        return (path, try PostgresConnection(server.with(database: name)))
    }

    func environment(_ server: PostgresEndpoint? = nil) -> [String: String] {
        var env = ProcessInfo.processInfo.environment
        env["PGSINK_TEST_PASSWORD"] = (server ?? base).password
        return env
    }

    func manifest(database: String, kafka: String, name: String, batchMaxRecords: Int = 2000, server: PostgresEndpoint? = nil) throws -> String {
        let s = server ?? base!
        let text = """
            apiVersion: cdcctl/v1
            cluster: {name: pgsink}
            secrets:
              clickhousePassword: none
              postgresPassword: env:PGSINK_TEST_PASSWORD
            kafka:
              engine: tansu
              topics:
                - {name: \(prefix).trades, partitions: 1, key: symbol}
                - {name: \(ordersTopic), partitions: 3, key: order_id}
                - {name: \(executionsTopic), partitions: 2, key: order_id}
                - {name: schemahistory.\(prefix), partitions: 1, retentionHours: -1, retentionBytes: -1}
            connect:
              connectors:
                - name: c-\(id)
                  topicPrefix: \(prefix)
                  tables: [shop.orders, shop.order_executions]
                  schemaHistoryTopic: schemahistory.\(prefix)
            processor:
              sinks: [postgres]
              consumerGroup: pgs-\(id)-\(name)
              tradesTopic: \(prefix).trades
              ordersTopic: \(ordersTopic)
            producers:
              trades: {topic: \(prefix).trades}
            postgres:
              database: \(database)
              user: \(s.user)
              batchMaxRecords: \(batchMaxRecords)
            access:
              kafkaBootstrap: \(kafka)
              postgresHost: \(s.host)
              postgresPort: \(s.port)

            """
        let path = dir + "/\(name).yaml"
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    /// `cdcctl process run` to its end (idle exit or a fail point's SIGKILL).
    func run(_ manifest: String, idle: Double = 3, failpoint: String? = nil, server: PostgresEndpoint? = nil) throws -> (status: Int32, output: String) {
        var env = environment(server)
        if let failpoint { env["CDCCTL_FAILPOINT"] = failpoint }
        let r = try TestSupport.runSeparately(TestSupport.cdcctlBinary,
                                              ["process", "run", "-m", manifest, "--exit-when-idle", String(idle),
                                               "--metrics-port", String(19900 + Int.random(in: 0..<90)), "--state-dir", dir + "/state"],
                                              cwd: dir, environment: env)
        return (r.status, r.stdout + r.stderr)
    }

    // MARK: - Records, Debezium-shaped

    /// Six hours ago on a 5-minute boundary: recent enough for ClickHouse's TTLs (rows already
    /// past their TTL are dropped as they are inserted), for the test that runs both sinks.
    var t0: Int64 {
        let now = Int64(startedAt.timeIntervalSince1970 * 1000) - 6 * 3_600_000
        return now - now % 300_000
    }

    static func order(_ id: Int, customer: Int, status: String, quantity: String = "10.0000", price: String = "71000.5000", t: Int64) -> String {
        #"{"order_id":\#(id),"customer_id":\#(customer),"symbol":"005930","side":"BUY","order_type":"LIMIT","quantity":"\#(quantity)","price":"\#(price)","status":"\#(status)","created_at":\#(t),"updated_at":\#(t + 1000)}"#
    }

    static func event(_ op: String, table: String = "orders", before: String?, after: String?, ts: Int64) -> String {
        #"{"before":\#(before ?? "null"),"after":\#(after ?? "null"),"source":{"version":"3.0.7.Final","connector":"mysql","ts_ms":\#(ts),"db":"shop","table":"\#(table)","server_id":1},"op":"\#(op)","ts_ms":\#(ts + 5)}"#
    }

    /// Sends `(topic, key, value)` records (nil value: a tombstone) and waits for every ack.
    func produce(_ records: [(String, String, String?)]) throws {
        let producer = try KafkaProducer(KafkaSettings(bootstrap: testbed["TESTBED_KAFKA_BOOTSTRAP_SINGLE"]))
        for (topic, key, value) in records { try producer.send(topic: topic, key: key, value: value) }
        try producer.flush()
        XCTAssertEqual(producer.acknowledged, records.count)
    }

    /// One order's life: created (or snapshot-read), filled, and (every third) deleted with its tombstone.
    func lifecycle(_ orderId: Int, customer: Int, snapshot: Bool = false, delete: Bool = false, offset: Int64 = 0) -> [(String, String, String?)] {
        let key = #"{"order_id":\#(orderId)"# + "}"
        let t = t0 + offset
        let new = Self.order(orderId, customer: customer, status: "NEW", t: t)
        let filled = Self.order(orderId, customer: customer, status: "FILLED", t: t)
        var out: [(String, String, String?)] = [
            (ordersTopic, key, Self.event(snapshot ? "r" : "c", before: nil, after: new, ts: t)),
            (ordersTopic, key, Self.event("u", before: new, after: filled, ts: t + 1000)),
        ]
        if delete {
            out.append((ordersTopic, key, Self.event("d", before: filled, after: nil, ts: t + 2000)))
            out.append((ordersTopic, key, nil))
        }
        return out
    }

    func execution(_ id: Int, orderId: Int) -> (String, String, String?) {
        let row = #"{"execution_id":\#(id),"order_id":\#(orderId),"symbol":"005930","quantity":"10.0000","price":"71000.5000","executed_at":\#(t0)}"#
        return (executionsTopic, #"{"execution_id":\#(id)}"#, Self.event("c", table: "order_executions", before: nil, after: row, ts: t0))
    }

    /// Every table as sorted text, without the columns a run stamps (ids, written_at, updated_at).
    func dump(_ db: PostgresConnection) throws -> [String: [[String?]]] {
        [
            "orders_history": try db.exec("SELECT kafka_topic, kafka_partition, kafka_offset, order_id, op, before::text, after::text, source_ts FROM orders_history ORDER BY 1, 2, 3").rows,
            "order_executions_history": try db.exec("SELECT kafka_topic, kafka_partition, kafka_offset, execution_id, op, after::text FROM order_executions_history ORDER BY 1, 2, 3").rows,
            "orders_current": try db.exec("SELECT order_id, customer_id, status, quantity, price, created_at, kafka_offset FROM orders_current ORDER BY 1").rows,
            "order_executions_current": try db.exec("SELECT execution_id, order_id, quantity, price, executed_at FROM order_executions_current ORDER BY 1").rows,
            "user_order_stats": try db.exec("SELECT user_id, order_count, notional, new_count, partially_filled_count, filled_count, cancelled_count, rejected_count FROM user_order_stats ORDER BY 1").rows,
            "sink_rejects": try db.exec("SELECT kafka_topic, kafka_partition, kafka_offset, stage FROM sink_rejects ORDER BY 1, 2, 3").rows,
            "cdcctl_offsets": try db.exec("SELECT topic, partition, next_offset FROM cdcctl_offsets ORDER BY 1, 2").rows,
        ]
    }

    // MARK: - 1. A change stream gives the expected rows

    func testChangeStreamGivesHistoryCurrentStatsAndOneReject() throws {
        let (m, db) = try database("stream")
        var records = lifecycle(1, customer: 7, snapshot: true)            // r, u
        records += lifecycle(2, customer: 7)                                // c, u
        records += lifecycle(3, customer: 8, delete: true)                  // c, u, d, tombstone
        records.append((ordersTopic, #"{"order_id":4}"#, "{oops"))          // undecodable
        records.append(execution(1, orderId: 2))
        try produce(records)

        let r = try run(m)
        XCTAssertEqual(r.status, 0, r.output)
        XCTAssertTrue(r.output.contains("no offsets stored in PostgreSQL for group pgs-\(id)-stream.postgres: starting at the beginning"), r.output)
        XCTAssertTrue(r.output.contains("quarantined \(ordersTopic)["), r.output)

        let history = try db.exec("SELECT order_id, op, before IS NULL, after IS NULL FROM orders_history ORDER BY order_id, kafka_partition, kafka_offset").rows
        XCTAssertEqual(history, [["1", "r", "t", "f"], ["1", "u", "f", "f"], ["2", "c", "t", "f"], ["2", "u", "f", "f"],
                                 ["3", "c", "t", "f"], ["3", "u", "f", "f"], ["3", "d", "f", "t"]])
        XCTAssertEqual(try db.exec("SELECT after->>'status' FROM orders_history WHERE order_id = 2 AND op = 'u'").scalar, "FILLED")
        XCTAssertEqual(try db.exec("SELECT count(DISTINCT (kafka_topic, kafka_partition, kafka_offset)) FROM orders_history").scalar, "7")
        XCTAssertEqual(try db.exec("SELECT min(source_ts) = to_timestamp(\(t0) / 1000.0) FROM orders_history").scalar, "t")
        XCTAssertEqual(try db.exec("SELECT order_id, customer_id, status, quantity, price FROM orders_current ORDER BY order_id").rows,
                       [["1", "7", "FILLED", "10.0000", "71000.5000"], ["2", "7", "FILLED", "10.0000", "71000.5000"]])
        XCTAssertEqual(try db.exec("SELECT execution_id, order_id FROM order_executions_current").rows, [["1", "2"]])
        XCTAssertEqual(try db.exec("SELECT count(*) FROM order_executions_history").scalar, "1")
        // User 7: two filled orders of 10 × 71000.5; user 8's only order was deleted: no row.
        XCTAssertEqual(try db.exec("SELECT user_id, order_count, notional, new_count, filled_count FROM user_order_stats").rows,
                       [["7", "2", "1420010.00000000", "0", "2"]])
        XCTAssertEqual(try db.exec("SELECT stage, convert_from(record_value, 'UTF8') FROM sink_rejects").rows, [["decode", "{oops"]])
        // 9 order records (the tombstone and the reject included) and 1 execution consumed.
        XCTAssertEqual(try db.exec("SELECT sum(next_offset) FROM cdcctl_offsets WHERE topic = $1", [ordersTopic]).scalar, "9")
        XCTAssertEqual(try db.exec("SELECT sum(next_offset) FROM cdcctl_offsets WHERE topic = $1", [executionsTopic]).scalar, "1")

        // A second run seeks to the stored offsets and writes nothing again.
        let again = try run(m, idle: 2)
        XCTAssertEqual(again.status, 0, again.output)
        XCTAssertTrue(again.output.contains("seeking to the offsets stored in PostgreSQL (cdcctl_offsets, group pgs-\(id)-stream.postgres)"), again.output)
        XCTAssertTrue(again.output.contains("postgres: 0 records in 0 transaction(s)"), again.output)
        XCTAssertEqual(try db.exec("SELECT count(*) FROM orders_history").scalar, "7")

        // `process status` shows the loop's position as PostgreSQL stores it.
        let status = try CLI(directory: dir, environment: environment()).separately(["process", "status", "-m", m, "-o", "json"])
        XCTAssertEqual(status.status, 3, "not running: \(status.stderr)")
        let json = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(status.stdout.utf8)) as? [String: Any])
        let pg = try XCTUnwrap(json["postgres"] as? [String: Any], status.stdout)
        XCTAssertEqual(pg["group"] as? String, "pgs-\(id)-stream.postgres")
        XCTAssertNil(pg["problem"], status.stdout)
        let stored = (pg["partitions"] as? [[String: Any]] ?? []).filter { $0["topic"] as? String == ordersTopic }
            .compactMap { $0["committed"] as? Int }.filter { $0 >= 0 }.reduce(0, +)
        XCTAssertEqual(stored, 9, status.stdout)
    }
}

extension PostgresSinkIntegrationTests {
    /// A change PostgreSQL refuses (a NUL character, which no text or jsonb value may hold):
    /// the batch is sent again change by change behind savepoints, the refused one quarantined
    /// with stage `insert`, the others written, in one transaction with the offsets.
    func testAChangePostgresRefusesIsQuarantinedAndTheRestOfTheBatchWritten() throws {
        let (m, db) = try database("refused")
        let bad = Self.order(2, customer: 5, status: "NEW", t: t0).replacingOccurrences(of: #""symbol":"005930""#, with: #""symbol":"00\u00005930""#)
        try produce([
            (ordersTopic, #"{"order_id":1}"#, Self.event("c", before: nil, after: Self.order(1, customer: 5, status: "NEW", t: t0), ts: t0)),
            (ordersTopic, #"{"order_id":2}"#, Self.event("c", before: nil, after: bad, ts: t0)),
            (ordersTopic, #"{"order_id":3}"#, Self.event("c", before: nil, after: Self.order(3, customer: 5, status: "NEW", t: t0), ts: t0)),
        ])
        let r = try run(m)
        XCTAssertEqual(r.status, 0, r.output)
        XCTAssertTrue(r.output.contains("refused batch 1 as bad data"), r.output)
        XCTAssertEqual(try db.exec("SELECT order_id FROM orders_history ORDER BY 1").rows, [["1"], ["3"]])
        XCTAssertEqual(try db.exec("SELECT order_id FROM orders_current ORDER BY 1").rows, [["1"], ["3"]])
        XCTAssertEqual(try db.exec("SELECT stage FROM sink_rejects").rows, [["insert"]])
        XCTAssertEqual(try db.exec("SELECT order_count FROM user_order_stats WHERE user_id = 5").scalar, "2")
        XCTAssertEqual(try db.exec("SELECT sum(next_offset) FROM cdcctl_offsets").scalar, "3")
    }
}
