import AccessAudit
import Connectors
import Foundation
import Manifest
import MySQL
import TestSupport
import XCTest

/// `source check` and `cdcctl audit` against the testbed's real MariaDB 10.11: a throw-away CDC
/// user with Debezium's five grants and then more; created and dropped here.
final class MySQLPrivilegeIntegrationTests: XCTestCase {
    var testbed: Testbed!
    var root: MySQLConnection!
    var user = ""
    let password = "Thr0wAway-pw-" + String(UUID().uuidString.prefix(6))

    override func setUpWithError() throws {
        testbed = try Testbed.require()
        root = try MySQLConnection(MySQLEndpoint(host: "127.0.0.1", port: Int(testbed["TESTBED_MYSQL_PORT"])!, user: "root",
                                                 password: testbed["TESTBED_MYSQL_ROOT_PASSWORD"]))
        user = "cdcsec_" + String(UUID().uuidString.prefix(8)).lowercased().filter { $0.isLetter || $0.isNumber }
        _ = try root.query("CREATE USER '\(user)'@'%' IDENTIFIED BY '\(password)'")
        addTeardownBlock { [root, user] in _ = try? root?.query("DROP USER IF EXISTS '\(user)'@'%'") }
        _ = try root.query("GRANT SELECT, RELOAD, SHOW DATABASES, REPLICATION SLAVE, REPLICATION CLIENT ON *.* TO '\(user)'@'%'")
    }

    func manifest() throws -> Manifest {
        var m = try ManifestLoader.load(path: TestSupport.repo + "/manifests/testbed.yaml", environment: testbed.env).manifest
        m.source.cdcUser = user
        return m
    }

    func extraCheck() throws -> PreflightCheck {
        let facts = try SourcePreflight.gather(try manifest(), rootPassword: "not-used-when-the-cdc-user-logs-in", cdcPassword: password)
        XCTAssertNil(facts.cdcLoginError)
        let checks = SourcePreflight.assess(facts, manifest: try manifest())
        XCTAssertEqual(checks.first { $0.name == "grants of \(user)" }?.status, .ok)
        return try XCTUnwrap(checks.first { $0.name == "least privilege" })
    }

    func testSourceCheckReportsEveryExtraPrivilegeOfTheCDCUserAndNothingWhenItHasExactlyFive() throws {
        let exact = try extraCheck()
        XCTAssertEqual(exact.status, .ok)
        XCTAssertEqual(exact.observed, "no extra grants")

        _ = try root.query("GRANT SUPER ON *.* TO '\(user)'@'%'")
        _ = try root.query("GRANT INSERT, DELETE ON shop.* TO '\(user)'@'%'")
        let extra = try extraCheck()
        XCTAssertEqual(extra.status, .warn)
        XCTAssertEqual(extra.observed, "extra SUPER ON *.*; INSERT ON `shop`.*; DELETE ON `shop`.*")
        XCTAssertFalse(extra.observed.contains("PASSWORD"))
        let fix = try XCTUnwrap(extra.fix)
        XCTAssertEqual(fix, "REVOKE SUPER ON *.* FROM '\(user)'@'%'; REVOKE INSERT ON `shop`.* FROM '\(user)'@'%'; REVOKE DELETE ON `shop`.* FROM '\(user)'@'%';")

        // The fix it prints works: run it as root and the check is clean again.
        for statement in fix.split(separator: ";").map({ $0.trimmingCharacters(in: .whitespaces) }) where !statement.isEmpty {
            _ = try root.query(statement)
        }
        XCTAssertEqual(try extraCheck().status, .ok)
    }

    func testAuditMarksACDCUserWithMoreThanItsGrantsForbidden() throws {
        var m = try manifest()
        m.source.appUser = user + "_no"  // no such user: reported as not checked, not as a failure
        let clean = SecurityAudit.audit(m, observed: AuditObserver.observe(m, cdcPassword: password, appPassword: "x"))
        let cdcRow = try XCTUnwrap(clean.rows.first { $0.kind == .mysqlUser && $0.subject == user })
        XCTAssertEqual(cdcRow.verdict, .ok)
        XCTAssertEqual(cdcRow.grants, "SELECT, RELOAD, SHOW DATABASES, REPLICATION SLAVE, REPLICATION CLIENT ON *.* (server)")
        XCTAssertTrue(clean.notes.contains { $0.hasPrefix("\(user)_no: grants not checked on the server") }, "\(clean.notes)")

        _ = try root.query("GRANT PROCESS ON *.* TO '\(user)'@'%' WITH GRANT OPTION")
        let report = SecurityAudit.audit(m, observed: AuditObserver.observe(m, cdcPassword: password, appPassword: "x"))
        let row = try XCTUnwrap(report.rows.first { $0.kind == .mysqlUser && $0.subject == user })
        XCTAssertEqual(row.verdict, .forbidden)
        XCTAssertEqual(report.forbidden, 1)
        XCTAssertTrue(row.reason?.contains("PROCESS ON *.*; GRANT OPTION ON *.*") ?? false, row.reason ?? "")
    }
}
