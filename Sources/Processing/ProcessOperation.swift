import OperationsCore
import ClickHouse
import Diagnostics
import Foundation
import HTTP
import Kafka
import Manifest
import Processor
import Postgres
import PostgresSink
import ProcessorRuntime
import Render
import Telemetry

/// `cdcctl process run | status` and `cdcctl bench processor`.
public enum ProcessOperation {
    /// What a run did, per sink loop that ran.
    public struct RunResult: Sendable {
        public var clickhouse: RuntimeMetrics.Snapshot?
        public var postgres: PostgresSinkMetrics.Snapshot?
    }

    /// Runs until SIGTERM/SIGINT (or `exitWhenIdleSeconds` without input), serving /metrics:
    /// the ClickHouse loop and/or the PostgreSQL loop, as `processor.sinks` says, side by side
    /// on one stop flag (docs/postgres.md).
    public static func run(_ ws: Workspace, manifest m: Manifest, metricsPort: Int?, exitWhenIdleSeconds: Double?,
                           log: @escaping (String) -> Void) throws -> RunResult {
        let p = m.processor
        let port = metricsPort ?? p.metricsPort
        let portSource = metricsPort == nil ? "processor.metricsPort" : "--metrics-port"
        // Bad input fails before anything starts (exit 2, journaled), never as a trap.
        try MetricsServer.validatePort(port, source: portSource)
        let secrets = try ws.resolveSecrets(m)
        let config = ProcessorConfig(manifest: m)
        var services: [any Service] = []
        var clickhouse: ProcessorRunner?
        var postgres: PostgresSinkRunner?
        if m.clickhouseSinkEnabled {
            let runner = ProcessorRunner(
                options: .init(bootstrap: m.access.kafkaBootstrap, group: p.consumerGroup, clickhouse: ws.clickhouseWriter(m, secrets: secrets),
                               database: m.clickhouse.database, flushIntervalMs: p.flushIntervalMs, batchMaxRows: p.batchMaxRows,
                               maxBufferedEvents: p.maxBufferedEvents, exitWhenIdleSeconds: exitWhenIdleSeconds,
                               idleTimeoutSeconds: Double(p.idleTimeoutSeconds)),
                config: config, log: log)
            clickhouse = runner
            services.append(runner)
        }
        if m.postgresEnabled {
            let endpoint = ws.postgres(m, secrets: secrets, applicationName: "cdcctl-processor")
            let runner = PostgresSinkRunner(
                options: .init(bootstrap: m.access.kafkaBootstrap, group: postgresGroup(m), ordersTopic: config.ordersTopic,
                               executionsTopic: config.executionsTopic, endpoint: endpoint, batchMaxRecords: m.postgres.batchMaxRecords,
                               exitWhenIdleSeconds: exitWhenIdleSeconds),
                log: log)
            postgres = runner
            services.append(runner)
        }
        let chMetrics = clickhouse?.metrics, pgMetrics = postgres?.metrics
        let server = try MetricsServer.scrapedByTheStack(port: port, source: portSource) {
            (chMetrics?.render() ?? "") + (pgMetrics?.render() ?? "")
        }
        log("processor: metrics on " + server.addresses.map { "http://\($0):\(server.port)/metrics" }.joined(separator: " and "))
        log("processor: sinks \(p.sinks.joined(separator: ", "))")
        try ServiceHost.run(ServiceGroup(services), log: log)
        return RunResult(clickhouse: clickhouse?.metrics.snapshot(), postgres: postgres?.metrics.snapshot())
    }

    /// The PostgreSQL loop's consumer group: its own, beside the ClickHouse loop's.
    public static func postgresGroup(_ m: Manifest) -> String { m.processor.consumerGroup + ".postgres" }

    public struct Status: Sendable, Codable {
        public var group: String
        public var running: Bool
        public var metricsURL: String
        public var partitions: [PartitionLag]
        public var eventsIn: Int?
        /// Where restarts find their place on this broker: `kafka-commit-metadata` or
        /// `clickhouse-checkpoints` (the broker drops commit metadata).
        public var recoveryMode: String?
        /// The PostgreSQL loop's position, when processor.sinks has postgres.
        public var postgres: PostgresStatus?
    }

    /// The PostgreSQL loop's offsets as PostgreSQL stores them (the position that counts),
    /// against the partitions' high watermarks.
    public struct PostgresStatus: Sendable, Codable {
        public var group: String
        public var database: String
        public var partitions: [PartitionLag]
        /// Why the offsets could not be read (PostgreSQL down, schema not applied), if so.
        public var problem: String?
    }

    static func postgresStatus(_ ws: Workspace, _ m: Manifest, admin: KafkaAdmin, config: ProcessorConfig) -> PostgresStatus {
        let group = postgresGroup(m)
        let topics = [config.ordersTopic, config.executionsTopic]
        // The group's Kafka commits (best effort, after each COMMIT) give the high watermarks.
        let kafka = (try? admin.groupLag(group: group, topics: topics)) ?? []
        var out = PostgresStatus(group: group, database: m.postgres.database, partitions: [], problem: nil)
        do {
            let secrets = try ws.resolveSecrets(m, persist: false)
            let pg = try PostgresConnection(ws.postgres(m, secrets: secrets))
            let stored = try PostgresSinkRunner.storedOffsets(pg, group: group)
            out.partitions = kafka.map { k in
                var l = k
                l.committed = stored.first { $0.topic == k.topic && $0.partition == k.partition }?.offset ?? -1
                l.lag = max(0, k.highWatermark - max(l.committed, 0))
                return l
            }
        } catch {
            out.partitions = kafka
            out.problem = CdcError.bridging(error).message
        }
        return out
    }

    /// Committed offsets and lag of the processor's group, and whether its /metrics answers.
    public static func status(_ m: Manifest, metricsPort: Int?, workspace: Workspace? = nil) throws -> Status {
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
                      recoveryMode: mode?.rawValue,
                      postgres: m.postgresEnabled ? workspace.map { postgresStatus($0, m, admin: admin, config: config) } : nil)
    }
}
