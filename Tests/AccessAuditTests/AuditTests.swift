import AccessAudit
import Foundation
import Manifest
import TestSupport
import XCTest

/// `cdcctl audit`'s rules (pure) and its exit codes through the real binary.
final class AuditTests: XCTestCase {
    func manifest(_ extra: String = "") throws -> Manifest {
        try ManifestLoader.parse("apiVersion: cdcctl/v1\n" + extra, file: "cdcctl.yaml").manifest
    }

    func testTheDefaultProfileHasNothingForbiddenAndListsEveryPortTunnelAndUser() throws {
        let report = SecurityAudit.audit(try manifest("cloudflared:\n  enabled: true\n"))
        XCTAssertEqual(report.forbidden, 0)
        XCTAssertEqual(report.rows.filter { $0.kind == .port }.map(\.subject),
                       ["mysql", "kafka-1", "kafka-2", "kafka-3", "connect", "clickhouse", "prometheus", "grafana", "kafka-ui"])
        XCTAssertEqual(report.rows.filter { $0.kind == .tunnel }.map(\.reach), ["grafana.cdc.internal"])
        XCTAssertEqual(report.rows.filter { $0.kind == .clickhouseUser }.map(\.subject), ["cdcctl", "cdcctl_writer", "grafana_reader"])
        XCTAssertEqual(report.rows.filter { $0.kind == .mysqlUser }.map(\.subject), ["root", "debezium", "app"])
        XCTAssertEqual(report.rows.first { $0.subject == "kafka-1" }?.authentication, "none")
    }

    func testATunnelRouteWithoutAuthenticationAndUnauthenticatedLanPortsAreForbidden() throws {
        // validate refuses these manifests; audit judges a manifest changed after validation too.
        var m = try manifest("cloudflared:\n  enabled: true\n")
        m.cloudflared.publish = ["grafana", "kafka-ui", "prometheus"]
        let tunnel = SecurityAudit.audit(m).rows.filter { $0.kind == .tunnel }
        XCTAssertEqual(tunnel.map(\.verdict), [.ok, .forbidden, .forbidden])
        XCTAssertTrue(tunnel[1].reason?.contains("kafkaUI.login: true") ?? false)

        m.cluster.bindAddress = "10.0.0.5"
        let lan = SecurityAudit.audit(m)
        XCTAssertEqual(Set(lan.rows.filter { $0.kind == .port && $0.verdict == .forbidden }.map(\.subject)),
                       ["kafka-1", "kafka-2", "kafka-3", "connect", "prometheus", "kafka-ui"])
        XCTAssertEqual(lan.rows.first { $0.subject == "grafana" && $0.kind == .port }?.verdict, .warn)
    }

    func testAuditExitsThreeOnForbiddenRowsWithJSON() throws {
        let dir = try TestSupport.temporaryDirectory(self)
        try "apiVersion: cdcctl/v1\ncluster:\n  bindAddress: 10.0.0.5\n".write(toFile: dir + "/cdcctl.yaml", atomically: true, encoding: .utf8)
        let cli = CLI(directory: dir)
        let lan = try cli.separately(["audit", "--manifest-only", "-o", "json"])
        XCTAssertEqual(lan.status, 3, lan.stderr)
        let json = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(lan.stdout.utf8)) as? [String: Any])
        let rows = try XCTUnwrap(json["rows"] as? [[String: Any]])
        XCTAssertEqual(rows.filter { $0["verdict"] as? String == "forbidden" }.count, 6)

        try "apiVersion: cdcctl/v1\n".write(toFile: dir + "/cdcctl.yaml", atomically: true, encoding: .utf8)
        let ok = try cli(["audit", "--manifest-only"])
        XCTAssertEqual(ok.status, 0, ok.output)
        XCTAssertTrue(ok.output.contains("nothing forbidden"), ok.output)

        // validate: the bindAddress warning is loud but not fatal.
        try "apiVersion: cdcctl/v1\ncluster:\n  bindAddress: 10.0.0.5\n".write(toFile: dir + "/cdcctl.yaml", atomically: true, encoding: .utf8)
        let validate = try cli.separately(["validate"])
        XCTAssertEqual(validate.status, 0)
        XCTAssertTrue(validate.stderr.contains("WARNING: cluster.bindAddress is 10.0.0.5, not loopback"), validate.stderr)
    }
}
