import Connect
import Diagnostics
import Foundation
import HTTP
import Kafka
import Manifest
import Render
import Runtime
import State

public struct ServiceReport: Sendable, Codable, Equatable {
    public var service: String
    public var state: String
    public var health: String
    public var memoryMiB: Double?
    public var memoryLimitMiB: Double?
    public var ports: [String]
    public var image: String
    public var startedAt: String
    public var restarts: Int
}

public struct KafkaReport: Sendable, Codable, Equatable {
    public var brokersLive: Int
    public var brokersExpected: Int
    /// Each broker, probed directly (a killed one is down at once, not after it is fenced).
    public var brokers: [BrokerState]
    /// The active controller, only when something can tell it truthfully: never, so far (see
    /// `controllerNote`). A wrong id is worse than none.
    public var controller: Int32?
    public var controllerNote: String
    public var partitions: Int
    /// Under-replicated, under-min-ISR and leaderless partitions, missing topics.
    public var problems: [String]
    public var error: String?
}

public struct ConnectorReport: Sendable, Codable, Equatable {
    public var name: String
    public var state: String
    public var tasks: String
    public var error: String?
}

public struct TableRows: Sendable, Codable, Equatable {
    public var table: String
    public var rows: Int64
}

public struct ClickHouseReport: Sendable, Codable, Equatable {
    public var reachable: Bool
    public var database: String
    public var tables: [TableRows]
    public var error: String?
}

public struct StatusReport: Sendable, Codable {
    public var cluster: String
    public var projectDir: String
    public var clusterState: String
    public var lastUpAtMs: Int64?
    public var lastDownAtMs: Int64?
    public var services: [ServiceReport]
    public var kafka: KafkaReport
    public var connectors: [ConnectorReport]
    public var clickhouse: ClickHouseReport
    public var problems: [String]
    public var healthy: Bool { problems.isEmpty }
}

/// `cdcctl status`: containers (state, health, memory vs limit), Kafka (brokers, controller,
/// unhealthy partitions), connectors and tasks, ClickHouse (reachable, row counts). Never
/// throws for an unhealthy or unreachable part: it becomes a problem in the report.
public enum StatusOperation {
    public static func run(_ ws: Workspace, runtime makeRuntime: UpOperation.RuntimeFactory = UpOperation.dockerCompose) throws -> StatusReport {
        let loaded = try ws.loadManifest()
        let m = loaded.manifest
        let store = try ws.openState()
        let record = try store.cluster(named: m.cluster.name)
        let dir = record?.projectDir ?? UpOperation.projectDir(ws, cluster: m.cluster.name)
        var problems: [String] = []

        let services = containerReports(makeRuntime(ComposeProject(name: m.cluster.name, directory: dir), ws.environment.variables),
                                        expected: StackLayout.services(m), problems: &problems)
        let kafka = kafkaReport(m)
        if let error = kafka.error { problems.append("kafka: \(error)") }
        problems += kafka.problems.map { "kafka: \($0)" }
        let connectors = connectorReports(m)
        problems += connectors.filter { $0.error != nil || $0.state != "RUNNING" || $0.tasks.contains("FAILED") || $0.tasks == "none" }
            .map { "connector \($0.name): \($0.error ?? "\($0.state), tasks \($0.tasks)")" }
        let clickhouse = clickhouseReport(ws, m)
        if let error = clickhouse.error { problems.append("clickhouse: \(error)") }

        return StatusReport(cluster: m.cluster.name, projectDir: dir, clusterState: record?.status ?? "never rendered",
                            lastUpAtMs: record?.lastUpAtMs, lastDownAtMs: record?.lastDownAtMs, services: services,
                            kafka: kafka, connectors: connectors, clickhouse: clickhouse, problems: problems)
    }

    static func containerReports(_ runtime: Runtime, expected: [String], problems: inout [String]) -> [ServiceReport] {
        let statuses: [ServiceStatus]
        do {
            _ = try runtime.check()
            statuses = try runtime.services()
        } catch {
            problems.append("containers: \(String(describing: error).split(separator: "\n").first ?? "")")
            return []
        }
        let stats = Dictionary(((try? runtime.stats()) ?? []).map { ($0.container, $0) }, uniquingKeysWith: { a, _ in a })
        var reports = statuses.map { s -> ServiceReport in
            let st = stats[s.container]
            let limit = s.memoryLimitBytes > 0 ? s.memoryLimitBytes : (st?.memoryLimitBytes ?? 0)
            return ServiceReport(service: s.service, state: s.state, health: s.verdict.rawValue,
                                 memoryMiB: st.map { Double($0.memoryBytes) / 1_048_576 },
                                 memoryLimitMiB: limit > 0 ? Double(limit) / 1_048_576 : nil,
                                 ports: s.ports.map(\.description), image: s.image, startedAt: s.startedAt, restarts: s.restartCount)
        }
        for r in reports where !ServiceHealth(rawValue: r.health).map(\.isReady)! {
            problems.append("service \(r.service): \(r.health)")
        }
        for name in expected where !statuses.contains(where: { $0.service == name }) {
            reports.append(ServiceReport(service: name, state: "missing", health: ServiceHealth.missing.rawValue, memoryMiB: nil,
                                         memoryLimitMiB: nil, ports: [], image: "", startedAt: "", restarts: 0))
            problems.append("service \(name): no container (run cdcctl up)")
        }
        let order = Dictionary(expected.enumerated().map { ($1, $0) }, uniquingKeysWith: { a, _ in a })
        return reports.sorted { (order[$0.service] ?? Int.max, $0.service) < (order[$1.service] ?? Int.max, $1.service) }
    }

    static func kafkaReport(_ m: Manifest) -> KafkaReport {
        do {
            let op = try TopicsOperation(manifest: m, timeoutMs: 5000)
            let health = try op.health()
            return KafkaReport(brokersLive: health.brokersLive, brokersExpected: health.brokersExpected, brokers: health.brokers,
                               controller: nil, controllerNote: controllerNote, partitions: health.partitions.count,
                               problems: health.problems, error: nil)
        } catch {
            return KafkaReport(brokersLive: 0, brokersExpected: m.kafka.brokers, brokers: [], controller: nil, controllerNote: controllerNote,
                               partitions: 0, problems: [], error: "unreachable at \(m.access.kafkaBootstrap) (\(firstLine(error)))")
        }
    }

    /// Why no controller id is shown. In KRaft a broker answers both Metadata and DescribeCluster
    /// (librdkafka ≥ 2.3) with a random live broker as "controller" (KafkaApis:
    /// `KRaftCachedControllerId(_) => metadataCache.getRandomAliveBrokerId`); only the quorum
    /// (DescribeQuorum, which librdkafka lacks) knows the active controller.
    public static let controllerNote = "not shown: KRaft brokers name a random live broker as controller; "
        + "ask the quorum: kafka-metadata-quorum.sh --bootstrap-server kafka-1:19092 describe --status"

    static func connectorReports(_ m: Manifest) -> [ConnectorReport] {
        let client = ConnectClient(baseURL: m.access.connectURL)
        return m.connect.connectors.map { c in
            do {
                guard let s = try client.status(c.name) else {
                    return ConnectorReport(name: c.name, state: "NOT REGISTERED", tasks: "none", error: "not registered (cdcctl connector register \(c.name))")
                }
                return ConnectorReport(name: c.name, state: s.state,
                                       tasks: s.tasks.isEmpty ? "none" : s.tasks.map { "\($0.id):\($0.state)" }.joined(separator: " "), error: nil)
            } catch {
                return ConnectorReport(name: c.name, state: "UNKNOWN", tasks: "-", error: "Kafka Connect unreachable at \(m.access.connectURL) (\(firstLine(error)))")
            }
        }
    }

    static func clickhouseReport(_ ws: Workspace, _ m: Manifest) -> ClickHouseReport {
        let http = HTTPClient(retries: 0)
        let base = m.access.clickhouseURL.hasSuffix("/") ? String(m.access.clickhouseURL.dropLast()) : m.access.clickhouseURL
        var report = ClickHouseReport(reachable: false, database: m.clickhouse.database, tables: [], error: nil)
        do {
            let ping = try http.send(HTTPRequest("GET", base + "/ping", timeoutSeconds: 5))
            guard ping.status == 200 else {
                report.error = "GET /ping answered HTTP \(ping.status)"
                return report
            }
            report.reachable = true
        } catch {
            report.error = "unreachable at \(base) (\(firstLine(error)))"
            return report
        }
        var headers: [(String, String)] = []
        if let secrets = try? ws.resolveSecrets(m) {
            headers = [("X-ClickHouse-User", m.access.clickhouseUser), ("X-ClickHouse-Key", secrets.clickhousePassword)]
        }
        let query = "SELECT name, total_rows FROM system.tables WHERE database = '\(m.clickhouse.database.replacingOccurrences(of: "'", with: "\\'"))' ORDER BY name FORMAT TSV"
        do {
            let r = try http.send(HTTPRequest("POST", base + "/", headers: headers, body: Array(query.utf8), timeoutSeconds: 10))
            guard r.status == 200 else {
                report.error = "row counts: HTTP \(r.status) \(r.text.split(separator: "\n").first ?? "")"
                return report
            }
            report.tables = r.text.split(separator: "\n").compactMap { line in
                let cols = line.split(separator: "\t", omittingEmptySubsequences: false)
                guard cols.count >= 2 else { return nil }
                return TableRows(table: String(cols[0]), rows: Int64(cols[1]) ?? 0)
            }
        } catch {
            report.error = "row counts: \(firstLine(error))"
        }
        return report
    }

    static func firstLine(_ error: Error) -> String { String(String(describing: error).split(separator: "\n").first ?? "") }
}
