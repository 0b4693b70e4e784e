import Foundation
import Kafka
import MySQL
import TestSupport
import XCTest

/// The real Kafka Connect worker with the real Debezium MySQL connector, capturing the testbed's
/// MariaDB (started as "8.0.2" so the MySQL connector accepts it; see docs/testbed.md).
final class ConnectorIntegrationTests: XCTestCase {
    var testbed: Testbed!
    var dir = ""
    var id = ""
    var db: String { "it_\(id)" }
    var prefix: String { "cdcit\(id)" }
    var connector: String { "it-\(id)" }

    override func setUpWithError() throws {
        testbed = try Testbed.require()
        dir = try TestSupport.temporaryDirectory(self)
        id = String(UUID().uuidString.prefix(8).lowercased())
    }

    func root() throws -> MySQLConnection {
        try MySQLConnection(MySQLEndpoint(host: "127.0.0.1", port: Int(testbed["TESTBED_MYSQL_PORT"])!, user: "root",
                                          password: testbed["TESTBED_MYSQL_ROOT_PASSWORD"]))
    }

    /// A database of this test's own with the seed schema (as rendered), and a manifest for it.
    func setUpSource(connectorConfig: String = "", secretsFile: String? = nil) throws -> String {
        let admin = try root()
        try admin.query("CREATE DATABASE \(db)")
        addTeardownBlock { _ = try? self.root().query("DROP DATABASE IF EXISTS \(self.db)") }
        let schema = try String(contentsOfFile: TestSupport.repo + "/Tests/RenderTests/Golden/default/mysql/initdb.d/001-schema.sql", encoding: .utf8)
        try admin.query("USE \(db)")
        for statement in schema.components(separatedBy: ";\n") where statement.contains("CREATE TABLE") { try admin.query(statement) }
        let yaml = """
            apiVersion: cdcctl/v1
            cluster:
              name: connect-it
            secrets:
              mysqlRootPassword: env:TESTBED_MYSQL_ROOT_PASSWORD
              mysqlCdcPassword: env:TESTBED_MYSQL_CDC_PASSWORD
            source:
              engine: mysql   # the MariaDB stand-in for MySQL 8, captured by the MySQL connector
              port: 33306
            kafka:
              engine: tansu
              topics:
                - {name: \(prefix).\(db).orders, partitions: 3, key: order_id}
                - {name: \(prefix).\(db).order_executions, partitions: 3, key: order_id}
                - {name: schemahistory.\(prefix), partitions: 1, retentionHours: -1, retentionBytes: -1}
            connect:
              secretsFile: \(secretsFile ?? testbed["TESTBED_CONNECT_SECRETS_FILE"])
              connectors:
                - name: \(connector)
                  databaseHost: 127.0.0.1
                  databasePort: \(testbed["TESTBED_MYSQL_PORT"])
                  kafkaBootstrap: \(testbed["TESTBED_CONNECT_BOOTSTRAP"])
                  topicPrefix: \(prefix)
                  tables: [\(db).orders, \(db).order_executions]
                  serverId: \(6000 + Int.random(in: 0..<3000))
                  schemaHistoryTopic: schemahistory.\(prefix)
            \(connectorConfig)
            processor:
              tradesTopic: \(prefix).\(db).orders
              ordersTopic: \(prefix).\(db).orders
            producers:
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

    var cdcctl: CLI { CLI(directory: dir) }

    /// Reads change events of the orders topic until `count` arrived (bounded).
    func readEvents(_ consumer: KafkaConsumer, count: Int, seconds: Double = 60) throws -> [ConsumedMessage] {
        var out: [ConsumedMessage] = []
        let deadline = Date().addingTimeInterval(seconds)
        while out.count < count && Date() < deadline {
            if let m = try consumer.poll(timeoutMs: 250) { out.append(m) }
        }
        return out
    }

    func testRegisterStreamsChangesAndLifecycleCommandsWork() throws {
        let manifest = try setUpSource()
        let admin = try root()
        try admin.query("INSERT INTO \(db).orders (customer_id, symbol, side, quantity, price) VALUES (7, '005930', 'BUY', 10, 71000.5)")
        XCTAssertEqual(try cdcctl(["topics", "apply", "-m", manifest]).status, 0)

        let register = try cdcctl(["connector", "register", "-m", manifest, "--timeout", "120", "-o", "json"])
        XCTAssertEqual(register.status, 0, register.output)
        XCTAssertTrue(register.output.contains("\"action\" : \"created\""), register.output)
        XCTAssertTrue(register.output.contains("\"state\" : \"RUNNING\""), register.output)

        let topic = "\(prefix).\(db).orders"
        // The worker writes through the first Tansu process; read from it too (another process
        // sees new records only after its ~5 s refresh of the shared store; docs/testbed.md).
        let consumer = try KafkaConsumer(KafkaSettings(bootstrap: testbed["TESTBED_KAFKA_BOOTSTRAP_SINGLE"]), group: "it-\(id)")
        try consumer.assign((0..<3).map { (topic, Int32($0), -2) })
        let snapshot = try readEvents(consumer, count: 1)
        XCTAssertEqual(snapshot.count, 1, "the snapshot event of the row that existed before registering")
        let snap = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(try XCTUnwrap(snapshot.first?.value))) as? [String: Any])
        XCTAssertEqual(snap["op"] as? String, "r")
        XCTAssertEqual((snap["after"] as? [String: Any])?["price"] as? String, "71000.5000", "decimal.handling.mode=string keeps exact prices")

        let insertedAt = Date()
        try admin.query("INSERT INTO \(db).orders (customer_id, symbol, side, quantity, price) VALUES (8, '000660', 'SELL', 3, 180000)")
        let orderId = try admin.query("SELECT MAX(order_id) FROM \(db).orders").firstColumn.first!
        let created = try readEvents(consumer, count: 1)
        let latency = Date().timeIntervalSince(insertedAt)
        try admin.query("UPDATE \(db).orders SET status = 'FILLED' WHERE order_id = \(orderId)")
        try admin.query("DELETE FROM \(db).orders WHERE order_id = \(orderId)")
        let rest = try readEvents(consumer, count: 3)
        let events = created + rest
        guard events.count == 4 else { return XCTFail("expected c, u, d and the tombstone, got \(events.count) events") }
        let decoded = events.map { $0.value.flatMap { try? JSONSerialization.jsonObject(with: Data($0)) as? [String: Any] } }
        XCTAssertEqual(decoded.map { $0?["op"] as? String }, ["c", "u", "d", nil])
        XCTAssertNil((decoded[0]?["before"] as? [String: Any]))
        XCTAssertEqual((decoded[0]?["after"] as? [String: Any])?["symbol"] as? String, "000660")
        XCTAssertEqual((decoded[1]?["before"] as? [String: Any])?["status"] as? String, "NEW")
        XCTAssertEqual((decoded[1]?["after"] as? [String: Any])?["status"] as? String, "FILLED")
        XCTAssertEqual((decoded[2]?["before"] as? [String: Any])?["status"] as? String, "FILLED")
        XCTAssertNil(decoded[2]?["after"] as? [String: Any])
        XCTAssertNil(events[3].value, "tombstone after the delete")
        XCTAssertEqual(Set(events.map(\.keyString)), ["{\"order_id\":\(orderId)}"], "keyed by primary key: one order, one partition")
        XCTAssertEqual(Set(events.map(\.partition)).count, 1)
        print("measured: INSERT to topic \(String(format: "%.2f", latency)) s")

        let again = try cdcctl(["connector", "register", "-m", manifest])
        XCTAssertEqual(again.status, 0, again.output)
        XCTAssertTrue(again.output.contains("\(connector)  unchanged"), again.output)

        XCTAssertEqual(try cdcctl(["connector", "pause", connector, "-m", manifest]).status, 0)
        XCTAssertTrue(try waitFor("PAUSED", manifest))
        XCTAssertEqual(try cdcctl(["connector", "resume", connector, "-m", manifest]).status, 0)
        XCTAssertTrue(try waitFor("RUNNING", manifest))
        XCTAssertEqual(try cdcctl(["connector", "restart", connector, "--include-tasks", "-m", manifest]).status, 0)
        XCTAssertTrue(try waitFor("RUNNING", manifest))

        let describe = try cdcctl(["connector", "describe", connector, "-m", manifest])
        XCTAssertEqual(describe.status, 0, describe.output)
        XCTAssertTrue(describe.output.contains("${file:"), "the password stays a reference: \(describe.output)")
        XCTAssertFalse(describe.output.contains(testbed["TESTBED_MYSQL_CDC_PASSWORD"]))

        let earlyReset = try cdcctl(["connector", "offsets", "reset", connector, "-m", manifest])
        XCTAssertEqual(earlyReset.status, 2, earlyReset.output)
        XCTAssertTrue(earlyReset.output.contains("must be STOPPED"), earlyReset.output)
        XCTAssertEqual(try cdcctl(["connector", "stop", connector, "-m", manifest]).status, 0)
        XCTAssertTrue(try waitFor("STOPPED", manifest))
        let offsets = try cdcctl(["connector", "offsets", "get", connector, "-m", manifest])
        XCTAssertEqual(offsets.status, 0, offsets.output)
        XCTAssertTrue(offsets.output.contains(prefix), "Debezium's offset partition names the topic prefix: \(offsets.output)")

        XCTAssertEqual(try cdcctl(["connector", "delete", connector, "-m", manifest]).status, 0)
        let gone = try cdcctl(["connector", "status", connector, "-m", manifest])
        XCTAssertEqual(gone.status, 2, gone.output)
        XCTAssertTrue(gone.output.contains("is not registered on the worker"), gone.output)

        let history = try cdcctl(["history", "-o", "json"])
        for verb in ["connector register", "connector pause", "connector resume", "connector restart", "connector stop", "connector delete"] {
            XCTAssertTrue(history.output.contains("\"command\" : \"\(verb)\""), "\(verb) journaled")
        }
    }

    func waitFor(_ state: String, _ manifest: String, seconds: Double = 60) throws -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            let s = try cdcctl(["connector", "status", connector, "-m", manifest, "-o", "json"])
            if s.output.contains("\"state\" : \"\(state)\"") && (state != "RUNNING" || s.status == 0) { return true }
            Thread.sleep(forTimeInterval: 0.5)
        }
        return false
    }

    func testBadConfigsPrintConnectsErrorsAndCreateNothing() throws {
        let badMode = try setUpSource(connectorConfig: "      config: {snapshot.mode: sometimes}")
        let run = try cdcctl(["connector", "register", "-m", badMode, "--skip-preflight"])
        XCTAssertEqual(run.status, 2, run.output)
        XCTAssertTrue(run.output.contains("snapshot.mode"), run.output)
        XCTAssertTrue(run.output.contains("nothing was created"), run.output)

        let wrongSecrets = dir + "/wrong.properties"
        try "user=debezium\npassword=not-the-password\n".write(toFile: wrongSecrets, atomically: true, encoding: .utf8)
        let wrongPassword = try setUpSourceAgain(secretsFile: wrongSecrets)
        let denied = try cdcctl(["connector", "register", "-m", wrongPassword, "--skip-preflight"])
        XCTAssertEqual(denied.status, 2, denied.output)
        XCTAssertTrue(denied.output.lowercased().contains("access denied"), denied.output)

        let list = try cdcctl(["connector", "list", "-m", wrongPassword, "-o", "json"])
        XCTAssertFalse(list.output.contains("\"state\" : \"RUNNING\"") && list.output.contains(connector), list.output)
        XCTAssertTrue(list.output.contains("not registered"), list.output)

        let noPrefix = try String(contentsOfFile: wrongPassword, encoding: .utf8).replacingOccurrences(of: "topicPrefix: \(prefix)", with: "topicPrefix: \"\"")
        try noPrefix.write(toFile: wrongPassword, atomically: true, encoding: .utf8)
        let missing = try cdcctl(["connector", "register", "-m", wrongPassword])
        XCTAssertEqual(missing.status, 2, missing.output)
        XCTAssertTrue(missing.output.contains("topicPrefix: '' cannot prefix Kafka topic names"), missing.output)
    }

    /// Rewrites the manifest with another secrets file (the database already exists).
    func setUpSourceAgain(secretsFile: String) throws -> String {
        let path = dir + "/cdcctl.yaml"
        let text = try String(contentsOfFile: path, encoding: .utf8)
            .replacingOccurrences(of: "secretsFile: \(testbed["TESTBED_CONNECT_SECRETS_FILE"])", with: "secretsFile: \(secretsFile)")
            .replacingOccurrences(of: "      config: {snapshot.mode: sometimes}\n", with: "")
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    func testPreflightCatchesStatementBinlogAndRegisterRefuses() throws {
        let manifest = try setUpSource()
        let admin = try root()
        try admin.query("SET GLOBAL binlog_format = 'STATEMENT'")
        addTeardownBlock { _ = try? self.root().query("SET GLOBAL binlog_format = 'ROW'") }
        let check = try cdcctl(["source", "check", "-m", manifest])
        XCTAssertEqual(check.status, 3, check.output)
        XCTAssertTrue(check.output.contains("binlog_format       FAIL"), check.output)
        XCTAssertTrue(check.output.contains("fix binlog_format: SET GLOBAL binlog_format = 'ROW';"), check.output)
        let register = try cdcctl(["connector", "register", "-m", manifest])
        XCTAssertEqual(register.status, 3, register.output)
        XCTAssertTrue(register.output.contains("source binlog_format: STATEMENT, expected ROW"), register.output)
        try admin.query("SET GLOBAL binlog_format = 'ROW'")
        XCTAssertEqual(try cdcctl(["source", "check", "-m", manifest]).status, 0)
    }
}
