import Foundation
import Manifest
import TestSupport
import XCTest
@testable import Render

/// `source.engine: mariadb` renders MariaDB's own image contract and Debezium's MariaDB
/// connector; `mysql` keeps the MySQL ones.
final class MariaDBRenderTests: XCTestCase {
    let renderer = Renderer(templates: TemplateSource(directories: [TestSupport.repo + "/templates"]))

    func render(_ engine: String) throws -> [String: String] {
        let m = try ManifestLoader.parse("apiVersion: cdcctl/v1\nsource:\n  engine: \(engine)\n", file: "x").manifest
        let files = try renderer.render(m, secrets: RenderTests.secrets)
        return Dictionary(uniqueKeysWithValues: files.map { ($0.path, $0.contents) })
    }

    func connectorConfig(_ files: [String: String]) throws -> [String: String] {
        let json = try XCTUnwrap(files["connect/connectors/mysql-cdc.json"] ?? files.first { $0.key.hasPrefix("connect/connectors/") }?.value)
        let object = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any])
        return try XCTUnwrap(object["config"] as? [String: String])
    }

    func testMariaDBGetsTheMariaDBConnectorAndMySQLKeepsItsOwn() throws {
        let maria = try connectorConfig(try render("mariadb"))
        XCTAssertEqual(maria["connector.class"], "io.debezium.connector.mariadb.MariaDbConnector")
        XCTAssertEqual(maria["snapshot.locking.mode"], "minimal")
        XCTAssertNil(maria["connector.adapter"], "Debezium ≥ 2.7 has a connector of its own, no adapter")
        let mysql = try connectorConfig(try render("mysql"))
        XCTAssertEqual(mysql["connector.class"], "io.debezium.connector.mysql.MySqlConnector")
        XCTAssertNil(mysql["snapshot.locking.mode"])
        // Everything else is shared.
        XCTAssertEqual(Set(maria.keys).subtracting(["snapshot.locking.mode"]), Set(mysql.keys))
    }

    func testMariaDBUsesItsImageContract() throws {
        let files = try render("mariadb")
        let compose = try XCTUnwrap(files["docker-compose.yml"])
        XCTAssertTrue(compose.contains("MARIADB_ROOT_PASSWORD: ${MYSQL_ROOT_PASSWORD:?"), compose)
        XCTAssertTrue(compose.contains("MARIADB_DATABASE: shop"))
        XCTAssertFalse(compose.contains("      MYSQL_ROOT_PASSWORD:"), "the mysql image's variable is not set for mariadb")
        XCTAssertTrue(compose.contains(#"test: ["CMD", "healthcheck.sh", "--connect", "--innodb_initialized"]"#))
        let grant = try XCTUnwrap(files["mysql/initdb.d/002-cdc-user.sh"])
        XCTAssertTrue(grant.contains("REPLICATION SLAVE, BINLOG MONITOR ON *.*"), grant)
        XCTAssertFalse(grant.contains("REPLICATION CLIENT ON"), grant)
        let mysqlGrant = try XCTUnwrap(try render("mysql")["mysql/initdb.d/002-cdc-user.sh"])
        XCTAssertTrue(mysqlGrant.contains("REPLICATION SLAVE, REPLICATION CLIENT ON *.*"), mysqlGrant)
    }
}
