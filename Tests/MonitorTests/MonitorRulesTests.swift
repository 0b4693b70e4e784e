import Foundation
import TestSupport
import XCTest

/// Every alert of the rendered cdc-monitor.yml, through `promtool test rules`: it fires when it
/// should (after its `for:`), and it stays quiet when it should. Series are constructed here;
/// MonitorTestbedTests feeds promtool the /metrics text captured from the real testbed too.
final class MonitorRulesTests: XCTestCase {
    let m = "job=\"monitor\",instance=\"m\""
    var base: [String: String] { ["job": "monitor", "instance": "m"] }

    func check(_ p: Promtool, _ series: [(String, String)], _ expect: [Promtool.Expect], labelsOnly: Bool = true,
               file: StaticString = #filePath, line: UInt = #line) throws {
        let (status, output) = try p.run(series: series, expect: expect, labelsOnly: labelsOnly, name: "case\(line)")
        XCTAssertEqual(status, 0, output, file: file, line: line)
        XCTAssertTrue(output.contains("SUCCESS"), output, file: file, line: line)
    }

    func testRenderedConfigAndRulesPassPromtoolCheck() throws {
        let p = try Promtool(self)
        let config = try TestSupport.run(p.promtool, ["check", "config", p.dir + "/prometheus/prometheus.yml"])
        XCTAssertEqual(config.status, 0, config.output)
        let rules = try TestSupport.run(p.promtool, ["check", "rules", p.dir + "/prometheus/rules/cdc-monitor.yml"])
        XCTAssertEqual(rules.status, 0, rules.output)
        XCTAssertTrue(rules.output.contains("SUCCESS: 16 rules found"), rules.output)
        let scrape = try String(contentsOfFile: p.dir + "/prometheus/prometheus.yml", encoding: .utf8)
        XCTAssertTrue(scrape.contains("job_name: monitor") && scrape.contains("host.docker.internal:9402"), scrape)
    }

    /// promtool compares the whole alert, labels and annotations: one case with every text.
    func testAnnotationsAreRenderedWithTheirLabels() throws {
        let p = try Promtool(self)
        try check(p, [("cdcctl_kafka_topic_under_min_isr_partitions{\(m),topic=\"trades.raw\"}", "0 2x5")], [
            .init(at: "3m", alert: "UnderMinIsrPartitions", firing: [["severity": "critical", "topic": "trades.raw"]],
                  annotations: [["summary": "2 partitions of trades.raw are under min.insync.replicas: acks=all writes are refused",
                                 "description": "Producers with acks=all (Debezium, cdcctl) get NOT_ENOUGH_REPLICAS. Bring the brokers back (cdcctl status, cdcctl up)."]]),
        ], labelsOnly: false)
    }

    func testBrokerDown() throws {
        let p = try Promtool(self)
        try check(p, [("cdcctl_kafka_brokers_live{\(m)}", "3 3 2 2 2 2 2"), ("cdcctl_kafka_brokers_expected{\(m)}", "3x6")], [
            .init(at: "1m", alert: "BrokerDown", firing: []),
            .init(at: "2m", alert: "BrokerDown", firing: []),   // pending: for 1m
            .init(at: "4m", alert: "BrokerDown", firing: [base.merging(["severity": "critical"]) { a, _ in a }]),
        ])
    }

    func testPartitionAlerts() throws {
        let p = try Promtool(self)
        try check(p, [
            ("cdcctl_kafka_topic_under_replicated_partitions{\(m),topic=\"a\"}", "0 1x10"),
            ("cdcctl_kafka_topic_under_replicated_partitions{\(m),topic=\"b\"}", "0x10"),
            ("cdcctl_kafka_topic_under_min_isr_partitions{\(m),topic=\"a\"}", "0 0 0 1x8"),
            ("cdcctl_kafka_topic_under_min_isr_partitions{\(m),topic=\"b\"}", "0x10"),
            ("cdcctl_kafka_topic_offline_partitions{\(m),topic=\"b\"}", "0 0 0 0 0 0 3x4"),
            ("cdcctl_kafka_topic_offline_partitions{\(m),topic=\"a\"}", "0x10"),
        ], [
            .init(at: "4m", alert: "UnderReplicatedPartitions", firing: []),
            .init(at: "7m", alert: "UnderReplicatedPartitions", firing: [["severity": "warning", "topic": "a"]]),
            .init(at: "3m", alert: "UnderMinIsrPartitions", firing: []),
            .init(at: "5m", alert: "UnderMinIsrPartitions", firing: [["severity": "critical", "topic": "a"]]),
            .init(at: "5m", alert: "OfflinePartitions", firing: []),
            .init(at: "8m", alert: "OfflinePartitions", firing: [["severity": "critical", "topic": "b"]]),
        ])
    }

    func testConnectorAlerts() throws {
        let p = try Promtool(self)
        try check(p, [
            ("cdcctl_connect_task_state{\(m),connector=\"shop\",task=\"0\",state=\"FAILED\"}", "0 0 1x30"),
            ("cdcctl_connect_task_state{\(m),connector=\"shop\",task=\"0\",state=\"RUNNING\"}", "1 1 0x30"),
            ("cdcctl_connect_connector_state{\(m),connector=\"shop\",state=\"RUNNING\"}", "1x32"),
            ("cdcctl_connect_connector_state{\(m),connector=\"shop\",state=\"PAUSED\"}", "0x32"),
            ("cdcctl_connect_connector_registered{\(m),connector=\"shop\"}", "1x32"),
            ("cdcctl_connect_connector_state{\(m),connector=\"inv\",state=\"PAUSED\"}", "0 1x31"),
            ("cdcctl_connect_connector_registered{\(m),connector=\"inv\"}", "1x32"),
            ("cdcctl_connect_connector_registered{\(m),connector=\"gone\"}", "0x32"),
        ], [
            .init(at: "2m", alert: "ConnectorTaskFailed", firing: []),
            .init(at: "4m", alert: "ConnectorTaskFailed", firing: [["severity": "critical", "connector": "shop", "task": "0"]]),
            .init(at: "10m", alert: "ConnectorNotRunning", firing: []),
            .init(at: "20m", alert: "ConnectorNotRunning", firing: [["severity": "warning", "connector": "inv"], ["severity": "warning", "connector": "gone"]]),
        ])
    }

    func testCdcFreshnessHigh() throws {
        let p = try Promtool(self)
        // orders: heartbeats keep it at ~10 s; payments stalls at minute 2 and its age climbs 60 s a minute.
        try check(p, [
            ("cdcctl_cdc_freshness_seconds{\(m),connector=\"shop\",table=\"shop.orders\"}", "10x20"),
            ("cdcctl_cdc_freshness_seconds{\(m),connector=\"shop\",table=\"shop.payments\"}", "10 10 60+60x18"),
        ], [
            .init(at: "10m", alert: "CdcFreshnessHigh", firing: []),
            .init(at: "18m", alert: "CdcFreshnessHigh", firing: [["severity": "warning", "connector": "shop", "table": "shop.payments"]]),
        ])
    }

    func testBinlogPurgeRisk() throws {
        let p = try Promtool(self)
        // Expiry 1 day; the connector stopped and its position ages 1 h a minute from 10 h; another's file is already gone.
        try check(p, [
            ("cdcctl_mysql_binlog_expire_seconds{\(m)}", "86400x20"),
            ("cdcctl_mysql_binlog_connector_position_age_seconds{\(m),connector=\"stopped\"}", "36000+3600x20"),
            ("cdcctl_mysql_binlog_connector_position_age_seconds{\(m),connector=\"fine\"}", "5x20"),
            ("cdcctl_mysql_binlog_connector_file_present{\(m),connector=\"stopped\"}", "1x20"),
            ("cdcctl_mysql_binlog_connector_file_present{\(m),connector=\"fine\"}", "1x20"),
            ("cdcctl_mysql_binlog_connector_file_present{\(m),connector=\"purged\"}", "0x20"),
        ], [
            .init(at: "2m", alert: "BinlogPurgeRisk", firing: []),
            // above half the expiry (43 200 s) from minute 3; for 5m
            .init(at: "10m", alert: "BinlogPurgeRisk", firing: [["severity": "critical", "connector": "stopped"], ["severity": "critical", "connector": "purged"]]),
        ])
        // No expiry (0: never purged): only a purged file alerts.
        try check(p, [
            ("cdcctl_mysql_binlog_expire_seconds{\(m)}", "0x20"),
            ("cdcctl_mysql_binlog_connector_position_age_seconds{\(m),connector=\"stopped\"}", "36000+3600x20"),
            ("cdcctl_mysql_binlog_connector_file_present{\(m),connector=\"stopped\"}", "1x20"),
        ], [.init(at: "15m", alert: "BinlogPurgeRisk", firing: [])])
    }

    func testSourceDriftTooManyPartsRestartsProcessorAndMonitor() throws {
        let p = try Promtool(self)
        try check(p, [
            ("cdcctl_mysql_source_check_ok{\(m),check=\"binlog_format\"}", "1 1 0x20"),
            ("cdcctl_mysql_source_check_ok{\(m),check=\"binlog_row_image\"}", "1x22"),
            ("cdcctl_clickhouse_table_active_parts{\(m),database=\"cdc\",table=\"trades\"}", "100 400x21"),
            ("cdcctl_clickhouse_table_active_parts{\(m),database=\"cdc\",table=\"alerts\"}", "12x22"),
            ("cdcctl_container_restarts_total{\(m),cluster=\"c\",service=\"connect\"}", "0 0 1 2 3 4 4x16"),
            ("cdcctl_container_restarts_total{\(m),cluster=\"c\",service=\"mysql\"}", "0 0 1 1x18"),
            ("cdcctl_processor_up{\(m),address=\"p\"}", "1 1 0x20"),
            ("cdcctl_monitor_collector_up{\(m),collector=\"mysql\"}", "1 0x21"),
            ("cdcctl_monitor_collector_up{\(m),collector=\"kafka\"}", "1x22"),
            ("up{\(m)}", "1 1 1 0x19"),
        ], [
            .init(at: "5m", alert: "SourceConfigDrift", firing: []),
            .init(at: "8m", alert: "SourceConfigDrift", firing: [base.merging(["severity": "warning", "check": "binlog_format"]) { a, _ in a }]),
            .init(at: "10m", alert: "ClickHouseTooManyParts", firing: []),
            .init(at: "17m", alert: "ClickHouseTooManyParts", firing: [["severity": "warning", "table": "trades"]]),
            .init(at: "6m", alert: "ContainerRestarting", firing: [base.merging(["severity": "warning", "cluster": "c", "service": "connect"]) { a, _ in a }]),
            .init(at: "3m", alert: "ProcessorNotRunning", firing: []),
            .init(at: "5m", alert: "ProcessorNotRunning", firing: [base.merging(["severity": "critical", "address": "p"]) { a, _ in a }]),
            .init(at: "7m", alert: "MonitorCollectorFailing", firing: [base.merging(["severity": "warning", "collector": "mysql"]) { a, _ in a }]),
            .init(at: "6m", alert: "MonitorDown", firing: []),
            .init(at: "9m", alert: "MonitorDown", firing: [base.merging(["severity": "critical"]) { a, _ in a }]),
        ])
    }

    func testDiskAlerts() throws {
        let p = try Promtool(self)
        let gib = 1_073_741_824.0
        // kafka's filesystem loses 1 GiB an hour from 20 GiB free (empty in 20 h < 24 h); mysql's is steady at 30 % used.
        let fill = (0...480).map { String(Int(20 * gib - Double($0) * gib / 60)) }.joined(separator: " ")
        try check(p, [
            ("cdcctl_disk_filesystem_avail_bytes{\(m),service=\"kafka-1\",volume=\"cdc_kafka-1-data\"}", fill),
            ("cdcctl_disk_filesystem_size_bytes{\(m),service=\"kafka-1\",volume=\"cdc_kafka-1-data\"}", "\(Int(500 * gib))x480"),
            ("cdcctl_disk_filesystem_avail_bytes{\(m),service=\"mysql\",volume=\"cdc_mysql-data\"}", "\(Int(70 * gib))x480"),
            ("cdcctl_disk_filesystem_size_bytes{\(m),service=\"mysql\",volume=\"cdc_mysql-data\"}", "\(Int(100 * gib))x480"),
        ], [
            .init(at: "20m", alert: "DiskFillingUp", firing: []),
            .init(at: "7h", alert: "DiskFillingUp", firing: [base.merging(["severity": "warning", "service": "kafka-1", "volume": "cdc_kafka-1-data"]) { a, _ in a }]),
            // 500 GiB with under 20 GiB free: above 85 % used. mysql at 30 % stays quiet.
            .init(at: "30m", alert: "DiskAlmostFull", firing: [base.merging(["severity": "critical", "service": "kafka-1", "volume": "cdc_kafka-1-data"]) { a, _ in a }]),
        ])
    }

    /// The existing ProcessorLagHigh now has a series to fire on: the monitor's cdcctl_processor_consumer_lag.
    func testProcessorLagHighFiresOnTheMonitorsLag() throws {
        let p = try Promtool(self)
        try check(p, [("cdcctl_processor_consumer_lag{\(m),topic=\"trades.raw\"}", "10 200000x10")], [
            .init(at: "3m", alert: "ProcessorLagHigh", firing: []),
            .init(at: "7m", alert: "ProcessorLagHigh", firing: [["severity": "warning", "topic": "trades.raw"]]),
        ])
    }
}
