import Foundation
import Kafka
import MySQL
import TestSupport
import XCTest

/// `cdcctl produce orders` against the testbed's MariaDB (started as "8.0.2" so the Debezium
/// MySQL connector accepts it) with the real Connect worker and Debezium capturing it.
final class OrdersIntegrationTests: XCTestCase {
    var testbed: Testbed!
    var dir = ""
    var id = ""
    var db: String { "po_\(id)" }
    var prefix: String { "cdcpo\(id)" }
    var appUser: String { "app_\(id)" }
    let appPassword = "App-" + UUID().uuidString.prefix(12)

    override func setUpWithError() throws {
        testbed = try Testbed.require()
        dir = try TestSupport.temporaryDirectory(self)
        id = String(UUID().uuidString.prefix(8).lowercased())
    }

    func root() throws -> MySQLConnection {
        try MySQLConnection(MySQLEndpoint(host: "127.0.0.1", port: Int(testbed["TESTBED_MYSQL_PORT"])!, user: "root",
                                          password: testbed["TESTBED_MYSQL_ROOT_PASSWORD"]))
    }

    var cdcctl: CLI {
        var env = ProcessInfo.processInfo.environment
        env["IT_APP_PASSWORD"] = appPassword
        return CLI(directory: dir, environment: env)
    }

    func setUpSource() throws -> String {
        let admin = try root()
        try admin.query("CREATE DATABASE \(db)")
        addTeardownBlock {
            _ = try? self.root().query("DROP DATABASE IF EXISTS \(self.db)")
            _ = try? self.root().query("DROP USER IF EXISTS '\(self.appUser)'@'%'")
        }
        let schema = try String(contentsOfFile: TestSupport.repo + "/Tests/RenderTests/Golden/default/mysql/initdb.d/001-schema.sql", encoding: .utf8)
        try admin.query("USE \(db)")
        for statement in schema.components(separatedBy: ";\n") where statement.contains("CREATE TABLE") { try admin.query(statement) }
        let yaml = """
            apiVersion: cdcctl/v1
            cluster:
              name: produce-it
            secrets:
              mysqlRootPassword: env:TESTBED_MYSQL_ROOT_PASSWORD
              mysqlCdcPassword: env:TESTBED_MYSQL_CDC_PASSWORD
              mysqlAppPassword: env:IT_APP_PASSWORD
            source:
              engine: mysql  # the testbed MariaDB stands in for MySQL 8 (version override); its Connect worker has no MariaDB connector
              port: 33306
              database: \(db)
              appUser: \(appUser)
            kafka:
              engine: tansu
              topics:
                - {name: \(prefix).\(db).orders, partitions: 3, key: order_id}
                - {name: \(prefix).\(db).order_executions, partitions: 3, key: order_id}
                - {name: schemahistory.\(prefix), partitions: 1, retentionHours: -1, retentionBytes: -1}
            connect:
              secretsFile: \(testbed["TESTBED_CONNECT_SECRETS_FILE"])
              connectors:
                - name: po-\(id)
                  databaseHost: 127.0.0.1
                  databasePort: \(testbed["TESTBED_MYSQL_PORT"])
                  kafkaBootstrap: \(testbed["TESTBED_CONNECT_BOOTSTRAP"])
                  topicPrefix: \(prefix)
                  tables: [\(db).orders, \(db).order_executions]
                  serverId: \(6000 + Int.random(in: 0..<3000))
                  schemaHistoryTopic: schemahistory.\(prefix)
            processor:
              tradesTopic: \(prefix).\(db).orders
              ordersTopic: \(prefix).\(db).orders
            producers:
              orders: {deleteShare: 0.2, cancelShare: 0.25, oversizedShare: 0.02}
              trades: {topic: \(prefix).\(db).orders}
            access:
              kafkaBootstrap: \(testbed.kafkaBootstrap)
              connectURL: \(testbed["TESTBED_CONNECT_URL"])
              mysqlHost: 127.0.0.1
              mysqlPort: \(testbed["TESTBED_MYSQL_PORT"])

            """
        let path = dir + "/cdcctl.yaml"
        try yaml.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    func testOrdersKeepTheLifecycleInvariantsAndEveryChangeReachesKafka() throws {
        let manifest = try setUpSource()
        XCTAssertEqual(try cdcctl(["topics", "apply", "-m", manifest]).status, 0)
        let register = try cdcctl(["connector", "register", "-m", manifest, "--timeout", "120"])
        XCTAssertEqual(register.status, 0, register.output)
        addTeardownBlock { _ = try? self.cdcctl(["connector", "delete", "po-\(self.id)", "-m", manifest]) }

        // Without the user, the run refuses with the fix (exit 2) and writes nothing.
        let refused = try cdcctl.separately(["produce", "orders", "-m", manifest, "--count", "5", "--retry-seconds", "1"])
        XCTAssertEqual(refused.status, 2, refused.stderr)
        XCTAssertTrue(refused.stderr.contains("--create-user"), refused.stderr)

        let run = try cdcctl.separately(["produce", "orders", "-m", manifest, "--create-user", "--count", "600", "--rate", "1000",
                                         "--pattern", "constant", "--seed", "7", "-o", "json"])
        XCTAssertEqual(run.status, 0, run.stderr)
        let result = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as? [String: Any], run.stdout)
        let summary = try XCTUnwrap(result["summary"] as? [String: Any])
        let kinds = try XCTUnwrap(summary["committedByKind"] as? [String: Int])
        XCTAssertEqual(summary["committed"] as? Int, 600, run.stdout)
        XCTAssertEqual(summary["failed"] as? Int, 0)
        for kind in ["place", "partial", "fill", "cancel", "delete"] { XCTAssertGreaterThan(kinds[kind] ?? 0, 0, "\(kind): \(kinds)") }

        // The user is least-privilege: rows of this database only.
        let grants = try root().query("SHOW GRANTS FOR '\(appUser)'@'%'").firstColumn.joined(separator: "\n")
        XCTAssertTrue(grants.contains("GRANT SELECT, INSERT, UPDATE, DELETE ON `\(db)`.*"), grants)
        XCTAssertFalse(grants.contains("ON *.*") && grants.contains("REPLICATION"), grants)

        // Lifecycle invariants in MySQL.
        let admin = try root()
        try admin.query("USE \(db)")
        let filledWrong = try admin.query("""
            SELECT o.order_id FROM orders o LEFT JOIN order_executions e ON e.order_id = o.order_id
            WHERE o.status = 'FILLED' GROUP BY o.order_id, o.quantity HAVING COALESCE(SUM(e.quantity), 0) <> o.quantity
            """).rows
        XCTAssertEqual(filledWrong.count, 0, "every FILLED order's executions sum to its quantity")
        let partialWithout = try admin.query("""
            SELECT o.order_id FROM orders o WHERE o.status = 'PARTIALLY_FILLED'
            AND NOT EXISTS (SELECT 1 FROM order_executions e WHERE e.order_id = o.order_id)
            """).rows
        XCTAssertEqual(partialWithout.count, 0, "no PARTIAL without executions")
        let over = try admin.query("""
            SELECT o.order_id FROM orders o JOIN order_executions e ON e.order_id = o.order_id
            GROUP BY o.order_id, o.quantity HAVING SUM(e.quantity) > o.quantity
            """).rows
        XCTAssertEqual(over.count, 0, "never executed beyond the quantity")
        let orders = Int(try admin.query("SELECT COUNT(*) FROM orders").firstColumn[0])!
        XCTAssertEqual(orders, kinds["place"]! - kinds["delete"]!, "deleted orders are gone, every placed one is there")
        let executions = Int(try admin.query("SELECT COUNT(*) FROM order_executions").firstColumn[0])!
        let oversized = Int(try admin.query("SELECT COUNT(*) FROM orders WHERE quantity * price > 100000000").firstColumn[0])!
        XCTAssertGreaterThan(oversized, 0, "some orders trip oversized_order")
        var statusInMySQL: [Int: String] = [:]
        for row in try admin.query("SELECT order_id, status FROM orders").rows { statusInMySQL[Int(row[0]!)!] = row[1]! }

        // Every change reached Kafka: each order's last event has MySQL's status (or is its delete),
        // every execution was created (and the deleted ones deleted) in the executions topic.
        let consumer = try KafkaConsumer(KafkaSettings(bootstrap: testbed["TESTBED_KAFKA_BOOTSTRAP_SINGLE"]), group: "po-\(id)")
        let ordersTopic = "\(prefix).\(db).orders", executionsTopic = "\(prefix).\(db).order_executions"
        try consumer.assign((0..<3).flatMap { p in [(ordersTopic, Int32(p), Int64(-2)), (executionsTopic, Int32(p), Int64(-2))] })
        var lastStatus: [Int: String] = [:]   // "deleted" after a d event
        var created: Set<Int> = [], executionCreates = 0, executionDeletes = 0, tombstones = 0
        let placed = kinds["place"]!, inserted = kinds["partial"]! + kinds["fill"]!
        let deletedExecutions = inserted - executions
        func done() -> Bool {
            created.count == placed && executionCreates == inserted && executionDeletes == deletedExecutions
                && lastStatus.count == placed && lastStatus.allSatisfy { statusInMySQL[$0.key] ?? "deleted" == $0.value }
        }
        let deadline = Date().addingTimeInterval(120)
        while !done() && Date() < deadline {
            guard let m = try consumer.poll(timeoutMs: 250) else { continue }
            guard let value = m.value else { tombstones += 1; continue }
            let event = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(value)) as? [String: Any])
            let op = event["op"] as? String
            let row = (event["after"] as? [String: Any]) ?? (event["before"] as? [String: Any]) ?? [:]
            if m.topic == ordersTopic {
                let orderId = try XCTUnwrap(row["order_id"] as? Int)
                if op == "c" { created.insert(orderId) }
                lastStatus[orderId] = op == "d" ? "deleted" : row["status"] as? String
            } else {
                if op == "c" { executionCreates += 1 } else if op == "d" { executionDeletes += 1 }
            }
        }
        XCTAssertTrue(done(), "Kafka: \(created.count)/\(placed) orders created, \(executionCreates)/\(inserted) executions, "
                      + "\(executionDeletes)/\(deletedExecutions) execution deletes; status mismatches: "
                      + "\(lastStatus.filter { statusInMySQL[$0.key] ?? "deleted" != $0.value }.count)")
        XCTAssertGreaterThan(tombstones, 0, "deletes leave tombstones")

        let history = try cdcctl(["history", "-o", "json"])
        XCTAssertTrue(history.output.contains("\"command\" : \"produce orders\""), "journaled")
        print("measured: produce orders \(summary["stepsPerSecond"] ?? "?") steps/s committed (600 steps, testbed MariaDB)")
    }

    /// Nothing listens on the port (a real refused connection): the run retries with backoff,
    /// says so on stderr, and exits 1 having reported nothing written.
    func testUnreachableMySQLIsRetriedSaidAndNothingIsReported() throws {
        let socket = try TestSupport.freePort()
        let yaml = """
            apiVersion: cdcctl/v1
            cluster: {name: po-down}
            secrets:
              mysqlRootPassword: env:TESTBED_MYSQL_ROOT_PASSWORD
              mysqlCdcPassword: env:TESTBED_MYSQL_CDC_PASSWORD
              mysqlAppPassword: env:IT_APP_PASSWORD
            source: {engine: mariadb}
            access:
              kafkaBootstrap: \(testbed.kafkaBootstrap)
              mysqlHost: 127.0.0.1
              mysqlPort: \(socket)

            """
        try yaml.write(toFile: dir + "/down.yaml", atomically: true, encoding: .utf8)
        let run = try cdcctl.separately(["produce", "orders", "-m", dir + "/down.yaml", "--count", "10", "--retry-seconds", "3"])
        XCTAssertEqual(run.status, 1, run.stderr)
        XCTAssertTrue(run.stderr.contains("MySQL unavailable at 127.0.0.1:\(socket)"), run.stderr)
        XCTAssertTrue(run.stderr.contains("attempt 2"), "retried with backoff: \(run.stderr)")
        XCTAssertFalse(run.stdout.contains("committed"), run.stdout)
    }
}
