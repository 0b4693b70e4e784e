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

/// `cdcctl process run | status` and `cdcctl bench processor`.
public enum ProcessOperation {
    /// Runs until SIGTERM/SIGINT (or `exitWhenIdleSeconds` without input), serving /metrics.
    public static func run(_ ws: Workspace, manifest m: Manifest, metricsPort: Int?, exitWhenIdleSeconds: Double?,
                           log: @escaping (String) -> Void) throws -> RuntimeMetrics.Snapshot {
        let stop = StopFlag()
        let signals = [SIGTERM, SIGINT].map { sig -> DispatchSourceSignal in
            signal(sig, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: sig, queue: .global())
            source.setEventHandler {
                log("processor: signal \(sig), flushing and committing before exit")
                stop.set()
            }
            source.resume()
            return source
        }
        defer { signals.forEach { $0.cancel() } }
        let p = m.processor
        let runner = ProcessorRunner(
            options: .init(bootstrap: m.access.kafkaBootstrap, group: p.consumerGroup, clickhouse: ws.clickhouse(m, secrets: try ws.resolveSecrets(m)),
                           database: m.clickhouse.database, flushIntervalMs: p.flushIntervalMs, batchMaxRows: p.batchMaxRows,
                           maxBufferedEvents: p.maxBufferedEvents, exitWhenIdleSeconds: exitWhenIdleSeconds),
            config: ProcessorConfig(manifest: m), stop: stop, log: log)
        let port = metricsPort ?? p.metricsPort
        let server: MetricsServer
        do {
            let metrics = runner.metrics
            server = try MetricsServer(port: port) { metrics.render() }
        } catch {
            throw CdcError.invalid("\(error.localizedDescription)", subject: "processor.metricsPort",
                                   fix: "another process holds port \(port): stop it or choose another port (--metrics-port)")
        }
        log("processor: metrics on http://127.0.0.1:\(server.port)/metrics")
        try runner.run()
        return runner.metrics.snapshot()
    }

    public struct Status: Sendable, Codable {
        public var group: String
        public var running: Bool
        public var metricsURL: String
        public var partitions: [PartitionLag]
        public var eventsIn: Int?
    }

    /// Committed offsets and lag of the processor's group, and whether its /metrics answers.
    public static func status(_ m: Manifest, metricsPort: Int?) throws -> Status {
        let admin = try KafkaAdmin(KafkaSettings(bootstrap: m.access.kafkaBootstrap))
        let config = ProcessorConfig(manifest: m)
        let lag = try admin.groupLag(group: m.processor.consumerGroup,
                                     topics: [config.tradesTopic, config.ordersTopic, config.executionsTopic])
        let url = "http://127.0.0.1:\(metricsPort ?? m.processor.metricsPort)/metrics"
        let response = try? HTTPClient(retries: 0).send(HTTPRequest("GET", url, timeoutSeconds: 2))
        let events = response?.text.split(separator: "\n").first { $0.hasPrefix("cdcctl_processor_events_in_total ") }
            .flatMap { Int($0.split(separator: " ").last ?? "") }
        return Status(group: m.processor.consumerGroup, running: response?.status == 200, metricsURL: url, partitions: lag, eventsIn: events)
    }
}
