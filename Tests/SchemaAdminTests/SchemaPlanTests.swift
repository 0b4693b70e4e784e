import Checksum
import ClickHouse
import Diagnostics
import Manifest
import Render
import State
import TestSupport
import XCTest
@testable import SchemaAdmin

/// Ordering, checksums, plan states and the drift diff; and the shipped migrations' tables.
final class SchemaPlanTests: XCTestCase {
    func file(_ name: String, _ text: String = "CREATE TABLE IF NOT EXISTS t (a UInt8) ENGINE = Memory;") -> (path: String, text: String) {
        (path: "clickhouse/migrations/\(name)", text: text)
    }

    func record(_ m: Migration, checksum: String? = nil, at: Int64 = 1) -> SchemaMigrationRecord {
        SchemaMigrationRecord(version: m.version, name: m.name, kind: m.kind.rawValue, checksum: checksum ?? m.checksum,
                              statements: m.statements.count, appliedAtMs: at, durationMs: 1)
    }

    func testMigrationsAreOrderedByVersionNumberThenRepeatablesByName() throws {
        let ms = try SchemaPlanner.migrations([file("R__b.sql"), file("10_ten.sql"), file("0002_two.sql"), file("R__a.sql"), file("9_nine.sql")])
        XCTAssertEqual(ms.map(\.name), ["0002_two", "9_nine", "10_ten", "R__a", "R__b"])
        XCTAssertEqual(ms.map(\.version), [2, 9, 10, 0, 0])
        XCTAssertEqual(ms.map(\.kind), [.versioned, .versioned, .versioned, .repeatable, .repeatable])
    }

    func testChecksumIsTheSHA256OfTheRenderedText() throws {
        let text = "-- c\nCREATE TABLE x (a UInt8) ENGINE = Memory;\n"
        let m = try XCTUnwrap(try SchemaPlanner.migrations([file("0001_x.sql", text)]).first)
        XCTAssertEqual(m.checksum, SHA256.hex(text))
        XCTAssertEqual(m.checksum, "\(SHA256.hex(Array(text.utf8)))")
        let changed = try XCTUnwrap(try SchemaPlanner.migrations([file("0001_x.sql", text + " ")]).first)
        XCTAssertNotEqual(changed.checksum, m.checksum, "any byte counts, whitespace too")
    }

    func testBadNamesDuplicateVersionsAndEmptyFilesAreReportedTogether() {
        XCTAssertThrowsError(try SchemaPlanner.migrations([
            file("0001_a.sql"), file("001_b.sql"), file("x_bad.sql"), file("0000_zero.sql"), file("0003_empty.sql", "-- nothing\n"),
            file("notes.txt"),
        ])) { error in
            let errors = (error as? CdcErrors)?.errors ?? []
            XCTAssertEqual(errors.count, 5, "\(error)")
            XCTAssertTrue(errors.allSatisfy { $0.kind == .invalidInput })
            let text = "\(error)"
            XCTAssertTrue(text.contains("version 1 is used by 0001_a and 001_b"), text)
            XCTAssertTrue(text.contains("'x_bad.sql' does not follow the migration naming"), text)
            XCTAssertTrue(text.contains("'0000_zero.sql' does not follow"), text)
            XCTAssertTrue(text.contains("0003_empty.sql: has no SQL statement"), text)
            XCTAssertTrue(text.contains("notes.txt: is not a .sql migration"), text)
        }
    }

    func testPlanStates() throws {
        let ms = try SchemaPlanner.migrations([file("0001_a.sql"), file("0002_b.sql"), file("0003_c.sql"), file("R__ttl.sql")])
        let (a, b, c, ttl) = (ms[0], ms[1], ms[2], ms[3])

        var steps = SchemaPlanner.plan(ms, applied: [])
        XCTAssertEqual(steps.map(\.state), [.pending, .pending, .pending, .pending])

        steps = SchemaPlanner.plan(ms, applied: [record(a), record(b), record(ttl)])
        XCTAssertEqual(steps.map(\.state), [.applied, .applied, .pending, .applied])
        XCTAssertTrue(SchemaPlanner.refusals(steps).isEmpty)

        // An edited applied migration is refused with the checksums; a changed repeatable runs again.
        steps = SchemaPlanner.plan(ms, applied: [record(a, checksum: "0ld"), record(b), record(ttl, checksum: "0ld")])
        XCTAssertEqual(steps.map(\.state), [.changed, .applied, .pending, .pending])
        XCTAssertTrue(steps[0].reason?.contains("renders differently from the text applied (checksum 0ld, now \(a.checksum.prefix(12)))") == true)
        XCTAssertEqual(steps[3].reason, "changed since it last ran: runs again")
        let refusals = SchemaPlanner.refusals(steps)
        XCTAssertEqual(refusals.map(\.subject), ["migration 0001_a"])
        XCTAssertEqual(refusals.first?.exitCode, 2)

        // Renamed after applying; a file gone; a gap filled below the last applied version.
        var renamed = record(b)
        renamed.name = "0002_old_name"
        steps = SchemaPlanner.plan([a, b, ttl], applied: [record(a), renamed, record(c), SchemaMigrationRecord(
            version: 4, name: "0004_gone", kind: "versioned", checksum: "x", statements: 1, appliedAtMs: 1, durationMs: 1)])
        XCTAssertEqual(steps.map(\.name), ["0001_a", "0002_b", "0003_c", "0004_gone", "R__ttl"])
        XCTAssertEqual(steps.map(\.state), [.applied, .changed, .missing, .missing, .pending])
        XCTAssertTrue(steps[1].reason?.contains("applied as 0002_old_name") == true)

        steps = SchemaPlanner.plan(ms, applied: [record(a), record(c)])
        XCTAssertEqual(steps.map(\.state), [.applied, .outOfOrder, .applied, .pending])
        XCTAssertTrue(steps[1].reason?.contains("renumber it above 3") == true)
    }

    // MARK: - Drift

    func expected(_ statements: String...) throws -> SchemaModel {
        var m = SchemaModel()
        for s in statements { try m.apply(s, database: "db") }
        return m
    }

    func testDriftDiffFindsMissingExtraChangedColumnsAndTables() throws {
        let model = try expected(
            "CREATE TABLE t (a UInt64, p Decimal(18,4), s LowCardinality(String), at DateTime64(3) DEFAULT now64(3)) ENGINE = ReplacingMergeTree(a) ORDER BY a",
            "CREATE TABLE gone (x UInt8) ENGINE = MergeTree ORDER BY x",
            "CREATE TABLE e (x UInt8) ENGINE = MergeTree ORDER BY x",
            "CREATE VIEW v AS SELECT 1")
        let actual = [
            TableSchema(database: "db", name: "t", engine: "ReplacingMergeTree", columns: [
                ColumnSchema(name: "a", type: "UInt64"),
                ColumnSchema(name: "p", type: "Decimal(18, 4)"),  // same type, server spelling
                ColumnSchema(name: "at", type: "DateTime64(3)", defaultKind: "", defaultExpression: ""),
                ColumnSchema(name: "added", type: "String"),
            ]),
            TableSchema(database: "db", name: "e", engine: "Memory", columns: [ColumnSchema(name: "x", type: "UInt16")]),
            TableSchema(database: "db", name: "v", engine: "View", columns: [ColumnSchema(name: "1", type: "UInt8")]),
            TableSchema(database: "db", name: "stray", engine: "Log", columns: []),
            TableSchema(database: "db", name: SchemaPlanner.bookkeepingTable, engine: "ReplacingMergeTree", columns: []),
            TableSchema(database: "db", name: ".inner_id.1234", engine: "MergeTree", columns: []),
        ]
        let drift = SchemaPlanner.drift(expected: model, actual: actual, database: "db")
        XCTAssertEqual(drift, [
            DriftItem(table: "t", column: "s", kind: .missingColumn, expected: "LowCardinality(String)", actual: nil),
            DriftItem(table: "t", column: "at", kind: .defaultValue, expected: "DEFAULT now64(3)", actual: "(none)"),
            DriftItem(table: "t", column: "added", kind: .extraColumn, expected: nil, actual: "String"),
            DriftItem(table: "gone", column: nil, kind: .missingTable, expected: "MergeTree", actual: nil),
            DriftItem(table: "e", column: nil, kind: .engine, expected: "MergeTree", actual: "Memory"),
            DriftItem(table: "e", column: "x", kind: .type, expected: "UInt8", actual: "UInt16"),
            DriftItem(table: "stray", column: nil, kind: .extraTable, expected: nil, actual: "Log"),
        ])
        XCTAssertFalse(drift.last!.isDrift, "a table no migration creates is reported, not counted")
        XCTAssertTrue(SchemaPlanner.drift(expected: model, actual: [], database: "other").isEmpty)
    }

    func testExpectedSchemaComesFromAppliedAndChangedMigrationsOnly() throws {
        let ms = try SchemaPlanner.migrations([
            file("0001_a.sql", "CREATE TABLE a (x UInt8) ENGINE = Memory;"),
            file("0002_b.sql", "CREATE TABLE b (y UInt8) ENGINE = Memory; ALTER TABLE a ADD COLUMN z String;"),
            file("0003_c.sql", "CREATE TABLE c (z UInt8) ENGINE = Memory;"),
        ])
        let steps = SchemaPlanner.plan(ms, applied: [record(ms[0]), record(ms[1], checksum: "edited")])
        let model = try SchemaPlanner.expectedSchema(ms, steps: steps, database: "db")
        XCTAssertEqual(model.tables.map(\.name), ["a", "b"])
        XCTAssertEqual(model.table("db", "a")?.columns?.map(\.name), ["x", "z"])
    }

    // MARK: - The shipped migrations

    /// The table contract the stream processor and the dashboard rely on, as system.columns shows it.
    static let contract: [String: [String]] = [
        "cdc_orders_raw": ["topic LowCardinality(String)", "partition UInt16", "offset UInt64", "op LowCardinality(String)",
                           "order_id UInt64", "before Nullable(String)", "after Nullable(String)", "source_ts DateTime64(3)",
                           "ingested_at DateTime64(3) DEFAULT now64(3)"],
        "cdc_order_executions_raw": ["topic LowCardinality(String)", "partition UInt16", "offset UInt64", "op LowCardinality(String)",
                                     "execution_id UInt64", "order_id UInt64", "before Nullable(String)", "after Nullable(String)",
                                     "source_ts DateTime64(3)", "ingested_at DateTime64(3) DEFAULT now64(3)"],
        "orders_current": ["order_id UInt64", "customer_id UInt64", "symbol LowCardinality(String)", "side LowCardinality(String)",
                           "order_type LowCardinality(String)", "quantity Decimal(18, 4)", "price Decimal(18, 4)",
                           "status LowCardinality(String)", "created_at DateTime64(3)", "updated_at DateTime64(3)", "version UInt64",
                           "is_deleted UInt8"],
        "trades": ["symbol LowCardinality(String)", "trade_id String", "price Decimal(20, 8)", "volume Decimal(28, 12)",
                   "side LowCardinality(String)", "traded_at DateTime64(3)", "source LowCardinality(String)",
                   "ingested_at DateTime64(3) DEFAULT now64(3)", "partition Int32 DEFAULT -1", "offset Int64 DEFAULT -1"],
        "trade_aggregates": ["window_start DateTime64(3)", "window_minutes UInt16", "symbol LowCardinality(String)", "trade_count UInt64",
                             "volume Decimal(38, 12)", "notional Decimal(38, 20)", "vwap Float64", "open Decimal(20, 8)",
                             "high Decimal(20, 8)", "low Decimal(20, 8)", "close Decimal(20, 8)", "buy_volume Decimal(38, 12)",
                             "sell_volume Decimal(38, 12)", "version UInt64"],
        "alerts": ["alert_id String", "rule LowCardinality(String)", "symbol LowCardinality(String)", "severity LowCardinality(String)",
                   "detected_at DateTime64(3)", "window_start DateTime64(3)", "value Float64", "threshold Float64",
                   "direction LowCardinality(String) DEFAULT ''", "detail String"],
        "processor_rejects": ["topic LowCardinality(String)", "partition UInt16", "offset Int64", "stage LowCardinality(String)",
                              "target_table LowCardinality(String)", "reason String", "payload String",
                              "rejected_at DateTime64(3) DEFAULT now64(3)"],
        "processor_checkpoints": ["consumer_group String", "topic String", "partition UInt16", "offset Int64", "metadata String",
                                  "seq UInt64", "written_at DateTime64(3) DEFAULT now64(3)"],
    ]

    static func describe(_ t: TableSchema?) -> [String] {
        (t?.columns ?? []).map { c in
            "\(c.name) \(c.type ?? "?")" + (c.defaultKind.isEmpty ? "" : " \(c.defaultKind) \(c.defaultExpression)")
        }
    }

    static func shippedMigrations(_ yaml: String = "apiVersion: cdcctl/v1\n") throws -> [Migration] {
        let m = try ManifestLoader.parse(yaml, file: "m.yaml").manifest
        let secrets = ResolvedSecrets(mysqlRootPassword: "r", mysqlCdcPassword: "c", clickhousePassword: "p",
                                      grafanaAdminPassword: "g", cloudflareTunnelToken: nil)
        let files = try Renderer(templates: TemplateSource(directories: [TestSupport.repo + "/templates"]))
            .render(m, secrets: secrets, under: SchemaPlanner.folder)
        return try SchemaPlanner.migrations(files.map { (path: $0.path, text: $0.contents) })
    }

    func testShippedMigrationsDefineTheTableContract() throws {
        let ms = try Self.shippedMigrations()
        XCTAssertEqual(ms.map(\.name), ["0001_cdc_raw_events", "0002_orders_current", "0003_trades", "0004_trade_aggregates",
                                        "0005_alerts", "0006_processor_exactly_once", "0007_trade_positions", "R__ttl"])
        let steps = ms.map { MigrationStep(name: $0.name, version: $0.version, kind: $0.kind, state: .applied, checksum: $0.checksum,
                                           appliedChecksum: nil, appliedAtMs: nil, statements: $0.statements.count, reason: nil) }
        let model = try SchemaPlanner.expectedSchema(ms, steps: steps, database: "analytics")
        XCTAssertEqual(Set(model.tables.map(\.name)), Set(Self.contract.keys))
        for (table, columns) in Self.contract {
            XCTAssertEqual(Self.describe(model.table("analytics", table)), columns, table)
        }
        XCTAssertEqual(model.table("analytics", "orders_current")?.engine, "ReplacingMergeTree")
        XCTAssertEqual(model.table("analytics", "cdc_orders_raw")?.engine, "ReplacingMergeTree", "since 0006")
        for m in ms where m.kind == .versioned {
            for s in m.statements where s.text.hasPrefix("CREATE TABLE") {
                XCTAssertTrue(s.text.contains("IF NOT EXISTS"), "\(m.name): statements must be safe to run again")
                XCTAssertTrue(s.text.contains("non_replicated_deduplication_window"), "\(m.name): insert_deduplication_token needs it")
            }
        }
    }

    func testTTLsComeFromTheManifestThroughTheRepeatableMigrationOnly() throws {
        let standard = try Self.shippedMigrations()
        let longer = try Self.shippedMigrations("apiVersion: cdcctl/v1\nclickhouse:\n  ttl:\n    rawDays: 14\n    alertsDays: 30\n")
        let ttl = try XCTUnwrap(longer.first { $0.name == "R__ttl" })
        XCTAssertTrue(ttl.text.contains("cdc_orders_raw MODIFY TTL toDateTime(source_ts) + INTERVAL 14 DAY"), ttl.text)
        XCTAssertTrue(ttl.text.contains("alerts MODIFY TTL toDateTime(detected_at) + INTERVAL 30 DAY"), ttl.text)
        XCTAssertTrue(ttl.text.contains("trades MODIFY TTL toDateTime(traded_at) + INTERVAL 30 DAY"), ttl.text)
        XCTAssertTrue(ttl.text.contains("trade_aggregates MODIFY TTL toDateTime(window_start) + INTERVAL 365 DAY"), ttl.text)
        // A TTL change re-runs R__ttl and leaves every versioned migration's checksum alone.
        XCTAssertEqual(standard.filter { $0.kind == .versioned }.map(\.checksum), longer.filter { $0.kind == .versioned }.map(\.checksum))
        XCTAssertNotEqual(standard.last?.checksum, ttl.checksum)
        let renamed = try Self.shippedMigrations("apiVersion: cdcctl/v1\nclickhouse:\n  database: other_db\n")
        XCTAssertTrue(renamed[0].text.contains("CREATE TABLE IF NOT EXISTS other_db.cdc_orders_raw"))
    }
}
