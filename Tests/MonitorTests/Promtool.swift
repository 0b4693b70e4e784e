import Foundation
import Manifest
import TestSupport
import XCTest
import Yams
@testable import Monitor
@testable import Render

/// `promtool test rules` over the RENDERED rule files: input series (constructed, or built from a
/// captured /metrics text) and the alerts expected at given times.
struct Promtool {
    let promtool: String
    let dir: String

    static let secrets = ResolvedSecrets(mysqlRootPassword: "r", mysqlCdcPassword: "c", clickhousePassword: "h", grafanaAdminPassword: "g",
                                         cloudflareTunnelToken: nil, mysqlAppPassword: "a")

    /// Renders the default manifest into `dir`; the rule files are what `cdcctl render` writes.
    init(_ test: XCTestCase) throws {
        promtool = try TestSupport.tool("promtool", env: "CDCCTL_PROMTOOL")
        dir = try TestSupport.temporaryDirectory(test)
        let m = try ManifestLoader.load(path: TestSupport.repo + "/manifests/default.yaml").manifest
        let files = try Renderer(templates: TemplateSource(directories: [TestSupport.repo + "/templates"])).render(m, secrets: Self.secrets)
        _ = try OutputWriter.write(files, to: dir)
        // The same rules without annotations: the alert tests compare labels (what fires, for whom);
        // annotation texts are checked by `promtool check rules` and by the tests that spell them out.
        for name in ["cdc-alerts", "cdc-monitor"] {
            let text = try String(contentsOfFile: dir + "/prometheus/rules/\(name).yml", encoding: .utf8)
            guard var doc = try Yams.load(yaml: text) as? [String: Any], var groups = doc["groups"] as? [[String: Any]] else {
                throw XCTSkip("unreadable rules")
            }
            for g in groups.indices {
                var rules = groups[g]["rules"] as? [[String: Any]] ?? []
                for r in rules.indices { rules[r]["annotations"] = nil }
                groups[g]["rules"] = rules
            }
            doc["groups"] = groups
            try Yams.dump(object: doc).write(toFile: dir + "/\(name)-labels-only.yml", atomically: true, encoding: .utf8)
        }
    }

    var rules: [String] { ["prometheus/rules/cdc-alerts.yml", "prometheus/rules/cdc-monitor.yml"].map { dir + "/" + $0 } }
    var labelsOnlyRules: [String] { ["cdc-alerts", "cdc-monitor"].map { dir + "/\($0)-labels-only.yml" } }

    struct Expect {
        var at: String
        var alert: String
        /// Each firing alert's labels (besides alertname); empty: must stay quiet.
        var firing: [[String: String]]
        var annotations: [[String: String]]? = nil
    }

    /// Runs one test file; returns promtool's exit code and output.
    func run(series: [(String, String)], expect: [Expect], labelsOnly: Bool = true, name: String = "t") throws -> (Int32, String) {
        var y = "rule_files:\n"
        for r in labelsOnly ? labelsOnlyRules : rules { y += "  - \(r)\n" }
        y += "evaluation_interval: 1m\ntests:\n  - interval: 1m\n    input_series:\n"
        for (s, v) in series { y += "      - series: '\(s.replacingOccurrences(of: "'", with: "''"))'\n        values: '\(v)'\n" }
        y += "    alert_rule_test:\n"
        for e in expect {
            y += "      - eval_time: \(e.at)\n        alertname: \(e.alert)\n"
            if e.firing.isEmpty { y += "        exp_alerts: []\n"; continue }
            y += "        exp_alerts:\n"
            for (i, labels) in e.firing.enumerated() {
                y += "          - exp_labels: {" + labels.sorted { $0.key < $1.key }.map { "\($0.key): \(Self.quote($0.value))" }.joined(separator: ", ") + "}\n"
                if let a = e.annotations?[i] {
                    y += "            exp_annotations: {" + a.sorted { $0.key < $1.key }.map { "\($0.key): \(Self.quote($0.value))" }.joined(separator: ", ") + "}\n"
                }
            }
        }
        let path = dir + "/\(name)-test.yml"
        try y.write(toFile: path, atomically: true, encoding: .utf8)
        let r = try TestSupport.run(promtool, ["test", "rules", path])
        return (r.status, r.output + "\n--- test file ---\n" + y)
    }

    static func quote(_ s: String) -> String {
        "\"" + s.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"") + "\""
    }

    /// Every sample of a captured /metrics text as a constant series of `minutes` + 1 points,
    /// labelled as Prometheus labels the monitor's target.
    static func series(fromExposition text: String, minutes: Int, job: String = "monitor", instance: String = "host.docker.internal:9402")
        -> [(String, String)] {
        var out: [(String, String)] = []
        for line in text.split(separator: "\n") where !line.hasPrefix("#") && !line.isEmpty {
            guard let space = line.lastIndex(of: " ") else { continue }
            let metric = String(line[..<space])
            let value = String(line[line.index(after: space)...])
            let extra = "job=\"\(job)\",instance=\"\(instance)\""
            let series: String
            if metric.hasSuffix("}") { series = String(metric.dropLast()) + (metric.hasSuffix("{}") ? "" : ",") + extra + "}" }
            else { series = metric + "{" + extra + "}" }
            out.append((series, "\(value)x\(minutes)"))
        }
        return out
    }
}
