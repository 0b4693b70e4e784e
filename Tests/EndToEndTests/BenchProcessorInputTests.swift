import Foundation
import TestSupport
import XCTest

/// `bench processor --input FILE` streams the user's own trade lines through the engine, and
/// every bench run lands in the ledger that `bench history` reads.
final class BenchProcessorInputTests: XCTestCase {
    func testAFileOfTradeLinesIsStreamedCountedAndRecordedInTheLedger() throws {
        let dir = try TestSupport.temporaryDirectory(self)
        var lines: [String] = []
        for i in 0..<3_000 {
            let symbol = ["KRW-BTC", "KRW-ETH", "KRW-XRP"][i % 3]
            lines.append("{\"symbol\":\"\(symbol)\",\"trade_id\":\"\(i)\",\"price\":\"\(1000 + i % 7).5\",\"volume\":\"0.25\",\"side\":\"buy\",\"ts_ms\":\(1_764_460_800_000 + i * 100),\"source\":\"upbit\"}")
        }
        lines.insert("this is not a trade", at: 10)
        try (lines.joined(separator: "\n") + "\n").write(toFile: dir + "/trades.jsonl", atomically: true, encoding: .utf8)
        let cdcctl = CLI(directory: dir)
        let run = try cdcctl.separately(["bench", "processor", "--input", "trades.jsonl", "--partitions", "2", "-o", "json"])
        XCTAssertEqual(run.status, 0, run.stderr)
        let r = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as? [String: Any], run.stdout)
        XCTAssertEqual(r["events"] as? Int, 3_000, "every trade line, once")
        XCTAssertEqual(r["malformed"] as? Int, 1, "a bad line is counted, not fatal")
        XCTAssertEqual(r["partitions"] as? Int, 2)
        XCTAssertGreaterThan(r["rows"] as? Int ?? 0, 3_000, "trades plus their windows")
        XCTAssertGreaterThan(r["peakRssMiB"] as? Double ?? 0, 0)
        let capped = try cdcctl.separately(["bench", "processor", "--input", "trades.jsonl", "--events", "500", "-o", "json"])
        XCTAssertEqual((try JSONSerialization.jsonObject(with: Data(capped.stdout.utf8)) as? [String: Any])?["events"] as? Int, 500)

        let missing = try cdcctl.separately(["bench", "processor", "--input", "nope.jsonl"])
        XCTAssertEqual(missing.status, 2)
        XCTAssertTrue(missing.stderr.contains("--input"), missing.stderr)

        let history = try cdcctl(["bench", "history", "--name", "processor", "-o", "json"])
        XCTAssertEqual(history.status, 0, history.output)
        let rows = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(history.output.utf8)) as? [[String: Any]], history.output)
        XCTAssertEqual(rows.count, 2, "two measured runs; the refused one is not a run")
        XCTAssertEqual((rows[0]["parameters"] as? [String: String])?["input"], "trades.jsonl")
        XCTAssertNotNil((rows[0]["results"] as? [String: Double])?["wholePathEventsPerSecond"])
    }
}
