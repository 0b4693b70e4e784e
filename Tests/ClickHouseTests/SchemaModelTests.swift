import XCTest
@testable import ClickHouse

/// The DDL model that derives the expected tables from migration statements without a server.
final class SchemaModelTests: XCTestCase {
    func model(_ statements: String...) throws -> SchemaModel {
        var m = SchemaModel()
        for s in statements { try m.apply(s, database: "db") }
        return m
    }

    func testCreateTableReadsColumnsTypesDefaultsAndEngine() throws {
        let m = try model("""
            CREATE TABLE IF NOT EXISTS db.t
            (
                id UInt64 COMMENT 'the key',
                `price` Decimal(18, 4) CODEC(ZSTD(1)),
                kind Enum8('a, b' = 1, 'c' = 2) DEFAULT 'c',
                note String NULL,
                strict String NOT NULL,
                at DateTime64(3, 'UTC') DEFAULT now64(3) TTL at + INTERVAL 1 DAY,
                doubled UInt64 MATERIALIZED id * 2,
                tags Map(String, Array(Tuple(a String, b UInt8))),
                INDEX idx_kind kind TYPE set(0) GRANULARITY 1,
                PROJECTION p (SELECT id ORDER BY at),
                CONSTRAINT positive CHECK id > 0
            )
            ENGINE = ReplacingMergeTree(at)
            ORDER BY id
            """)
        let t = try XCTUnwrap(m.table("db", "t"))
        XCTAssertEqual(t.engine, "ReplacingMergeTree")
        XCTAssertEqual(t.columns, [
            ColumnSchema(name: "id", type: "UInt64"),
            ColumnSchema(name: "price", type: "Decimal(18, 4)"),
            ColumnSchema(name: "kind", type: "Enum8('a, b' = 1, 'c' = 2)", defaultKind: "DEFAULT", defaultExpression: "'c'"),
            ColumnSchema(name: "note", type: "Nullable(String)"),
            ColumnSchema(name: "strict", type: "String"),
            ColumnSchema(name: "at", type: "DateTime64(3, 'UTC')", defaultKind: "DEFAULT", defaultExpression: "now64(3)"),
            ColumnSchema(name: "doubled", type: "UInt64", defaultKind: "MATERIALIZED", defaultExpression: "id * 2"),
            ColumnSchema(name: "tags", type: "Map(String, Array(Tuple(a String, b UInt8)))"),
        ])
    }

    func testUnqualifiedNamesAreInTheGivenDatabaseAndIfNotExistsKeepsTheFirst() throws {
        let m = try model("CREATE TABLE t (a UInt8) ENGINE = Memory",
                          "CREATE TABLE IF NOT EXISTS db.t (b String) ENGINE = Log",
                          "CREATE TABLE other.t (c UInt8) ENGINE = Memory")
        XCTAssertEqual(m.table("db", "t")?.columns?.map(\.name), ["a"])
        XCTAssertEqual(m.table("db", "t")?.engine, "Memory")
        XCTAssertEqual(m.table("other", "t")?.columns?.map(\.name), ["c"])
        let replaced = try model("CREATE TABLE t (a UInt8) ENGINE = Memory", "CREATE OR REPLACE TABLE t (b UInt8) ENGINE = Memory")
        XCTAssertEqual(replaced.table("db", "t")?.columns?.map(\.name), ["b"])
    }

    func testAlterAddsDropsModifiesAndRenamesColumns() throws {
        let m = try model(
            "CREATE TABLE t (a UInt8, b String, c UInt8) ENGINE = MergeTree ORDER BY a",
            "ALTER TABLE db.t ADD COLUMN IF NOT EXISTS d Decimal(20, 8) DEFAULT 0 AFTER a, DROP COLUMN IF EXISTS c",
            "ALTER TABLE t ADD COLUMN first_one UInt8 FIRST",
            "ALTER TABLE t ADD COLUMN IF NOT EXISTS a String",  // exists: kept as it was
            "ALTER TABLE t MODIFY COLUMN b LowCardinality(String)",
            "ALTER TABLE t MODIFY COLUMN a DEFAULT 7",
            "ALTER TABLE t RENAME COLUMN d TO amount",
            "ALTER TABLE t MODIFY TTL toDateTime(now()) + INTERVAL 1 DAY, ADD INDEX i a TYPE minmax GRANULARITY 1",
            "ALTER TABLE missing ADD COLUMN x UInt8")
        XCTAssertEqual(m.table("db", "t")?.columns, [
            ColumnSchema(name: "first_one", type: "UInt8"),
            ColumnSchema(name: "a", type: "UInt8", defaultKind: "DEFAULT", defaultExpression: "7"),
            ColumnSchema(name: "amount", type: "Decimal(20, 8)", defaultKind: "DEFAULT", defaultExpression: "0"),
            ColumnSchema(name: "b", type: "LowCardinality(String)"),
        ])
        XCTAssertNil(m.table("db", "missing"))
    }

    func testDropRenameExchangeAndViews() throws {
        var m = try model("CREATE TABLE a (x UInt8) ENGINE = Memory", "CREATE TABLE b (y UInt8) ENGINE = Memory",
                          "CREATE MATERIALIZED VIEW IF NOT EXISTS mv TO a AS SELECT y AS x FROM b",
                          "CREATE VIEW v AS SELECT 1", "CREATE TABLE copy AS a ENGINE = Memory")
        XCTAssertEqual(m.table("db", "mv")?.engine, "MaterializedView")
        XCTAssertNil(m.table("db", "mv")?.columns, "a view's columns come from its SELECT: not checked")
        XCTAssertNil(m.table("db", "copy")?.columns)
        try m.apply("RENAME TABLE a TO a2, db.b TO other.b", database: "db")
        XCTAssertEqual(m.tables.map { "\($0.database).\($0.name)" }, ["db.a2", "other.b", "db.mv", "db.v", "db.copy"])
        try m.apply("EXCHANGE TABLES a2 AND copy", database: "db")
        XCTAssertEqual(m.table("db", "copy")?.columns?.map(\.name), ["x"])
        try m.apply("DROP TABLE IF EXISTS db.copy", database: "db")
        try m.apply("DROP VIEW v", database: "db")
        try m.apply("DROP DATABASE IF EXISTS other", database: "db")
        try m.apply("INSERT INTO a2 VALUES (1)", database: "db")
        XCTAssertEqual(m.tables.map(\.name), ["mv", "a2"])
    }
}
