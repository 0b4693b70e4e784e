@testable import Connect
@testable import Connectors
import Foundation
@testable import Kafka
import Reports
@testable import TopicAdmin
import XCTest
@testable import Monitor

/// The monitor's pure parts: families from constructed observations, and the runner's promise
/// that one scrape never hangs and a failing collector does not take the others down.
final class MonitorUnitTests: XCTestCase {
    // MARK: - Runner

    final class Fixed: Collector, @unchecked Sendable {
        let name: String
        let value: Double
        init(_ name: String, _ value: Double) { self.name = name; self.value = value }
        func collect(into e: inout Exposition) throws { e.gauge("test_\(name)_value", "a fixed value", value) }
    }

    final class Hanging: Collector, @unchecked Sendable {
        let name = "hanging"
        let release = DispatchSemaphore(value: 0)
        let calls = Counter()
        func collect(into e: inout Exposition) throws {
            calls.add()
            release.wait()
            e.gauge("test_hanging_value", "never seen", 1)
        }
    }

    final class Counter: @unchecked Sendable {
        private let lock = NSLock()
        private var n = 0
        func add() { lock.lock(); n += 1; lock.unlock() }
        var value: Int { lock.lock(); defer { lock.unlock() }; return n }
    }

    struct Broken: Error, CustomStringConvertible { var description: String { "connection refused" } }
    final class Throwing: Collector, @unchecked Sendable {
        let name = "throwing"
        func collect(into e: inout Exposition) throws { throw Broken() }
    }

    func testAHungCollectorIsReportedDownAndTheOthersStillExport() throws {
        let hanging = Hanging()
        let runner = CollectorRunner([Fixed("a", 7), hanging, Throwing()], timeout: 0.3)
        let first = runner.run()
        XCTAssertEqual(first.map(\.status), [.ok, .timedOut, .failed])
        let text = CollectorRunner.exposition(first)
        XCTAssertTrue(text.contains("test_a_value 7\n"), text)
        XCTAssertFalse(text.contains("test_hanging_value"), text)
        XCTAssertTrue(text.contains("cdcctl_monitor_collector_up{collector=\"a\"} 1\n"), text)
        XCTAssertTrue(text.contains("cdcctl_monitor_collector_up{collector=\"hanging\"} 0\n"), text)
        XCTAssertTrue(text.contains("cdcctl_monitor_collector_up{collector=\"throwing\"} 0\n"), text)
        XCTAssertEqual(first[2].error, "connection refused")
        // The next scrape does not start the hung collector a second time.
        let second = runner.run()
        XCTAssertEqual(second[1].status, .stillRunning)
        XCTAssertEqual(hanging.calls.value, 1)
        // Once it returns, it is called again.
        hanging.release.signal()
        var third: [CollectorOutcome] = []
        for _ in 0..<50 {
            third = runner.run()
            if third[1].status != .stillRunning { break }
        }
        XCTAssertEqual(hanging.calls.value, 2)
        hanging.release.signal()
    }

    func testExpositionDeclaresEachFamilyOnceAndEscapesLabels() {
        var e = Exposition()
        e.gauge("x", "help", [([("a", "q\"uote\\back\nline")], 1.5)])
        e.gauge("x", "help", [([("a", "b")], 2)])
        XCTAssertEqual(e.text, "# HELP x help\n# TYPE x gauge\nx{a=\"q\\\"uote\\\\back\\nline\"} 1.5\nx{a=\"b\"} 2\n")
        XCTAssertEqual(Exposition.names(in: e.text), ["x"])
    }

    // MARK: - Kafka

    func testKafkaFamiliesCountUnhealthyPartitionsPerTopicAndExportTheProcessorLag() {
        let down: Set<Int32> = [3]
        let partitions = [
            PartitionHealth(topic: "trades.raw", partition: 0, leader: 1, replicas: [1, 2, 3], isr: [1, 2, 3], minInsyncReplicas: 2, down: down),
            PartitionHealth(topic: "trades.raw", partition: 1, leader: 1, replicas: [1, 2, 3], isr: [1, 3], minInsyncReplicas: 2, down: down),
            PartitionHealth(topic: "trades.raw", partition: 2, leader: 3, replicas: [3, 1, 2], isr: [3], minInsyncReplicas: 2, down: down),
            PartitionHealth(topic: "alerts", partition: 0, leader: 1, replicas: [1, 2, 3], isr: [1, 2, 3], minInsyncReplicas: 2, down: down),
        ]
        let health = TopicHealthReport(brokersExpected: 3, brokersLive: 2,
                                       brokers: [BrokerState(id: 1, service: "kafka-1", address: "k1:9092", live: true, reason: nil),
                                                 BrokerState(id: 3, service: "kafka-3", address: "k3:9092", live: false, reason: "no answer")],
                                       topics: [HealthTopic(name: "alerts"), HealthTopic(name: "trades.raw")], partitions: partitions,
                                       minInsyncSources: [:], problems: [], drift: [], warnings: [])
        let lag = [PartitionLag(topic: "trades.raw", partition: 0, committed: 10, highWatermark: 25, lag: 15),
                   PartitionLag(topic: "trades.raw", partition: 1, committed: -1, highWatermark: 5, lag: 5)]
        var e = Exposition()
        KafkaMetrics.write(health, endOffsets: lag + [PartitionLag(topic: "alerts", partition: 0, committed: -1, highWatermark: 3, lag: 3)],
                           groups: [.init(group: "proc", partitions: lag)], processorGroup: "proc", into: &e)
        let t = e.text
        for line in ["cdcctl_kafka_brokers_expected 3", "cdcctl_kafka_brokers_live 2",
                     "cdcctl_kafka_broker_up{broker=\"3\",address=\"k3:9092\"} 0",
                     // Broker 3 is down, so every partition with a replica on it is under-replicated (3 of 3);
                     // partition 1 (ISR [1,3]) keeps one live in-sync replica: under min ISR; partition 2's
                     // leader is broker 3: offline, and under min ISR too.
                     "cdcctl_kafka_topic_under_replicated_partitions{topic=\"trades.raw\"} 3",
                     "cdcctl_kafka_topic_under_min_isr_partitions{topic=\"trades.raw\"} 2",
                     "cdcctl_kafka_topic_offline_partitions{topic=\"trades.raw\"} 1",
                     "cdcctl_kafka_topic_under_min_isr_partitions{topic=\"alerts\"} 0",
                     "cdcctl_kafka_topic_end_offset{topic=\"trades.raw\"} 30",
                     "cdcctl_kafka_consumergroup_lag{group=\"proc\",topic=\"trades.raw\"} 20",
                     "cdcctl_processor_consumer_lag{topic=\"trades.raw\"} 20"] {
            XCTAssertTrue(t.contains(line + "\n"), "missing \(line) in\n\(t)")
        }
    }

    // MARK: - Connect

    func testConnectorAndTaskStatesAreOneHotAndRestartsAreCountedFromObservedTransitions() {
        func state(_ c: String, _ tasks: [(String, String)]) -> ConnectorState {
            ConnectorState(name: "shop", state: c, workerId: "w1", trace: nil,
                           tasks: tasks.enumerated().map { ConnectorState.Task(id: $0.offset, state: $0.element.0, workerId: $0.element.1, trace: nil) },
                           type: "source")
        }
        let tracker = RestartTracker()
        _ = tracker.observe(["shop": state("RUNNING", [("RUNNING", "w1"), ("FAILED", "w1")])])
        _ = tracker.observe(["shop": state("RUNNING", [("RUNNING", "w1"), ("RUNNING", "w1")])])   // task 1 restarted
        let restarts = tracker.observe(["shop": state("RUNNING", [("RUNNING", "w2"), ("RUNNING", "w1")])])  // task 0 moved
        XCTAssertEqual(restarts["shop"], [0: 1, 1: 1])

        var e = Exposition()
        ConnectMetrics.write(connectors: ["shop", "gone"], statuses: ["shop": state("PAUSED", [("PAUSED", "w1"), ("FAILED", "w1")])],
                             restarts: restarts, into: &e)
        let t = e.text
        for line in ["cdcctl_connect_connector_registered{connector=\"gone\"} 0",
                     "cdcctl_connect_connector_state{connector=\"shop\",state=\"PAUSED\"} 1",
                     "cdcctl_connect_connector_state{connector=\"shop\",state=\"RUNNING\"} 0",
                     "cdcctl_connect_task_state{connector=\"shop\",task=\"1\",state=\"FAILED\"} 1",
                     "cdcctl_connect_connector_failed_tasks{connector=\"shop\"} 1",
                     "cdcctl_connect_task_restarts_total{connector=\"shop\",task=\"0\"} 1"] {
            XCTAssertTrue(t.contains(line + "\n"), "missing \(line) in\n\(t)")
        }
        XCTAssertFalse(t.contains("connector=\"gone\",state"), t)
    }

    func testFreshnessIsTheAgeOfTheNewerOfTableEventAndHeartbeat() {
        let tables = [(connector: "shop", table: "shop.orders", topic: "cdc.shop.orders", heartbeatTopic: "__debezium-heartbeat.cdc"),
                      (connector: "shop", table: "shop.idle", topic: "cdc.shop.idle", heartbeatTopic: "__debezium-heartbeat.cdc"),
                      (connector: "other", table: "x.y", topic: "o.x.y", heartbeatTopic: "__debezium-heartbeat.o")]
        var e = Exposition()
        ConnectMetrics.writeFreshness(tables: tables, newestMs: ["cdc.shop.orders": 1_000_000, "__debezium-heartbeat.cdc": 1_090_000],
                                      nowMs: 1_100_000, into: &e)
        let t = e.text
        XCTAssertTrue(t.contains("cdcctl_cdc_freshness_seconds{connector=\"shop\",table=\"shop.orders\"} 10\n"), t)
        XCTAssertTrue(t.contains("cdcctl_cdc_freshness_seconds{connector=\"shop\",table=\"shop.idle\"} 10\n"), t)
        XCTAssertTrue(t.contains("cdcctl_cdc_last_event_timestamp_seconds{connector=\"shop\",table=\"shop.orders\"} 1000\n"), t)
        // Nothing ever seen for a table nor its heartbeat: no sample (absent, not zero).
        XCTAssertFalse(t.contains("table=\"x.y\""), t)
    }

    // MARK: - MySQL

    func testBinlogPositionAgainstTheOldestBinlogAndTheExpiry() throws {
        let offsets = try JSONSerialization.jsonObject(with: Data("""
            {"offsets":[{"partition":{"server":"cdc"},"offset":{"file":"mysql-bin.000003","pos":1200,"ts_sec":1000,"gtids":"0-1-5"}}]}
            """.utf8))
        let p = MySQLMetrics.position(connector: "shop", offsets: offsets)
        XCTAssertEqual(p, .init(connector: "shop", file: "mysql-bin.000003", tsSeconds: 1000))
        let purged = MySQLMetrics.Position(connector: "old", file: "mysql-bin.000001", tsSeconds: 10)
        let checks = [PreflightCheck(name: "binlog_format", status: .fail, observed: "MIXED", expected: "ROW", fix: "SET GLOBAL"),
                      PreflightCheck(name: "gtid_strict_mode", status: .warn, observed: "OFF", expected: "ON", fix: nil)]
        var e = Exposition()
        MySQLMetrics.write(binlogs: [.init(name: "mysql-bin.000002", sizeBytes: 100), .init(name: "mysql-bin.000003", sizeBytes: 50),
                                     .init(name: "mysql-bin.000004", sizeBytes: 7)],
                           expireSeconds: 86_400, positions: [p, purged], checks: checks, nowSeconds: 4600, into: &e)
        let t = e.text
        for line in ["cdcctl_mysql_binlog_files 3", "cdcctl_mysql_binlog_size_bytes 157", "cdcctl_mysql_binlog_expire_seconds 86400",
                     "cdcctl_mysql_binlog_connector_file_present{connector=\"shop\"} 1",
                     "cdcctl_mysql_binlog_connector_file_present{connector=\"old\"} 0",
                     "cdcctl_mysql_binlog_connector_files_from_oldest{connector=\"shop\"} 1",
                     "cdcctl_mysql_binlog_connector_position_age_seconds{connector=\"shop\"} 3600",
                     "cdcctl_mysql_source_check_ok{check=\"binlog_format\"} 0",
                     "cdcctl_mysql_source_check_ok{check=\"gtid_strict_mode\"} 1"] {
            XCTAssertTrue(t.contains(line + "\n"), "missing \(line) in\n\(t)")
        }
        XCTAssertEqual(MySQLMetrics.expireSeconds(["binlog_expire_logs_seconds": "0", "expire_logs_days": "2.5"]), 216_000)
        XCTAssertEqual(MySQLMetrics.expireSeconds(["binlog_expire_logs_seconds": "3600"]), 3600)
    }

    // MARK: - ClickHouse, disk

    func testClickHouseDownStillDeclaresItsUpGauge() {
        var e = Exposition()
        ClickHouseMetrics.write(database: "cdc", tables: nil, rejects: nil, into: &e)
        XCTAssertTrue(e.text.contains("cdcctl_clickhouse_up 0\n"), e.text)
        var ok = Exposition()
        ClickHouseMetrics.write(database: "cdc", tables: [.init(table: "trades", rows: 10, bytes: 2048, parts: 4)],
                                rejects: [.init(stage: "decode", rows: 2)], into: &ok)
        XCTAssertTrue(ok.text.contains("cdcctl_clickhouse_table_active_parts{database=\"cdc\",table=\"trades\"} 4\n"), ok.text)
        XCTAssertTrue(ok.text.contains("cdcctl_clickhouse_rejected_rows{stage=\"decode\"} 2\n"), ok.text)
        XCTAssertTrue(ok.text.contains("cdcctl_clickhouse_rejected_rows{stage=\"insert\"} 0\n"), ok.text)
    }

    func testDirectorySizeCountsAllocatedBlocks() throws {
        let dir = try TestSupportShim.temporaryDirectory()
        try Data(repeating: 1, count: 100_000).write(to: URL(fileURLWithPath: dir + "/a"))
        try FileManager.default.createDirectory(atPath: dir + "/sub", withIntermediateDirectories: true)
        try Data(repeating: 2, count: 50_000).write(to: URL(fileURLWithPath: dir + "/sub/b"))
        let used = try XCTUnwrap(DiskReader.allocatedBytes(dir))
        XCTAssertGreaterThanOrEqual(used, 150_000)
        XCTAssertLessThan(used, 150_000 + 64 * 1024)
        let v = DiskReader.directory(service: "mysql", path: dir)
        XCTAssertNotNil(v.filesystemBytes)
        var e = Exposition()
        HostMetrics.writeDisk([v], into: &e)
        XCTAssertTrue(e.text.contains("cdcctl_disk_used_bytes{service=\"mysql\",volume=\"\(dir)\"} \(used)\n"), e.text)
        XCTAssertNil(DiskReader.allocatedBytes(dir + "/missing"))
    }

    func testListenAddress() throws {
        XCTAssertEqual(try MonitorService.parseListen("0.0.0.0:9402").host, "0.0.0.0")
        XCTAssertEqual(try MonitorService.parseListen(":9500").port, 9500)
        XCTAssertEqual(try MonitorService.parseListen("9500").host, "127.0.0.1")
        XCTAssertThrowsError(try MonitorService.parseListen("localhost:9402"))
        XCTAssertThrowsError(try MonitorService.parseListen("127.0.0.1:70000"))
    }
}

enum TestSupportShim {
    static func temporaryDirectory() throws -> String {
        let dir = NSTemporaryDirectory() + "cdcctl-monitor-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        return dir
    }
}
