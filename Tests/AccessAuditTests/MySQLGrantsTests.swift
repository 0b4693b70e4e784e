import AccessAudit
import Connectors
import Manifest
import XCTest

/// The grant parser over `SHOW GRANTS` lines as MariaDB 10.11 and MySQL 8 print them.
final class MySQLGrantsTests: XCTestCase {
    // Copied from the testbed's MariaDB 10.11 (the hash shortened).
    let five = "GRANT SELECT, RELOAD, SHOW DATABASES, REPLICATION SLAVE, BINLOG MONITOR ON *.* TO `debezium`@`%` IDENTIFIED BY PASSWORD '*0C4F'"

    func testExactlyDebeziumsFiveHaveNoExtraAndNoneMissing() {
        XCTAssertEqual(SourcePreflight.extraPrivileges([five]), [])
        XCTAssertEqual(MySQLGrants.missing([five], required: MySQLGrants.debeziumPrivileges, on: "*.*"), [])
        // MySQL 8 spelling.
        let mysql = "GRANT SELECT, RELOAD, SHOW DATABASES, REPLICATION SLAVE, REPLICATION CLIENT ON *.* TO `debezium`@`%`"
        XCTAssertEqual(SourcePreflight.extraPrivileges([mysql]), [])
    }

    func testExtraGlobalDatabaseGrantOptionAndRoleAreEachReported() {
        let lines = [
            "GRANT SELECT, RELOAD, SHOW DATABASES, SUPER, REPLICATION SLAVE, BINLOG MONITOR ON *.* TO `debezium`@`%` IDENTIFIED BY PASSWORD '*0C4F' WITH GRANT OPTION",
            "GRANT INSERT ON `shop`.* TO `debezium`@`%`",
            "GRANT `dba` TO `debezium`@`%`",
        ]
        let extra = SourcePreflight.extraPrivileges(lines).map(\.description)
        XCTAssertEqual(extra, ["SUPER ON *.*", "GRANT OPTION ON *.*", "INSERT ON `shop`.*", "role `dba`"])
        XCTAssertFalse(extra.joined().contains("0C4F"), "a password hash never reaches the report")
        XCTAssertEqual(MySQLGrants.Privilege(privilege: "SUPER", object: "*.*").revoke(user: "debezium"), "REVOKE SUPER ON *.* FROM 'debezium'@'%';")
    }

    func testApplicationUserIsJudgedOnItsDatabase() {
        let ok = "GRANT SELECT, INSERT, UPDATE, DELETE ON `shop`.* TO `app`@`%`"
        XCTAssertEqual(MySQLGrants.extras(["GRANT USAGE ON *.* TO `app`@`%`", ok], allowed: MySQLGrants.applicationPrivileges,
                                          on: MySQLGrants.databaseObject("shop")), [])
        let wider = "GRANT SELECT, INSERT, UPDATE, DELETE, DROP ON `shop`.* TO `app`@`%`"
        XCTAssertEqual(MySQLGrants.extras([wider], allowed: MySQLGrants.applicationPrivileges, on: MySQLGrants.databaseObject("shop")).map(\.description),
                       ["DROP ON `shop`.*"])
        XCTAssertEqual(MySQLGrants.missing(["GRANT SELECT ON `shop`.* TO `app`@`%`"], required: MySQLGrants.applicationPrivileges,
                                           on: "`shop`.*"), ["INSERT", "UPDATE", "DELETE"])
    }
}
