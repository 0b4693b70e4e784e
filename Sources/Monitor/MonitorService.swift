import Diagnostics
import Foundation
import Manifest
import OperationsCore
import Synchronization
import Telemetry

/// `cdcctl monitor`: the whole stack's figures on one /metrics, for what has no exporter of its
/// own (Kafka, Connect/Debezium, MySQL's binlogs, ClickHouse's parts, containers, disk).
public enum MonitorOperation {
    public struct Options: Sendable {
        /// Per collector, and so per scrape: nothing waits longer.
        public var timeoutSeconds: Double = 5
        /// Collectors to leave out (`containers`, `disk`, …), e.g. where no Docker engine runs.
        public var skip: Set<String> = []
        /// Extra data directories to measure (`service=path`), for servers that do not run in containers.
        public var directories: [(service: String, path: String)] = []
        public init() {}
    }

    public static let collectorNames = ["kafka", "connect", "freshness", "mysql", "clickhouse", "processor", "containers", "disk"]

    public static func collectors(_ ws: Workspace, options: Options) throws -> [any Collector] {
        let m = try ws.loadManifest().manifest
        let secrets = try ws.resolveSecrets(m, persist: false)
        // Opened (and migrated) once here: the containers and disk collectors read it concurrently.
        _ = try ws.openState()
        let t = options.timeoutSeconds
        // Each collector bounds its own calls below the runner's deadline, so a slow server ends
        // as that collector's error (and its `_up 0`) rather than as an abandoned thread.
        let inner = max(1, t - 0.5)
        let all: [any Collector] = [
            KafkaCollector(manifest: m, timeoutMs: Int32(inner * 1000 / 2)),
            ConnectCollector(manifest: m, timeout: inner),
            FreshnessCollector(manifest: m, timeoutMs: Int32(inner * 1000 / 2)),
            MySQLCollector(manifest: m, rootPassword: secrets.mysqlRootPassword, cdcPassword: secrets.mysqlCdcPassword, timeout: inner),
            ClickHouseCollector(config: ws.clickhouse(m, secrets: secrets, timeoutSeconds: inner), database: m.clickhouse.database),
            ProcessorCollector(port: m.processor.metricsPort, timeout: min(inner, 2)),
            ContainerCollector(workspace: ws),
            DiskCollector(workspace: ws, cluster: m.cluster.name, extraDirectories: options.directories),
        ]
        return all.filter { !options.skip.contains($0.name) }
    }

    /// One scrape's text: every collector's families, their `_up`/duration, and the scrape's own time.
    public static func scrape(_ runner: CollectorRunner) -> (text: String, outcomes: [CollectorOutcome]) {
        let t0 = Date()
        let outcomes = runner.run()
        var e = Exposition()
        e.append(raw: CollectorRunner.exposition(outcomes))
        e.gauge("cdcctl_monitor_scrape_duration_seconds", "Wall time of this scrape (bounded by the per-collector timeout).",
                (Date().timeIntervalSince(t0) * 1000).rounded() / 1000)
        return (e.text, outcomes)
    }
}

/// The long-running monitor: serves a fresh scrape on every GET /metrics until stopped.
public final class MonitorService: Service {
    public let name = "monitor"
    let runner: CollectorRunner
    let host: String
    let port: Int
    /// What chose the address, for errors (`--listen` or `monitor.port`).
    let source: String
    let log: @Sendable (String) -> Void
    final class Failing: Sendable { let names = Mutex<Set<String>>([]) }
    let lastFailures = Failing()

    public init(runner: CollectorRunner, host: String, port: Int, source: String = "--listen", log: @escaping @Sendable (String) -> Void) {
        self.runner = runner
        self.host = host
        self.port = port
        self.source = source
        self.log = log
    }

    /// The default (loopback) also listens on the Docker bridge, where the stack's Prometheus
    /// reaches the host (`host.docker.internal`); any other --listen is taken as it is.
    static func server(host: String, port: Int, source: String, body: @escaping @Sendable () -> String) throws -> MetricsServer {
        host == "127.0.0.1" ? try MetricsServer.scrapedByTheStack(port: port, source: source, body: body)
                            : try MetricsServer(host: host, port: port, source: source, body: body)
    }

    public func run(until stop: StopFlag) throws {
        let runner = self.runner
        let log = self.log
        let lastFailures = self.lastFailures
        let server = try Self.server(host: host, port: port, source: source) {
            let (text, outcomes) = MonitorOperation.scrape(runner)
            // One stderr line when a collector starts or stops failing, not one per scrape.
            let failing = Set(outcomes.filter { $0.status != .ok }.map(\.name))
            let changed = lastFailures.names.withLock { old -> (new: [String], back: [String]) in
                defer { old = failing }
                return (failing.subtracting(old).sorted(), old.subtracting(failing).sorted())
            }
            for o in outcomes where changed.new.contains(o.name) { log("monitor: \(o.name) \(o.status.rawValue): \(o.error ?? "")") }
            for n in changed.back { log("monitor: \(n) answers again") }
            return text
        }
        log("monitor: serving http://\(host):\(server.port)/metrics (\(runner.collectors.map(\.name).joined(separator: ", ")); \(Exposition.format(runner.timeout)) s per collector)")
        while !stop.isSet { usleep(200_000) }
        withExtendedLifetime(server) {}
        log("monitor: stopped (\(stop.reason ?? "done"))")
    }

    /// `HOST:PORT`, `:PORT` or `PORT` (host 127.0.0.1); CdcError naming --listen otherwise.
    public static func parseListen(_ s: String) throws -> (host: String, port: Int) {
        let parts = s.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
        let host = parts.count == 2 && !parts[0].isEmpty ? parts[0] : "127.0.0.1"
        guard parts.count <= 2, let port = Int(parts.last ?? ""), (1...65535).contains(port),
              host.split(separator: ".").count == 4, host.split(separator: ".").allSatisfy({ UInt8($0) != nil }) else {
            throw CdcError.invalid("--listen \(s): expected HOST:PORT with an IPv4 address and a port 1-65535 (e.g. 127.0.0.1:9402)",
                                   subject: "--listen", fix: "e.g. --listen 127.0.0.1:9402, or leave --listen out to serve on the manifest's monitor.port")
        }
        return (host, port)
    }
}
