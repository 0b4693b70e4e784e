import Connectors
import Foundation
import Manifest
import MySQL
import TestSupport
import XCTest

/// `source check` knows MariaDB: its engine against source.engine, its privilege names
/// (BINLOG MONITOR for MySQL's REPLICATION CLIENT), its GTID variables.
final class SourceCheckMariaDBTests: XCTestCase {
    func manifest(_ engine: String) throws -> Manifest {
        try ManifestLoader.parse("apiVersion: cdcctl/v1\nsource:\n  engine: \(engine)\n", file: "x").manifest
    }

    static let mariaVariables = ["version": "10.11.6-MariaDB-0+deb12u1-log", "gtid_strict_mode": "ON", "gtid_binlog_pos": "0-1-42",
                                 "gtid_domain_id": "0", "log_bin": "ON", "binlog_format": "ROW", "binlog_row_image": "FULL",
                                 "server_id": "1", "binlog_expire_logs_seconds": "259200"]
    static let mariaGrants = ["GRANT SELECT, RELOAD, SHOW DATABASES, REPLICATION SLAVE, BINLOG MONITOR ON *.* TO `debezium`@`%`"]

    func check(_ checks: [PreflightCheck], _ name: String) -> PreflightCheck? { checks.first { $0.name == name } }

    func testMariaDBWithItsOwnVersionPassesAsMariaDBAndFailsAsMySQL() throws {
        let facts = SourceFacts(variables: Self.mariaVariables, cdcGrants: Self.mariaGrants, cdcLoginError: nil)
        let asMariaDB = SourcePreflight.assess(facts, manifest: try manifest("mariadb"))
        XCTAssertEqual(asMariaDB.filter { $0.status != .ok }.map(\.name), [], "\(asMariaDB)")
        XCTAssertEqual(check(asMariaDB, "grants of debezium")?.expected, "SELECT, RELOAD, SHOW DATABASES, REPLICATION SLAVE, BINLOG MONITOR")
        XCTAssertEqual(check(asMariaDB, "gtid position")?.observed, "0-1-42")

        let asMySQL = SourcePreflight.assess(facts, manifest: try manifest("mysql"))
        XCTAssertEqual(check(asMySQL, "engine")?.status, .fail)
        XCTAssertTrue(check(asMySQL, "engine")?.fix?.contains("source.engine: mariadb") == true)
    }

    func testMySQLServerFailsForTheMariaDBConnector() throws {
        let mysql = ["version": "8.0.40", "gtid_mode": "ON", "enforce_gtid_consistency": "ON", "log_bin": "ON", "binlog_format": "ROW",
                     "binlog_row_image": "FULL", "server_id": "1", "binlog_expire_logs_seconds": "259200"]
        let checks = SourcePreflight.assess(SourceFacts(variables: mysql, cdcGrants: nil, cdcLoginError: "denied"), manifest: try manifest("mariadb"))
        XCTAssertEqual(check(checks, "engine")?.status, .fail)
        XCTAssertTrue(check(checks, "engine")?.fix?.contains(DebeziumConfig.mariaDBConnectorClass) == true)
    }

    func testMariaDBGrantsNameBinlogMonitorAndAcceptTheOldName() {
        let required = SourcePreflight.requiredMariaDBPrivileges
        XCTAssertEqual(SourcePreflight.missingPrivileges(["GRANT SELECT, RELOAD, SHOW DATABASES, REPLICATION SLAVE ON *.* TO `x`@`%`"], required: required),
                       ["BINLOG MONITOR"])
        // MariaDB before 10.5 (and MySQL) call it REPLICATION CLIENT.
        XCTAssertEqual(SourcePreflight.missingPrivileges(["GRANT SELECT, RELOAD, SHOW DATABASES, REPLICATION SLAVE, REPLICATION CLIENT ON *.* TO `x`@`%`"],
                                                         required: required), [])
    }

    // MARK: - the real MariaDB (the testbed's, which reports 8.0.2-testbed)

    func testSourceCheckAgainstTheRealMariaDBUsesMariaDBNamesForGrantsAndGTIDs() throws {
        let testbed = try Testbed.require()
        let dir = try TestSupport.temporaryDirectory(self)
        let port = Int(testbed["TESTBED_MYSQL_PORT"])!
        let root = try MySQLConnection(MySQLEndpoint(host: "127.0.0.1", port: port, user: "root", password: testbed["TESTBED_MYSQL_ROOT_PASSWORD"]))
        let user = "cdc_" + String(UUID().uuidString.prefix(8).lowercased())
        let password = "pw-" + UUID().uuidString
        try root.query("CREATE USER '\(user)'@'%' IDENTIFIED BY '\(password)'")
        addTeardownBlock { _ = try? root.query("DROP USER IF EXISTS '\(user)'@'%'") }
        // Everything but the binlog-monitoring privilege first.
        try root.query("GRANT SELECT, RELOAD, SHOW DATABASES, REPLICATION SLAVE ON *.* TO '\(user)'@'%'")
        try password.write(toFile: dir + "/cdc.pw", atomically: true, encoding: .utf8)
        let yaml = """
            apiVersion: cdcctl/v1
            cluster: {name: srccheck}
            secrets:
              mysqlRootPassword: env:TESTBED_MYSQL_ROOT_PASSWORD
              mysqlCdcPassword: file:\(dir)/cdc.pw
            source: {engine: mariadb, port: \(port), cdcUser: \(user)}
            access: {mysqlHost: 127.0.0.1, mysqlPort: \(port)}

            """
        try yaml.write(toFile: dir + "/cdcctl.yaml", atomically: true, encoding: .utf8)
        let cli = CLI(directory: dir)
        func run() throws -> (Int32, [PreflightCheck]) {
            let r = try cli.separately(["source", "check", "-m", dir + "/cdcctl.yaml", "-o", "json"])
            let checks = try JSONDecoder().decode([PreflightCheck].self, from: Data(r.stdout.utf8))
            return (r.status, checks)
        }

        let (status, checks) = try run()
        XCTAssertEqual(status, 3, "\(checks)")
        let grants = try XCTUnwrap(check(checks, "grants of \(user)"))
        XCTAssertEqual(grants.status, .fail)
        XCTAssertEqual(grants.observed, "missing BINLOG MONITOR", "MariaDB's name, not MySQL's REPLICATION CLIENT")
        XCTAssertTrue(grants.fix?.contains("REPLICATION SLAVE, BINLOG MONITOR ON *.*") == true, grants.fix ?? "")
        // The testbed's MariaDB hides its name for the MySQL connector's sake: said, not failed.
        let engine = try XCTUnwrap(check(checks, "engine"))
        XCTAssertEqual(engine.status, .warn)
        XCTAssertTrue(engine.observed.hasPrefix("MariaDB 8.0.2-testbed"), engine.observed)
        XCTAssertNotNil(check(checks, "gtid_strict_mode"), "MariaDB's GTID switch is checked, not MySQL's gtid_mode")
        XCTAssertNil(check(checks, "gtid_mode"))
        XCTAssertEqual(check(checks, "gtid position")?.status, .ok)

        // MySQL's privilege name, granted on MariaDB, shows up as BINLOG MONITOR and passes.
        try root.query("GRANT REPLICATION CLIENT ON *.* TO '\(user)'@'%'")
        let shown = try MySQLConnection(MySQLEndpoint(host: "127.0.0.1", port: port, user: user, password: password)).query("SHOW GRANTS").firstColumn
        XCTAssertTrue(shown.joined().contains("BINLOG MONITOR"), "\(shown)")
        let (after, checksAfter) = try run()
        XCTAssertEqual(check(checksAfter, "grants of \(user)")?.status, .ok, "\(checksAfter)")
        XCTAssertEqual(after, checksAfter.contains { $0.status == .fail } ? 3 : 0)
    }
}
