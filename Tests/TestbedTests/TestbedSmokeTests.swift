import Connect
import Foundation
import HTTP
import Kafka
import MySQL
import TestSupport
import XCTest

/// One check per testbed server that it is the real thing cdcctl will talk to.
final class TestbedSmokeTests: XCTestCase {
    var testbed: Testbed!

    override func setUpWithError() throws { testbed = try Testbed.require() }

    func testMariaDBWritesRowBinlogsWithFullImages() throws {
        let db = try MySQLConnection(MySQLEndpoint(host: "127.0.0.1", port: Int(testbed["TESTBED_MYSQL_PORT"])!, user: "root",
                                                   password: testbed["TESTBED_MYSQL_ROOT_PASSWORD"]))
        let v = try db.variables()
        XCTAssertEqual(v["log_bin"], "ON")
        XCTAssertEqual(v["binlog_format"], "ROW")
        XCTAssertEqual(v["binlog_row_image"], "FULL")
        XCTAssertNotNil(v["gtid_strict_mode"], "it is MariaDB (MySQL has no gtid_strict_mode)")
        XCTAssertTrue(v["version"]?.hasPrefix("8.0.2") ?? false, "reports 8.0.2 for the Debezium MySQL connector")
        XCTAssertFalse(try db.query("SHOW BINARY LOGS").rows.isEmpty)
    }

    func testEachOfTheThreeBrokerProcessesAnswersKafkaMetadata() throws {
        let addresses = testbed.kafkaBootstrap.split(separator: ",").map(String.init)
        XCTAssertEqual(addresses.count, 3)
        for address in addresses {
            let md = try KafkaAdmin(KafkaSettings(bootstrap: address), timeoutMs: 5000).metadata()
            // Tansu: one logical broker per answer (node 111) advertising the process asked.
            XCTAssertEqual(md.brokers.count, 1)
            XCTAssertEqual("\(md.brokers[0].host):\(md.brokers[0].port)", address)
        }
    }

    func testConnectWorkerHasTheRealDebeziumMySQLConnector() throws {
        let client = ConnectClient(baseURL: testbed["TESTBED_CONNECT_URL"])
        XCTAssertTrue(try client.plugins().contains("io.debezium.connector.mysql.MySqlConnector"))
        XCTAssertNotNil(try client.info()["version"])
    }

    func testClickHouseEngineAnswersVersion() throws {
        let response = try HTTPClient().send(HTTPRequest("POST", testbed["TESTBED_CLICKHOUSE_URL"] + "/", body: Array("SELECT version()".utf8)))
        XCTAssertEqual(response.status, 200, response.text)
        let major = Int(response.text.split(separator: ".").first ?? "") ?? 0
        XCTAssertGreaterThanOrEqual(major, 24, "a modern engine: \(response.text)")
    }

    func testPrometheusIsReady() throws {
        let response = try HTTPClient().send(HTTPRequest("GET", testbed["TESTBED_PROMETHEUS_URL"] + "/-/ready"))
        XCTAssertEqual(response.status, 200)
    }

    func testPostgreSQLAnswersQueries() throws {
        let psql = try TestSupport.tool("psql", env: "CDCCTL_PSQL")
        let result = try TestSupport.run(psql, [testbed["TESTBED_POSTGRES_URL"], "-tAc", "SHOW server_version"])
        XCTAssertEqual(result.status, 0, result.output)
        XCTAssertTrue(result.output.hasPrefix("15."), result.output)
    }
}
