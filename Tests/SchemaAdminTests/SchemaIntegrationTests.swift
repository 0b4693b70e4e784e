import ClickHouse
import Foundation
import State
import TestSupport
import SchemaAdmin
import OperationsCore
import XCTest

/// `cdcctl schema …` run as a user runs it, against the testbed's ClickHouse engine. Each test
/// manages its own database (dropped afterwards) and state directory.
final class SchemaIntegrationTests: XCTestCase {
    var testbed: Testbed!
    var client: ClickHouseClient!
    var dir = ""
    var db = ""

    override func setUpWithError() throws {
        testbed = try Testbed.require()
        guard !testbed.clickhouseURL.isEmpty else {
            try TestSupport.missing("the testbed ClickHouse", fix: "run scripts/test, or `scripts/testbed up` and eval \"$(scripts/testbed env)\"")
        }
        client = ClickHouseClient(ClickHouseConfig(url: testbed.clickhouseURL, user: testbed.clickhouseUser,
                                                   password: testbed.clickhousePassword))
        dir = try TestSupport.temporaryDirectory(self)
        db = "it_schema_" + UUID().uuidString.prefix(8).lowercased()
        addTeardownBlock { [client, db] in _ = try? client?.execute("DROP DATABASE IF EXISTS \(db)") }
        try FileManager.default.createDirectory(atPath: dir + "/templates/clickhouse/migrations", withIntermediateDirectories: true)
    }

    /// A manifest for this test's database; `extra` goes under `clickhouse:`.
    func manifest(_ extra: String = "") throws -> String {
        let yaml = """
            apiVersion: cdcctl/v1
            cluster:
              name: schema-it
            secrets:
              clickhousePassword: none
            clickhouse:
              database: \(db)
            \(extra)
            access:
              clickhouseURL: \(testbed.clickhouseURL)
              clickhouseUser: \(testbed.clickhouseUser)

            """
        let path = dir + "/cdcctl.yaml"
        try yaml.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    /// Runs cdcctl; `output` is stdout (the result), followed by stderr (progress, errors) unless
    /// `-o json` was asked for, so JSON parses.
    /// JSON results alone on stdout; otherwise stdout and stderr together.
    func cdcctl(_ args: String...) throws -> (status: Int32, output: String) {
        let cli = CLI(directory: dir, extraArguments: args.first == "history" ? [] : ["--templates", dir + "/templates"])
        let r = try cli.separately(args)
        return (r.status, args.contains("json") ? r.stdout : r.stdout + r.stderr)
    }

    /// Overrides (or adds) a migration template for the following commands.
    func migration(_ name: String, _ text: String) throws {
        try text.write(toFile: dir + "/templates/clickhouse/migrations/\(name).sql.mustache", atomically: true, encoding: .utf8)
    }

    func shipped(_ name: String) throws -> String {
        try String(contentsOfFile: TestSupport.repo + "/templates/clickhouse/migrations/\(name).sql.mustache", encoding: .utf8)
    }

    func json(_ text: String) throws -> [String: Any] {
        try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any], text)
    }

    struct Column: Decodable { var table: String; var name: String; var type: String; var default_kind: String; var default_expression: String }
    struct Table: Decodable { var name: String; var engine: String; var create_table_query: String }
    struct Applied: Decodable, Equatable { var version: UInt32; var name: String; var checksum: String }

    func serverColumns() throws -> [String: [String]] {
        let rows = try client.select("SELECT table, name, type, default_kind, default_expression FROM system.columns WHERE database = {db:String} ORDER BY table, position",
                                     as: Column.self, parameters: ["db": db])
        return Dictionary(grouping: rows, by: \.table).mapValues { cs in
            cs.map { "\($0.name) \($0.type)" + ($0.default_kind.isEmpty ? "" : " \($0.default_kind) \($0.default_expression)") }
        }
    }

    func serverRecords() throws -> [Applied] {
        try client.select("SELECT version, name, checksum FROM \(db).cdcctl_schema_migrations FINAL ORDER BY version, name", as: Applied.self)
    }

    func localRecords() throws -> [Applied] {
        try StateStore(path: dir + "/state/state.db").schemaMigrations(cluster: "schema-it", database: db)
            .map { Applied(version: UInt32($0.version), name: $0.name, checksum: $0.checksum) }
    }

    func testApplyOnAnEmptyServerCreatesEverythingAndASecondApplyIsANoOp() throws {
        let m = try manifest()
        let plan = try cdcctl("schema", "plan", "-m", m)
        XCTAssertEqual(plan.status, 3, plan.output)
        XCTAssertTrue(plan.output.contains("CREATE TABLE IF NOT EXISTS \(db).cdc_orders_raw"), plan.output)

        let dry = try cdcctl("schema", "apply", "--dry-run", "-m", m, "-o", "json")
        XCTAssertEqual(dry.status, 0, dry.output)
        XCTAssertEqual(try json(dry.output)["applied"] as? [String],
                       ["0001_cdc_raw_events", "0002_orders_current", "0003_trades", "0004_trade_aggregates", "0005_alerts",
                        "0006_processor_exactly_once", "0007_trade_positions", "R__ttl"])
        struct N: Decodable { var n: UInt64 }
        XCTAssertEqual(try client.select("SELECT count() AS n FROM system.databases WHERE name = {db:String}", as: N.self,
                                         parameters: ["db": db]).first?.n, 0, "a dry run changes nothing")

        let apply = try cdcctl("schema", "apply", "-m", m, "-o", "json")
        XCTAssertEqual(apply.status, 0, apply.output)
        XCTAssertEqual((try json(apply.output)["applied"] as? [String])?.count, 8)

        // Every table of the contract, column for column, as the server reports them.
        let columns = try serverColumns()
        for (table, expected) in SchemaPlanTests.contract {
            XCTAssertEqual(columns[table], expected, table)
        }
        let tables = try client.select("SELECT name, engine, create_table_query FROM system.tables WHERE database = {db:String}",
                                       as: Table.self, parameters: ["db": db])
        let byName = Dictionary(uniqueKeysWithValues: tables.map { ($0.name, $0) })
        XCTAssertEqual(byName["orders_current"]?.engine, "ReplacingMergeTree")
        XCTAssertTrue(byName["orders_current"]?.create_table_query.contains("ReplacingMergeTree(version, is_deleted)") == true)
        XCTAssertTrue(byName["cdc_orders_raw"]?.create_table_query.contains("TTL toDateTime(source_ts) + toIntervalDay(7)") == true,
                      byName["cdc_orders_raw"]?.create_table_query ?? "")
        XCTAssertTrue(byName["trade_aggregates"]?.create_table_query.contains("toIntervalDay(365)") == true)
        for table in SchemaPlanTests.contract.keys where table != "processor_checkpoints" {
            XCTAssertTrue(byName[table]?.create_table_query.contains("non_replicated_deduplication_window = 10000") == true, table)
        }
        // 0006: the raw tables collapse duplicates on merge, keyed by Kafka position, and keep their TTL.
        XCTAssertEqual(byName["cdc_orders_raw"]?.engine, "ReplacingMergeTree")
        XCTAssertTrue(byName["cdc_order_executions_raw"]?.create_table_query.contains("ORDER BY (topic, partition, offset)") == true,
                      byName["cdc_order_executions_raw"]?.create_table_query ?? "")
        XCTAssertNil(byName["cdc_orders_raw_rmt"])
        XCTAssertNil(byName["cdc_orders_raw_mergetree"])

        // Recorded with checksums on the server and in the state store, identically.
        let records = try serverRecords()
        XCTAssertEqual(records.map(\.name), ["R__ttl", "0001_cdc_raw_events", "0002_orders_current", "0003_trades",
                                             "0004_trade_aggregates", "0005_alerts", "0006_processor_exactly_once", "0007_trade_positions"])
        XCTAssertTrue(records.allSatisfy { $0.checksum.count == 64 })
        XCTAssertEqual(try localRecords(), records)

        let again = try cdcctl("schema", "apply", "-m", m)
        XCTAssertEqual(again.status, 0, again.output)
        XCTAssertTrue(again.output.contains("no changes: every migration is applied"), again.output)
        XCTAssertEqual(try serverRecords(), records, "a second apply records nothing new")

        let status = try cdcctl("schema", "status", "-m", m)
        XCTAssertEqual(status.status, 0, status.output)
        XCTAssertTrue(status.output.contains("up to date, no drift"), status.output)

        let history = try cdcctl("history", "-o", "json")
        let ops = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(history.output.utf8)) as? [[String: Any]])
        XCTAssertEqual(ops.map { $0["command"] as? String }, ["schema apply", "schema apply", "schema apply"])
        XCTAssertEqual(ops.map { $0["outcome"] as? String }, ["ok", "ok", "ok"])
    }

    func testAnEditedAppliedMigrationIsRefusedAndNothingChanges() throws {
        let m = try manifest()
        XCTAssertEqual(try cdcctl("schema", "apply", "-m", m).status, 0)
        let before = try serverRecords()
        try migration("0003_trades", try shipped("0003_trades").replacing("    trade_id String,\n", with: "    trade_id String,\n    venue String,\n"))
        try migration("0016_more", "CREATE TABLE IF NOT EXISTS {{clickhouse.database}}.more (a UInt8) ENGINE = MergeTree ORDER BY a;")

        let apply = try cdcctl("schema", "apply", "-m", m)
        XCTAssertEqual(apply.status, 2, apply.output)
        XCTAssertTrue(apply.output.contains("migration 0003_trades: renders differently from the text applied"), apply.output)
        XCTAssertTrue(apply.output.contains("applied migrations are immutable"), apply.output)
        XCTAssertTrue(apply.output.contains("nothing was changed"), apply.output)
        XCTAssertNil(try serverColumns()["more"], "the pending 0016 did not run either")
        XCTAssertEqual(try serverRecords(), before)

        let status = try cdcctl("schema", "status", "-m", m, "-o", "json")
        XCTAssertEqual(status.status, 2, status.output)
        let report = try json(status.output)
        let steps = try XCTUnwrap(report["steps"] as? [[String: Any]])
        XCTAssertEqual(steps.first { $0["name"] as? String == "0003_trades" }?["state"] as? String, "changed")
        let drift = try XCTUnwrap(report["drift"] as? [[String: Any]])
        XCTAssertEqual(drift.map { "\($0["table"]!) \($0["column"] ?? "-") \($0["kind"]!)" }, ["trades venue missing-column"])
    }

    func testADroppedColumnShowsAsDrift() throws {
        let m = try manifest()
        XCTAssertEqual(try cdcctl("schema", "apply", "-m", m).status, 0)
        try client.execute("ALTER TABLE \(db).trades DROP COLUMN source")
        try client.execute("ALTER TABLE \(db).alerts MODIFY COLUMN value Float32")

        let status = try cdcctl("schema", "status", "-m", m)
        XCTAssertEqual(status.status, 3, status.output)
        let lines = status.output.split(separator: "\n").map { $0.split(separator: " ", omittingEmptySubsequences: true).joined(separator: " ") }
        XCTAssertTrue(lines.contains("trades source missing-column LowCardinality(String) -"), status.output)
        XCTAssertTrue(lines.contains("alerts value type Float64 Float32"), status.output)
        XCTAssertTrue(status.output.contains("drift: the tables differ"), status.output)

        // apply runs migrations only: it neither hides nor "repairs" drift.
        XCTAssertEqual(try cdcctl("schema", "apply", "-m", m).status, 0)
        XCTAssertEqual(try cdcctl("schema", "status", "-m", m).status, 3)
    }

    func testABrokenMigrationStopsWithTheServersErrorAndKeepsTheRecordConsistent() throws {
        let m = try manifest()
        try migration("0016_broken", """
            CREATE TABLE IF NOT EXISTS {{clickhouse.database}}.first_half (a UInt8) ENGINE = MergeTree ORDER BY a;

            CREATE TABLE IF NOT EXISTS {{clickhouse.database}}.second_half (a Strin) ENGINE = MergeTree ORDER BY a;
            """)
        try migration("0017_after", "CREATE TABLE IF NOT EXISTS {{clickhouse.database}}.after (a UInt8) ENGINE = MergeTree ORDER BY a;")

        let apply = try cdcctl("schema", "apply", "-m", m)
        XCTAssertEqual(apply.status, 1, apply.output)
        XCTAssertTrue(apply.output.contains("0016_broken.sql.mustache:3 migration 0016_broken: statement 2 of 2 failed: Code: 50. UNKNOWN_TYPE"), apply.output)
        XCTAssertTrue(apply.output.contains("0016_broken is not recorded (its first 1 statement ran)"), apply.output)

        let records = try serverRecords()
        XCTAssertEqual(records.map(\.name), ["0001_cdc_raw_events", "0002_orders_current", "0003_trades", "0004_trade_aggregates", "0005_alerts",
                                              "0006_processor_exactly_once", "0007_trade_positions"],
                       "everything before the broken migration is recorded; it, 0017 and R__ttl (which runs last) are not")
        XCTAssertEqual(try localRecords(), records, "the state store holds what the server holds")
        XCTAssertNil(try serverColumns()["after"])

        let history = try cdcctl("history", "-o", "json")
        let ops = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(history.output.utf8)) as? [[String: Any]])
        XCTAssertEqual(ops.first?["outcome"] as? String, "failed")
        XCTAssertTrue((ops.first?["detail"] as? String)?.contains("UNKNOWN_TYPE") == true)

        // Fixed, the re-run is safe: the statement that ran is IF NOT EXISTS.
        try migration("0016_broken", """
            CREATE TABLE IF NOT EXISTS {{clickhouse.database}}.first_half (a UInt8) ENGINE = MergeTree ORDER BY a;

            CREATE TABLE IF NOT EXISTS {{clickhouse.database}}.second_half (a String) ENGINE = MergeTree ORDER BY a;
            """)
        let fixed = try cdcctl("schema", "apply", "-m", m, "-o", "json")
        XCTAssertEqual(fixed.status, 0, fixed.output)
        XCTAssertEqual(try json(fixed.output)["applied"] as? [String], ["0016_broken", "0017_after", "R__ttl"])
        XCTAssertEqual(try localRecords(), try serverRecords())
        XCTAssertEqual(try cdcctl("schema", "status", "-m", m).status, 0)
    }

    func testDryRunHasTheServerParseThePendingStatements() throws {
        let m = try manifest()
        try migration("0016_typo", "CREATE TABLE IF NOT EXISTS {{clickhouse.database}}.t (a UInt8 ENGINE = MergeTree ORDER BY a;")
        let dry = try cdcctl("schema", "apply", "--dry-run", "-m", m)
        XCTAssertEqual(dry.status, 2, dry.output)
        XCTAssertTrue(dry.output.contains("0016_typo.sql.mustache:1 migration 0016_typo: the server cannot parse this statement: Code: 62. SYNTAX_ERROR"),
                      dry.output)
        struct N: Decodable { var n: UInt64 }
        XCTAssertEqual(try client.select("SELECT count() AS n FROM system.databases WHERE name = {db:String}", as: N.self,
                                         parameters: ["db": db]).first?.n, 0)
    }

    func testChangingATTLInTheManifestRerunsOnlyTheRepeatableMigration() throws {
        XCTAssertEqual(try cdcctl("schema", "apply", "-m", try manifest()).status, 0)
        let m = try manifest("  ttl:\n    rawDays: 14\n")
        let plan = try cdcctl("schema", "plan", "-m", m, "-o", "json")
        XCTAssertEqual(plan.status, 3, plan.output)
        XCTAssertEqual((try json(plan.output)["pending"] as? [[String: Any]])?.map { $0["name"] as? String }, ["R__ttl"])
        let apply = try cdcctl("schema", "apply", "-m", m, "-o", "json")
        XCTAssertEqual(apply.status, 0, apply.output)
        XCTAssertEqual(try json(apply.output)["applied"] as? [String], ["R__ttl"])
        let query = try client.select("SELECT name, engine, create_table_query FROM system.tables WHERE database = {db:String} AND name = 'cdc_orders_raw'",
                                      as: Table.self, parameters: ["db": db]).first?.create_table_query ?? ""
        XCTAssertTrue(query.contains("toIntervalDay(14)"), query)
        XCTAssertEqual(try localRecords(), try serverRecords())
    }

    /// The exactly-once contract of the shipped tables: a batch re-sent with its token is stored once.
    func testDeduplicationTokenInsertsIntoTheShippedTablesAreNotDoubled() throws {
        XCTAssertEqual(try cdcctl("schema", "apply", "-m", try manifest()).status, 0)
        // Recent times: rows already past their TTL are dropped as they are inserted.
        let now = UTCTime.format(Int64(Date().timeIntervalSince1970 * 1000), milliseconds: true)
        struct Raw: Encodable {
            var topic = "cdc.shop.orders", partition: UInt16, offset: UInt64, op = "c", order_id: UInt64
            var before: String? = nil, after: String? = "{\"id\":1}", source_ts: String
        }
        struct Aggregate: Encodable {
            var window_start: String, window_minutes: UInt16 = 5, symbol: String, trade_count: UInt64 = 3
            var volume = "1.5", notional = "150.0", vwap = 100.0, open = "99", high = "101", low = "98", close = "100"
            var buy_volume = "1", sell_volume = "0.5", version: UInt64 = 1
        }
        let raw = (0..<3).map { Raw(partition: 0, offset: UInt64($0), order_id: UInt64(100 + $0), source_ts: now) }
        let aggregates = [Aggregate(window_start: now, symbol: "KRW-BTC"), Aggregate(window_start: now, symbol: "KRW-ETH")]
        for _ in 0..<3 {
            try client.insert(raw, into: "cdc_orders_raw", database: db, deduplicationToken: "cdc.shop.orders-0-0-2")
            try client.insert(aggregates, into: "trade_aggregates", database: db, deduplicationToken: "agg-202501020305")
        }
        struct N: Decodable { var n: UInt64 }
        XCTAssertEqual(try client.select("SELECT count() AS n FROM \(db).cdc_orders_raw", as: N.self).first?.n, 3)
        XCTAssertEqual(try client.select("SELECT count() AS n FROM \(db).trade_aggregates", as: N.self).first?.n, 2)
    }
}
