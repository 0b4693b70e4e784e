import TopicAdmin
import OperationsCore
import ClickHouse
import Connect
import Diagnostics
import Foundation
import HTTP
import HostServices
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
    /// Registered, RUNNING, with every task RUNNING (judged from Connect's states, not from `tasks`).
    public var healthy: Bool
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
    /// Whether the cluster runs on this Docker engine (it has containers, or `cdcctl up` started
    /// it); a cluster whose servers run elsewhere shows no container table.
    public var runsOnDocker: Bool
    /// One plain sentence when nothing of the cluster is there at all.
    public var summary: String?
    public var problems: [StatusProblem]
    /// The host processes' systemd units (processor, producers, monitor) when they are installed.
    public var hostUnits: [UnitState]?
    public var healthy: Bool { problems.isEmpty }
}

/// What is wrong, with the command or setting that fixes it.
public struct StatusProblem: Sendable, Codable, Equatable, CustomStringConvertible {
    public var subject: String
    public var message: String
    public var fix: String

    public init(_ subject: String, _ message: String, fix: String) {
        self.subject = subject
        self.message = message
        self.fix = fix
    }

    public var description: String { "\(subject): \(message)" }
}

/// What the containers look like: the engine's answer, or why there is none.
public struct ContainerObservation: Sendable, Equatable {
    public var engineError: String?
    public var reports: [ServiceReport]
    public var problems: [StatusProblem]
    /// Containers of the project exist (running or not).
    public var any: Bool
}

/// `cdcctl status`: containers (state, health, memory vs limit), Kafka (brokers, controller,
/// unhealthy partitions), connectors and tasks, ClickHouse (reachable, row counts). Never
/// throws for an unhealthy or unreachable part: it becomes a problem in the report.
public enum StatusOperation {
    public static func run(_ ws: Workspace, runtime makeRuntime: UpOperation.RuntimeFactory = UpOperation.dockerCompose) throws -> StatusReport {
        let loaded = try ws.loadManifest()
        let m = loaded.manifest
        let record = try ws.existingState()?.cluster(named: m.cluster.name)
        let dir = record?.projectDir ?? UpOperation.projectDir(ws, cluster: m.cluster.name)
        // The four parts are independent and each is bounded by its own timeouts: asked at once,
        // status takes the slowest part's time, not their sum (`docker stats` alone samples ~2 s,
        // and a part that is down costs its whole timeout).
        let runtime = makeRuntime(ComposeProject(name: m.cluster.name, directory: dir), ws.environment.variables)
        let password = (try? ws.resolveSecrets(m, persist: false))?.clickhousePassword ?? ""
        let clickhouseServer = ws.clickhouse(m, secrets: password, timeoutSeconds: 10)
        let c = Locked<ContainerObservation?>(nil), k = Locked<KafkaReport?>(nil)
        let n = Locked<[ConnectorReport]?>(nil), h = Locked<ClickHouseReport?>(nil)
        DispatchQueue.concurrentPerform(iterations: 4) { part in
            switch part {
            case 0: c.set(containerReports(runtime, expected: StackLayout.services(m)))
            case 1: k.set(kafkaReport(m))
            case 2: n.set(connectorReports(m))
            default: h.set(clickhouseReport(clickhouseServer, database: m.clickhouse.database))
            }
        }
        // concurrentPerform has returned: every part has set its value.
        let (containers, kafka, connectors, clickhouse) = (c.get()!, k.get()!, n.get()!, h.get()!)
        let flag = ws.commandFlags
        let verdict = judge(cluster: m.cluster.name, containers: containers, startedByUp: record?.lastUpAtMs != nil, kafka: kafka,
                            connectors: connectors, clickhouse: clickhouse,
                            addresses: "Kafka \(m.access.kafkaBootstrap), Connect \(m.access.connectURL), ClickHouse \(m.access.clickhouseURL)",
                            flag: flag)
        return StatusReport(cluster: m.cluster.name, projectDir: dir, clusterState: record?.status ?? "never started with cdcctl up",
                            lastUpAtMs: record?.lastUpAtMs, lastDownAtMs: record?.lastDownAtMs,
                            services: verdict.runsOnDocker ? containers.reports : [], kafka: kafka, connectors: connectors,
                            clickhouse: clickhouse, runsOnDocker: verdict.runsOnDocker, summary: verdict.summary, problems: verdict.problems,
                            hostUnits: SystemdStatus.read(cluster: m.cluster.name))
    }

    /// The verdict, pure: every problem with its fix; "nothing is running" said once, plainly,
    /// instead of one raw connection error per part; container problems only for a cluster that
    /// runs on Docker.
    static func judge(cluster: String, containers: ContainerObservation, startedByUp: Bool, kafka: KafkaReport,
                      connectors: [ConnectorReport], clickhouse: ClickHouseReport, addresses: String, flag: String)
        -> (runsOnDocker: Bool, summary: String?, problems: [StatusProblem]) {
        let nothingAnswers = kafka.error != nil && !clickhouse.reachable && connectors.allSatisfy { $0.state == "UNKNOWN" }
        if !containers.any && nothingAnswers {
            return (startedByUp, "nothing is running for cluster \(cluster)",
                    [StatusProblem("cluster \(cluster)", "no container of it exists and none of its servers answers (\(addresses))",
                                   fix: "cdcctl\(flag) up starts it")])
        }
        let runsOnDocker = containers.any || startedByUp
        var problems: [StatusProblem] = []
        if runsOnDocker {
            if let error = containers.engineError {
                problems.append(StatusProblem("containers", error, fix: "start the Docker engine (cdcctl up says how), then cdcctl\(flag) status"))
            }
            problems += containers.problems
        }
        if let error = kafka.error {
            problems.append(StatusProblem("kafka", error, fix: "cdcctl\(flag) up starts the brokers; access.kafkaBootstrap in the manifest says where cdcctl looks"))
        }
        problems += kafka.problems.map { StatusProblem("kafka", $0, fix: "cdcctl\(flag) topics health shows each partition") }
        for c in connectors where !c.healthy {
            let fix = c.state == "NOT REGISTERED" ? "cdcctl\(flag) connector register \(c.name)"
                : c.state == "UNKNOWN" ? "start Kafka Connect (cdcctl\(flag) up), or fix access.connectURL"
                : "cdcctl\(flag) connector status \(c.name) shows the trace; then cdcctl\(flag) connector restart \(c.name) --include-tasks --only-failed"
            problems.append(StatusProblem("connector \(c.name)", c.error ?? "\(c.state), tasks \(c.tasks)", fix: fix))
        }
        if let error = clickhouse.error {
            problems.append(StatusProblem("clickhouse", error, fix: clickhouse.reachable
                ? "check access.clickhouseUser and secrets.clickhousePassword; cdcctl\(flag) schema status"
                : "cdcctl\(flag) up starts ClickHouse; access.clickhouseURL says where cdcctl looks"))
        }
        return (runsOnDocker, nil, problems)
    }

    static func containerReports(_ runtime: Runtime, expected: [String]) -> ContainerObservation {
        let statuses: [ServiceStatus]
        do {
            _ = try runtime.check()
            statuses = try runtime.services()
        } catch {
            return ContainerObservation(engineError: String(CdcError.bridging(error).message.split(separator: "\n").first ?? ""),
                                        reports: [], problems: [], any: false)
        }
        let stats = Dictionary(((try? runtime.stats()) ?? []).map { ($0.container, $0) }, uniquingKeysWith: { a, _ in a })
        var problems: [StatusProblem] = []
        var reports = statuses.map { s -> ServiceReport in
            let st = stats[s.container]
            let limit = s.memoryLimitBytes > 0 ? s.memoryLimitBytes : (st?.memoryLimitBytes ?? 0)
            return ServiceReport(service: s.service, state: s.state, health: s.verdict.rawValue,
                                 memoryMiB: st.map { Double($0.memoryBytes) / 1_048_576 },
                                 memoryLimitMiB: limit > 0 ? Double(limit) / 1_048_576 : nil,
                                 ports: s.ports.map(\.description), image: s.image, startedAt: s.startedAt, restarts: s.restartCount)
        }
        for s in statuses where !s.verdict.isReady {
            problems.append(StatusProblem("service \(s.service)", s.verdict.rawValue,
                                          fix: "its last healthcheck and logs: docker logs \(s.container); cdcctl up recreates it"))
        }
        for name in expected where !statuses.contains(where: { $0.service == name }) {
            reports.append(ServiceReport(service: name, state: "missing", health: ServiceHealth.missing.rawValue, memoryMiB: nil,
                                         memoryLimitMiB: nil, ports: [], image: "", startedAt: "", restarts: 0))
            problems.append(StatusProblem("service \(name)", "no container", fix: "cdcctl up creates it"))
        }
        let order = Dictionary(expected.enumerated().map { ($1, $0) }, uniquingKeysWith: { a, _ in a })
        return ContainerObservation(engineError: nil,
                                    reports: reports.sorted { (order[$0.service] ?? Int.max, $0.service) < (order[$1.service] ?? Int.max, $1.service) },
                                    problems: problems, any: !statuses.isEmpty)
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
                    return ConnectorReport(name: c.name, state: "NOT REGISTERED", tasks: "none",
                                           error: "not registered (cdcctl connector register \(c.name))", healthy: false)
                }
                return ConnectorReport(name: c.name, state: s.state,
                                       tasks: s.tasks.isEmpty ? "none" : s.tasks.map { "\($0.id):\($0.state)" }.joined(separator: " "), error: nil,
                                       healthy: s.isRunning)
            } catch {
                return ConnectorReport(name: c.name, state: "UNKNOWN", tasks: "-",
                                       error: "Kafka Connect unreachable at \(m.access.connectURL) (\(firstLine(error)))", healthy: false)
            }
        }
    }

    static func clickhouseReport(_ server: ClickHouseConfig, database: String) -> ClickHouseReport {
        var report = ClickHouseReport(reachable: false, database: database, tables: [], error: nil)
        let client = ClickHouseClient(server, http: HTTPClient(retries: 0))
        do {
            try client.ping()
            report.reachable = true
        } catch {
            report.error = "unreachable at \(client.server) (\(firstLine(error)))"
            return report
        }
        struct Row: Decodable { var name: String; var total_rows: Int64? }
        do {
            report.tables = try client.select("SELECT name, total_rows FROM system.tables WHERE database = {db:String} ORDER BY name",
                                              as: Row.self, parameters: ["db": database])
                .map { TableRows(table: $0.name, rows: $0.total_rows ?? 0) }
        } catch {
            report.error = "row counts: \(firstLine(error))"
        }
        return report
    }

    static func firstLine(_ error: Error) -> String { String(String(describing: error).split(separator: "\n").first ?? "") }
}

