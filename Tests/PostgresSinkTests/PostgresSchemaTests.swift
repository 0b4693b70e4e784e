import Foundation
import Postgres
import TestSupport
import XCTest

/// `cdcctl schema plan|apply|status --target postgres` on the testbed's PostgreSQL 15: the
/// ClickHouse migrations' checksums and refusals, PostgreSQL's transactional DDL.
extension PostgresSinkIntegrationTests {
    func testSchemaPlanApplyStatusAndRefusalsOnPostgres() throws {
        let name = "pgsink_\(id)_schema"
        try admin.exec("CREATE DATABASE \(name)")
        addTeardownBlock { [admin] in _ = try? admin?.exec("DROP DATABASE IF EXISTS \(name) WITH (FORCE)") }
        let m = try manifest(database: name, kafka: testbed["TESTBED_KAFKA_BOOTSTRAP_SINGLE"], name: "schema")
        let cli = CLI(directory: dir, extraArguments: ["-m", m], environment: environment())
        let db = try PostgresConnection(base.with(database: name))

        let plan = try cli(["schema", "plan", "--target", "postgres"])
        XCTAssertEqual(plan.status, 3, plan.output)
        XCTAssertTrue(plan.output.contains("0001_sink_tables") && plan.output.contains("pending"), plan.output)
        XCTAssertTrue(plan.output.contains("CREATE TABLE cdcctl_offsets"), plan.output)

        let dry = try cli(["schema", "apply", "--target", "postgres", "--dry-run"])
        XCTAssertEqual(dry.status, 0, dry.output)
        XCTAssertTrue(dry.output.contains("dry run: would apply 1 migration(s)"), dry.output)
        XCTAssertNil(try db.exec("SELECT to_regclass('orders_history')").scalar, "a dry run leaves nothing behind")

        let apply = try cli(["schema", "apply", "--target", "postgres"])
        XCTAssertEqual(apply.status, 0, apply.output)
        XCTAssertTrue(apply.output.contains("applied 1 migration(s) to \(name): 0001_sink_tables"), apply.output)
        let checksum = try XCTUnwrap(try db.exec("SELECT checksum FROM cdcctl_schema_migrations WHERE version = 1").scalar)
        XCTAssertEqual(checksum.count, 64)
        XCTAssertEqual(try cli(["schema", "apply", "--target", "postgres"]).output.contains("no changes: every migration is applied"), true)
        let status = try cli(["schema", "status", "--target", "postgres"])
        XCTAssertEqual(status.status, 0, status.output)
        XCTAssertTrue(status.output.contains("up to date, no drift"), status.output)

        // An applied migration edited: plan and apply refuse (exit 2), nothing changes.
        let templates = dir + "/templates/postgres/migrations"
        try FileManager.default.createDirectory(atPath: templates, withIntermediateDirectories: true)
        let original = try String(contentsOfFile: TestSupport.repo + "/templates/postgres/migrations/0001_sink_tables.sql.mustache", encoding: .utf8)
        try (original + "\nCREATE INDEX extra ON orders_current (status);\n").write(toFile: templates + "/0001_sink_tables.sql.mustache", atomically: true, encoding: .utf8)
        let refused = try cli(["schema", "apply", "--target", "postgres", "--templates", dir + "/templates"])
        XCTAssertEqual(refused.status, 2, refused.output)
        XCTAssertTrue(refused.output.contains("renders differently from the text applied"), refused.output)
        XCTAssertNil(try db.exec("SELECT to_regclass('extra')").scalar)

        // A table dropped behind cdcctl's back is drift (exit 3).
        try db.exec("DROP TABLE sink_rejects")
        let drift = try cli(["schema", "status", "--target", "postgres"])
        XCTAssertEqual(drift.status, 3, drift.output)
        XCTAssertTrue(drift.output.contains("sink_rejects") && drift.output.contains("missing-table"), drift.output)

        // Without the sink in the manifest the target is refused as bad input.
        let off = try String(contentsOfFile: m, encoding: .utf8).replacingOccurrences(of: "sinks: [postgres]", with: "sinks: [clickhouse]")
        try off.write(toFile: dir + "/off.yaml", atomically: true, encoding: .utf8)
        let noSink = try CLI(directory: dir, environment: environment())(["schema", "plan", "--target", "postgres", "-m", dir + "/off.yaml"])
        XCTAssertEqual(noSink.status, 2, noSink.output)
        XCTAssertTrue(noSink.output.contains("processor.sinks"), noSink.output)
    }
}
