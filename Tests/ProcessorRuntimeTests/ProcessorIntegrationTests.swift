import ClickHouse
import Foundation
import Kafka
import TestSupport
import XCTest

/// The processor between the testbed's Kafka-wire brokers and its ClickHouse engine: events in
/// → rows out, exactly once across SIGKILL, and nothing lost while ClickHouse is away.
final class ProcessorIntegrationTests: XCTestCase {
    var testbed: Testbed!
    var dir = ""
    var id = ""
    var prefix: String { "proc\(id)" }
    var database: String { "it_proc_\(id)" }
    var manifest = ""
    /// The same cluster read through one Tansu process only: another process sees new records
    /// ~5 s late (docs/testbed.md), which would make the idle exit racy. Setup uses all three.
    var manifestRun = ""
    var clickhouse: ClickHouseClient!
    /// The manifest text (all three Tansu processes), for variants.
    var yaml = ""
    let symbols = ["KRW-BTC", "KRW-ETH", "KRW-XRP", "KRW-SOL"]

    override func setUpWithError() throws {
        testbed = try Testbed.require()
        dir = try TestSupport.temporaryDirectory(self)
        id = String(UUID().uuidString.prefix(8).lowercased())
        clickhouse = ClickHouseClient(ClickHouseConfig(url: testbed["TESTBED_CLICKHOUSE_URL"], user: "default", password: ""))
        manifest = dir + "/cdcctl.yaml"
        yaml = """
            apiVersion: cdcctl/v1
            cluster: {name: proc-it}
            secrets:
              clickhousePassword: none
            kafka:
              engine: tansu
              topics:
                - {name: \(prefix).trades, partitions: 3, key: symbol}
                - {name: \(prefix).shop.orders, partitions: 3, key: order_id}
                - {name: \(prefix).shop.order_executions, partitions: 3, key: order_id}
                - {name: schemahistory.\(prefix), partitions: 1, retentionHours: -1, retentionBytes: -1}
            connect:
              connectors:
                - name: c-\(id)
                  topicPrefix: \(prefix)
                  tables: [shop.orders, shop.order_executions]
                  schemaHistoryTopic: schemahistory.\(prefix)
            clickhouse:
              database: \(database)
            processor:
              consumerGroup: proc-it-\(id)
              tradesTopic: \(prefix).trades
              ordersTopic: \(prefix).shop.orders
              flushIntervalMs: 100
              batchMaxRows: 400
              watermarkDelaySeconds: 0
              allowedLatenessSeconds: 0
            producers:
              trades: {topic: \(prefix).trades}
            access:
              kafkaBootstrap: \(testbed.kafkaBootstrap)
              clickhouseURL: \(testbed["TESTBED_CLICKHOUSE_URL"])
              clickhouseUser: default

            """
        try yaml.write(toFile: manifest, atomically: true, encoding: .utf8)
        manifestRun = dir + "/run.yaml"
        try yaml.replacingOccurrences(of: "kafkaBootstrap: \(testbed.kafkaBootstrap)", with: "kafkaBootstrap: \(testbed["TESTBED_KAFKA_BOOTSTRAP_SINGLE"])")
            .write(toFile: manifestRun, atomically: true, encoding: .utf8)
        for step in [["topics", "apply"], ["schema", "apply"]] {
            let r = try cdcctl(step + ["-m", manifest])
            XCTAssertEqual(r.status, 0, "\(step): \(r.output)")
        }
        addTeardownBlock { _ = try? self.clickhouse.execute("DROP DATABASE IF EXISTS \(self.database)") }
    }

    var cdcctl: CLI { CLI(directory: dir) }

    /// A 5-minute boundary six hours ago: recent enough for every table's TTL (ClickHouse drops
    /// rows already past their TTL as they are inserted), and old enough that 12 000 trades 1 s
    /// apart are not in the future (those are quarantined: processor.maxFutureSkewSeconds).
    lazy var t0: Int64 = {
        let now = Int64(Date().timeIntervalSince1970 * 1000) - 6 * 3_600_000
        return now - now % 300_000
    }()

    func clickhouseTime(_ ms: Int64) -> String {
        let f = DateFormatter()
        f.locale = Locale(identifier: "en_US_POSIX")
        f.timeZone = TimeZone(identifier: "UTC")
        f.dateFormat = "yyyy-MM-dd HH:mm:ss"
        return f.string(from: Date(timeIntervalSince1970: Double(ms) / 1000))
    }

    /// `count` trades, 1 s apart from t0, round-robin over the symbols, so every 5-minute window
    /// of every symbol has 75 trades.
    func produceTrades(_ count: Int, from start: Int = 0) throws {
        let producer = try KafkaProducer(KafkaSettings(bootstrap: testbed["TESTBED_KAFKA_BOOTSTRAP_SINGLE"]))
        for i in start..<(start + count) {
            let symbol = symbols[i % symbols.count]
            let value = "{\"symbol\":\"\(symbol)\",\"trade_id\":\"t\(i)\",\"price\":\"\(100 + i % 7).5\",\"volume\":\"0.\(i % 9 + 1)\",\"side\":\"\(i % 2 == 0 ? "buy" : "sell")\",\"ts_ms\":\(t0 + Int64(i) * 1000),\"source\":\"replay\"}"
            try producer.send(topic: "\(prefix).trades", key: symbol, value: value)
        }
        try producer.flush()
        XCTAssertEqual(producer.acknowledged, count)
    }

    /// Debezium-shaped order changes: create, update, delete, tombstone.
    func produceOrderChanges(orderId: Int) throws {
        let producer = try KafkaProducer(KafkaSettings(bootstrap: testbed["TESTBED_KAFKA_BOOTSTRAP_SINGLE"]))
        let key = "{\"order_id\":\(orderId)}"
        func row(_ status: String) -> String {
            "{\"order_id\":\(orderId),\"customer_id\":7,\"symbol\":\"005930\",\"side\":\"BUY\",\"order_type\":\"LIMIT\",\"quantity\":\"10.0000\",\"price\":\"71000.5000\",\"status\":\"\(status)\",\"created_at\":\(t0),\"updated_at\":\(t0 + 1000)}"
        }
        func event(_ op: String, before: String?, after: String?, ts: Int) -> String {
            "{\"before\":\(before ?? "null"),\"after\":\(after ?? "null"),\"source\":{\"version\":\"3.0.7.Final\",\"connector\":\"mysql\",\"name\":\"\(prefix)\",\"ts_ms\":\(ts),\"db\":\"shop\",\"table\":\"orders\",\"server_id\":1,\"file\":\"mysql-bin.000003\",\"pos\":\(1000 + ts % 1000),\"row\":0},\"op\":\"\(op)\",\"ts_ms\":\(ts + 5)}"
        }
        let ts = Int(t0)
        try producer.send(topic: "\(prefix).shop.orders", key: key, value: event("c", before: nil, after: row("NEW"), ts: ts))
        try producer.send(topic: "\(prefix).shop.orders", key: key, value: event("u", before: row("NEW"), after: row("FILLED"), ts: ts + 1000))
        try producer.send(topic: "\(prefix).shop.orders", key: key, value: event("d", before: row("FILLED"), after: nil, ts: ts + 2000))
        try producer.send(topic: "\(prefix).shop.orders", key: Array(key.utf8), value: nil)
        try producer.flush()
    }

    func scalar(_ sql: String) throws -> Int {
        Int(try clickhouse.execute(sql, database: database).trimmingCharacters(in: .whitespacesAndNewlines)) ?? -1
    }

    func runProcessor(idle: Double = 4, port: Int) throws -> (status: Int32, output: String) {
        try cdcctl(["process", "run", "-m", manifestRun, "--exit-when-idle", String(idle), "--metrics-port", String(port)])
    }

    func testEventsInExpectedRowsOut() throws {
        try produceTrades(600)   // 10 minutes of trades: two full windows per symbol…
        try produceTrades(4, from: 900)  // …and one trade per symbol 5 minutes later, closing them.
        try produceOrderChanges(orderId: 42)
        let run = try runProcessor(port: 19500 + Int.random(in: 0..<400))
        XCTAssertEqual(run.status, 0, run.output)

        XCTAssertEqual(try scalar("SELECT count() FROM trades"), 604)
        XCTAssertEqual(try scalar("SELECT uniqExact(trade_id) FROM trades"), 604)
        XCTAssertEqual(try scalar("SELECT uniqExact(partition, offset) FROM trades WHERE offset >= 0 AND partition >= 0"), 604,
                       "each trade row names its own Kafka record (migration 0007)")
        XCTAssertEqual(try scalar("SELECT count() FROM cdc_orders_raw"), 3, "c, u, d; the tombstone has no row")
        XCTAssertEqual(try scalar("SELECT count() FROM orders_current FINAL WHERE order_id = 42"), 0, "the delete is honoured")
        // 600 trades at 1/s over 4 symbols: windows [00:00, 00:05) and [00:05, 00:10), 75 trades each per symbol.
        XCTAssertEqual(try scalar("SELECT count() FROM trade_aggregates FINAL WHERE window_minutes = 5 AND trade_count = 75"), 8)
        XCTAssertEqual(try scalar("SELECT sum(trade_count) FROM trade_aggregates FINAL WHERE window_minutes = 5 AND window_start < '\(clickhouseTime(t0 + 600_000))'"), 600)
        // VWAP is notional / volume of the window, recomputed here from the trades themselves.
        XCTAssertEqual(try scalar("""
            SELECT count() * 1000 + countIf(abs(a.vwap - t.vwap) > 1e-9) FROM
              (SELECT symbol, window_start, vwap FROM trade_aggregates FINAL WHERE window_minutes = 5 AND window_start < '\(clickhouseTime(t0 + 600_000))') AS a
            INNER JOIN
              (SELECT symbol, toStartOfFiveMinutes(traded_at) AS window_start,
                      sum(toFloat64(price) * toFloat64(volume)) / sum(toFloat64(volume)) AS vwap
               FROM trades GROUP BY symbol, window_start) AS t
            USING (symbol, window_start)
            """), 8000, "8 windows joined, none with a different VWAP")
        let history = try cdcctl(["history", "-o", "json"])
        XCTAssertTrue(history.output.contains("\"command\" : \"process run\""), history.output)
    }

    func testSigkillMidRunThenRestartLeavesEveryRowExactlyOnce() throws {
        let total = 12_000
        try produceTrades(total)
        for order in 1...20 { try produceOrderChanges(orderId: order) }
        let port = 19500 + Int.random(in: 0..<400)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: TestSupport.cdcctlBinary)
        process.arguments = ["process", "run", "-m", manifestRun, "--metrics-port", String(port), "--state-dir", dir + "/state"]
        process.standardError = FileHandle.nullDevice
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        // Kill it once some, but not all, rows are in: mid-stream, possibly mid-flush.
        let deadline = Date().addingTimeInterval(60)
        var seen = 0
        while Date() < deadline {
            seen = (try? scalar("SELECT count() FROM trades")) ?? 0
            if seen > 400 { break }
            Thread.sleep(forTimeInterval: 0.05)
        }
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
        XCTAssertEqual(process.terminationReason, .uncaughtSignal)
        XCTAssertLessThan(seen, total, "killed before it finished")

        let rerun = try runProcessor(idle: 5, port: port + 1)
        XCTAssertEqual(rerun.status, 0, rerun.output)
        // Which path ran: Tansu drops commit metadata, so checkpoints (and any pend=) live in
        // ClickHouse; the crash matrix (testCrashAtEveryPointOfAFlush…) proves each point.
        XCTAssertTrue(rerun.output.contains("recovery mode clickhouse-checkpoints"), rerun.output)
        XCTAssertFalse(rerun.output.contains("no checkpoint metadata"), "nothing restarted without its metadata: \(rerun.output)")
        XCTAssertEqual(try scalar("SELECT count() FROM trades"), total, "no trade lost or doubled (count without FINAL): \(rerun.output)")
        XCTAssertEqual(try scalar("SELECT uniqExact(trade_id) FROM trades"), total)
        XCTAssertEqual(try scalar("SELECT count() FROM cdc_orders_raw"), 60)
        XCTAssertEqual(try scalar("SELECT uniqExact(partition, offset) FROM cdc_orders_raw"), 60)
    }

    func testClickHouseAwayForAWhileLosesNothing() throws {
        try produceTrades(800)
        let port = 19500 + Int.random(in: 0..<400)
        // system() waits for its own child: Foundation's Process did not reap this one while the
        // processor (another Process) was running, and the test hung. Output goes to a file.
        func testbed(_ verb: String) throws -> (status: Int32, output: String) {
            let log = "\(dir)/testbed-\(verb.prefix(4)).log"
            let status = system("'\(TestSupport.repo)/scripts/testbed' \(verb) >'\(log)' 2>&1")
            return (status, (try? String(contentsOfFile: log, encoding: .utf8)) ?? "")
        }
        XCTAssertEqual(try testbed("down clickhouse").status, 0)
        var clickhouseUp = false
        defer { if !clickhouseUp { _ = try? testbed("up") } }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: TestSupport.cdcctlBinary)
        process.arguments = ["process", "run", "-m", manifestRun, "--metrics-port", String(port), "--exit-when-idle", "6",
                             "--state-dir", dir + "/state"]
        let stderr = Pipe()
        process.standardError = stderr
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        Thread.sleep(forTimeInterval: 5)
        XCTAssertTrue(process.isRunning, "it waits for ClickHouse instead of failing")
        let metrics = try TestSupport.run("/usr/bin/curl", ["-fsS", "http://127.0.0.1:\(port)/metrics"])
        XCTAssertTrue(metrics.output.contains("cdcctl_processor_sink_errors_total "), metrics.output)
        // On the testbed the checkpoints live in ClickHouse (Tansu drops commit metadata), so the
        // processor waits for it already at start-up, before its first insert.
        let up = try testbed("up")
        clickhouseUp = up.status == 0
        XCTAssertEqual(up.status, 0, up.output)
        process.waitUntilExit()
        let log = String(decoding: stderr.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        XCTAssertEqual(process.terminationStatus, 0, log)
        XCTAssertTrue(log.contains("recovery mode clickhouse-checkpoints"), log)
        XCTAssertTrue(log.contains("reading the checkpoints failed (attempt 1, server unavailable), retrying"), log)
        XCTAssertEqual(try scalar("SELECT count() FROM trades"), 800)
    }
}
