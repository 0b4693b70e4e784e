import Foundation
import Runtime
import TestSupport
import XCTest

/// `cdcctl report memory` against the Docker testbed's real dockerd: a small compose project of
/// our own (a unique project name, never `cdc`), whose containers hold known amounts of memory
/// (perl strings) under known limits, plus one with a 16 MiB limit that allocates 64 MiB and is
/// OOM-killed. Usage is compared with `docker stats --no-stream`, read independently.
final class MemoryDockerTests: XCTestCase {
    var dir = ""
    var env: [String: String] = [:]
    var project = ""

    static let image = "grafana/grafana:11.2.0"  // a testbed stand-in: Debian minbase, has perl

    static func compose(_ image: String) -> String {
        func hold(_ mib: Int) -> String {
            #"["sh", "-c", "perl -e '$$x = q(a) x (\#(mib)*1024*1024); sleep 3600' & sleep 3600"]"#
        }
        return """
            services:
              mysql:
                image: \(image)
                init: true
                entrypoint: \(hold(40))
                mem_limit: 256m
              kafka-1:
                image: \(image)
                init: true
                entrypoint: \(hold(90))
                mem_limit: 512m
              connect:
                image: \(image)
                init: true
                entrypoint: \(hold(10))
                mem_limit: 128m
              oom-probe:
                image: \(image)
                init: true
                entrypoint: ["sh", "-c", "perl -e '$$x = q(a) x (64*1024*1024); sleep 3600'; sleep 3600"]
                mem_limit: 16m
                memswap_limit: 16m

            """
    }

    override func setUpWithError() throws {
        env = try DockerTestbed.require()
        dir = try TestSupport.temporaryDirectory(self)
        project = TestSupport.uniqueName("memrpt").lowercased().replacingOccurrences(of: "_", with: "-")
        try "apiVersion: cdcctl/v1\ncluster:\n  name: \(project)\n".write(toFile: dir + "/cdcctl.yaml", atomically: true, encoding: .utf8)
        try Self.compose(Self.image).write(toFile: dir + "/compose.yml", atomically: true, encoding: .utf8)
        addTeardownBlock { [dir, project, env] in
            _ = try? TestSupport.run("/usr/bin/env", ["docker", "compose", "-p", project, "-f", dir + "/compose.yml", "down", "-v", "-t", "1"],
                                     environment: env)
        }
        let up = try TestSupport.run("/usr/bin/env", ["docker", "compose", "-p", project, "-f", dir + "/compose.yml", "up", "-d"], environment: env)
        XCTAssertEqual(up.status, 0, up.output)
    }

    func cdcctl(_ args: [String]) throws -> (status: Int32, stdout: String, stderr: String, seconds: Double) {
        let started = Date()
        let r = try CLI(directory: dir, extraArguments: ["-m", dir + "/cdcctl.yaml"], environment: env).separately(args)
        return (r.status, r.stdout, r.stderr, Date().timeIntervalSince(started))
    }

    func report(_ extra: [String] = []) throws -> (status: Int32, json: [String: Any], rows: [String: [String: Any]], seconds: Double) {
        let r = try cdcctl(["-o", "json", "report", "memory"] + extra)
        let json = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any], r.stdout + r.stderr)
        let report = try XCTUnwrap(json["report"] as? [String: Any])
        var rows: [String: [String: Any]] = [:]
        for row in report["rows"] as? [[String: Any]] ?? [] { rows[row["service"] as! String] = row }
        return (r.status, json, rows, r.seconds)
    }

    /// docker stats' MEM USAGE per compose service, read on its own.
    func dockerStats() throws -> [String: Int64] {
        let ids = try TestSupport.run("/usr/bin/env", ["docker", "ps", "-q", "--filter", "label=com.docker.compose.project=\(project)"], environment: env)
        let r = try TestSupport.run("/usr/bin/env", ["docker", "stats", "--no-stream", "--format", "{{json .}}"]
                                    + ids.output.split(separator: "\n").map(String.init), environment: env)
        XCTAssertEqual(r.status, 0, r.output)
        var out: [String: Int64] = [:]
        for s in DockerComposeRuntime.parseStats(r.output) {
            // <project>-<service>-1
            let service = String(s.container.dropFirst(project.count + 1).dropLast(2))
            out[service] = s.memoryBytes
        }
        return out
    }

    /// Until every holder has its string and the probe has been killed (bounded: 60 s).
    func waitUntilSettled() throws {
        let deadline = Date().addingTimeInterval(60)
        while Date() < deadline {
            let s = try dockerStats()
            if (s["kafka-1"] ?? 0) > 90 * 1_048_576, (s["mysql"] ?? 0) > 40 * 1_048_576, (s["connect"] ?? 0) > 10 * 1_048_576,
               let probe = s["oom-probe"], probe < 8 * 1_048_576 { return }
            Thread.sleep(forTimeInterval: 0.5)
        }
        XCTFail("the containers did not settle in 60 s: \(try dockerStats())")
    }

    func testUsageAgreesWithDockerStatsAndTheOOMKillFailsTheVerdict() throws {
        try waitUntilSettled()
        let first = try report()
        let stats = try dockerStats()
        for service in ["mysql", "kafka-1", "connect", "oom-probe"] {
            let row = try XCTUnwrap(first.rows[service], service)
            let ours = try XCTUnwrap((row["usageBytes"] as? NSNumber)?.int64Value, "\(service): \(row)")
            let theirs = try XCTUnwrap(stats[service], service)
            let tolerance = max(Int64(0.05 * Double(theirs)), 4 * 1_048_576)
            XCTAssertLessThanOrEqual(abs(ours - theirs), tolerance, "\(service): cdcctl \(ours) vs docker stats \(theirs)")
            XCTAssertTrue((row["source"] as? String ?? "").hasPrefix("cgroup v"), "read from the cgroup files: \(row["source"] ?? "")")
        }
        XCTAssertEqual((first.rows["mysql"]?["limitBytes"] as? NSNumber)?.int64Value, 256 * 1_048_576)
        XCTAssertEqual((first.rows["mysql"]?["plannedLimitBytes"] as? NSNumber)?.int64Value, 1024 * 1_048_576, "the manifest's default")
        XCTAssertEqual(first.rows["clickhouse"]?["state"] as? String, "missing", "every manifest service has a row")
        XCTAssertGreaterThan((first.rows["kafka-1"]?["anonBytes"] as? NSNumber)?.int64Value ?? 0, 90 * 1_048_576, "perl's string is anonymous memory")

        let probe = try XCTUnwrap(first.rows["oom-probe"])
        XCTAssertGreaterThanOrEqual((probe["oomKills"] as? NSNumber)?.intValue ?? 0, 1)
        XCTAssertEqual(probe["kind"] as? String, "container (not in manifest)")
        XCTAssertEqual(first.status, 3, "an OOM kill not reported before fails the verdict")
        let problems = (first.json["report"] as? [String: Any])?["problems"] as? [[String: Any]] ?? []
        XCTAssertEqual(problems.map { $0["subject"] as? String }, ["oom-probe"], "\(problems)")

        let second = try report()
        XCTAssertEqual(second.status, 0, "the kill was reported once; nothing new since: \(second.json)")
        XCTAssertEqual((second.rows["oom-probe"]?["newOOMKills"] as? NSNumber)?.intValue, 0)
        print("report memory (table, JSON) took \(String(format: "%.2f", first.seconds)) s and \(String(format: "%.2f", second.seconds)) s")
    }

    func testRecordThenSinceThenHTML() throws {
        try waitUntilSettled()
        for _ in 0..<3 {
            let r = try cdcctl(["report", "memory", "--record"])
            XCTAssertTrue(r.stderr.contains("recorded 4 samples"), r.stderr)
            Thread.sleep(forTimeInterval: 1.1)  // distinct sample times (ms keys)
        }
        let since = try report(["--since", "1h"])
        let history = try XCTUnwrap(since.json["history"] as? [[String: Any]])
        XCTAssertEqual(Set(history.compactMap { $0["service"] as? String }), ["mysql", "kafka-1", "connect", "oom-probe"])
        for h in history { XCTAssertEqual((h["samples"] as? NSNumber)?.intValue, 3, "\(h)") }
        let kafka = try XCTUnwrap(history.first { $0["service"] as? String == "kafka-1" })
        XCTAssertGreaterThan((kafka["minBytes"] as? NSNumber)?.int64Value ?? 0, 90 * 1_048_576)

        let html = dir + "/memory.html"
        let r = try cdcctl(["report", "memory", "--since", "1h", "--html", html])
        XCTAssertTrue(r.stderr.contains("wrote \(html) (12 samples)"), r.stderr)
        let page = try String(contentsOfFile: html, encoding: .utf8)
        for service in ["mysql", "kafka-1", "connect", "oom-probe", "clickhouse", "processor"] {
            XCTAssertTrue(page.contains("<td>\(service)</td>"), "the table names \(service)")
        }
        for service in ["mysql", "kafka-1", "connect", "oom-probe"] {
            XCTAssertTrue(page.contains("<title>\(service)</title></polygon>"), "the chart draws \(service)")
        }
        XCTAssertFalse(page.contains("<script"))
        print("HTML written to \(html): \(page.utf8.count) bytes")
        if let keep = ProcessInfo.processInfo.environment["CDCCTL_KEEP_REPORT_HTML"] {
            try? FileManager.default.removeItem(atPath: keep)
            try FileManager.default.copyItem(atPath: html, toPath: keep)
        }
    }

    /// The 24/7 sampler as its systemd unit runs it (`--record --every`): a reading into the
    /// history, the latest figures on /metrics, and SIGTERM (systemd's stop) ends it between
    /// readings with exit 0 and a line saying so.
    func testSamplerServesItsReadingAndStopsOnSIGTERM() throws {
        try waitUntilSettled()
        let port = try TestSupport.freePort()
        let log = dir + "/sampler.log"
        FileManager.default.createFile(atPath: log, contents: nil)
        let sampler = Process()
        sampler.executableURL = URL(fileURLWithPath: TestSupport.cdcctlBinary)
        sampler.arguments = ["-m", dir + "/cdcctl.yaml", "--state-dir", dir + "/state",
                             "report", "memory", "--record", "--every", "10s", "--metrics-port", String(port)]
        sampler.environment = env
        sampler.standardOutput = FileHandle.nullDevice
        sampler.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: log))
        try sampler.run()
        defer { if sampler.isRunning { kill(sampler.processIdentifier, SIGKILL) } }
        var text = ""
        let deadline = Date().addingTimeInterval(30)
        while !text.contains("service=\"kafka-1\"") && Date() < deadline && sampler.isRunning {
            text = (try? TestSupport.run("/usr/bin/curl", ["-s", "--max-time", "2", "http://127.0.0.1:\(port)/metrics"]).output) ?? ""
            Thread.sleep(forTimeInterval: 0.3)
        }
        let usage = text.split(separator: "\n").first { $0.hasPrefix("cdcctl_memory_usage_bytes{") && $0.contains("service=\"kafka-1\"") }
        let bytes = try XCTUnwrap(usage.flatMap { $0.split(separator: " ").last }.flatMap { Double($0) }, "served on --metrics-port \(port): \(text)")
        XCTAssertGreaterThan(bytes, 90 * 1_048_576, "kafka-1 holds a 90 MiB string")

        kill(sampler.processIdentifier, SIGTERM)
        let stopBy = Date().addingTimeInterval(15)
        while sampler.isRunning && Date() < stopBy { Thread.sleep(forTimeInterval: 0.1) }
        XCTAssertFalse(sampler.isRunning, "SIGTERM stops the sampler between readings, not after its 10 s interval")
        sampler.waitUntilExit()
        let stderr = try String(contentsOfFile: log, encoding: .utf8)
        XCTAssertEqual(sampler.terminationStatus, 0, stderr)
        XCTAssertEqual(sampler.terminationReason, .exit, "it exited, it was not killed by the signal")
        // The four containers and the sampler itself, a cdcctl process on this host reading this manifest.
        XCTAssertTrue(stderr.contains("recorded 5 samples"), stderr)
        XCTAssertTrue(stderr.contains("memory sampler: stopped after 1 reading(s) (SIGTERM)"), stderr)
        let since = try report(["--since", "1h"])
        let history = try XCTUnwrap(since.json["history"] as? [[String: Any]])
        XCTAssertEqual(Set(history.compactMap { $0["service"] as? String }), ["mysql", "kafka-1", "connect", "oom-probe", "memory-sampler"])
        XCTAssertEqual(history.compactMap { ($0["samples"] as? NSNumber)?.intValue }, [1, 1, 1, 1, 1], "one reading recorded for each service: \(history)")
    }

    func testNothingRunningSaysSoAndExits3() throws {
        try "apiVersion: cdcctl/v1\ncluster:\n  name: \(project)-none\n".write(toFile: dir + "/none.yaml", atomically: true, encoding: .utf8)
        let r = try CLI(directory: dir, extraArguments: ["-m", dir + "/none.yaml"], environment: env).separately(["report", "memory"])
        XCTAssertEqual(r.status, 3)
        XCTAssertTrue(r.stdout.contains("nothing is running for cluster \(project)-none"), r.stdout)
    }
}
