import Foundation
import Kafka
import Producers
import TestSupport
import XCTest

/// `cdcctl produce trades --source upbit|kis` against a real, misbehaving WebSocket server on
/// loopback (`Fixtures/feed_server.py`, PyPI `websockets` from the testbed venv) with TLS from a
/// throw-away CA made here, into the testbed's Kafka-wire brokers (Tansu).
final class LiveFeedIntegrationTests: XCTestCase {
    var testbed: Testbed!
    var dir = ""
    var id = ""
    var prefix: String { "plive\(id)" }
    var topic: String { "\(prefix).trades" }
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures").path
    var servers: [Process] = []

    override func setUpWithError() throws {
        testbed = try Testbed.require()
        let probe = try testbed.python("import websockets")
        if probe.status != 0 {
            try TestSupport.missing("PyPI websockets in the testbed venv (\(testbed.python))", fix: "run scripts/testbed install (scripts/lib/pins.sh lists it)")
        }
        dir = try TestSupport.temporaryDirectory(self)
        id = String(UUID().uuidString.prefix(8).lowercased())
        let certs = try TestSupport.run("/bin/bash", [Self.fixtures + "/make-certs.sh", dir + "/certs"])
        XCTAssertEqual(certs.status, 0, "openssl: \(certs.output)")
        addTeardownBlock { for p in self.servers where p.isRunning { p.terminate(); p.waitUntilExit() } }
    }

    func manifest(symbols: [String], source: String) throws -> String {
        let path = dir + "/\(source).yaml", all = dir + "/\(source)-all.yaml"
        try """
            apiVersion: cdcctl/v1
            cluster: {name: plive-it}
            secrets:
              clickhousePassword: none
            kafka:
              engine: tansu
              topics:
                - {name: \(topic), partitions: 3, key: symbol}
                - {name: \(prefix).shop.orders, partitions: 1, key: order_id}
                - {name: \(prefix).shop.order_executions, partitions: 1, key: order_id}
                - {name: schemahistory.\(prefix), partitions: 1, retentionHours: -1, retentionBytes: -1}
            connect:
              connectors:
                - name: c-\(id)
                  topicPrefix: \(prefix)
                  tables: [shop.orders, shop.order_executions]
                  schemaHistoryTopic: schemahistory.\(prefix)
            processor:
              tradesTopic: \(topic)
              ordersTopic: \(prefix).shop.orders
            producers:
              trades: {topic: \(topic), source: \(source), symbols: [\(symbols.joined(separator: ", "))]}
            access:
              kafkaBootstrap: BOOTSTRAP

            """.replacingOccurrences(of: "BOOTSTRAP", with: testbed.kafkaBootstrap).write(toFile: all, atomically: true, encoding: .utf8)
        let r = try cdcctl(["topics", "apply", "-m", all])
        XCTAssertEqual(r.status, 0, r.output)
        // Produce through one Tansu process, as the other trade tests do.
        try String(contentsOfFile: all, encoding: .utf8)
            .replacingOccurrences(of: "kafkaBootstrap: \(testbed.kafkaBootstrap)", with: "kafkaBootstrap: \(testbed["TESTBED_KAFKA_BOOTSTRAP_SINGLE"])")
            .write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    var cdcctl: CLI { CLI(directory: dir) }

    /// Starts the feed server; returns (WebSocket port, HTTP port for approval and /stats).
    func startServer(_ args: [String]) throws -> (ws: Int, http: Int) {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: testbed.python)
        p.arguments = [Self.fixtures + "/feed_server.py"] + args
        let out = Pipe()
        p.standardOutput = out
        p.standardError = FileHandle(forWritingAtPath: "/dev/null")
        try p.run()
        servers.append(p)
        var line = ""
        let deadline = Date().addingTimeInterval(20)
        while !line.contains("\n") && Date() < deadline && p.isRunning {
            let d = out.fileHandleForReading.availableData
            if d.isEmpty { Thread.sleep(forTimeInterval: 0.05) } else { line += String(decoding: d, as: UTF8.self) }
        }
        let parts = line.split(separator: " ").map { String($0).trimmingCharacters(in: .whitespacesAndNewlines) }
        guard parts.count == 3, parts[0] == "READY", let ws = Int(parts[1]), let http = Int(parts[2]) else {
            XCTFail("the feed server did not start: \(line)")
            throw CocoaError(.fileReadUnknown)
        }
        return (ws, http)
    }

    func stats(_ port: Int) throws -> [String: Any] {
        let r = try TestSupport.run("/usr/bin/curl", ["-s", "http://127.0.0.1:\(port)/stats"])
        return try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(r.output.utf8)) as? [String: Any], r.output)
    }

    /// Runs cdcctl in the background; `during` runs while it does.
    func runCdcctl(_ args: [String], environment: [String: String]? = nil, during: () throws -> Void = {}) throws -> (status: Int32, stdout: String, stderr: String) {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: TestSupport.cdcctlBinary)
        p.arguments = args + ["--state-dir", dir + "/state"]
        p.currentDirectoryURL = URL(fileURLWithPath: dir)
        if let environment { p.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 } }
        let outPath = dir + "/out-\(UUID().uuidString)", errPath = outPath + ".err"
        _ = FileManager.default.createFile(atPath: outPath, contents: nil)
        _ = FileManager.default.createFile(atPath: errPath, contents: nil)
        p.standardOutput = FileHandle(forWritingAtPath: outPath)
        p.standardError = FileHandle(forWritingAtPath: errPath)
        try p.run()
        try during()
        p.waitUntilExit()
        return (p.terminationStatus, String(decoding: FileManager.default.contents(atPath: outPath) ?? Data(), as: UTF8.self),
                String(decoding: FileManager.default.contents(atPath: errPath) ?? Data(), as: UTF8.self))
    }

    func consume(_ topic: String, expecting n: Int) throws -> [ConsumedMessage] {
        let consumer = try KafkaConsumer(KafkaSettings(bootstrap: testbed["TESTBED_KAFKA_BOOTSTRAP_SINGLE"]), group: "plive-\(id)-\(topic)")
        try consumer.assign((0..<3).map { (topic, Int32($0), Int64(-2)) })
        var got: [ConsumedMessage] = []
        let deadline = Date().addingTimeInterval(60)
        // Read past n for a while, so a duplicate would be seen.
        var quietUntil: Date?
        while Date() < deadline {
            if let m = try consumer.poll(timeoutMs: 250) { got.append(m) }
            if got.count >= n {
                if quietUntil == nil { quietUntil = Date().addingTimeInterval(2) }
                if Date() > quietUntil! { break }
            }
        }
        return got
    }

    func tradeIds(_ messages: [ConsumedMessage]) throws -> [(symbol: String, id: String, partition: Int32)] {
        try messages.map { m in
            let v = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(try XCTUnwrap(m.value))) as? [String: Any])
            XCTAssertEqual(m.keyString, v["symbol"] as? String, "keyed by symbol")
            return (v["symbol"] as! String, v["trade_id"] as! String, m.partition)
        }
    }

    /// Every unique trade of the sample, in the sample's order per symbol, exactly once.
    func assertExactlyOnceInOrder(_ got: [(symbol: String, id: String, partition: Int32)], expected: [(symbol: String, id: String)],
                                  file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(got.count, expected.count, "each unique trade once", file: file, line: line)
        XCTAssertEqual(Set(got.map(\.id)).count, got.count, "no duplicate reached Kafka", file: file, line: line)
        for symbol in Set(expected.map(\.symbol)) {
            XCTAssertEqual(got.filter { $0.symbol == symbol }.map(\.id), expected.filter { $0.symbol == symbol }.map(\.id),
                           "\(symbol): in the server's order", file: file, line: line)
            XCTAssertEqual(Set(got.filter { $0.symbol == symbol }.map(\.partition)).count, 1, "one partition per symbol", file: file, line: line)
        }
    }

    func upbitSample() throws -> [(symbol: String, id: String)] {
        let text = try String(contentsOfFile: Self.fixtures + "/upbit_trades.txt", encoding: .utf8)
        var seen = Set<String>()
        return try text.split(separator: "\n").compactMap { line -> (String, String)? in
            let o = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
            guard o["type"] as? String == "trade" else { return nil }
            let sid = "\(o["sequential_id"] as! Int64)"
            return seen.insert(sid).inserted ? (o["code"] as! String, sid) : nil
        }
    }

    func testUpbitFeedThrough429DropsRepeatsIdleAndAMalformedFrameWritesEachTradeOnceInOrder() throws {
        let m = try manifest(symbols: ["KRW-BTC", "KRW-ETH"], source: "upbit")
        let expected = try upbitSample()
        let server = try startServer(["--kind", "upbit", "--frames", Self.fixtures + "/upbit_trades.txt",
                                      "--cert", dir + "/certs/server.pem", "--key", dir + "/certs/server.key",
                                      "--refuse-first", "1", "--drop-after", "70", "--drops", "2", "--repeat", "12",
                                      "--duplicate-every", "40", "--malformed-at", "100", "--idle-after", "150", "--idle-seconds", "3",
                                      "--idle-timeout", "1.5", "--interval", "0.002"])
        let metricsPort = 19_400 + Int.random(in: 0..<500)
        let record = dir + "/upbit.frames"
        var scraped = ""
        let run = try runCdcctl(["produce", "trades", "-m", m, "--source", "upbit", "--url", "wss://localhost:\(server.ws)/websocket/v1",
                                 "--ca-file", dir + "/certs/ca.pem", "--count", "\(expected.count)", "--duration", "60",
                                 "--ping-seconds", "0.4", "--reconnect-initial-seconds", "0.2", "--reconnect-max-seconds", "1",
                                 "--record", record, "--metrics-listen", "127.0.0.1:\(metricsPort)", "-o", "json"]) {
            // /metrics while it runs (the server idles 3 s mid-stream, so there is time to look).
            let deadline = Date().addingTimeInterval(30)
            while Date() < deadline {
                let r = try TestSupport.run("/usr/bin/curl", ["-s", "http://127.0.0.1:\(metricsPort)/metrics"])
                if r.output.contains("cdcctl_producer_reconnects_total{producer=\"trades\",source=\"upbit\"} 1") ||
                    r.output.contains("cdcctl_producer_reconnects_total{producer=\"trades\",source=\"upbit\"} 2") { scraped = r.output; break }
                Thread.sleep(forTimeInterval: 0.1)
            }
        }
        XCTAssertEqual(run.status, 0, run.stderr)
        let result = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as? [String: Any], run.stdout + run.stderr)
        let summary = try XCTUnwrap(result["summary"] as? [String: Any])
        let live = try XCTUnwrap(result["live"] as? [String: Any])
        let s = try stats(server.http)
        XCTAssertEqual(summary["acknowledged"] as? Int, expected.count, run.stdout)
        XCTAssertEqual(summary["endedBy"] as? String, "count")
        XCTAssertEqual(live["rateLimited"] as? Int, 1, "the 429 on the first upgrade was seen")
        XCTAssertEqual(live["reconnects"] as? Int, 3, "after the 429 and after each of the two drops: \(live)")
        XCTAssertEqual(live["gaps"] as? Int, 2, "two dropped connections")
        XCTAssertEqual(live["malformed"] as? Int, 1, "the malformed frame was counted and skipped")
        XCTAssertGreaterThanOrEqual(live["duplicates"] as? Int ?? 0, 20, "repeated frames were dropped: \(live), server \(s)")
        XCTAssertEqual(live["trades"] as? Int, expected.count)
        XCTAssertEqual(s["origin_headers"] as? Int, 0, "never an Origin header")
        XCTAssertGreaterThan(s["client_pings"] as? Int ?? 0, 3, "pings kept the connection alive")
        XCTAssertEqual(s["idle_closes"] as? Int, 0, "the server's idle rule (1.5 s) never fired during its 3 s silence")
        XCTAssertTrue(run.stderr.contains("reconnecting in"), run.stderr)
        XCTAssertFalse(scraped.isEmpty, "/metrics answered while the producer ran")
        for name in ["written", "committed", "failed", "reconnects", "duplicates", "malformed"] {
            XCTAssertTrue(scraped.contains("cdcctl_producer_\(name)_total{"), "\(name) in /metrics: \(scraped)")
        }

        assertExactlyOnceInOrder(try tradeIds(try consume(topic, expecting: expected.count)), expected: expected)

        // --record wrote the raw frames, which replay reads back into the same unique trades.
        let recorded = try String(contentsOfFile: record, encoding: .utf8).split(separator: "\n")
        XCTAssertEqual(recorded.count, live["frames"] as? Int, "one line per frame received")
        let replay = try cdcctl.separately(["produce", "trades", "-m", m, "--source", "replay", "--file", record, "--speed", "0", "-o", "json"])
        XCTAssertEqual(replay.status, 0, replay.stderr)
        XCTAssertTrue(replay.stdout.contains("\"acknowledged\" : \(expected.count)"), replay.stdout)
    }

    func testAnUntrustedCertificateIsRefusedAndCaFileFixesIt() throws {
        let m = try manifest(symbols: ["KRW-BTC", "KRW-ETH"], source: "upbit")
        let server = try startServer(["--kind", "upbit", "--frames", Self.fixtures + "/upbit_trades.txt",
                                      "--cert", dir + "/certs/server.pem", "--key", dir + "/certs/server.key"])
        let url = "wss://localhost:\(server.ws)/websocket/v1"
        for ca in [nil, dir + "/certs/other-ca.pem"] {
            let r = try runCdcctl(["produce", "trades", "-m", m, "--source", "upbit", "--url", url, "--count", "5", "--duration", "30", "-o", "json"]
                                  + (ca.map { ["--ca-file", $0] } ?? []))
            XCTAssertEqual(r.status, 1, "\(ca ?? "system roots"): \(r.stdout) \(r.stderr)")
            XCTAssertTrue(r.stdout.contains("TLS handshake failed") && r.stdout.contains("--ca-file"), r.stdout)
            XCTAssertTrue(r.stdout.contains("\"acknowledged\" : 0"), r.stdout)
        }
        XCTAssertEqual(try stats(server.http)["connections"] as? Int, 0, "no WebSocket session was opened over an untrusted certificate")
        let ok = try runCdcctl(["produce", "trades", "-m", m, "--source", "upbit", "--url", url, "--ca-file", dir + "/certs/ca.pem",
                                "--count", "5", "--duration", "30", "-o", "json"])
        XCTAssertEqual(ok.status, 0, ok.stderr)
        XCTAssertTrue(ok.stdout.contains("\"acknowledged\" : 5"), ok.stdout)
    }

    func kisSample() throws -> [(symbol: String, id: String)] {
        let text = try String(contentsOfFile: Self.fixtures + "/kis_frames.txt", encoding: .utf8)
        var out: [(String, String)] = []
        for line in text.split(separator: "\n") {
            let parts = line.split(separator: "|", maxSplits: 3)
            let n = Int(parts[2])!
            let f = parts[3].split(separator: "^", omittingEmptySubsequences: false)
            for r in 0..<n {
                let rec = Array(f[(r * 46)..<((r + 1) * 46)])
                out.append((String(rec[0]), "\(rec[33])-\(rec[0])-\(rec[1])-\(rec[13])"))
            }
        }
        return out
    }

    func testKISApprovalKeySubscriptionsPingPongAndReconnect() throws {
        let m = try manifest(symbols: ["005930", "000660"], source: "kis")
        let expected = try kisSample()
        let server = try startServer(["--kind", "kis", "--frames", Self.fixtures + "/kis_frames.txt", "--subscriptions", "2",
                                      "--pingpong-every", "0.3", "--interval", "0.02", "--drop-after", "40", "--repeat", "6",
                                      "--app-key", "k-\(id)", "--app-secret", "s-\(id)"])
        try "s-\(id)\n".write(toFile: dir + "/kis-secret", atomically: true, encoding: .utf8)
        let base = ["produce", "trades", "-m", m, "--source", "kis", "--url", "ws://127.0.0.1:\(server.ws)",
                    "--approval-url", "http://127.0.0.1:\(server.http)/oauth2/Approval", "--kis-app-key", "env:KIS_TEST_KEY_\(id)",
                    "--reconnect-initial-seconds", "0.2", "--reconnect-max-seconds", "1", "--duration", "60", "-o", "json"]
        let env = ["KIS_TEST_KEY_\(id)": "k-\(id)"]

        let missing = try runCdcctl(base + ["--kis-app-secret", "env:KIS_NOT_SET_\(id)", "--count", "1"], environment: env)
        XCTAssertEqual(missing.status, 2, "a missing secret is bad input: \(missing.stderr)")
        XCTAssertTrue(missing.stderr.contains("--kis-app-secret"), missing.stderr)
        try "wrong\n".write(toFile: dir + "/wrong-secret", atomically: true, encoding: .utf8)
        let refused = try runCdcctl(base + ["--kis-app-secret", "file:\(dir)/wrong-secret", "--count", "1"], environment: env)
        XCTAssertEqual(refused.status, 1, "the approval POST answered 403: \(refused.stdout) \(refused.stderr)")
        XCTAssertTrue(refused.stdout.contains("HTTP 403"), refused.stdout)

        let run = try runCdcctl(base + ["--kis-app-secret", "file:\(dir)/kis-secret", "--count", "\(expected.count)"], environment: env)
        XCTAssertEqual(run.status, 0, run.stderr)
        let result = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as? [String: Any], run.stdout + run.stderr)
        let live = try XCTUnwrap(result["live"] as? [String: Any])
        let s = try stats(server.http)
        XCTAssertEqual((result["summary"] as? [String: Any])?["acknowledged"] as? Int, expected.count, run.stdout)
        XCTAssertGreaterThanOrEqual(s["approvals"] as? Int ?? 0, 1, "approval key requested with the app key and secret")
        XCTAssertEqual(s["bad_subscriptions"] as? Int, 0, "every subscription carried the approval key")
        XCTAssertEqual(Set((s["subscriptions"] as? [String]) ?? []), ["005930", "000660"], "one H0STCNT0 subscription per symbol")
        XCTAssertGreaterThanOrEqual(s["pingpongs_echoed"] as? Int ?? 0, 1, "PINGPONG answered: server \(s)")
        XCTAssertGreaterThanOrEqual(live["pingPongs"] as? Int ?? 0, s["pingpongs_echoed"] as? Int ?? 0)
        XCTAssertEqual(live["reconnects"] as? Int, 1, "after the drop")
        XCTAssertGreaterThan(live["duplicates"] as? Int ?? 0, 0, "the repeated frames' records were dropped")
        assertExactlyOnceInOrder(try tradeIds(try consume(topic, expecting: expected.count)), expected: expected)
    }

    /// `up --with-producers` starts producers the way this does (ProducerProcesses.start: detached,
    /// logging to the state dir); `status` then shows each one's pid file checked with kill(pid, 0).
    func testStatusShowsWhetherABackgroundProducerRuns() throws {
        let m = try manifest(symbols: ["KRW-BTC", "KRW-ETH"], source: "synthetic")
        let stateDir = dir + "/state"
        func producers() throws -> [String: [String: Any]] {
            let r = try cdcctl.separately(["status", "-m", m, "-o", "json"])
            let o = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any], r.stdout + r.stderr)
            let list = try XCTUnwrap(o["producers"] as? [[String: Any]], r.stdout)
            return Dictionary(uniqueKeysWithValues: list.map { ($0["name"] as! String, $0) })
        }
        XCTAssertEqual(try producers()["trades"]?["state"] as? String, "stopped")
        let pid = try XCTUnwrap(try ProducerProcesses.start(executable: TestSupport.cdcctlBinary, stateDir: stateDir, name: "trades",
                                                            arguments: ["-m", m, "--state-dir", stateDir, "--source", "synthetic", "--rate", "20", "--duration", "60"]))
        defer { kill(pid, SIGKILL) }
        var running: [String: Any]?
        let deadline = Date().addingTimeInterval(20)
        while Date() < deadline {
            running = try producers()["trades"]
            if running?["state"] as? String == "running" { break }
            Thread.sleep(forTimeInterval: 0.2)
        }
        XCTAssertEqual(running?["state"] as? String, "running", "\(String(describing: running))")
        XCTAssertEqual(running?["pid"] as? Int, Int(pid), "the pid the producer wrote is the one started")
        XCTAssertEqual(try producers()["orders"]?["state"] as? String, "stopped")
        XCTAssertNil(try ProducerProcesses.start(executable: TestSupport.cdcctlBinary, stateDir: stateDir, name: "trades", arguments: []),
                     "a running producer is left alone")
        kill(pid, SIGTERM)  // flushes and removes its pid file
        var after = ""
        let until = Date().addingTimeInterval(30)
        while Date() < until {
            after = try producers()["trades"]?["state"] as? String ?? ""
            if after == "stopped" { break }
            Thread.sleep(forTimeInterval: 0.2)
        }
        XCTAssertEqual(after, "stopped", "a clean exit removes the pid file")
        let log = try String(contentsOfFile: ProducerProcesses.logFile(stateDir, "trades"), encoding: .utf8)
        XCTAssertTrue(log.contains("ended by signal"), "its summary went to the log: \(log)")
    }
}
