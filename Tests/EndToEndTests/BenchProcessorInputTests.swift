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

    /// A recording of raw Upbit frames (as `produce trades --record` writes it) is read through
    /// the live decoders: repeats a reconnect replayed are dropped, control frames and comments
    /// skipped, a malformed frame counted. The engine sees the same trades as from the trade
    /// lines they stand for, so both runs give the same rows and alerts.
    func testARecordingOfRawFramesGivesTheSameRunAsItsTradeLines() throws {
        let dir = try TestSupport.temporaryDirectory(self)
        var frames: [String] = ["{\"status\":\"UP\"}"], lines: [String] = []
        for i in 0..<1_200 {
            let code = ["KRW-BTC", "KRW-ETH"][i % 2]
            let price = "\(1000 + i % 11).5", ts = 1_764_460_800_000 + i * 250
            let frame = "{\"type\":\"trade\",\"code\":\"\(code)\",\"trade_timestamp\":\(ts),\"trade_price\":\(price),\"trade_volume\":0.25,"
                + "\"ask_bid\":\"\(i % 3 == 0 ? "ASK" : "BID")\",\"sequential_id\":\(9_000_000 + i),\"stream_type\":\"REALTIME\"}"
            frames.append(frame)
            if i % 100 == 7 { frames.append(frame) }  // replayed after a reconnect
            lines.append("{\"symbol\":\"\(code)\",\"trade_id\":\"\(9_000_000 + i)\",\"price\":\"\(price)\",\"volume\":\"0.25\","
                         + "\"side\":\"\(i % 3 == 0 ? "sell" : "buy")\",\"ts_ms\":\(ts),\"source\":\"upbit\"}")
        }
        frames.insert("# 429 Too Many Requests: {\"error\":{\"name\":\"TOO_MANY_REQ\"}}", at: 50)
        frames.insert("{\"type\":\"trade\",\"code\":\"KRW-BTC\",\"trade_price\":1}", at: 60)  // fields missing
        try (frames.joined(separator: "\n") + "\n").write(toFile: dir + "/recorded.frames", atomically: true, encoding: .utf8)
        try (lines.joined(separator: "\n") + "\n").write(toFile: dir + "/trades.jsonl", atomically: true, encoding: .utf8)
        let cdcctl = CLI(directory: dir)
        func run(_ file: String) throws -> [String: Any] {
            let r = try cdcctl.separately(["bench", "processor", "--input", file, "--partitions", "2", "-o", "json"])
            XCTAssertEqual(r.status, 0, r.stderr)
            return try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any], r.stdout)
        }
        let recorded = try run("recorded.frames"), plain = try run("trades.jsonl")
        XCTAssertEqual(recorded["events"] as? Int, 1_200, "each trade once: the 12 replayed frames are dropped")
        XCTAssertEqual(recorded["malformed"] as? Int, 1, "the frame without its fields")
        XCTAssertTrue((recorded["format"] as? String ?? "").hasPrefix("raw frames"), "\(recorded["format"] ?? "-")")
        XCTAssertEqual(plain["format"] as? String, "trade lines")
        XCTAssertEqual(plain["events"] as? Int, 1_200)
        XCTAssertEqual(recorded["rows"] as? Int, plain["rows"] as? Int, "the same trades give the same rows")
        XCTAssertEqual(recorded["alerts"] as? Int, plain["alerts"] as? Int)
        XCTAssertGreaterThan(recorded["rows"] as? Int ?? 0, 1_200)
    }
}
