import Foundation
import TestSupport
import XCTest

/// `cdcctl up` / `status` / `down` through a real Docker Engine (scripts/docker-testbed: Debian's
/// docker.io, its own dockerd) running locally built stand-ins tagged with the public image
/// names, so the compose file under test is the one `cdcctl render` gives users. The manifest
/// differs from the defaults in two lines, both explained in docs/docker-testbed.md.
final class UpEndToEndTests: XCTestCase {
    static let manifest = """
        apiVersion: cdcctl/v1
        kafka:
          # The stand-in brokers are Tansu: one node id for all, so count answering addresses.
          engine: tansu
        clickhouse:
          # This sandbox's Docker daemon cannot raise open files past its own hard limit (20000).
          openFiles: 16384
        producers:
          # `up --with-producers` below: loopback only (no Upbit), and orders at any hour of the day.
          orders: {pattern: constant, ratePerSecond: 20}
          trades: {source: synthetic, ratePerSecond: 50}

        """
    /// Host ports of the default manifest.
    static let ports = [3306, 9092, 9093, 9094, 8083, 8123, 9090, 3000, 8080]
    static let services = ["kafka-1", "kafka-2", "kafka-3", "mysql", "connect", "clickhouse", "prometheus", "grafana", "kafka-ui"]

    var dir = ""
    var env: [String: String] = [:]

    override func setUpWithError() throws {
        env = try DockerTestbed.require()
        dir = try TestSupport.temporaryDirectory(self)
        try Self.manifest.write(toFile: dir + "/cdcctl.yaml", atomically: true, encoding: .utf8)
    }

    func cdcctl(_ args: String...) throws -> (status: Int32, output: String, seconds: Double) {
        let started = Date()
        let r = try CLI(directory: dir, extraArguments: ["-m", dir + "/cdcctl.yaml"], environment: env)(args)
        return (r.status, r.output, Date().timeIntervalSince(started))
    }

    func docker(_ args: String...) throws -> String {
        let r = try TestSupport.run("/usr/bin/env", ["docker"] + args, environment: env)
        XCTAssertEqual(r.status, 0, r.output)
        return r.output
    }

    /// The JSON object on stdout (progress lines on stderr come first in the combined output).
    func json(_ output: String) throws -> [String: Any] {
        guard let start = output.range(of: "\n{")?.lowerBound ?? (output.hasPrefix("{") ? output.startIndex : nil) else {
            XCTFail("no JSON in: \(output)"); return [:]
        }
        let text = String(output[start...])
        let end = text.range(of: "\n}", options: .backwards)!.upperBound
        return try XCTUnwrap(JSONSerialization.jsonObject(with: Data(text[..<end].utf8)) as? [String: Any])
    }

    func testUpStatusCaptureConvergeDown() throws {
        let started = Date()
        func phase(_ name: String) { print(String(format: "UP-TIMING %.1f s: %@", Date().timeIntervalSince(started), name)) }
        for port in Self.ports {
            let probe = try TestSupport.run("/bin/bash", ["-c", "exec 3<>/dev/tcp/127.0.0.1/\(port)"])
            if probe.status == 0 { XCTFail("port 127.0.0.1:\(port) is in use; the default manifest publishes it"); return }
        }
        addTeardownBlock { _ = try? self.cdcctl("down", "--volumes", "--yes") }

        // The default clickhouse.openFiles (262144) is above this engine's own limit: refused
        // before anything starts, naming the value that works (this dockerd's hard limit).
        try (Self.manifest.replacingOccurrences(of: "openFiles: 16384", with: "openFiles: 262144"))
            .write(toFile: dir + "/too-many.yaml", atomically: true, encoding: .utf8)
        let tooMany = try CLI(directory: dir, extraArguments: ["-m", dir + "/too-many.yaml"], environment: env)(["up"])
        XCTAssertEqual(tooMany.status, 2, tooMany.output)
        XCTAssertTrue(tooMany.output.contains("clickhouse.openFiles: ClickHouse would get 262144 open files"), tooMany.output)
        XCTAssertEqual(try docker("ps", "-aq", "--filter", "label=com.docker.compose.project=cdc"), "", "nothing was started")

        // Cold up: fresh volumes, every container created.
        let up = try cdcctl("up", "-o", "json", "--timeout", "540")
        XCTAssertEqual(up.status, 0, up.output)
        guard up.status == 0 else { return }
        let result = try json(up.output)
        let rows = try XCTUnwrap(result["services"] as? [[String: Any]])
        XCTAssertEqual(Set(rows.compactMap { $0["service"] as? String }), Set(Self.services))
        for row in rows {
            XCTAssertTrue(["healthy", "running"].contains(row["health"] as? String), "\(row)")
            XCTAssertEqual(row["change"] as? String, "created", "\(row)")
        }
        // One command per next line, with the options that reach this manifest and state dir.
        XCTAssertEqual((result["next"] as? [String])?.first, "cdcctl -m \(dir)/cdcctl.yaml --state-dir \(dir)/state status")
        let bootstrap = try XCTUnwrap(result["bootstrap"] as? [String: Any])
        XCTAssertEqual((bootstrap["topicsCreated"] as? [String])?.sorted(),
                       ["alerts", "cdc.shop.order_executions", "cdc.shop.orders", "schemahistory.shop", "trades.raw"])
        XCTAssertTrue((bootstrap["schema"] as? String ?? "").range(of: #"^\d+ migration\(s\) applied"#, options: .regularExpression) != nil, "\(bootstrap)")
        let schema = try cdcctl("schema", "status")
        XCTAssertEqual(schema.status, 0, "every migration applied, no drift: \(schema.output)")
        let connectors = try XCTUnwrap(bootstrap["connectors"] as? [[String: Any]])
        XCTAssertEqual(connectors.first?["connector"] as? String, "shop-mysql")
        XCTAssertEqual((connectors.first?["state"] as? [String: Any])?["state"] as? String, "RUNNING")
        let healthySeconds = result["secondsToHealthy"] as? Double ?? -1
        print(String(format: "UP-TIMING cold up: healthy after %.1f s, bootstrapped after %.1f s (wall %.1f s)",
                     healthySeconds, result["seconds"] as? Double ?? -1, up.seconds))

        phase("cold up checked")
        // status: every service, Kafka, the connector and ClickHouse; exit 0.
        let status = try cdcctl("status")
        XCTAssertEqual(status.status, 0, status.output)
        for service in Self.services { XCTAssertTrue(status.output.contains("\n\(service) "), "\(service) missing:\n\(status.output)") }
        XCTAssertTrue(status.output.contains("kafka: 3 of 3 brokers live"), status.output)
        XCTAssertTrue(status.output.contains("shop-mysql  RUNNING"), status.output)
        XCTAssertTrue(status.output.contains("clickhouse: reachable"), status.output)
        let statusJSON = try json(try cdcctl("status", "-o", "json").output)
        let before = Dictionary(uniqueKeysWithValues: (statusJSON["services"] as? [[String: Any]] ?? []).map {
            ($0["service"] as? String ?? "", $0["startedAt"] as? String ?? "")
        })

        phase("status checked")
        // An INSERT in the source reaches the Kafka topic through Debezium.
        let symbol = "E2E" + String(UUID().uuidString.prefix(6))
        let root = try rootPassword()
        _ = try docker("exec", "-e", "MYSQL_PWD=\(root)", "cdc-mysql", "mysql", "-uroot", "shop", "-e",
                       "INSERT INTO orders (customer_id, symbol, side, quantity, price) VALUES (4242, '\(symbol)', 'BUY', 3, 101.5)")
        let consumed = try consume(topic: "cdc.shop.orders", partitions: 6, needle: symbol, timeoutSeconds: 120)
        XCTAssertTrue(consumed.contains("\"op\":\"c\""), consumed)
        XCTAssertTrue(consumed.contains("\"price\":\"101.5000\""), consumed)

        phase("insert seen in Kafka")
        // up again converges without touching healthy services, and --with-producers starts the
        // order generator and the trade feed in the background.
        addTeardownBlock { [dir] in
            for name in ["orders", "trades"] {
                if let pid = Int32((try? String(contentsOfFile: "\(dir)/state/producers/\(name).pid", encoding: .utf8))?
                    .trimmingCharacters(in: .whitespacesAndNewlines) ?? "") { kill(pid, SIGKILL) }
            }
        }
        let again = try cdcctl("up", "-o", "json", "--with-producers")
        XCTAssertEqual(again.status, 0, again.output)
        let againRows = try json(again.output)["services"] as? [[String: Any]] ?? []
        XCTAssertEqual(againRows.filter { $0["change"] as? String != "unchanged" }.count, 0, again.output)
        let after = Dictionary(uniqueKeysWithValues: (try json(try cdcctl("status", "-o", "json").output)["services"] as? [[String: Any]] ?? []).map {
            ($0["service"] as? String ?? "", $0["startedAt"] as? String ?? "")
        })
        XCTAssertEqual(before, after, "no container was restarted")

        phase("second up done")
        // The producers run (status says so, by pid), write MySQL as the app user and Kafka, and stop on SIGTERM.
        func producers() throws -> [String: [String: Any]] {
            let list = try XCTUnwrap(try json(try cdcctl("status", "-o", "json").output)["producers"] as? [[String: Any]])
            return Dictionary(uniqueKeysWithValues: list.map { ($0["name"] as? String ?? "", $0) })
        }
        let running = try producers()
        XCTAssertEqual(running["orders"]?["state"] as? String, "running", "\(running)")
        XCTAssertEqual(running["trades"]?["state"] as? String, "running", "\(running)")
        var orders = 0
        for _ in 0..<60 where orders == 0 {
            Thread.sleep(forTimeInterval: 1)
            orders = Int(try docker("exec", "-e", "MYSQL_PWD=\(root)", "cdc-mysql", "mysql", "-uroot", "-N", "shop", "-e",
                                    "SELECT COUNT(*) FROM orders WHERE customer_id <> 4242").trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0
        }
        let ordersLog = (try? String(contentsOfFile: dir + "/state/producers/orders.log", encoding: .utf8)) ?? "(no log)"
        XCTAssertGreaterThan(orders, 0, "produce orders wrote no order: \(ordersLog)")
        let trade = try consume(topic: "trades.raw", partitions: 6, needle: "KRW-", timeoutSeconds: 60)
        XCTAssertTrue(trade.contains("KRW-"), "produce trades wrote nothing: \(trade)")
        for name in ["orders", "trades"] { if let pid = (running[name]?["pid"] as? NSNumber)?.int32Value { kill(pid, SIGTERM) } }
        // (A `for … where` would ask `status` all 60 times: it filters iterations, it does not end the loop.)
        var asked = 0
        while asked < 60, try producers().values.contains(where: { $0["state"] as? String != "stopped" }) {
            asked += 1
            Thread.sleep(forTimeInterval: 0.5)
        }
        XCTAssertEqual(try producers().mapValues { $0["state"] as? String ?? "" }, ["orders": "stopped", "trades": "stopped"])

        phase("producers checked and stopped")
        // The same manifest with another state dir would generate other secrets: up refuses
        // before it writes or recreates anything.
        let elsewhere = try CLI(directory: dir, stateDir: dir + "/elsewhere", extraArguments: ["-m", dir + "/cdcctl.yaml"], environment: env)(["up"])
        XCTAssertEqual(elsewhere.status, 2, elsewhere.output)
        XCTAssertTrue(elsewhere.output.contains("cluster cdc is running with other secrets than"), elsewhere.output)
        XCTAssertTrue(elsewhere.output.contains("grafana, mysql would be recreated"), elsewhere.output)
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir + "/elsewhere/secrets.env"), "no secret was generated and kept")
        let untouched = Dictionary(uniqueKeysWithValues: (try json(try cdcctl("status", "-o", "json").output)["services"] as? [[String: Any]] ?? []).map {
            ($0["service"] as? String ?? "", $0["startedAt"] as? String ?? "")
        })
        XCTAssertEqual(before, untouched, "the refused up restarted nothing")
        print(String(format: "UP-TIMING second up (converge, nothing to do): %.1f s", again.seconds))

        let history = try cdcctl("history", "-o", "json").output
        XCTAssertTrue(history.contains("\"command\" : \"up\""), history)

        phase("refused up checked")
        // down --volumes removes containers, network and volumes; status then says so.
        let volumes = try docker("ps", "-aq", "--filter", "label=com.docker.compose.project=cdc").split(separator: "\n").flatMap { id in
            try docker("inspect", "--format", "{{range .Mounts}}{{if eq .Type \"volume\"}}{{.Name}} {{end}}{{end}}", String(id))
                .split(separator: " ").map { $0.trimmingCharacters(in: .whitespacesAndNewlines) }.filter { !$0.isEmpty }
        }
        XCTAssertGreaterThan(volumes.count, 4, "named volumes and the images' anonymous ones: \(volumes)")
        let refused = try cdcctl("down", "--volumes")
        XCTAssertEqual(refused.status, 2, "volumes need --yes without a terminal: \(refused.output)")
        let down = try cdcctl("down", "--volumes", "--yes")
        XCTAssertEqual(down.status, 0, down.output)
        XCTAssertEqual(try docker("ps", "-aq", "--filter", "label=com.docker.compose.project=cdc"), "")
        XCTAssertEqual(try docker("volume", "ls", "-q", "--filter", "label=com.docker.compose.project=cdc"), "")
        let remaining = Set(try docker("volume", "ls", "-q").split(separator: "\n").map(String.init))
        XCTAssertEqual(remaining.intersection(volumes), [], "anonymous volumes of the project's containers are removed too")
        XCTAssertEqual(try docker("network", "ls", "-q", "--filter", "label=com.docker.compose.project=cdc"), "")
        phase("down done")
        let gone = try cdcctl("status")
        XCTAssertEqual(gone.status, 3, gone.output)
        XCTAssertTrue(gone.output.contains("cluster cdc: removed"), gone.output)
    }

    func rootPassword() throws -> String {
        let dotenv = try String(contentsOfFile: dir + "/state/cdc/.env", encoding: .utf8)
        let line = try XCTUnwrap(dotenv.split(separator: "\n").first { $0.hasPrefix("MYSQL_ROOT_PASSWORD=") })
        return String(line.dropFirst("MYSQL_ROOT_PASSWORD=".count)).trimmingCharacters(in: CharacterSet(charactersIn: "'"))
    }

    /// An independent client (confluent-kafka in the testbed's venv) reads the topic from the
    /// start of every partition until a record contains `needle`.
    func consume(topic: String, partitions: Int, needle: String, timeoutSeconds: Double) throws -> String {
        let python = try XCTUnwrap(env["DOCKER_TESTBED_PYTHON"])
        let code = """
            import sys, time
            from confluent_kafka import Consumer, TopicPartition, OFFSET_BEGINNING
            c = Consumer({"bootstrap.servers": "127.0.0.1:9092", "group.id": "e2e-probe", "enable.auto.commit": False})
            c.assign([TopicPartition("\(topic)", p, OFFSET_BEGINNING) for p in range(\(partitions))])
            deadline = time.time() + \(timeoutSeconds)
            while time.time() < deadline:
                m = c.poll(1.0)
                if m is None or m.error():
                    continue
                v = (m.value() or b"").decode()
                if "\(needle)" in v:
                    print(v); sys.exit(0)
            sys.exit("not found in \(topic) within \(Int(timeoutSeconds)) s")
            """
        let r = try TestSupport.run(python, ["-c", code], environment: env)
        XCTAssertEqual(r.status, 0, r.output)
        return r.output
    }
}
