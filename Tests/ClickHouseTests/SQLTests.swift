import Diagnostics
import XCTest
@testable import ClickHouse

/// Statement splitting, quoting and error parsing: the pure parts of the ClickHouse module.
final class SQLTests: XCTestCase {
    func texts(_ script: String) throws -> [String] { try ClickHouseSQL.split(script).map(\.text) }

    func testSplitsOnSemicolonsOutsideStringsIdentifiersAndComments() throws {
        let script = """
            -- leading comment; not a statement
            CREATE TABLE a (x String DEFAULT 'semi;colon', `we;ird` UInt8) ENGINE = Memory;
            /* block; comment /* nested; */ still comment; */
            INSERT INTO a VALUES ('it''s; fine', 1), ('back\\'slash;', 2);
            SELECT "quoted;ident" FROM a -- trailing; comment
            ;
            ;;
            -- only a comment at the end;
            """
        XCTAssertEqual(try texts(script), [
            "CREATE TABLE a (x String DEFAULT 'semi;colon', `we;ird` UInt8) ENGINE = Memory",
            "INSERT INTO a VALUES ('it''s; fine', 1), ('back\\'slash;', 2)",
            "SELECT \"quoted;ident\" FROM a",
        ])
    }

    func testStatementsKnowTheirLineAndTheLastNeedsNoSemicolon() throws {
        let statements = try ClickHouseSQL.split("\n-- head\nSELECT 1;\n\n  SELECT\n  2")
        XCTAssertEqual(statements.map(\.line), [3, 5])
        XCTAssertEqual(statements.last?.text, "SELECT\n  2")
        XCTAssertEqual(try texts("-- nothing\n/* here */\n"), [])
    }

    func testUnterminatedStringOrCommentIsAnErrorAtItsLine() {
        XCTAssertThrowsError(try ClickHouseSQL.split("SELECT 1;\nSELECT 'open\n;\n", file: "m.sql")) { error in
            let e = error as? CdcError
            XCTAssertEqual(e?.kind, .invalidInput)
            XCTAssertEqual(e?.location?.line, 2)
            XCTAssertTrue(e?.message.contains("unterminated string") == true, "\(error)")
        }
        XCTAssertThrowsError(try ClickHouseSQL.split("SELECT 1 /* open /* nested */\n")) { error in
            XCTAssertTrue("\(error)".contains("unterminated comment"), "\(error)")
        }
    }

    func testQuotingAndNormalizing() {
        XCTAssertEqual(ClickHouseSQL.identifier("we`ird"), "`we\\`ird`")
        XCTAssertEqual(ClickHouseSQL.qualified("db", "t"), "`db`.`t`")
        XCTAssertEqual(ClickHouseSQL.literal("it's \\ ok"), "'it\\'s \\\\ ok'")
        XCTAssertEqual(ClickHouseSQL.normalized("Decimal(18,4)"), ClickHouseSQL.normalized("Decimal(18, 4)"))
        XCTAssertEqual(ClickHouseSQL.normalized("Enum8('a b' = 1)"), "Enum8('a b'=1)", "spaces inside quotes stay")
    }

    func testServerErrorsAreParsedFromHeaderAndBody() throws {
        let body = "Code: 60. DB::Exception: Table analytics.nope does not exist. (UNKNOWN_TABLE) (version 24.8.4.13 (official build))\n"
        let e = try XCTUnwrap(ClickHouseError.parse(status: 404, headerCode: "60", body: body, server: "http://h:8123"))
        XCTAssertEqual(e.code, ClickHouseError.Code.unknownTable)
        XCTAssertEqual(e.name, "UNKNOWN_TABLE")
        XCTAssertEqual(e.message, "Table analytics.nope does not exist.")
        XCTAssertEqual(e.description, "Code: 60. UNKNOWN_TABLE: Table analytics.nope does not exist.")
        XCTAssertEqual(e.cdcError.kind, .operationFailed)

        // No header (an older proxy strips it): the body's code counts.
        let noHeader = ClickHouseError.parse(status: 500, headerCode: nil, body: "Code: 241. DB::Exception: Memory limit exceeded. (MEMORY_LIMIT_EXCEEDED) (version 24.8)", server: "s")
        XCTAssertEqual(noHeader?.code, 241)
        XCTAssertEqual(noHeader?.isRetryable, true)
        // An exception at the end of a streamed 200 response.
        let streamed = ClickHouseError.parse(status: 200, headerCode: nil, body: "{\"a\":1}\nCode: 395. DB::Exception: boom. (FUNCTION_THROW_IF_VALUE_IS_NON_ZERO)", server: "s")
        XCTAssertEqual(streamed?.code, 395)
        XCTAssertEqual(streamed?.message, "boom.")
        XCTAssertNil(ClickHouseError.parse(status: 502, headerCode: nil, body: "Bad Gateway", server: "s"), "not a ClickHouse exception")
        let auth = ClickHouseError.parse(status: 403, headerCode: "516", body: "Code: 516. DB::Exception: cdcctl: Authentication failed. (AUTHENTICATION_FAILED)", server: "s")
        XCTAssertTrue(auth?.cdcError.fix?.contains("access.clickhouseUser") == true)
    }

    func testURLsCarrySettingsAndParametersEncoded() {
        let client = ClickHouseClient(ClickHouseConfig(url: "http://127.0.0.1:8123/", user: "u", password: "p"))
        XCTAssertEqual(client.endpoint("/", ["query": "INSERT INTO t FORMAT JSONEachRow", "insert_deduplication_token": "a/b c"]),
                       "http://127.0.0.1:8123/?insert_deduplication_token=a%2Fb%20c&query=INSERT%20INTO%20t%20FORMAT%20JSONEachRow")
        XCTAssertEqual(client.server, "http://127.0.0.1:8123")
    }
}
