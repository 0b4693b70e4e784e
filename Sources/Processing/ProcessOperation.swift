import OperationsCore
import ClickHouse
import Diagnostics
import Foundation
import HTTP
import Kafka
import Manifest
import Processor
import ProcessorRuntime
import Render
import Telemetry

/// `cdcctl process run | status` and `cdcctl bench processor`.
public enum ProcessOperation {
    /// Runs until SIGTERM/SIGINT (or `exitWhenIdleSeconds` without input), serving /metrics.
    public static func run(_ ws: Workspace, manifest m: Manifest, metricsPort: Int?, exitWhenIdleSeconds: Double?,
                           log: @escaping (String) -> Void) throws -> RuntimeMetrics.Snapshot {
        let p = m.processor
        let port = metricsPort ?? p.metricsPort
        let portSource = metricsPort == nil ? "processor.metricsPort" : "--metrics-port"
        // Bad input fails before anything starts (exit 2, journaled), never as a trap.
        try MetricsServer.validatePort(port, source: portSource)
        let runner = ProcessorRunner(
            options: .init(bootstrap: m.access.kafkaBootstrap, group: p.consumerGroup, clickhouse: ws.clickhouseWriter(m, secrets: try ws.resolveSecrets(m)),
                           database: m.clickhouse.database, flushIntervalMs: p.flushIntervalMs, batchMaxRows: p.batchMaxRows,
                           maxBufferedEvents: p.maxBufferedEvents, exitWhenIdleSeconds: exitWhenIdleSeconds,
                           idleTimeoutSeconds: Double(p.idleTimeoutSeconds)),
            config: ProcessorConfig(manifest: m), log: log)
        let metrics = runner.metrics
        let server = try MetricsServer.scrapedByTheStack(port: port, source: portSource) { metrics.render() }
        log("processor: metrics on " + server.addresses.map { "http://\($0):\(server.port)/metrics" }.joined(separator: " and "))
        try ServiceHost.run(runner, log: log)
        return runner.metrics.snapshot()
    }

    public struct Status: Sendable, Codable {
        public var group: String
        public var running: Bool
        public var metricsURL: String
        public var partitions: [PartitionLag]
        public var eventsIn: Int?
        /// Where restarts find their place on this broker: `kafka-commit-metadata` or
        /// `clickhouse-checkpoints` (the broker drops commit metadata).
        public var recoveryMode: String?
    }

    /// Committed offsets and lag of the processor's group, and whether its /metrics answers.
    public static func status(_ m: Manifest, metricsPort: Int?) throws -> Status {
        if let metricsPort { try MetricsServer.validatePort(metricsPort, source: "--metrics-port") }
        let admin = try KafkaAdmin(KafkaSettings(bootstrap: m.access.kafkaBootstrap))
        let config = ProcessorConfig(manifest: m)
        let lag = try admin.groupLag(group: m.processor.consumerGroup,
                                     topics: [config.tradesTopic, config.ordersTopic, config.executionsTopic])
        let url = "http://127.0.0.1:\(metricsPort ?? m.processor.metricsPort)/metrics"
        let response = try? HTTPClient(retries: 0).send(HTTPRequest("GET", url, timeoutSeconds: 2))
        let events = response?.text.split(separator: "\n").first { $0.hasPrefix("cdcctl_processor_events_in_total ") }
            .flatMap { Int($0.split(separator: " ").last ?? "") }
        let mode = try? ProcessorRunner.probeRecoveryMode(bootstrap: m.access.kafkaBootstrap, group: m.processor.consumerGroup,
                                                          topic: config.tradesTopic)
        return Status(group: m.processor.consumerGroup, running: response?.status == 200, metricsURL: url, partitions: lag, eventsIn: events,
                      recoveryMode: mode?.rawValue)
    }
}
