import ClickHouse
@testable import SchemaAdmin
import XCTest

/// `schema status --target postgres` reads both schemas from PostgreSQL's catalog; these are the
/// pure steps from its rows to the drift (the live comparison is in PostgresSchemaTests).
final class PostgresCatalogTests: XCTestCase {
    func testNotNullIsPartOfTheTypeAndSchemaQualifiersOfBothSchemasAreDropped() {
        let expected = PostgresSchemaOperation.tables(catalogRows: [
            ["t", "id", "bigint", "t", "nextval('t_id_seq'::regclass)"],
            ["t", "note", "text", "f", ""],
        ], database: "db", schemas: ["cdcctl_expected_1", "public"])
        let actual = PostgresSchemaOperation.tables(catalogRows: [
            ["t", "id", "bigint", "t", "nextval('public.t_id_seq'::regclass)"],
            ["t", "note", "text", "t", ""],
        ], database: "db", schemas: ["cdcctl_expected_1", "public"])
        XCTAssertEqual(expected.first?.columns?.map(\.type), ["bigint NOT NULL", "text"])
        XCTAssertEqual(actual.first?.columns?.first?.defaultExpression, "nextval('t_id_seq'::regclass)")
        let drift = SchemaPlanner.drift(expected: expected, actual: actual, database: "db")
        XCTAssertEqual(drift, [DriftItem(table: "t", column: "note", kind: .type, expected: "text", actual: "text NOT NULL")])
    }

    func testTablesKeepTheirCatalogOrderAndMalformedRowsAreSkipped() {
        let tables = PostgresSchemaOperation.tables(catalogRows: [["b", "x", "int", "f", ""], ["a", "y", "int", "f", ""], ["b", "z", "int", "f", ""], ["c", nil, "int", "f", ""], ["short"]],
                                                    database: "db", schemas: [])
        XCTAssertEqual(tables.map(\.name), ["b", "a"])
        XCTAssertEqual(tables.first?.columns?.map(\.name), ["x", "z"])
    }
}
