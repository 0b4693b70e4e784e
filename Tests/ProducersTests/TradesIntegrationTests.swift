import ClickHouse
import Foundation
import Kafka
import TestSupport
import XCTest

/// `cdcctl produce trades` into the testbed's Kafka-wire brokers, and through `cdcctl process run`
/// into its ClickHouse engine.
final class TradesIntegrationTests: XCTestCase {
    var testbed: Testbed!
    var dir = ""
    var id = ""
    var prefix: String { "ptr\(id)" }
    var database: String { "it_ptr_\(id)" }
    var manifest = ""
    var manifestRun = ""
    var clickhouse: ClickHouseClient!

    override func setUpWithError() throws {
        testbed = try Testbed.require()
        dir = try TestSupport.temporaryDirectory(self)
        id = String(UUID().uuidString.prefix(8).lowercased())
        clickhouse = ClickHouseClient(ClickHouseConfig(url: testbed["TESTBED_CLICKHOUSE_URL"], user: "default", password: ""))
        manifest = dir + "/cdcctl.yaml"
        let yaml = """
            apiVersion: cdcctl/v1
            cluster: {name: ptr-it}
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
              consumerGroup: ptr-it-\(id)
              tradesTopic: \(prefix).trades
              ordersTopic: \(prefix).shop.orders
              windowMinutes: 1
              flushIntervalMs: 100
              watermarkDelaySeconds: 0
              allowedLatenessSeconds: 0
              anomalies: {volumeWindows: 3}
            producers:
              trades: {topic: \(prefix).trades, source: synthetic, symbols: [KRW-BTC, KRW-ETH, KRW-XRP]}
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

    func scalar(_ sql: String) throws -> Int {
        Int(try clickhouse.execute(sql, database: database).trimmingCharacters(in: .whitespacesAndNewlines)) ?? -1
    }

    func testInjectedAnomaliesMakeTheProcessorsRulesFire() throws {
        // 3 symbols, 100 ms of event time per trade: 600 trades per 1-minute window; the burst
        // comes after 5 windows of history and is followed by 2 more windows that close it.
        let total = 4800
        let run = try cdcctl.separately(["produce", "trades", "-m", manifestRun, "--source", "synthetic", "--count", "\(total)",
                                         "--as-fast-as-possible", "--event-step-ms", "100", "--inject-anomalies", "--seed", "11", "-o", "json"])
        XCTAssertEqual(run.status, 0, run.stderr)
        let result = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as? [String: Any], run.stdout)
        let summary = try XCTUnwrap(result["summary"] as? [String: Any])
        XCTAssertEqual(summary["acknowledged"] as? Int, total, run.stdout)
        XCTAssertEqual(summary["failed"] as? Int, 0)
        XCTAssertTrue(run.stderr.contains("injecting anomalies"), run.stderr)

        let process = try cdcctl(["process", "run", "-m", manifestRun, "--exit-when-idle", "4", "--metrics-port", String(19900 + Int.random(in: 0..<90))])
        XCTAssertEqual(process.status, 0, process.output)
        XCTAssertEqual(try scalar("SELECT count() FROM trades"), total, "every synthetic trade decoded and stored")
        XCTAssertEqual(try scalar("SELECT countIf(rule = 'price_zscore' AND symbol = 'KRW-BTC') FROM alerts"), 1, "the price jump fires price_zscore once")
        XCTAssertGreaterThanOrEqual(try scalar("SELECT countIf(rule = 'volume_spike' AND symbol = 'KRW-BTC') FROM alerts"), 1, "the volume burst fires volume_spike")
        XCTAssertEqual(try scalar("SELECT countIf(symbol != 'KRW-BTC') FROM alerts"), 0, "the walks alone raise nothing")

        let history = try cdcctl(["history", "-o", "json"])
        XCTAssertTrue(history.output.contains("\"command\" : \"produce trades\""), "journaled")
    }

    func testReplayWritesEveryRecordedTradeOnceKeyedBySymbolAndRefusesBadInput() throws {
        var lines: [String] = []
        for i in 0..<300 {
            let symbol = ["KRW-BTC", "KRW-ETH", "KRW-XRP"][i % 3]
            lines.append("{\"symbol\":\"\(symbol)\",\"trade_id\":\"r\(i)\",\"price\":\"\(1000 + i).5\",\"volume\":\"0.1\",\"side\":\"buy\",\"ts_ms\":\(1_700_000_000_000 + Int64(i) * 10),\"source\":\"upbit\"}")
        }
        let file = dir + "/trades.jsonl"
        try lines.joined(separator: "\n").write(toFile: file, atomically: true, encoding: .utf8)
        let run = try cdcctl.separately(["produce", "trades", "-m", manifestRun, "--source", "replay", "--file", file, "--speed", "0", "--loop",
                                         "--count", "600", "-o", "json"])
        XCTAssertEqual(run.status, 0, run.stderr)
        XCTAssertTrue(run.stdout.contains("\"acknowledged\" : 600"), run.stdout)

        let consumer = try KafkaConsumer(KafkaSettings(bootstrap: testbed["TESTBED_KAFKA_BOOTSTRAP_SINGLE"]), group: "ptr-\(id)")
        try consumer.assign((0..<3).map { ("\(prefix).trades", Int32($0), Int64(-2)) })
        var got: [ConsumedMessage] = []
        let deadline = Date().addingTimeInterval(60)
        while got.count < 600 && Date() < deadline { if let m = try consumer.poll(timeoutMs: 250) { got.append(m) } }
        XCTAssertEqual(got.count, 600)
        var partitionOf: [String: Set<Int32>] = [:]
        var ids: [String] = []
        for m in got {
            let v = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(try XCTUnwrap(m.value))) as? [String: Any])
            XCTAssertEqual(m.keyString, v["symbol"] as? String, "keyed by symbol")
            partitionOf[m.keyString ?? "", default: []].insert(m.partition)
            ids.append(v["trade_id"] as! String)
        }
        XCTAssertEqual(Set(ids).count, 600, "each recorded trade once per pass; the second pass has new ids")
        XCTAssertTrue(partitionOf.values.allSatisfy { $0.count == 1 }, "one symbol, one partition: in order per symbol")
        // In order per symbol: ids of a symbol arrive as recorded.
        for symbol in ["KRW-BTC"] {
            let seq = got.filter { $0.keyString == symbol }.compactMap { m -> String? in
                (try? JSONSerialization.jsonObject(with: Data(m.value!)) as? [String: Any])?["trade_id"] as? String }
            XCTAssertEqual(Array(seq.prefix(3)), ["r0", "r3", "r6"])
        }

        try (lines[0] + "\nnot json\n").write(toFile: dir + "/bad.jsonl", atomically: true, encoding: .utf8)
        let bad = try cdcctl.separately(["produce", "trades", "-m", manifestRun, "--source", "replay", "--file", dir + "/bad.jsonl"])
        XCTAssertEqual(bad.status, 2, bad.stderr)
        XCTAssertTrue(bad.stderr.contains("bad.jsonl:2"), bad.stderr)
        for (args, flag) in [(["--source", "nasdaq"], "--source"), (["--source", "synthetic", "--rate", "0"], "--rate"),
                             (["--source", "upbit", "--url", "https://api.upbit.com"], "--url"),
                             (["--source", "kis", "--kis-app-key", "env:CDCCTL_UNSET_\(id)"], "--kis-app-key"),
                             (["--source", "synthetic", "--record", dir + "/r"], "--record"),
                             (["--source", "upbit", "--metrics-listen", "70000"], "--metrics-listen")] {
            let r = try cdcctl.separately(["produce", "trades", "-m", manifestRun] + args)
            XCTAssertEqual(r.status, 2, "\(args): \(r.stderr)")
            XCTAssertTrue(r.stderr.contains(flag), r.stderr)
        }
        let badRate = try cdcctl.separately(["produce", "orders", "-m", manifestRun, "--rate", "-1"])
        XCTAssertEqual(badRate.status, 2, badRate.stderr)
        XCTAssertTrue(badRate.stderr.contains("--rate"), badRate.stderr)
    }

    func testSigtermStopsTheFeedFlushesAndPrintsTheSummary() throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: TestSupport.cdcctlBinary)
        process.arguments = ["produce", "trades", "-m", manifestRun, "--source", "synthetic", "--rate", "500", "--duration", "120",
                             "--seed", "3", "-o", "json", "--state-dir", dir + "/state"]
        process.currentDirectoryURL = URL(fileURLWithPath: dir)
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        Thread.sleep(forTimeInterval: 3)
        XCTAssertTrue(process.isRunning, "still producing when the signal comes")
        kill(process.processIdentifier, SIGTERM)
        let stdout = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        let stderr = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        XCTAssertEqual(process.terminationStatus, 0, stderr)
        let summary = try XCTUnwrap((try JSONSerialization.jsonObject(with: Data(stdout.utf8)) as? [String: Any])?["summary"] as? [String: Any], stdout)
        XCTAssertEqual(summary["endedBy"] as? String, "signal")
        let queued = try XCTUnwrap(summary["queued"] as? Int)
        XCTAssertGreaterThan(queued, 500, "about 3 s at 500/s")
        XCTAssertEqual(summary["acknowledged"] as? Int, queued, "everything queued was flushed and acknowledged before exiting")
        XCTAssertEqual(summary["unconfirmed"] as? Int, 0)
    }
}
