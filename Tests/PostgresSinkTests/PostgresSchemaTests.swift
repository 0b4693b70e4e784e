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

        // Columns changed behind cdcctl's back: compared with what the migrations make in a
        // scratch schema (rolled back: nothing of it stays).
        try db.exec("ALTER TABLE orders_current ALTER COLUMN price TYPE numeric(20,2)")
        try db.exec("ALTER TABLE orders_current ALTER COLUMN status DROP NOT NULL")
        try db.exec("ALTER TABLE orders_history ALTER COLUMN written_at DROP DEFAULT")
        try db.exec("ALTER TABLE orders_current ADD COLUMN note text")
        try db.exec("ALTER TABLE orders_current DROP COLUMN source_ts")
        let columns = try cli.separately(["schema", "status", "--target", "postgres", "-o", "json"])
        XCTAssertEqual(columns.status, 3, columns.stdout + columns.stderr)
        let report = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(columns.stdout.utf8)) as? [String: Any], columns.stdout + columns.stderr)
        let items = Set(((report["drift"] as? [[String: Any]]) ?? []).map { "\($0["table"] ?? "")/\($0["column"] ?? "-")/\($0["kind"] ?? "")" })
        XCTAssertEqual(items, ["orders_current/price/type", "orders_current/status/type", "orders_history/written_at/default",
                               "orders_current/note/extra-column", "orders_current/source_ts/missing-column"], columns.stdout + columns.stderr)
        XCTAssertTrue(columns.stdout.contains("numeric(18,4) NOT NULL") && columns.stdout.contains("numeric(20,2) NOT NULL"), columns.stdout + columns.stderr)
        XCTAssertTrue(columns.stdout.contains("columns compared with the applied migrations run in a scratch schema"), "the mode that ran: \(columns.stdout)")
        XCTAssertEqual(try db.exec("SELECT count(*) FROM pg_namespace WHERE nspname LIKE 'cdcctl_expected_%'").scalar, "0", "the scratch schema is rolled back")
        XCTAssertEqual(try db.exec("SELECT count(*) FROM pg_class WHERE relname = 'orders_current'").scalar, "1", "only the real table")

        // A user that may not create a schema still gets the presence check, and is told why.
        // (The testbed's user may not create roles: it revokes its own CREATE on the database.)
        try db.exec("REVOKE CREATE ON DATABASE \(name) FROM CURRENT_USER")
        let presence = try cli(["schema", "status", "--target", "postgres"])
        try db.exec("GRANT CREATE ON DATABASE \(name) TO CURRENT_USER")
        XCTAssertEqual(presence.status, 0, "every table is there; columns are not compared in this mode: \(presence.output)")
        XCTAssertTrue(presence.output.contains("tables checked for presence only")
                      && presence.output.contains("GRANT CREATE ON DATABASE \(name) TO \(base.user)"), presence.output)

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
