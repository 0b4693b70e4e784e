import Diagnostics
import Foundation
import TestSupport
import XCTest
@testable import ClickHouse

/// The client against the testbed's ClickHouse engine (chdb 26.9 behind a test HTTP front; see
/// docs/testbed.md). Each test works in its own database and drops it afterwards.
final class ClickHouseClientTests: XCTestCase {
    var client: ClickHouseClient!
    var db = ""

    override func setUpWithError() throws {
        let testbed = try Testbed.require()
        guard !testbed.clickhouseURL.isEmpty else {
            try TestSupport.missing("the testbed ClickHouse", fix: "run scripts/test, or `scripts/testbed up` and eval \"$(scripts/testbed env)\"")
        }
        client = ClickHouseClient(ClickHouseConfig(url: testbed.clickhouseURL, user: testbed.clickhouseUser,
                                                   password: testbed.clickhousePassword, timeoutSeconds: 30))
        db = "it_client_" + UUID().uuidString.prefix(8).lowercased()
        try client.execute("CREATE DATABASE \(db)")
        addTeardownBlock { [client, db] in _ = try? client?.execute("DROP DATABASE IF EXISTS \(db)") }
    }

    struct Count: Decodable { var n: UInt64 }

    func count(_ table: String) throws -> UInt64 {
        try client.select("SELECT count() AS n FROM \(ClickHouseSQL.qualified(db, table))", as: Count.self).first?.n ?? 0
    }

    func testPingSelectWithParametersAndSettings() throws {
        try client.ping()
        struct Row: Decodable, Equatable { var s: String; var n: UInt64; var big: UInt64 }
        let rows = try client.select("SELECT {s:String} AS s, toUInt64(number) AS n, 18446744073709551615 AS big FROM numbers(2)",
                                     as: Row.self, settings: ["max_execution_time": "10"], parameters: ["s": "it's \\ \"quoted\""])
        XCTAssertEqual(rows, [Row(s: "it's \\ \"quoted\"", n: 0, big: .max), Row(s: "it's \\ \"quoted\"", n: 1, big: .max)])
    }

    func testServerErrorsAreTypedByCode() throws {
        XCTAssertThrowsError(try client.execute("SELECT * FROM \(db).nope")) { error in
            let e = error as? ClickHouseError
            XCTAssertEqual(e?.code, ClickHouseError.Code.unknownTable, "\(error)")
            XCTAssertEqual(e?.name, "UNKNOWN_TABLE")
            XCTAssertEqual(e?.httpStatus, 404)
            XCTAssertTrue(e?.message.contains("nope") == true, "\(error)")
        }
        XCTAssertThrowsError(try client.execute("SELEC 1")) { error in
            XCTAssertEqual((error as? ClickHouseError)?.code, ClickHouseError.Code.syntaxError, "\(error)")
        }
        XCTAssertThrowsError(try client.execute("SELECT 1", settings: ["no_such_setting_x": "1"])) { error in
            XCTAssertEqual((error as? ClickHouseError)?.code, ClickHouseError.Code.unknownSetting, "\(error)")
        }
        XCTAssertThrowsError(try client.select("SELECT 1 AS n", as: Count.self, database: "no_such_db_\(db)")) { error in
            XCTAssertEqual((error as? ClickHouseError)?.code, ClickHouseError.Code.unknownDatabase, "\(error)")
        }
    }

    func testUnreachableServerIsAnOperationFailureNamingIt() {
        let dead = ClickHouseClient(ClickHouseConfig(url: "http://127.0.0.1:1", user: "u", password: "secret-pw", timeoutSeconds: 2),
                                    http: .init(retries: 0))
        XCTAssertThrowsError(try dead.execute("SELECT 1")) { error in
            let e = error as? CdcError
            XCTAssertEqual(e?.kind, .operationFailed, "\(error)")
            XCTAssertEqual(e?.subject, "http://127.0.0.1:1")
            XCTAssertFalse("\(error)".contains("secret-pw"))
        }
    }

    struct Trade: Codable, Equatable {
        var symbol: String
        var trade_id: String
        var price: String
        var traded_at: String
    }

    func testDeduplicationTokenStoresARepeatedInsertOnce() throws {
        let settings = "SETTINGS non_replicated_deduplication_window = 100"
        try client.execute("CREATE TABLE \(db).trades (symbol LowCardinality(String), trade_id String, price Decimal(20, 8), traded_at DateTime64(3)) ENGINE = MergeTree ORDER BY (symbol, trade_id) \(settings)")
        let batch = [Trade(symbol: "KRW-BTC", trade_id: "1", price: "95000000.5", traded_at: "2025-01-02 03:04:05.678"),
                     Trade(symbol: "KRW-ETH", trade_id: "2", price: "4500000.25", traded_at: "2025-01-02T03:04:06Z")]
        try client.insert(batch, into: "trades", database: db, deduplicationToken: "batch-1")
        try client.insert(batch, into: "trades", database: db, deduplicationToken: "batch-1")
        XCTAssertEqual(try count("trades"), 2, "the repeated batch is stored once")
        try client.insert(batch, into: "trades", database: db, deduplicationToken: "batch-2")
        XCTAssertEqual(try count("trades"), 4, "a new token is a new batch")

        struct Back: Decodable, Equatable { var symbol: String; var price: String; var traded_at: String }
        let back = try client.select("SELECT symbol, toString(price) AS price, toString(traded_at) AS traded_at FROM \(db).trades WHERE trade_id = '1' LIMIT 1",
                                     as: Back.self)
        XCTAssertEqual(back, [Back(symbol: "KRW-BTC", price: "95000000.5", traded_at: "2025-01-02 03:04:05.678")])
    }

    /// Why every table the processor writes declares non_replicated_deduplication_window: on a
    /// non-replicated MergeTree without it, the token is ignored and a retried batch is doubled.
    func testWithoutTheDeduplicationWindowATokenDoesNothing() throws {
        try client.execute("CREATE TABLE \(db).plain (id UInt64) ENGINE = MergeTree ORDER BY id")
        let rows = Array("{\"id\":1}\n{\"id\":2}\n".utf8)
        try client.insert(into: "plain", database: db, body: rows, deduplicationToken: "same")
        try client.insert(into: "plain", database: db, body: rows, deduplicationToken: "same")
        XCTAssertEqual(try count("plain"), 4)
    }
}
