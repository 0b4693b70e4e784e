import Foundation
import Manifest
@testable import PostgresSink
import ProcessorRuntime
@testable import Reports
import TestSupport
import XCTest
@testable import Monitor
@testable import Render

/// Every metric name the rendered alert rules and dashboards use must be one something really
/// exports: cdcctl's processor (its /metrics text, rendered by the real code), the monitor (text
/// captured from `cdcctl monitor` on the testbed: Fixtures/captured-*.prom), report memory's
/// exposition, Prometheus itself (`up`, asked of the testbed's real Prometheus), and ClickHouse's
/// own endpoint, which cannot run here (Fixtures/clickhouse-endpoint.constructed.prom, named as such).
final class MetricNamesTests: XCTestCase {
    /// PromQL → the metric names it selects: strings, label matchers, ranges and the label lists
    /// of by/without/on/ignoring/group_* are dropped; functions and keywords are not names.
    static func names(inPromQL expr: String) -> Set<String> {
        var s = expr
        for pattern in ["\"(?:[^\"\\\\]|\\\\.)*\"", "\\{[^}]*\\}", "\\[[^\\]]*\\]",
                        "\\b(?:by|without|on|ignoring|group_left|group_right)\\s*\\([^)]*\\)"] {
            s = s.replacingOccurrences(of: pattern, with: " ", options: .regularExpression)
        }
        let keywords: Set<String> = ["by", "without", "on", "ignoring", "group_left", "group_right", "and", "or", "unless", "bool", "offset"]
        var out: Set<String> = []
        let regex = try! NSRegularExpression(pattern: "[A-Za-z_:][A-Za-z0-9_:]*(\\s*\\()?")
        for m in regex.matches(in: s, range: NSRange(s.startIndex..., in: s)) {
            let token = String(s[Range(m.range, in: s)!])
            if token.hasSuffix("(") { continue }   // a function or aggregation
            let name = token.trimmingCharacters(in: .whitespaces)
            if keywords.contains(name) || name.first!.isNumber { continue }
            out.insert(name)
        }
        return out
    }

    /// Every expression of the rendered rules and dashboards, with where it came from.
    /// The default manifest, and with the PostgreSQL sink (whose rules and panels render only then).
    func usedNames() throws -> [String: Set<String>] {
        let text = try String(contentsOfFile: TestSupport.repo + "/manifests/default.yaml", encoding: .utf8)
        let withPostgres = text.replacingOccurrences(of: "  sinks: [clickhouse]  ", with: "  sinks: [clickhouse, postgres]  ")
        XCTAssertNotEqual(text, withPostgres, "the default manifest names processor.sinks")
        let renderer = Renderer(templates: TemplateSource(directories: [TestSupport.repo + "/templates"]))
        var secrets = Promtool.secrets
        secrets.postgresPassword = "p"
        let files = try renderer.render(try ManifestLoader.parse(text, file: "default.yaml").manifest, secrets: secrets)
            + renderer.render(try ManifestLoader.parse(withPostgres, file: "default+postgres.yaml").manifest, secrets: secrets)
        var used: [String: Set<String>] = [:]
        for f in files where f.path.hasPrefix("prometheus/rules/") {
            for line in f.contents.split(separator: "\n") where line.trimmingCharacters(in: .whitespaces).hasPrefix("expr:") {
                let expr = line.split(separator: ":", maxSplits: 1)[1].trimmingCharacters(in: .whitespaces)
                for n in Self.names(inPromQL: expr) { used[n, default: []].insert(f.path) }
            }
        }
        for f in files where f.path.hasPrefix("grafana/dashboards/") {
            let json = try JSONSerialization.jsonObject(with: Data(f.contents.utf8))
            func walk(_ v: Any) {
                if let d = v as? [String: Any] {
                    if let e = d["expr"] as? String { for n in Self.names(inPromQL: e) { used[n, default: []].insert(f.path) } }
                    d.values.forEach(walk)
                } else if let a = v as? [Any] { a.forEach(walk) }
            }
            walk(json)
        }
        return used
    }

    func exported(includingMonitor: Bool = true) throws -> [String: Set<String>] {
        var out: [String: Set<String>] = [:]
        func add(_ names: Set<String>, _ source: String) { for n in names { out[n, default: []].insert(source) } }
        add(Exposition.names(in: RuntimeMetrics().render()), "cdcctl process run")
        let sink = PostgresSinkMetrics()
        sink.set(lag: 0)  // exported once the first lag is known
        add(Exposition.names(in: sink.render()), "cdcctl process run (postgres sink)")
        let report = MemoryReport(cluster: "c", atMs: 0, cgroup: "v2", rows: [], totals: MemoryTotals(usageBytes: 0, plannedBytes: 0, budgetBytes: 0,
                                  plannedHostBytes: 0, reserveBytes: 0, hostTotalBytes: nil, hostAvailableBytes: nil), summary: nil, problems: [])
        add(Exposition.names(in: MemoryMetrics.exposition(report)), "cdcctl report memory / monitor containers")
        let fixtures = TestSupport.repo + "/Tests/MonitorTests/Fixtures"
        for file in try FileManager.default.contentsOfDirectory(atPath: fixtures).sorted() where file.hasSuffix(".prom") {
            if !includingMonitor && file.hasPrefix("captured-") { continue }
            add(Exposition.names(in: try String(contentsOfFile: fixtures + "/" + file, encoding: .utf8)), file)
        }
        return out
    }

    func testEveryNameTheRulesAndDashboardsUseIsExported() throws {
        let used = try usedNames()
        XCTAssertTrue(used.keys.contains("cdcctl_processor_consumer_lag"), "the extraction sees the Consumer lag panel's metric")
        XCTAssertTrue(used.keys.contains("cdcctl_kafka_brokers_live"))
        XCTAssertTrue(used.keys.contains("cdcctl_postgres_sink_lag_records"), "the PostgreSQL sink's rules and panels are seen")
        XCTAssertGreaterThan(used.count, 40)
        var exported = try exported()
        // Prometheus's own per-target series, from the testbed's real Prometheus.
        let testbed = try Testbed.require()
        let r = try TestSupport.run("/usr/bin/env", ["curl", "-sf", testbed["TESTBED_PROMETHEUS_URL"] + "/api/v1/label/__name__/values"])
        XCTAssertEqual(r.status, 0, r.output)
        let names = ((try JSONSerialization.jsonObject(with: Data(r.output.utf8)) as? [String: Any])?["data"] as? [String]) ?? []
        XCTAssertTrue(names.contains("up"), "the testbed's Prometheus scrapes something: \(names.prefix(20))")
        exported["up", default: []].insert("Prometheus (testbed)")
        let missing = used.filter { exported[$0.key] == nil }
        XCTAssertEqual(missing.keys.sorted(), [], "used but exported by nothing: \(missing)")
        // The monitor's captured output is what makes the processor lag (and the new alerts) real:
        // without it the check fails, so the check can fail.
        let withoutMonitor = try self.exported(includingMonitor: false)
        XCTAssertNil(withoutMonitor["cdcctl_processor_consumer_lag"])
        XCTAssertNotNil(exported["cdcctl_processor_consumer_lag"])
    }

    func testPromQLNameExtraction() {
        XCTAssertEqual(Self.names(inPromQL: "max by (cluster, service) (cdcctl_memory_usage_bytes) / max by (cluster, service) (cdcctl_memory_limit_bytes > 0) > 0.9"),
                       ["cdcctl_memory_usage_bytes", "cdcctl_memory_limit_bytes"])
        XCTAssertEqual(Self.names(inPromQL: "histogram_quantile(0.95, sum by (le) (rate(x_bucket{a=\"b c\"}[5m])))"), ["x_bucket"])
        XCTAssertEqual(Self.names(inPromQL: "(a / ignoring(connector) group_left max(b > 0)) > 0.5 or max by (connector) (c) == 0"), ["a", "b", "c"])
        XCTAssertEqual(Self.names(inPromQL: "predict_linear(d[6h], 24 * 3600) < 0"), ["d"])
    }
}
