import Foundation
import Manifest
import TestSupport
import XCTest
import Yams
@testable import Render

/// `processor.sinks: [clickhouse, postgres]`: the compose file gets a postgres service on the
/// official image's contract, .env its password, and the sink's migrations are rendered. The
/// golden copy holds only the files that differ from the default profile's render.
final class PostgresRenderTests: XCTestCase {
    static var secrets: ResolvedSecrets {
        var s = RenderTests.secrets
        s.postgresPassword = "golden-pg-Pw10"
        return s
    }

    let renderer = Renderer(templates: TemplateSource(directories: [TestSupport.repo + "/templates"]))

    func manifest() throws -> Manifest {
        let text = try String(contentsOfFile: TestSupport.repo + "/manifests/default.yaml", encoding: .utf8)
            .replacingOccurrences(of: "  sinks: [clickhouse]  ", with: "  sinks: [clickhouse, postgres]  ")
        let m = try ManifestLoader.parse(text, file: "default+postgres.yaml").manifest
        XCTAssertTrue(m.postgresEnabled)
        return m
    }

    /// The files that differ from the default render, byte for byte (CDCCTL_UPDATE_GOLDEN=1 regenerates).
    func testVariantMatchesGoldenFiles() throws {
        let golden = TestSupport.repo + "/Tests/RenderTests/Golden/postgres-sink"
        let plain = Dictionary(uniqueKeysWithValues: try renderer.render(try ManifestLoader.load(path: TestSupport.repo + "/manifests/default.yaml").manifest,
                                                                          secrets: Self.secrets).map { ($0.path, $0.contents) })
        let files = try renderer.render(try manifest(), secrets: Self.secrets).filter { plain[$0.path] != $0.contents }
        XCTAssertEqual(files.map(\.path), [".env", "docker-compose.yml", "grafana/dashboards/cdc-operations.json",
                                            "postgres/migrations/0001_sink_tables.sql", "prometheus/rules/cdc-alerts.yml"])
        if ProcessInfo.processInfo.environment["CDCCTL_UPDATE_GOLDEN"] == "1" {
            try? FileManager.default.removeItem(atPath: golden)
            _ = try OutputWriter.write(files, to: golden)
        }
        for f in files {
            XCTAssertEqual(f.contents, try String(contentsOfFile: golden + "/" + f.path, encoding: .utf8), "\(f.path) differs from its golden copy")
        }
    }

    func testPostgresServiceFollowsTheOfficialImageContract() throws {
        let files = Dictionary(uniqueKeysWithValues: try renderer.render(try manifest(), secrets: Self.secrets).map { ($0.path, $0) })
        let compose = try XCTUnwrap(files["docker-compose.yml"]?.contents)
        XCTAssertFalse(compose.contains("golden-pg-Pw10"), "the password only in .env")
        let yaml = try XCTUnwrap(try Yams.load(yaml: compose) as? [String: Any])
        let pg = try XCTUnwrap((yaml["services"] as? [String: Any])?["postgres"] as? [String: Any])
        let env = try XCTUnwrap(pg["environment"] as? [String: Any])
        XCTAssertEqual(env["POSTGRES_DB"] as? String, "analytics")
        XCTAssertEqual(env["POSTGRES_USER"] as? String, "cdcctl")
        XCTAssertEqual(env["POSTGRES_PASSWORD"] as? String, "${POSTGRES_PASSWORD:?run cdcctl render to write .env}")
        XCTAssertEqual(pg["mem_limit"] as? String, "512m")
        XCTAssertEqual(pg["ports"] as? [String], ["127.0.0.1:5432:5432"])
        XCTAssertEqual(pg["volumes"] as? [String], ["postgres-data:/var/lib/postgresql/data"])
        XCTAssertEqual((pg["healthcheck"] as? [String: Any])?["test"] as? [String],
                       ["CMD", "pg_isready", "-h", "127.0.0.1", "-U", "cdcctl", "-d", "analytics"])
        XCTAssertTrue((yaml["volumes"] as? [String: Any])?.keys.contains("postgres-data") ?? false)
        XCTAssertTrue((pg["command"] as? [String])?.contains("shared_buffers=128MB") ?? false, "a quarter of the 512 MiB limit")
        let dotenv = try XCTUnwrap(files[".env"])
        XCTAssertEqual(dotenv.mode, 0o600)
        XCTAssertTrue(dotenv.contents.contains("POSTGRES_PASSWORD='golden-pg-Pw10'\n"))
    }

    func testNothingOfPostgresIsRenderedWithoutTheSink() throws {
        let files = try renderer.render(try ManifestLoader.load(path: TestSupport.repo + "/manifests/default.yaml").manifest, secrets: Self.secrets)
        XCTAssertFalse(files.contains { $0.path.hasPrefix("postgres/") })
        XCTAssertFalse(files.first { $0.path == "docker-compose.yml" }!.contents.contains("postgres"))
        XCTAssertFalse(files.first { $0.path == ".env" }!.contents.contains("POSTGRES_PASSWORD"))
        XCTAssertFalse(files.first { $0.path == "prometheus/rules/cdc-alerts.yml" }!.contents.contains("postgres"), "no alert on a sink that does not run")
        XCTAssertFalse(files.first { $0.path == "grafana/dashboards/cdc-operations.json" }!.contents.contains("postgres"))
    }

    /// The sink's dashboard row is valid JSON with unique panel ids, below the last default panel.
    func testDashboardGetsAPostgresRowWithUniqueIds() throws {
        let files = Dictionary(uniqueKeysWithValues: try renderer.render(try manifest(), secrets: Self.secrets).map { ($0.path, $0.contents) })
        let json = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(try XCTUnwrap(files["grafana/dashboards/cdc-operations.json"]).utf8)) as? [String: Any])
        let panels = try XCTUnwrap(json["panels"] as? [[String: Any]])
        let ids = panels.compactMap { $0["id"] as? Int }
        XCTAssertEqual(ids.count, Set(ids).count, "panel ids are unique: \(ids)")
        let row = try XCTUnwrap(panels.firstIndex { $0["title"] as? String == "PostgreSQL sink" })
        XCTAssertEqual(panels[row]["type"] as? String, "row")
        func bottom(_ p: [String: Any]) -> Int { let g = p["gridPos"] as? [String: Int] ?? [:]; return (g["y"] ?? 0) + (g["h"] ?? 0) }
        let top = (panels[row]["gridPos"] as? [String: Int])?["y"] ?? -1
        XCTAssertEqual(top, panels[..<row].map(bottom).max(), "the row starts where the default panels end")
        let exprs = panels[(row + 1)...].flatMap { ($0["targets"] as? [[String: Any]] ?? []).compactMap { $0["expr"] as? String } }
        XCTAssertEqual(exprs.filter { $0.contains("cdcctl_postgres_sink_") }.count, 5, "\(exprs)")
    }

    /// The sink's alerts fire when they should and only then (`promtool test rules` over the
    /// rendered rules): waiting for PostgreSQL for 2 minutes; lag above 100k for 5; any reject.
    func testPostgresSinkAlertsFireOnPromtoolSeries() throws {
        let promtool = try TestSupport.tool("promtool", env: "CDCCTL_PROMTOOL")
        let dir = try TestSupport.temporaryDirectory(self)
        _ = try OutputWriter.write(try renderer.render(try manifest(), secrets: Self.secrets), to: dir)
        let check = try TestSupport.run(promtool, ["check", "rules", dir + "/prometheus/rules/cdc-alerts.yml"])
        XCTAssertEqual(check.status, 0, check.output)
        let test = """
            rule_files: [\(dir)/prometheus/rules/cdc-alerts.yml]
            evaluation_interval: 1m
            tests:
              - interval: 1m
                input_series:
                  - series: 'cdcctl_postgres_sink_waiting{job="processor"}'
                    values: '0 0 1 1 1 1 1 0 0 0 0'
                  - series: 'cdcctl_postgres_sink_lag_records{job="processor"}'
                    values: '10 200000 200000 200000 200000 200000 200000 200000 200000 200000 200000'
                  - series: 'cdcctl_postgres_sink_rejects_total{job="processor",stage="insert"}'
                    values: '0 0 0 0 0 1 1 1 1 1 1'
                  - series: 'cdcctl_postgres_sink_rejects_total{job="processor",stage="decode"}'
                    values: '0x10'
                alert_rule_test:
                  - eval_time: 3m
                    alertname: PostgresSinkWaiting
                    exp_alerts: []
                  - eval_time: 4m
                    alertname: PostgresSinkWaiting
                    exp_alerts:
                      - exp_labels: {severity: critical}
                        exp_annotations:
                          summary: "The PostgreSQL sink is waiting for PostgreSQL and consumes nothing new"
                          description: "Check `cdcctl status` and the postgres container. The batch is retried until it commits: nothing is lost, but cdcctl_postgres_sink_lag_records grows."
                  - eval_time: 8m
                    alertname: PostgresSinkWaiting
                    exp_alerts: []
                  - eval_time: 5m
                    alertname: PostgresSinkLagHigh
                    exp_alerts: []
                  - eval_time: 6m
                    alertname: PostgresSinkLagHigh
                    exp_alerts:
                      - exp_labels: {severity: warning}
                        exp_annotations:
                          summary: "The PostgreSQL sink is more than 100k records behind Kafka"
                          description: "Transactions may be slow (see cdcctl_postgres_sink_transactions_total); `cdcctl bench postgres` measures what this PostgreSQL sustains."
                  - eval_time: 4m
                    alertname: PostgresSinkRejects
                    exp_alerts: []
                  - eval_time: 6m
                    alertname: PostgresSinkRejects
                    exp_alerts:
                      - exp_labels: {severity: warning, job: processor, stage: insert}
                        exp_annotations:
                          summary: "Records were quarantined in sink_rejects (insert)"
                          description: "PostgreSQL refused them or they did not decode; the rest went on. Read them in the analytics database: `SELECT * FROM sink_rejects ORDER BY rejected_at DESC`."

            """
        try test.write(toFile: dir + "/postgres-alerts-test.yml", atomically: true, encoding: .utf8)
        let result = try TestSupport.run(promtool, ["test", "rules", dir + "/postgres-alerts-test.yml"])
        XCTAssertEqual(result.status, 0, result.output)
        XCTAssertTrue(result.output.contains("SUCCESS"), result.output)
    }
}

extension PostgresRenderTests {
    /// The variant's compose file passes Docker Compose v2's own validation.
    func testComposeWithPostgresIsValidForDockerComposeV2() throws {
        let compose = try TestSupport.tool("docker-compose", env: "CDCCTL_COMPOSE_BIN",
                                           also: [TestSupport.repo + "/.testbed/venv/lib/python3.11/site-packages/compose/docker-compose"])
        let dir = try TestSupport.temporaryDirectory(self)
        _ = try OutputWriter.write(try renderer.render(try manifest(), secrets: Self.secrets), to: dir)
        let result = try TestSupport.run(compose, ["--project-directory", dir, "-f", dir + "/docker-compose.yml", "config", "-q"])
        XCTAssertEqual(result.status, 0, result.output)
    }
}
