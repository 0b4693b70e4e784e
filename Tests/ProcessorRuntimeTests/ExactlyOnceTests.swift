import ClickHouse
import Foundation
import Kafka
import TestSupport
import XCTest
@testable import ProcessorRuntime
import Telemetry

/// Issue 12 against the testbed's real servers: the crash matrix, recreated topics, bad rows,
/// idle partitions, the recovery mode in force, and the metrics port.
extension ProcessorIntegrationTests {
    /// A copy of the manifest (one Tansu process) for another database and consumer group.
    func variant(database db: String, group: String, flushIntervalMs: Int = 100, batchMaxRows: Int = 400,
                 setup: Bool = true) throws -> String {
        var text = yaml
            .replacingOccurrences(of: "database: \(database)", with: "database: \(db)")
            .replacingOccurrences(of: "consumerGroup: proc-it-\(id)", with: "consumerGroup: \(group)")
            .replacingOccurrences(of: "flushIntervalMs: 100", with: "flushIntervalMs: \(flushIntervalMs)")
            .replacingOccurrences(of: "batchMaxRows: 400", with: "batchMaxRows: \(batchMaxRows)")
        let path = dir + "/\(db)-\(group).yaml"
        if setup {
            try text.write(toFile: path, atomically: true, encoding: .utf8)
            let r = try cdcctl(["schema", "apply", "-m", path])
            XCTAssertEqual(r.status, 0, r.output)
            _ = try clickhouse.execute("SYSTEM STOP MERGES \(db)")   // "without FINAL" must see every duplicate
            addTeardownBlock { [clickhouse] in _ = try? clickhouse?.execute("DROP DATABASE IF EXISTS \(db)") }
        }
        text = text.replacingOccurrences(of: "kafkaBootstrap: \(testbed.kafkaBootstrap)",
                                         with: "kafkaBootstrap: \(testbed["TESTBED_KAFKA_BOOTSTRAP_SINGLE"])")
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    func run(_ manifest: String, idle: Double = 4, environment: [String: String] = [:]) throws -> (status: Int32, output: String) {
        var env = ProcessInfo.processInfo.environment
        for (k, v) in environment { env[k] = v }
        let r = try TestSupport.runSeparately(TestSupport.cdcctlBinary,
                                              ["process", "run", "-m", manifest, "--exit-when-idle", String(idle),
                                               "--metrics-port", String(19100 + Int.random(in: 0..<800)), "--state-dir", dir + "/state"],
                                              cwd: dir, environment: env)
        return (r.status, r.stdout + r.stderr)
    }

    func produceExecution(id: Int, orderId: Int) throws {
        let producer = try KafkaProducer(KafkaSettings(bootstrap: testbed["TESTBED_KAFKA_BOOTSTRAP_SINGLE"]))
        let row = "{\"execution_id\":\(id),\"order_id\":\(orderId),\"symbol\":\"005930\",\"quantity\":\"1.0000\",\"price\":\"71000.0000\",\"executed_at\":\(t0)}"
        let value = "{\"before\":null,\"after\":\(row),\"source\":{\"ts_ms\":\(t0),\"db\":\"shop\",\"table\":\"order_executions\"},\"op\":\"c\",\"ts_ms\":\(t0)}"
        try producer.send(topic: "\(prefix).shop.order_executions", key: "{\"execution_id\":\(id)}", value: value)
        try producer.flush()
    }

    func produceRaw(_ topic: String, key: String, value: String) throws {
        let producer = try KafkaProducer(KafkaSettings(bootstrap: testbed["TESTBED_KAFKA_BOOTSTRAP_SINGLE"]))
        try producer.send(topic: topic, key: key, value: value)
        try producer.flush()
    }

    static let comparedTables = ["cdc_orders_raw", "cdc_order_executions_raw", "orders_current", "trades", "trade_aggregates", "alerts",
                                 "processor_rejects"]

    func counts(_ db: String) throws -> [String: Int] {
        var out: [String: Int] = [:]
        for t in Self.comparedTables {
            out[t] = Int(try clickhouse.execute("SELECT count() FROM \(db).\(t)").trimmingCharacters(in: .whitespacesAndNewlines)) ?? -1
        }
        return out
    }

    // MARK: 1, 2, 3: SIGKILL at every point of a flush, on the first flush of a new group

    func testCrashAtEveryPointOfAFlushLeavesTheSameTablesAsACleanRun() throws {
        try produceTrades(1_200)
        for order in 1...5 { try produceOrderChanges(orderId: order) }
        // An order over the limit (alerts), an execution, and a malformed trade (processor_rejects).
        try produceRaw("\(prefix).shop.orders", key: "{\"order_id\":99}", value: """
            {"before":null,"after":{"order_id":99,"customer_id":7,"symbol":"005930","side":"BUY","order_type":"LIMIT","quantity":"10000.0000","price":"71000.5000","status":"NEW","created_at":\(t0),"updated_at":\(t0)},"source":{"ts_ms":\(t0),"db":"shop","table":"orders"},"op":"c","ts_ms":\(t0)}
            """)
        try produceExecution(id: 1, orderId: 99)
        try produceRaw("\(prefix).trades", key: "KRW-BTC", value: "{oops")

        // One flush holds everything (2 s interval, no row cap), so a crash lands in the first
        // flush of a fresh consumer group: the case whose token used to change on replay.
        let clean = try variant(database: "\(database)_clean", group: "clean-\(id)", flushIntervalMs: 2_000, batchMaxRows: 1_000_000)
        let cleanRun = try run(clean)
        XCTAssertEqual(cleanRun.status, 0, cleanRun.output)
        let expected = try counts("\(database)_clean")
        XCTAssertEqual(expected["trades"], 1_200)
        XCTAssertEqual(expected["cdc_orders_raw"], 16)
        XCTAssertEqual(expected["cdc_order_executions_raw"], 1)
        XCTAssertEqual(expected["processor_rejects"], 1)
        XCTAssertGreaterThan(expected["alerts"] ?? 0, 0)
        XCTAssertGreaterThan(expected["trade_aggregates"] ?? 0, 0)

        let points = ["after-pend"] + Self.comparedTables.map { "after-insert:\($0)" } + ["after-commit"]
        for (i, point) in points.enumerated() {
            let db = "\(database)_crash\(i)"
            let m = try variant(database: db, group: "crash\(i)-\(id)", flushIntervalMs: 2_000, batchMaxRows: 1_000_000)
            let killed = try run(m, environment: ["CDCCTL_PROCESSOR_FAILPOINT": point])
            XCTAssertTrue(killed.status == SIGKILL || killed.status == 128 + SIGKILL, "\(point): \(killed.status) \(killed.output)")
            XCTAssertTrue(killed.output.contains("failpoint \(point) in flush 1"), killed.output)
            let rerun = try run(m)
            XCTAssertEqual(rerun.status, 0, "\(point): \(rerun.output)")
            XCTAssertTrue(rerun.output.contains("recovery mode clickhouse-checkpoints"), rerun.output)
            if point != "after-commit" {
                XCTAssertTrue(rerun.output.contains("unacknowledged range(s) first"), "\(point): \(rerun.output)")
                XCTAssertTrue(rerun.output.contains("replayed the unacknowledged range(s) with their original tokens"), rerun.output)
            }
            XCTAssertEqual(try counts(db), expected, "\(point): every table counted without FINAL, as after a clean run")
        }
    }

    // MARK: 1: which recovery mode, and the Kafka path where the broker keeps metadata

    func testTheProbeFindsThatTansuDropsCommitMetadata() throws {
        XCTAssertEqual(try ProcessorRunner.probeRecoveryMode(bootstrap: testbed["TESTBED_KAFKA_BOOTSTRAP_SINGLE"], group: "probe-\(id)",
                                                             topic: "\(prefix).trades"), .clickhouseCheckpoints)
        let status = try cdcctl(["process", "status", "-m", manifest, "-o", "json"])
        XCTAssertTrue(status.output.contains("\"recoveryMode\" : \"clickhouse-checkpoints\""), status.output)
    }

    /// librdkafka's built-in mock cluster (an imitation, inside the 2.16 library: no real
    /// Apache Kafka runs here) keeps commit metadata as Apache Kafka does: the probe says so, and
    /// the commit store round-trips `pend=` and the engine's checkpoint.
    func testOnABrokerThatKeepsCommitMetadataCheckpointsRideOnTheCommits() throws {
        let settings = KafkaSettings(bootstrap: "", properties: ["test.mock.num.brokers": "1", "allow.auto.create.topics": "true"])
        XCTAssertTrue(try CheckpointStores.brokerKeepsCommitMetadata(settings, group: "g-\(id)", topic: "t"))
        let consumer = try KafkaConsumer(settings, group: "g-\(id)")
        try consumer.assign([(topic: "t", partition: 0, offset: -1)])
        _ = try? consumer.poll(timeoutMs: 200)
        let store = KafkaCommitStore(consumer)
        XCTAssertEqual(store.mode, .kafkaCommitMetadata)
        try store.save([CommittedOffset(topic: "t", partition: 0, offset: 17, metadata: "cdcctl/1 max=5 cov=0 done=20 pend=31")], final: false)
        let back = try store.load([PartitionKey(topic: "t", partition: 0)])
        XCTAssertEqual(back.first?.offset, 17)
        XCTAssertEqual(ProcessorRunner.splitPending(back.first?.metadata).1, 31)
        XCTAssertEqual(ProcessorRunner.splitPending(back.first?.metadata).0, "cdcctl/1 max=5 cov=0 done=20")
    }

    func testTheClickHouseStoreKeepsTheLatestCheckpointPerPartition() throws {
        let store = ClickHouseCheckpointStore(clickhouse, database: database, group: "g-\(id)", consumer: nil)
        let keys = [PartitionKey(topic: "t", partition: 0), PartitionKey(topic: "t", partition: 1)]
        XCTAssertEqual(try store.load(keys).map(\.offset), [-1001, -1001])
        try store.save([CommittedOffset(topic: "t", partition: 0, offset: 5, metadata: "cdcctl/1 pend=9")], final: false)
        try store.save([CommittedOffset(topic: "t", partition: 0, offset: 9, metadata: "cdcctl/1 done=9"),
                        CommittedOffset(topic: "t", partition: 1, offset: 3, metadata: nil)], final: true)
        let again = ClickHouseCheckpointStore(clickhouse, database: database, group: "g-\(id)", consumer: nil)
        let back = try again.load(keys)
        XCTAssertEqual(back.map(\.offset), [9, 3])
        XCTAssertEqual(back.map(\.metadata), ["cdcctl/1 done=9", nil])
        try again.save([CommittedOffset(topic: "t", partition: 0, offset: 12, metadata: "cdcctl/1")], final: true)
        XCTAssertEqual(try store.load(keys).first?.offset, 12, "a later save wins, also across processes")
    }

    // MARK: 4: a recreated topic is not a replay

    func testARecreatedTopicIsNotMistakenForAReplay() throws {
        try produceTrades(200)
        let m = try variant(database: "\(database)_re", group: "re1-\(id)", flushIntervalMs: 2_000, batchMaxRows: 1_000_000)
        XCTAssertEqual(try run(m).status, 0)
        XCTAssertEqual(try scalar("SELECT count() FROM \(database)_re.trades"), 200)
        // The topic is deleted and created again (or a testbed restarted with ClickHouse's data
        // kept): the same offsets now hold other trades.
        let admin = try KafkaAdmin(KafkaSettings(bootstrap: testbed["TESTBED_KAFKA_BOOTSTRAP_SINGLE"]))
        XCTAssertTrue(try admin.deleteTopics(["\(prefix).trades"]).isEmpty)
        Thread.sleep(forTimeInterval: 2)
        let created = try cdcctl(["topics", "apply", "-m", manifest])
        XCTAssertEqual(created.status, 0, created.output)
        try produceTrades(200, from: 10_000)
        // The same consumer group: its saved checkpoints (in ClickHouse here) belong to the old
        // topic, and the same offset ranges now hold other records.
        let second = try run(m)
        XCTAssertEqual(second.status, 0, second.output)
        XCTAssertTrue(second.output.contains("the topic was recreated or truncated"), second.output)
        XCTAssertEqual(try scalar("SELECT count() FROM \(database)_re.trades"), 400, "the new trades are stored, not dropped as a repeat")
        XCTAssertEqual(try scalar("SELECT countIf(trade_id LIKE 't1%' AND length(trade_id) = 6) FROM \(database)_re.trades"), 200)
    }

    // MARK: 5: rows ClickHouse refuses go to processor_rejects, and everything else goes on

    func testRowsClickHouseRefusesAreQuarantinedAndConsumptionGoesOn() throws {
        // A real ClickHouse refusal of real rows: `source` narrowed to FixedString(3), so "replay"
        // (6 bytes) does not fit (Code 131) while "kis" does.
        _ = try clickhouse.execute("ALTER TABLE trades MODIFY COLUMN source FixedString(3)", database: database)
        let producer = try KafkaProducer(KafkaSettings(bootstrap: testbed["TESTBED_KAFKA_BOOTSTRAP_SINGLE"]))
        for i in 0..<100 {
            let source = i % 10 == 3 ? "replay" : "kis"
            try producer.send(topic: "\(prefix).trades", key: symbols[i % 4], value: """
                {"symbol":"\(symbols[i % 4])","trade_id":"q\(i)","price":"100.5","volume":"1","side":"buy","ts_ms":\(t0 + Int64(i) * 1000),"source":"\(source)"}
                """)
        }
        try producer.flush()
        try produceOrderChanges(orderId: 7)
        let r = try runProcessor(port: 19100 + Int.random(in: 0..<800))
        XCTAssertEqual(r.status, 0, r.output)
        XCTAssertTrue(r.output.contains("as bad data, quarantined"), r.output)
        XCTAssertEqual(try scalar("SELECT count() FROM trades"), 90, "every good trade is stored")
        XCTAssertEqual(try scalar("SELECT count() FROM processor_rejects WHERE stage = 'insert' AND target_table = 'trades'"), 10)
        XCTAssertEqual(try scalar("SELECT countIf(payload LIKE '%\"source\":\"replay\"%' AND topic = '\(prefix).trades' AND offset >= 0) FROM processor_rejects"), 10,
                       "with the record position and the payload")
        XCTAssertEqual(try scalar("SELECT count() FROM cdc_orders_raw"), 3, "the CDC partitions went on too")
        XCTAssertEqual(try scalar("SELECT count() FROM trade_aggregates FINAL"), 4, "the windows too")
    }

    // MARK: 6, 7: the last windows are written; notional keeps its 20 decimals

    func testExitWhenIdleWritesTheLastWindowOfEveryPartitionWithItsFullNotional() throws {
        // (The dust trade first: its partition's watermark must not have passed its window yet.)
        try produceRaw("\(prefix).trades", key: "KRW-DUST", value: """
            {"symbol":"KRW-DUST","trade_id":"d1","price":"0.00000001","volume":"0.000000000001","side":"buy","ts_ms":\(t0 + 1000),"source":"replay"}
            """)
        try produceTrades(600)   // two windows per symbol, and nothing after them
        let r = try runProcessor(port: 19100 + Int.random(in: 0..<800))
        XCTAssertEqual(r.status, 0, r.output)
        XCTAssertTrue(r.output.contains("open window(s) as they stand"), r.output)
        XCTAssertEqual(try scalar("SELECT count() FROM trade_aggregates FINAL WHERE trade_count = 75"), 8, "both windows of every symbol")
        XCTAssertEqual(try scalar("SELECT sum(trade_count) FROM trade_aggregates FINAL"), 601)
        XCTAssertEqual(try clickhouse.execute("SELECT toString(notional) FROM trade_aggregates FINAL WHERE symbol = 'KRW-DUST'",
                                              database: database).trimmingCharacters(in: .whitespacesAndNewlines),
                       "0.00000000000000000001", "Decimal(38,20), not truncated to 12 decimals")
    }

    // MARK: 11.4: the metrics port is validated, never a trap

    func testAMetricsPortOutOfRangeIsBadInputWithAJournalRow() throws {
        let r = try cdcctl(["process", "run", "-m", manifestRun, "--metrics-port", "70000"])
        XCTAssertEqual(r.status, 2, r.output)
        XCTAssertTrue(r.output.contains("--metrics-port") && r.output.contains("1–65535"), r.output)
        let history = try cdcctl(["history", "-o", "json"])
        XCTAssertTrue(history.output.contains("\"command\" : \"process run\""), history.output)
        let status = try cdcctl(["process", "status", "-m", manifestRun, "--metrics-port", "0"])
        XCTAssertEqual(status.status, 2, status.output)
    }
}
