import Foundation
import Polling
import Postgres
import TestSupport
import XCTest

/// A PostgreSQL 15 of the test's own (initdb + pg_ctl as user `postgres`, data under /tmp, a
/// free loopback port, trust authentication on loopback only), so stopping it disturbs no one.
final class ThrowawayPostgres {
    static let bin = "/usr/lib/postgresql/15/bin"
    let dir: String
    let port: Int
    var endpoint: PostgresEndpoint { PostgresEndpoint(host: "127.0.0.1", port: port, user: "cdcctl", password: "unused-trust", database: "postgres") }

    init(port: Int) throws {
        guard FileManager.default.isExecutableFile(atPath: Self.bin + "/initdb") else {
            try TestSupport.missing("PostgreSQL 15's initdb (\(Self.bin))", fix: "apt-get install postgresql-15")
        }
        self.port = port
        dir = "/tmp/cdcctl-pg-\(UUID().uuidString.prefix(8).lowercased())"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        try postgres("/bin/chown", ["postgres:postgres", dir], asPostgres: false)
        try postgres(Self.bin + "/initdb", ["-D", dir + "/data", "-U", "cdcctl", "--auth=trust", "-E", "UTF8", "--no-sync"])
    }

    /// Runs a tool to its end with its output in a file: the server pg_ctl starts would
    /// inherit a pipe and keep it open, so a pipe reader would wait for ever.
    func postgres(_ tool: String, _ args: [String], asPostgres: Bool = true) throws {
        let out = dir + "/tool.out"
        FileManager.default.createFile(atPath: out, contents: nil)
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: out))
        defer { try? handle.close() }
        let p = Process()
        p.executableURL = URL(fileURLWithPath: asPostgres ? "/usr/sbin/runuser" : tool)
        p.arguments = asPostgres ? ["-u", "postgres", "--", tool] + args : args
        p.currentDirectoryURL = URL(fileURLWithPath: "/tmp")
        p.standardInput = FileHandle.nullDevice
        p.standardOutput = handle
        p.standardError = handle
        try p.run()
        p.waitUntilExit()
        guard p.terminationStatus == 0 else {
            let text = (try? String(contentsOfFile: out, encoding: .utf8)) ?? ""
            throw CdcTestError("\(tool) \(args.joined(separator: " ")): exit \(p.terminationStatus): \(text)")
        }
    }

    /// The postmaster runs as this test's own child (`runuser … postgres`), not daemonised by
    /// pg_ctl: a daemon would inherit the test runner's descriptors and hang its waits.
    var server: Process?

    func start() throws {
        let log = try FileHandle(forWritingTo: URL(fileURLWithPath: dir + "/tool.out"))
        log.seekToEndOfFile()
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/sbin/runuser")
        p.arguments = ["-u", "postgres", "--", Self.bin + "/postgres", "-D", dir + "/data", "-p", String(port), "-k", dir,
                       "-c", "listen_addresses=127.0.0.1", "-c", "fsync=off"]
        p.currentDirectoryURL = URL(fileURLWithPath: "/tmp")
        p.standardInput = FileHandle.nullDevice
        p.standardOutput = log
        p.standardError = log
        try p.run()
        server = p
        let up = Poll.until(Deadline(seconds: 30), backoff: .every(0.1)) { (try? PostgresConnection(endpoint)) != nil ? true : nil }
        guard up == true else { throw CdcTestError("the throw-away PostgreSQL did not start: \((try? String(contentsOfFile: dir + "/tool.out", encoding: .utf8)) ?? "")") }
    }

    /// Fast shutdown (SIGINT to the postmaster): sessions are ended, as when a server goes away.
    func stop() throws {
        guard let p = server, p.isRunning else { return }
        let pidText = (try? String(contentsOfFile: dir + "/data/postmaster.pid", encoding: .utf8))?.split(separator: "\n").first
        guard let pid = pidText.flatMap({ Int32($0) }) else { throw CdcTestError("no postmaster.pid") }
        kill(pid, SIGINT)
        p.waitUntilExit()
        server = nil
    }

    func destroy() {
        _ = try? stop()
        try? FileManager.default.removeItem(atPath: dir)
    }
}

struct CdcTestError: Error, CustomStringConvertible {
    var description: String
    init(_ d: String) { description = d }
}

extension PostgresSinkIntegrationTests {
    /// One sample of the processor's /metrics, by name.
    func metric(_ port: Int, _ name: String) throws -> Int? {
        let r = try TestSupport.run("/usr/bin/curl", ["-s", "--max-time", "2", "http://127.0.0.1:\(port)/metrics"])
        return r.output.split(separator: "\n").first { $0.hasPrefix(name + " ") }.flatMap { Int($0.split(separator: " ").last ?? "") }
    }

    func count(_ endpoint: PostgresEndpoint, _ sql: String) -> Int? {
        guard let c = try? PostgresConnection(endpoint), let v = try? c.exec(sql).scalar else { return nil }
        return Int(v)
    }

    func testPostgresDownPausesConsumptionAndLosesNothing() throws {
        let server = try ThrowawayPostgres(port: try TestSupport.freePort())
        addTeardownBlock { server.destroy() }
        try server.start()
        let (m, db) = try database("outage", batchMaxRecords: 5, endpoint: server.endpoint)
        let dbEndpoint = db.endpoint

        var before: [(String, String, String?)] = []
        for i in 1...10 { before += lifecycle(i, customer: i % 3 + 1) }
        try produce(before)

        let metricsPort = try TestSupport.freePort()
        let log = dir + "/outage.log"
        FileManager.default.createFile(atPath: log, contents: nil)
        let child = Process()
        child.executableURL = URL(fileURLWithPath: TestSupport.cdcctlBinary)
        child.arguments = ["process", "run", "-m", m, "--metrics-port", String(metricsPort), "--state-dir", dir + "/state"]
        child.currentDirectoryURL = URL(fileURLWithPath: dir)
        child.environment = environment(server.endpoint)
        child.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: log))
        child.standardOutput = FileHandle.nullDevice
        try child.run()
        addTeardownBlock { if child.isRunning { child.terminate() } }
        func logText() -> String { (try? String(contentsOfFile: log, encoding: .utf8)) ?? "" }

        let wrote = Poll.until(Deadline(seconds: 30)) { count(dbEndpoint, "SELECT count(*) FROM orders_history") == 20 ? true : nil }
        XCTAssertEqual(wrote, true, "the first 20 changes reached PostgreSQL: \(logText())")

        try server.stop()
        var after: [(String, String, String?)] = []
        for i in 11...30 { after += lifecycle(i, customer: i % 3 + 1) }
        try produce(after)

        let noticed = Poll.until(Deadline(seconds: 30)) { (try? metric(metricsPort, "cdcctl_postgres_sink_waiting")) == 1 ? true : nil }
        XCTAssertEqual(noticed, true, logText())
        // While PostgreSQL is down the loop retries the batch it holds and reads nothing new:
        // at most that one batch (5 records) beyond the 20 written. Sampled twice, a second apart.
        let consumed = try XCTUnwrap(try metric(metricsPort, "cdcctl_postgres_sink_records_in_total"))
        XCTAssertLessThanOrEqual(consumed, 25, "consumption paused while PostgreSQL is down")
        Thread.sleep(forTimeInterval: 1)
        XCTAssertEqual(try metric(metricsPort, "cdcctl_postgres_sink_records_in_total"), consumed)
        XCTAssertEqual(try metric(metricsPort, "cdcctl_postgres_sink_waiting"), 1)

        try server.start()
        let all = Poll.until(Deadline(seconds: 60)) { count(dbEndpoint, "SELECT count(*) FROM orders_history") == 60 ? true : nil }
        XCTAssertEqual(all, true, logText())
        child.terminate()
        child.waitUntilExit()
        XCTAssertEqual(child.terminationStatus, 0, logText())

        let text = logText()
        XCTAssertEqual(text.components(separatedBy: "PostgreSQL unavailable while").count - 1, 1, "logged once when it went away: \(text)")
        XCTAssertEqual(text.components(separatedBy: "PostgreSQL is back after").count - 1, 1, "and once when it came back: \(text)")
        let pg = try PostgresConnection(dbEndpoint)
        XCTAssertEqual(try pg.exec("SELECT count(DISTINCT (kafka_topic, kafka_partition, kafka_offset)) FROM orders_history").scalar, "60")
        XCTAssertEqual(try pg.exec("SELECT count(*), count(*) FILTER (WHERE status = 'FILLED') FROM orders_current").rows, [["30", "30"]])
        XCTAssertEqual(try pg.exec("SELECT sum(next_offset) FROM cdcctl_offsets").scalar, "60")
        XCTAssertEqual(try pg.exec("SELECT sum(order_count) FROM user_order_stats").scalar, "30")
        XCTAssertEqual(try pg.exec("SELECT count(*) FROM sink_rejects").scalar, "0")
    }
}
