import Foundation
import Manifest
import TestSupport
import XCTest
@testable import Reports

/// `report disk`: the verdict over constructed volumes (pure), and the real command on the
/// Docker testbed with containers and volumes of this test's own compose project.
final class DiskReportTests: XCTestCase {
    func manifest(_ extra: String = "") throws -> Manifest {
        let dir = try TestSupport.temporaryDirectory(self)
        let yaml = """
            apiVersion: cdcctl/v1
            cluster:
              name: d
              host: {memory: 16g, reserve: 2g, disk: 100g}
            kafka:
              topics:
                - {name: a, partitions: 6, replicationFactor: 3, retentionBytes: 1073741824}
                - {name: b, partitions: 3, replicationFactor: 3, retentionBytes: -1, retentionHours: 48}
            connect:
              connectors: []
            processor: {tradesTopic: a, ordersTopic: a}
            producers:
              trades: {topic: a}
            \(extra)
            """
        try yaml.write(toFile: dir + "/m.yaml", atomically: true, encoding: .utf8)
        return try ManifestLoader.load(path: dir + "/m.yaml").manifest
    }

    func vol(_ service: String, _ used: Int64, fs: Int64 = 1 << 40, avail: Int64 = 1 << 39) -> VolumeUsage {
        VolumeUsage(service: service, volume: "d_\(service)-data", path: "/v/\(service)", usedBytes: used, filesystemBytes: fs, availableBytes: avail)
    }

    func testSteadyStatePerServiceFromRetentionsAndRates() throws {
        let m = try manifest()
        let gib: Int64 = 1 << 30
        let r = DiskVerdict.build(m, .init(volumes: [vol("kafka-1", gib), vol("mysql", 2 * gib), vol("clickhouse", gib), vol("prometheus", 100 << 20)],
                                           ratesPerDay: ["kafka-1": gib, "mysql": gib / 2, "clickhouse": gib / 64], prometheusSeries: 10_000),
                                  sampleNote: nil)
        let k = try XCTUnwrap(r.rows.first { $0.service == "kafka-1" })
        // a: 1 GiB × 6 partitions × 3 replicas / 3 brokers = 6 GiB; b: 1 GiB/day × 2 days.
        XCTAssertEqual(k.steadyBytes, 6 * gib + 2 * gib, k.basis)
        let mysql = try XCTUnwrap(r.rows.first { $0.service == "mysql" })
        XCTAssertEqual(mysql.steadyBytes, 2 * gib + Int64(Double(gib / 2) * Double(m.source.binlogExpireSeconds) / 86_400))
        let ch = try XCTUnwrap(r.rows.first { $0.service == "clickhouse" })
        let ttl = max(m.clickhouse.ttl.rawDays, m.clickhouse.ttl.tradesDays, m.clickhouse.ttl.aggregatesDays, m.clickhouse.ttl.alertsDays)
        XCTAssertEqual(ch.steadyBytes, Int64(ttl) * gib / 64)
        let prom = try XCTUnwrap(r.rows.first { $0.service == "prometheus" })
        XCTAssertEqual(prom.steadyBytes, Int64(10_000 * (86_400 / m.prometheus.scrapeIntervalSeconds) * m.prometheus.retentionDays * 2))
        XCTAssertEqual(r.diskBytes, 100 * gib)
        XCTAssertTrue(r.healthy, "\(r.problems)")
        XCTAssertTrue(r.notes[0].contains("capped per container"))
    }

    func testExit3PathsPredictedAbove80PercentOrAVolumeAbove85PercentNow() throws {
        let m = try manifest()
        let gib: Int64 = 1 << 30
        // Unknown rates: time-bounded services count what they use now; kafka's bounded part is 6 GiB.
        let quiet = DiskVerdict.build(m, .init(volumes: [vol("kafka-1", gib)]), sampleNote: nil)
        XCTAssertNil(quiet.rows[0].steadyBytes, "topic b is bounded by time only and no rate was measured")
        XCTAssertTrue(quiet.healthy)
        let big = DiskVerdict.build(m, .init(volumes: [vol("kafka-1", 81 * gib)]), sampleNote: nil)
        XCTAssertEqual(big.problems.count, 1, "\(big.problems)")
        XCTAssertTrue(big.problems[0].contains("above 80 %"), big.problems[0])
        let full = DiskVerdict.build(m, .init(volumes: [vol("mysql", gib, fs: 100 * gib, avail: 10 * gib)]), sampleNote: nil)
        XCTAssertEqual(full.problems.count, 1, "\(full.problems)")
        XCTAssertTrue(full.problems[0].contains("90 % full"), full.problems[0])
    }

    /// The real command on the Docker testbed: a compose project of this test's own (containers
    /// labelled as compose labels them, a named volume each), 20 MiB written into mysql's volume.
    func testReportDiskOnTheDockerTestbed() throws {
        let env = try DockerTestbed.require()
        let dir = try TestSupport.temporaryDirectory(self)
        let project = "mondisk\(UUID().uuidString.prefix(6).lowercased())"
        func docker(_ args: [String]) throws -> (status: Int32, output: String) { try TestSupport.run("/usr/bin/env", ["docker"] + args, environment: env) }
        let image = try docker(["images", "--format", "{{.Repository}}:{{.Tag}}", "mysql"]).output.split(separator: "\n").first.map(String.init)
        let img = try XCTUnwrap(image, "the Docker testbed's mysql stand-in image")
        addTeardownBlock {
            let ids = (try? docker(["ps", "-aq", "--filter", "label=com.docker.compose.project=\(project)"]).output) ?? ""
            for id in ids.split(separator: "\n") { _ = try? docker(["rm", "-f", String(id)]) }
            for s in ["mysql", "kafka-1"] { _ = try? docker(["volume", "rm", "-f", "\(project)_\(s)-data"]) }
        }
        for s in ["mysql", "kafka-1"] {
            let r = try docker(["run", "-d", "--init", "--name", "\(project)-\(s)", "--label", "com.docker.compose.project=\(project)",
                                "--label", "com.docker.compose.service=\(s)", "--network", "none", "-v", "\(project)_\(s)-data:/data",
                                "--entrypoint", "sleep", img, "300"])
            XCTAssertEqual(r.status, 0, r.output)
        }
        let dd = try docker(["exec", "\(project)-mysql", "dd", "if=/dev/urandom", "of=/data/binlog.000001", "bs=1M", "count=20"])
        XCTAssertEqual(dd.status, 0, dd.output)
        func write(disk: String) throws -> String {
            let path = dir + "/\(disk).yaml"
            try """
                apiVersion: cdcctl/v1
                cluster:
                  name: \(project)
                  host: {memory: 16g, reserve: 2g, disk: \(disk)}
                kafka:
                  topics:
                    - {name: a, partitions: 1, replicationFactor: 3, retentionBytes: 1048576}
                connect:
                  connectors: []
                processor: {tradesTopic: a, ordersTopic: a}
                producers:
                  trades: {topic: a}
                access:
                  prometheusURL: http://127.0.0.1:1
                """.write(toFile: path, atomically: true, encoding: .utf8)
            return path
        }
        let cli = CLI(directory: dir, environment: env)
        let roomy = try cli.separately(["report", "disk", "-m", try write(disk: "100g"), "-o", "json"])
        let json = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(roomy.stdout.utf8)) as? [String: Any], roomy.stdout + roomy.stderr)
        // The budget (21 MiB of 100 GiB) is healthy. The report also judges the real filesystem under dockerd's
        // volumes, which this test does not control: a build machine above 85 % full must make it exit 3, and then
        // for that reason only.
        let filesystems = try XCTUnwrap(json["filesystems"] as? [[String: Any]])
        XCTAssertFalse(filesystems.isEmpty, "the volumes' filesystem is reported")
        let fullest = filesystems.compactMap { ($0["percentUsed"] as? NSNumber)?.doubleValue }.max() ?? 0
        let problems = try XCTUnwrap(json["problems"] as? [String])
        if fullest >= 85 {  // percentUsed is rounded to 0.1, so 85.0 may be just above or below the limit
            XCTAssertEqual(roomy.status, problems.isEmpty ? 0 : 3, roomy.stdout + roomy.stderr)
            if fullest > 85.05 { XCTAssertFalse(problems.isEmpty, "a filesystem \(fullest) % full is a problem") }
            for p in problems { XCTAssertTrue(p.contains("filesystem") && p.contains("above 85 %"), p) }
            print("note: this machine's Docker filesystem is above 85 % full; report disk rightly exits 3 for that alone")
        } else {
            XCTAssertEqual(roomy.status, 0, roomy.stdout + roomy.stderr)
            XCTAssertEqual(problems, [])
        }
        let rows = try XCTUnwrap(json["rows"] as? [[String: Any]])
        let mysql = try XCTUnwrap(rows.first { $0["service"] as? String == "mysql" })
        let used = try XCTUnwrap((mysql["usedBytes"] as? NSNumber)?.int64Value)
        XCTAssertGreaterThanOrEqual(used, 20 << 20)
        XCTAssertLessThan(used, 21 << 20)
        let kafka = try XCTUnwrap(rows.first { $0["service"] as? String == "kafka-1" })
        XCTAssertEqual((kafka["steadyBytes"] as? NSNumber)?.int64Value, 1 << 20, "1 MiB × 1 partition × 3 replicas / 3 brokers")
        print("report disk on the Docker testbed:\n" + (try cli.separately(["report", "disk", "-m", try write(disk: "100g")])).stdout)
        // The same volumes against a 24 MiB disk: 20 MiB + 1 MiB is above 80 % of it → exit 3.
        let tight = try cli.separately(["report", "disk", "-m", try write(disk: "24m")])
        XCTAssertEqual(tight.status, 3, tight.stdout + tight.stderr)
        XCTAssertTrue(tight.stdout.contains("above 80 %"), tight.stdout)
    }
}
