import Foundation
import Manifest
import Reports
import Runtime
import State
import TestSupport
import XCTest

/// Pure parts of `cdcctl report memory`: cgroup v1/v2 files (v1 captured from the Docker
/// testbed's containers; v2 constructed, see Fixtures/cgroup-v2-constructed/README.md), the
/// docker-stats formula, the verdict, history statistics, downsampling, the picture, metrics.
final class MemoryUnitTests: XCTestCase {
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures").path

    static func files(_ dir: String) throws -> [String: String] {
        var out: [String: String] = [:]
        for name in try FileManager.default.contentsOfDirectory(atPath: fixtures + "/" + dir) {
            out[name] = try String(contentsOfFile: fixtures + "/" + dir + "/" + name, encoding: .utf8)
        }
        return out
    }

    /// docker stats' MEM USAGE column for the same container, captured at the same moment.
    static func dockerStatsUsage(_ files: [String: String]) throws -> Int64 {
        let obj = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(try XCTUnwrap(files["docker-stats.json"]).utf8)) as? [String: Any])
        return DockerComposeRuntime.parseBytes((obj["MemUsage"] as? String ?? "").components(separatedBy: " / ")[0])
    }

    // MARK: - cgroup files

    func testCgroupV1RunningContainerMatchesDockerStats() throws {
        let files = try Self.files("cgroup-v1-running")
        let m = try XCTUnwrap(CgroupMemory.parseV1(files))
        XCTAssertEqual(m.version, .v1)
        XCTAssertEqual(m.chargedBytes, 45_981_696)
        XCTAssertEqual(m.inactiveFileBytes, 2_080_768, "total_inactive_file, not inactive_file")
        XCTAssertEqual(m.limitBytes, 268_435_456)
        XCTAssertEqual(m.usageBytes, 45_981_696 - 2_080_768)
        XCTAssertEqual(m.oomKills, 0)
        XCTAssertNotNil(m.peakBytes)
        XCTAssertGreaterThan(m.anonBytes, 20 * 1_048_576, "the container's perl holds a 20 MiB string")
        // docker stats prints 41.87MiB: rounding to 0.01 MiB is all that may differ.
        XCTAssertLessThanOrEqual(abs(m.usageBytes - (try Self.dockerStatsUsage(files))), 6_000)
    }

    func testCgroupV1OOMKilledContainer() throws {
        let files = try Self.files("cgroup-v1-oom-killed")
        let m = try XCTUnwrap(CgroupMemory.parseV1(files))
        XCTAssertEqual(m.oomKills, 1, "memory.oom_control oom_kill")
        XCTAssertEqual(m.limitBytes, 64 * 1_048_576)
        XCTAssertEqual(m.peakBytes, 64 * 1_048_576, "it hit its limit")
        XCTAssertLessThanOrEqual(abs(m.usageBytes - (try Self.dockerStatsUsage(files))), Int64(0.05 * Double(m.usageBytes)),
                                 "read a moment apart from docker stats, within 5 %")
    }

    func testCgroupV2Files() throws {
        let m = try XCTUnwrap(CgroupMemory.parseV2(try Self.files("cgroup-v2-constructed")))
        XCTAssertEqual(m.version, .v2)
        XCTAssertEqual(m.usageBytes, 322_961_408 - 41_943_040, "memory.current minus inactive_file")
        XCTAssertEqual(m.limitBytes, 536_870_912)
        XCTAssertEqual(m.peakBytes, 401_604_608)
        XCTAssertEqual(m.anonBytes, 251_658_240)
        XCTAssertEqual(m.fileBytes, 62_914_560)
        XCTAssertEqual(m.shmemBytes, 4_194_304)
        XCTAssertEqual(m.oomKills, 2, "memory.events oom_kill, not max or oom")
    }

    func testUnlimitedAndMissingFiles() {
        XCTAssertNil(CgroupMemory.parseV2(["memory.current": "100\n", "memory.max": "max\n"])?.limitBytes, "max = unlimited")
        XCTAssertNil(CgroupMemory.parseV1(["memory.usage_in_bytes": "100\n", "memory.limit_in_bytes": "9223372036854771712\n"])?.limitBytes,
                     "v1's page-counter maximum = unlimited")
        XCTAssertNil(CgroupMemory.parseV2(["memory.current": "100\n"])?.peakBytes, "kernels before 5.19 have no memory.peak")
        XCTAssertNil(CgroupMemory.parseV1([:]), "no usage file: nothing to report")
    }

    func testDockerStatsFormula() {
        XCTAssertEqual(CgroupMemory.dockerStatsUsage(charged: 1000, inactiveFile: 300), 700)
        XCTAssertEqual(CgroupMemory.dockerStatsUsage(charged: 1000, inactiveFile: 1000), 1000, "docker/cli subtracts only when smaller")
        XCTAssertEqual(CgroupMemory.dockerStatsUsage(charged: 1000, inactiveFile: 5000), 1000)
    }

    func testCgroupPathFromProc() throws {
        let v1 = try String(contentsOfFile: Self.fixtures + "/cgroup-v1-running/proc-pid-cgroup", encoding: .utf8)
        let p1 = try XCTUnwrap(CgroupMemory.cgroupPath(procCgroup: v1, version: .v1))
        XCTAssertTrue(p1.hasPrefix("/docker/") && p1.count == 8 + 64, p1)
        let v2 = try String(contentsOfFile: Self.fixtures + "/cgroup-v2-constructed/proc-pid-cgroup", encoding: .utf8)
        XCTAssertEqual(CgroupMemory.cgroupPath(procCgroup: v2, version: .v2)?.hasSuffix(".scope"), true)
        XCTAssertNil(CgroupMemory.cgroupPath(procCgroup: "0::/x\n", version: .v1), "v1 needs the memory controller's line")
    }

    func testCgroupReaderReadsADirectoryTreeLikeTheHosts() throws {
        // A fake /sys/fs/cgroup + /proc built from the v1 capture: detection, path, files.
        let root = try TestSupport.temporaryDirectory(self)
        let files = try Self.files("cgroup-v1-running")
        let path = try XCTUnwrap(CgroupMemory.cgroupPath(procCgroup: files["proc-pid-cgroup"]!, version: .v1))
        let dir = root + "/sys/memory" + path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        try "1\n".write(toFile: root + "/sys/memory/memory.usage_in_bytes", atomically: true, encoding: .utf8)
        for (name, text) in files where name.hasPrefix("memory.") { try text.write(toFile: dir + "/" + name, atomically: true, encoding: .utf8) }
        try FileManager.default.createDirectory(atPath: root + "/proc/77", withIntermediateDirectories: true)
        try files["proc-pid-cgroup"]!.write(toFile: root + "/proc/77/cgroup", atomically: true, encoding: .utf8)
        let reader = CgroupReader(root: root + "/sys", proc: root + "/proc")
        XCTAssertEqual(reader.version, .v1)
        XCTAssertEqual(reader.read(pid: 77)?.usageBytes, 45_981_696 - 2_080_768)
        XCTAssertNil(reader.read(pid: 78), "no such process")
    }

    func testProcFiles() throws {
        let host = try XCTUnwrap(HostMemory.parse(meminfo: try String(contentsOfFile: Self.fixtures + "/proc-meminfo", encoding: .utf8)))
        XCTAssertEqual(host.totalBytes, 24_684_092 * 1024)
        XCTAssertEqual(host.availableBytes, 23_479_700 * 1024)
        let p = try XCTUnwrap(ProcStatus.parse(status: try String(contentsOfFile: Self.fixtures + "/proc-pid-status", encoding: .utf8)))
        XCTAssertEqual(p.rssBytes, 4344 * 1024, "VmRSS, tab-separated")
        XCTAssertEqual(p.anonBytes + p.fileBytes + p.shmemBytes, p.rssBytes)
    }

    func testWhichCdcctlProcessIsWhichService() {
        XCTAssertEqual(HostProcesses.service(argv: ["/usr/local/bin/cdcctl", "-m", "x.yaml", "process", "run"]), "processor")
        XCTAssertEqual(HostProcesses.service(argv: ["cdcctl", "report", "memory", "--record", "--every", "60s"]), "memory-sampler")
        XCTAssertNil(HostProcesses.service(argv: ["cdcctl", "report", "memory"]), "a one-shot report is not a service")
        XCTAssertNil(HostProcesses.service(argv: ["/usr/bin/java", "process", "run"]))
        // Whose process it is: the manifest it reads.
        XCTAssertEqual(HostProcesses.manifest(argv: ["cdcctl", "-m", "a.yaml", "process", "run"], environment: ["CDCCTL_MANIFEST": "b.yaml"]), "a.yaml")
        XCTAssertEqual(HostProcesses.manifest(argv: ["cdcctl", "process", "run", "--manifest=c.yaml"], environment: [:]), "c.yaml")
        XCTAssertEqual(HostProcesses.manifest(argv: ["cdcctl", "process", "run"], environment: ["CDCCTL_MANIFEST": "b.yaml"]), "b.yaml")
        XCTAssertEqual(HostProcesses.manifest(argv: ["cdcctl", "process", "run"], environment: [:]), "cdcctl.yaml")
    }

    // MARK: - verdict

    static let mib: Int64 = 1_048_576

    static func manifest() throws -> Manifest {
        try ManifestLoader.parse("apiVersion: cdcctl/v1\ncluster:\n  name: t\n", file: "t.yaml").manifest
    }

    static func container(_ service: String, usage: Int64, limit: Int64, oom: Int64 = 0, state: String = "running", id: String? = nil,
                          restarts: Int = 0) -> ContainerMemory {
        ContainerMemory(status: ServiceStatus(service: service, container: "t-\(service)", id: id ?? "id-\(service)", image: "i", state: state,
                                              health: nil, restartCount: restarts, memoryLimitBytes: limit, pid: 10),
                        cgroup: CgroupMemory(version: .v2, chargedBytes: usage, inactiveFileBytes: 0, limitBytes: limit, peakBytes: usage,
                                             anonBytes: usage, fileBytes: 0, shmemBytes: 0, oomKills: oom))
    }

    func report(_ containers: [ContainerMemory], marks: [OOMMark] = [], processes: [HostProcess] = []) throws -> MemoryReport {
        MemoryVerdict.build(cluster: "t", budget: MemoryBudget(try Self.manifest()), containers: containers, processes: processes,
                            host: HostMemory(totalBytes: 16 << 30, availableBytes: 8 << 30), marks: marks, cgroup: .v2, nowMs: 1000)
    }

    func testHealthyStackPasses() throws {
        let r = try report([Self.container("mysql", usage: 400 * Self.mib, limit: 1024 * Self.mib),
                            Self.container("kafka-1", usage: 600 * Self.mib, limit: 1024 * Self.mib)])
        XCTAssertTrue(r.healthy, r.problems.description)
        XCTAssertEqual(r.rows.first { $0.service == "mysql" }?.percentOfLimit ?? 0, 39.06, accuracy: 0.01)
        XCTAssertEqual(r.rows.first { $0.service == "connect" }?.state, "missing", "every manifest service has a row")
        XCTAssertEqual(r.totals.usageBytes, 1000 * Self.mib)
        XCTAssertEqual(r.totals.budgetBytes, Int64(MemoryBudget(try Self.manifest()).budgetMiB) * Self.mib)
    }

    func testAboveNinetyPercentIsNamed() throws {
        let r = try report([Self.container("connect", usage: 922 * Self.mib, limit: 1024 * Self.mib),
                            Self.container("mysql", usage: 921 * Self.mib, limit: 1024 * Self.mib)])
        XCTAssertEqual(r.problems.map(\.subject), ["connect"], "922/1024 = 90.04 % fails, 921/1024 = 89.9 % passes")
        XCTAssertTrue(r.problems[0].message.contains("90 %"), r.problems[0].message)
    }

    func testOOMKillCountsOnlySinceTheLastReport() throws {
        let c = Self.container("mysql", usage: 10 * Self.mib, limit: 64 * Self.mib, oom: 2, id: "abc")
        XCTAssertEqual(try report([c]).problems.map(\.subject), ["mysql"], "never reported: both kills are new")
        let seen = [OOMMark(service: "mysql", containerId: "abc", oomKills: 2, seenAtMs: 1)]
        XCTAssertTrue(try report([c], marks: seen).healthy, "already reported")
        let again = Self.container("mysql", usage: 10 * Self.mib, limit: 64 * Self.mib, oom: 3, id: "abc")
        XCTAssertEqual(try report([again], marks: seen).rows.first { $0.service == "mysql" }?.newOOMKills, 1)
        let recreated = Self.container("mysql", usage: 10 * Self.mib, limit: 64 * Self.mib, oom: 1, id: "new")
        XCTAssertEqual(try report([recreated], marks: seen).rows.first { $0.service == "mysql" }?.newOOMKills, 1,
                       "a new container's counter starts again")
        let marks = MemoryVerdict.marks(try report([again], marks: seen))
        XCTAssertEqual(marks.first { $0.service == "mysql" }?.oomKills, 3)
    }

    func testRestartingAndOverBudget() throws {
        var r = try report([Self.container("grafana", usage: 10 * Self.mib, limit: 256 * Self.mib, state: "restarting", restarts: 4)])
        XCTAssertEqual(r.problems.map(\.subject), ["grafana"])
        XCTAssertTrue(r.problems[0].message.contains("restarting"))
        let budget = MemoryBudget(try Self.manifest()).budgetMiB
        r = try report([Self.container("clickhouse", usage: Int64(budget / 2 + 1) * Self.mib, limit: 0),
                        Self.container("mysql", usage: Int64(budget / 2 + 1) * Self.mib, limit: 0)])
        XCTAssertEqual(r.problems.map(\.subject), ["total"])
    }

    func testNothingRunning() throws {
        let r = try report([])
        XCTAssertFalse(r.healthy)
        XCTAssertEqual(r.summary, "nothing is running for cluster t")
    }

    func testHostProcessAndExtraContainer() throws {
        let p = HostProcess(pid: 5, service: "processor", status: ProcStatus(rssBytes: 100 * Self.mib, anonBytes: 90 * Self.mib,
                                                                          fileBytes: 10 * Self.mib, shmemBytes: 0, peakBytes: 120 * Self.mib))
        let r = try report([Self.container("oom-probe", usage: 1, limit: 16 * Self.mib)], processes: [p])
        let row = try XCTUnwrap(r.rows.first { $0.service == "processor" })
        XCTAssertEqual(row.source, "/proc")
        XCTAssertEqual(row.peakSource, "VmHWM")
        XCTAssertEqual(r.rows.first { $0.service == "oom-probe" }?.kind, "container (not in manifest)")
    }

    // MARK: - history

    func testSummaryStatistics() {
        let samples = (1...20).map { MemorySampleRecord(service: "a", atMs: Int64($0) * 1000, kind: "container", usageBytes: Int64($0) * 10, limitBytes: 500) }
        let s = MemoryHistory.summarize(samples)[0]
        XCTAssertEqual([s.minBytes, s.meanBytes, s.p95Bytes, s.maxBytes], [10, 105, 190, 200])
        XCTAssertEqual(s.peakAtMs, 20_000)
        XCTAssertEqual(MemoryHistory.oomGrowth([0, 0, 1, 1, 3, 1]), 4, "rises 1 and 2, then a new container with 1")
    }

    func testDownsampling() {
        let base: Int64 = 1_700_000_000_000 / 600_000 * 600_000
        var raw: [MemorySampleRecord] = []
        for i in 0..<20 {  // 20 minutes at one sample a minute: two 10-minute buckets
            raw.append(MemorySampleRecord(service: "a", atMs: base + Int64(i) * 60_000, kind: "container", usageBytes: Int64(i), limitBytes: 99,
                                          oomKills: i >= 15 ? 1 : 0))
        }
        raw.append(MemorySampleRecord(service: "b", atMs: base, kind: "process", usageBytes: 7, limitBytes: 0))
        let b = MemoryHistory.downsample(raw)
        XCTAssertEqual(b.count, 3)
        let a = b.filter { $0.service == "a" }
        XCTAssertEqual(a.map(\.atMs), [base, base + 600_000])
        XCTAssertEqual(a.map(\.usageBytes), [4, 14], "mean of 0…9 and 10…19 (integer)")
        XCTAssertEqual(a.map(\.maxUsageBytes), [9, 19], "the peak survives downsampling")
        XCTAssertEqual(a.map(\.oomKills), [0, 1])
        XCTAssertEqual(Set(b.map(\.resolutionSeconds)), [600])
        let (raw0, drop) = MemoryHistory.cutoffs(nowMs: base + 48 * 3_600_000 + 123_456)
        XCTAssertEqual(raw0, base, "the raw cut falls on a bucket boundary")
        XCTAssertEqual(drop, base + 48 * 3_600_000 + 123_456 - 30 * 86_400_000)
    }

    func testRetentionInTheStateStore() throws {
        let dir = try TestSupport.temporaryDirectory(self)
        let store = try StateStore(path: dir + "/state.db")
        let day: Int64 = 86_400_000
        let now: Int64 = 100 * day
        var samples: [MemorySampleRecord] = []
        // 4 days at one sample a minute for two services: 11,520 rows.
        var t = now - 4 * day
        while t < now {
            for s in ["a", "b"] { samples.append(MemorySampleRecord(service: s, atMs: t, kind: "container", usageBytes: t % 1000, limitBytes: 1)) }
            t += 60_000
        }
        try store.recordMemorySamples(cluster: "c", samples)
        try store.recordMemorySamples(cluster: "c", [MemorySampleRecord(service: "a", atMs: now - 40 * day, kind: "container", usageBytes: 1, limitBytes: 1)])
        try MemoryHistory.compact(store, cluster: "c", nowMs: now)
        let kept = try store.memorySamples(cluster: "c", fromMs: 0)
        XCTAssertFalse(kept.contains { $0.atMs < now - 30 * day }, "older than 30 days: gone")
        let raw = kept.filter { $0.resolutionSeconds == 0 }
        XCTAssertTrue(raw.allSatisfy { $0.atMs >= now - 2 * day - 600_000 })
        XCTAssertEqual(kept.filter { $0.resolutionSeconds == 600 }.count, 2 * 2 * 144, "2 days × 144 buckets × 2 services")
        XCTAssertLessThan(try store.memorySampleCount(cluster: "c"), 6_500)
        // Compacting again changes nothing (idempotent).
        let before = try store.memorySampleCount(cluster: "c")
        try MemoryHistory.compact(store, cluster: "c", nowMs: now)
        XCTAssertEqual(try store.memorySampleCount(cluster: "c"), before)
        XCTAssertEqual(try store.memorySamples(cluster: "c", fromMs: 0, rawOnly: true).count, raw.count)
    }

    func testDurations() {
        XCTAssertEqual(MemoryHistory.parseDuration("24h"), 86_400_000)
        XCTAssertEqual(MemoryHistory.parseDuration("90m"), 5_400_000)
        XCTAssertNil(MemoryHistory.parseDuration("24"))
        XCTAssertNil(MemoryHistory.parseDuration("-1h"))
    }

    // MARK: - picture and metrics

    func testPictureIsSelfContainedAndNamesEveryService() throws {
        let r = try report([Self.container("mysql", usage: 400 * Self.mib, limit: 1024 * Self.mib, oom: 1),
                            Self.container("kafka-1", usage: 600 * Self.mib, limit: 1024 * Self.mib)])
        let samples = [MemorySampleRecord(service: "mysql", atMs: 0, kind: "container", usageBytes: 300 * Self.mib, limitBytes: 1024 * Self.mib),
                       MemorySampleRecord(service: "mysql", atMs: 60_000, kind: "container", usageBytes: 400 * Self.mib, limitBytes: 1024 * Self.mib, oomKills: 1),
                       MemorySampleRecord(service: "kafka-1", atMs: 0, kind: "container", usageBytes: 600 * Self.mib, limitBytes: 1024 * Self.mib),
                       MemorySampleRecord(service: "kafka-1", atMs: 60_000, kind: "container", usageBytes: 600 * Self.mib, limitBytes: 1024 * Self.mib)]
        let html = MemoryPicture.html(cluster: "t", samples: samples, report: r, summaries: MemoryHistory.summarize(samples), periodLabel: "last 1h")
        for service in r.rows.map(\.service) { XCTAssertTrue(html.contains("<td>\(service)</td>"), service) }
        XCTAssertTrue(html.contains("OOM mysql"), "the kill is marked on the chart")
        XCTAssertTrue(html.contains(">budget "))
        XCTAssertEqual(html.components(separatedBy: "<polygon").count - 1, 4, "one band per service in the stack, one area per small chart")
        XCTAssertEqual(html.components(separatedBy: "stroke-dasharray=\"6 3\"").count - 1, 2, "each service's limit, dashed, in its own chart")
        XCTAssertTrue(html.contains("<title>kafka-1 (limit 1024 MiB)</title>"))
        XCTAssertEqual(TimeChart.niceStep(1_800, base: 1024), 2048, "ticks in whole GiB once MiB values reach one")
        XCTAssertEqual(TimeChart.niceStep(40, base: 1024), 50, "below a GiB: 1, 2, 2.5, 5 × 10^n MiB")
        for outside in ["<script", "http://", "https://", "src=", "href=", "@import", "url("] where outside != "http://" {
            XCTAssertFalse(html.contains(outside), "self-contained: no \(outside)")
        }
        XCTAssertEqual(html.components(separatedBy: "http://").count, html.components(separatedBy: "xmlns=\"http://www.w3.org/2000/svg\"").count,
                       "the only URIs are the SVG namespace's, which nothing fetches")
    }

    func testPrometheusExposition() throws {
        let r = try report([Self.container("mysql", usage: 400 * Self.mib, limit: 1024 * Self.mib, oom: 2)])
        let text = MemoryMetrics.exposition(r)
        XCTAssertTrue(text.contains("# TYPE cdcctl_memory_usage_bytes gauge\n"))
        XCTAssertTrue(text.contains("cdcctl_memory_usage_bytes{cluster=\"t\",service=\"mysql\"} 419430400\n"))
        XCTAssertTrue(text.contains("cdcctl_memory_limit_bytes{cluster=\"t\",service=\"mysql\"} 1073741824\n"))
        XCTAssertTrue(text.contains("# TYPE cdcctl_memory_oom_kills_total counter\ncdcctl_memory_oom_kills_total{cluster=\"t\",service=\"mysql\"} 2\n"))
        XCTAssertFalse(text.contains("service=\"connect\""), "a missing service has no figure, not a zero")
        for line in text.split(separator: "\n") where !line.hasPrefix("#") {
            XCTAssertNotNil(line.range(of: #"^[a-z_]+\{[^}]*\} [0-9]+$"#, options: .regularExpression), String(line))
        }
    }
}
