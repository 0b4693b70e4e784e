import Diagnostics
import Foundation
import Postgres
import TestSupport
import XCTest

/// libpq's wrapper against the testbed's real PostgreSQL 15, each test in a database of its own.
final class PostgresTests: XCTestCase {
    var admin: PostgresConnection!
    var endpoint: PostgresEndpoint!
    var database = ""

    override func setUpWithError() throws {
        let tb = try Testbed.require().requirePostgres()
        let base = PostgresEndpoint(host: tb.postgresHost, port: tb.postgresPort, user: tb.postgresUser, password: tb.postgresPassword,
                                    database: tb.postgresDatabase)
        admin = try PostgresConnection(base)
        database = "pgtest_" + UUID().uuidString.prefix(8).lowercased()
        try admin.exec("CREATE DATABASE \(PostgresConnection.quoteIdentifier(database))")
        endpoint = base.with(database: database)
    }

    override func tearDownWithError() throws {
        if let admin, !database.isEmpty { try admin.exec("DROP DATABASE IF EXISTS \(PostgresConnection.quoteIdentifier(database)) WITH (FORCE)") }
    }

    func testParametersRowsAndNulls() throws {
        let c = try PostgresConnection(endpoint)
        XCTAssertGreaterThanOrEqual(c.serverVersion, 150_000)
        try c.exec("CREATE TABLE t (id bigint PRIMARY KEY, name text, doc jsonb)")
        // A value that would break naive quoting travels as a parameter.
        let tricky = "O'Brien; DROP TABLE t; --"
        XCTAssertEqual(try c.exec("INSERT INTO t VALUES ($1, $2, $3::jsonb)", ["1", tricky, #"{"a": 1}"#]).affectedRows, 1)
        try c.exec("INSERT INTO t VALUES ($1, $2, $3)", ["2", nil, nil])
        let r = try c.exec("SELECT id, name, doc->>'a' AS a FROM t ORDER BY id")
        XCTAssertEqual(r.columns, ["id", "name", "a"])
        XCTAssertEqual(r.rows, [["1", tricky, "1"], ["2", nil, nil]])
        XCTAssertEqual(try c.exec("SELECT count(*) FROM t").scalar, "2")
    }

    func testArrayLiteralsEscapeQuotesBackslashesAndNulls() {
        XCTAssertEqual(PostgresArray.literal([#"a"b"#, #"c\d"#, nil, "{x,y}"]), #"{"a\"b","c\\d",NULL,"{x,y}"}"#)
        XCTAssertEqual(PostgresArray.literal([Int64(1), -2]), "{1,-2}")
        XCTAssertEqual(PostgresArray.literal([String?]()), "{}")
        XCTAssertEqual(PostgresArray.hex([0x00, 0xff, 0x1a]), #"\x00ff1a"#)
        XCTAssertNil(PostgresArray.hex(nil))
    }

    /// The server's own array and bytea parsers read back exactly what was encoded.
    func testArrayAndByteaLiteralsRoundTripThroughTheServer() throws {
        let c = try PostgresConnection(endpoint)
        let values: [String?] = [#"a"b"#, #"c\d"#, nil, "{x,y}", "NULL", "", " spaced ", "한글", "tab\tline"]
        let back = try c.exec("SELECT v FROM unnest($1::text[]) WITH ORDINALITY AS u(v, n) ORDER BY n", [PostgresArray.literal(values)]).rows.map { $0[0] }
        XCTAssertEqual(back, values)
        XCTAssertEqual(try c.exec("SELECT string_agg(v::text, ',') FROM unnest($1::bigint[]) AS u(v)", [PostgresArray.literal([Int64.min, 0, Int64.max])]).scalar,
                       "\(Int64.min),0,\(Int64.max)")
        let bytes: [UInt8] = [0, 1, 0x7f, 0x80, 0xff, 0x5c, 0x22]
        XCTAssertEqual(try c.exec("SELECT encode($1::bytea, 'hex')", [PostgresArray.hex(bytes)]).scalar, "00017f80ff5c22")
    }

    func testTransactionCommitsOrRollsBackAsAWhole() throws {
        let c = try PostgresConnection(endpoint)
        try c.exec("CREATE TABLE t (id bigint PRIMARY KEY)")
        try c.transaction { tx in
            try tx.exec("INSERT INTO t VALUES (1)")
            try tx.exec("INSERT INTO t VALUES (2)")
        }
        XCTAssertThrowsError(try c.transaction { tx in
            try tx.exec("INSERT INTO t VALUES (3)")
            try tx.exec("INSERT INTO t VALUES (1)")  // unique violation: the whole transaction goes
        }) { error in
            let e = error as? PostgresError
            XCTAssertEqual(e?.sqlState, "23505")
            XCTAssertEqual(e?.failure, .badData)
        }
        XCTAssertEqual(try c.exec("SELECT string_agg(id::text, ',' ORDER BY id) FROM t").scalar, "1,2")
        XCTAssertTrue(c.isHealthy, "the connection stays usable after a rollback")
    }

    func testErrorsAreClassifiedBySQLState() throws {
        let c = try PostgresConnection(endpoint)
        // 22P02 invalid_text_representation: bad data.
        XCTAssertThrowsError(try c.exec("SELECT $1::bigint", ["not a number"])) { error in
            XCTAssertEqual((error as? PostgresError)?.sqlState, "22P02")
            XCTAssertEqual((error as? PostgresError)?.failure, .badData)
            XCTAssertFalse((error as? PostgresError)?.isTransient ?? true)
        }
        // 42P01 undefined_table: other (a deployment to fix, not a record to skip).
        XCTAssertThrowsError(try c.exec("SELECT * FROM no_such_table")) { error in
            XCTAssertEqual((error as? PostgresError)?.sqlState, "42P01")
            XCTAssertEqual((error as? PostgresError)?.failure, .other)
        }
        // The classification table itself.
        XCTAssertEqual(PostgresError.classify(sqlState: "08006", connectionBad: false), .unavailable)
        XCTAssertEqual(PostgresError.classify(sqlState: "57P01", connectionBad: false), .unavailable)
        XCTAssertEqual(PostgresError.classify(sqlState: "57P03", connectionBad: false), .unavailable)
        XCTAssertEqual(PostgresError.classify(sqlState: "53300", connectionBad: false), .unavailable)
        XCTAssertEqual(PostgresError.classify(sqlState: "23505", connectionBad: false), .badData)
        XCTAssertEqual(PostgresError.classify(sqlState: "42703", connectionBad: true), .unavailable)
        XCTAssertEqual(PostgresError.classify(sqlState: "57014", connectionBad: false), .other)  // query_canceled
    }

    func testTerminatedBackendIsUnavailable() throws {
        let c = try PostgresConnection(endpoint)
        let pid = try XCTUnwrap(try c.exec("SELECT pg_backend_pid()").scalar)
        try admin.exec("SELECT pg_terminate_backend($1::int)", [pid])
        XCTAssertThrowsError(try c.exec("SELECT 1")) { error in
            let e = error as? PostgresError
            XCTAssertEqual(e?.failure, .unavailable, "a killed backend (57P01 / broken connection) is retried, not skipped: \(String(describing: e))")
            XCTAssertTrue(CdcError.bridging(error).isTransient)
        }
        XCTAssertFalse(c.isHealthy)
    }

    func testRefusedConnectionIsUnavailableAndHidesThePassword() throws {
        var bad = endpoint!
        bad.port = 1  // nothing listens there on loopback
        bad.password = "s3cret-pw-value"
        XCTAssertThrowsError(try PostgresConnection(bad)) { error in
            let e = error as? PostgresError
            XCTAssertEqual(e?.phase, .connect)
            XCTAssertEqual(e?.failure, .unavailable)
            XCTAssertFalse(CdcError.bridging(error).description.contains("s3cret-pw-value"))
        }
    }

    func testScriptRunsSeveralStatementsAtomically() throws {
        let c = try PostgresConnection(endpoint)
        XCTAssertThrowsError(try c.transaction { tx in
            try tx.execScript("CREATE TABLE a (id int); CREATE TABLE b (id int); SELECT 1/0;")
        })
        XCTAssertEqual(try c.exec("SELECT count(*) FROM pg_tables WHERE tablename IN ('a','b')").scalar, "0", "DDL is transactional")
        try c.execScript("CREATE TABLE a (id int); INSERT INTO a VALUES (1), (2);")
        XCTAssertEqual(try c.exec("SELECT sum(id) FROM a").scalar, "3")
    }
}
