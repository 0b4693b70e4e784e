import Foundation
import TestSupport
import XCTest

/// `failover-test broker-2 --through-pipeline` end to end on the Docker testbed's whole stack (its
/// own cluster name and host ports): the stand-in MySQL (MariaDB), the real Kafka Connect with the
/// real Debezium MySQL connector, Tansu brokers, the chdb ClickHouse stand-in, and `cdcctl process
/// run` on the host. Orders are written by the order generator during the whole run, broker 2 is
/// killed and restored, and afterwards every change must be in ClickHouse exactly once (condition 7)
/// and the connector RUNNING (condition 6). What the stand-ins cannot show is in docs/failover.md.
final class FailoverPipelineEndToEndTests: XCTestCase {
    static let cluster = "drill-pipe-e2e"
    static let manifest = """
        apiVersion: cdcctl/v1
        cluster:
          name: \(cluster)
        kafka:
          engine: tansu
          externalPortBase: 32392
        source:
          port: 32316
        connect:
          port: 32093
        clickhouse:
          openFiles: 16384
          httpPort: 32133
        prometheus:
          port: 32190
        grafana:
          port: 32010
        kafkaUI:
          enabled: false
        processor:
          metricsPort: 32400
        reports:
          memoryMetricsPort: 32401

        """
    static let ports = [32392, 32393, 32394, 32316, 32093, 32133, 32190, 32010, 32400]

    func testOrdersFollowedToClickHouseExactlyOnceThroughABrokerKill() throws {
        let env = try DockerTestbed.require()
        let dir = try TestSupport.temporaryDirectory(self)
        try Self.manifest.write(toFile: dir + "/cdcctl.yaml", atomically: true, encoding: .utf8)
        let cli = CLI(directory: dir, extraArguments: ["-m", dir + "/cdcctl.yaml"], environment: env)
        for port in Self.ports {
            let probe = try TestSupport.run("/bin/bash", ["-c", "exec 3<>/dev/tcp/127.0.0.1/\(port)"])
            if probe.status == 0 { XCTFail("port 127.0.0.1:\(port) is in use; this test's manifest publishes it"); return }
        }
        defer { _ = try? cli(["down", "--volumes", "--yes"]) }
        // The whole stack with its bootstrap: topics, ClickHouse migrations, the Debezium connector RUNNING.
        let up = try cli(["up", "--timeout", "300"])
        XCTAssertEqual(up.status, 0, up.output)
        guard up.status == 0 else { return }

        // The processor, as an operator runs it: a host process reading the CDC topics into ClickHouse.
        let processor = Process()
        processor.executableURL = URL(fileURLWithPath: TestSupport.cdcctlBinary)
        processor.arguments = ["-m", dir + "/cdcctl.yaml", "process", "run"]
        processor.environment = env
        processor.currentDirectoryURL = URL(fileURLWithPath: dir)
        let log = dir + "/processor.err"
        FileManager.default.createFile(atPath: log, contents: nil)
        processor.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: log))
        processor.standardOutput = FileHandle.nullDevice
        try processor.run()
        defer { if processor.isRunning { processor.terminate(); processor.waitUntilExit() } }
        let ready = Date().addingTimeInterval(60)
        while Date() < ready, processor.isRunning, !((try? String(contentsOfFile: log, encoding: .utf8)) ?? "").contains("partitions of") {
            Thread.sleep(forTimeInterval: 0.2)
        }
        XCTAssertTrue(processor.isRunning, (try? String(contentsOfFile: log, encoding: .utf8)) ?? "")

        let report = dir + "/run.html"
        let r = try cli.separately(["failover-test", "broker-2", "--through-pipeline", "--rate", "100", "--warmup", "4", "--fault", "5",
                                    "--recovery-timeout", "40", "--partitions", "3", "--report", report, "-o", "json"])
        let out = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any], r.stdout + r.stderr)
        XCTAssertTrue(r.stderr.contains("order generator:"), "the generator ran: \(r.stderr)")
        XCTAssertEqual(out["targetDuringFault"] as? String, "exited")
        XCTAssertEqual(out["restore"] as? String, "restored kafka-2: start kafka-2")
        let conditions = out["conditions"] as? [[String: Any]] ?? []
        XCTAssertEqual(conditions.map { $0["number"] as? Int ?? 0 }, [1, 2, 3, 4, 5, 6, 7])
        guard conditions.count == 7 else { return }
        let c6 = conditions[5], c7 = conditions[6]
        print("FAILOVER-PIPELINE-E2E: verdict \(out["verdict"] ?? "?"); 6=\(c6["outcome"]!) \(c6["detail"]!); 7=\(c7["outcome"]!) \(c7["detail"]!)")
        XCTAssertEqual(c6["outcome"] as? String, "pass", "the connector and its tasks RUNNING afterwards: \(c6)")
        XCTAssertTrue((c6["detail"] as? String ?? "").contains("shop-mysql and its tasks RUNNING afterwards"), "\(c6)")
        // Every committed change in cdc_orders_raw / cdc_order_executions_raw once, orders_current
        // equal to MySQL. The Tansu stand-in has lost acked writes after a SIGKILL (docs/failover.md),
        // and Debezium writes through it too: a loss must then show here as missing changes, never
        // as a pass.
        let detail = c7["detail"] as? String ?? ""
        if c7["outcome"] as? String == "pass" {
            XCTAssertTrue(detail.contains("committed order changes") && detail.contains("orders_current FINAL equals MySQL"), detail)
        } else {
            XCTAssertEqual(c7["outcome"] as? String, "fail")
            XCTAssertTrue(detail.contains("missing"), "only a loss by the stand-in broker may fail it: \(detail)")
            XCTAssertFalse(detail.contains("duplicate"), "never a duplicate: \(detail)")
        }
        let html = try String(contentsOfFile: report, encoding: .utf8)
        XCTAssertTrue(html.contains("every order change exactly once in ClickHouse"), "the report shows condition 7")
    }
}
