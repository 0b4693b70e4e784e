import OperationsCore
import Diagnostics
import Manifest
import Runtime

/// One step of `up`'s health gate: services that must all be ready before the next stage counts.
public struct HealthStage: Sendable, Codable, Equatable {
    public var name: String
    public var services: [String]
}

/// The compose services a manifest renders and the order `up` waits for them in. Pure.
public enum StackLayout {
    /// Kafka quorum, MySQL, Connect, ClickHouse, then the rest (dependency order of the pipeline).
    public static func stages(_ m: Manifest) -> [HealthStage] {
        var rest = ["prometheus", "grafana"]
        if m.kafkaUI.enabled { rest.append("kafka-ui") }
        if m.cloudflared.enabled { rest.append("cloudflared") }
        if m.starrocks.enabled { rest += ["starrocks-fe", "starrocks-be"] }
        if m.postgresEnabled { rest.append("postgres") }
        return [
            HealthStage(name: "kafka quorum", services: (1...max(m.kafka.brokers, 1)).map(KafkaListeners.serviceName)),
            HealthStage(name: "mysql", services: ["mysql"]),
            HealthStage(name: "connect", services: ["connect"]),
            HealthStage(name: "clickhouse", services: ["clickhouse"]),
            HealthStage(name: "the rest", services: rest),
        ]
    }

    public static func services(_ m: Manifest) -> [String] { stages(m).flatMap(\.services) }

    /// The UID the Connect image runs as (user `kafka` in quay.io/debezium/connect); the
    /// mounted secrets file must be readable by it.
    public static let connectUID: UInt32 = 1001
    public static let connectSecretsPath = "connect/secrets/mysql.properties"

    /// Services that read a rendered file through a bind mount. A running container does not
    /// see a single-file mount change (the render replaces the file), and compose does not
    /// recreate a service for it; `up` recreates these services itself when their files change.
    /// Env files are not listed: compose folds them into the service definition and notices.
    public static func servicesReading(_ path: String) -> [String] {
        let prefixes: [(String, String)] = [
            ("mysql/", "mysql"), ("connect/secrets/", "connect"), ("clickhouse/", "clickhouse"),
            ("prometheus/", "prometheus"), ("grafana/", "grafana"), ("cloudflared/", "cloudflared"),
            ("starrocks/fe.conf", "starrocks-fe"), ("starrocks/be.conf", "starrocks-be"),
        ]
        return prefixes.filter { path.hasPrefix($0.0) }.map(\.1)
    }

    /// Paths whose checksum differs between two renders (added or removed ones too).
    public static func changedPaths(old: [String: String], new: [String: String]) -> [String] {
        Set(old.keys).union(new.keys).filter { old[$0] != new[$0] }.sorted()
    }
}

public struct ServiceVerdict: Sendable, Codable, Equatable, CustomStringConvertible {
    public var service: String
    public var health: ServiceHealth
    public var description: String { "\(service) \(health.rawValue)" }
}

/// Where `up` stands while it waits: which stages are ready, what it waits for, what failed. Pure.
public struct HealthGate: Sendable, Equatable {
    public var ready: [String]
    /// The first stage not ready yet.
    public var waitingStage: String?
    /// Each service of that stage with its state.
    public var waitingOn: [ServiceVerdict]
    /// Services that will not get ready by waiting: unhealthy, or gone.
    public var failed: [ServiceVerdict]

    public var done: Bool { waitingStage == nil && failed.isEmpty }

    /// `composeFinished`: compose up has returned, so a missing or stopped container will not appear.
    public static func evaluate(_ stages: [HealthStage], _ statuses: [ServiceStatus], composeFinished: Bool) -> HealthGate {
        let verdicts = Dictionary(statuses.map { ($0.service, $0.verdict) }, uniquingKeysWith: { a, _ in a })
        var gate = HealthGate(ready: [], waitingStage: nil, waitingOn: [], failed: [])
        for stage in stages {
            let states = stage.services.map { ServiceVerdict(service: $0, health: verdicts[$0] ?? .missing) }
            gate.failed += states.filter { $0.health == .unhealthy || (composeFinished && ($0.health == .missing || $0.health == .stopped)) }
            if gate.waitingStage == nil {
                if states.allSatisfy({ $0.health.isReady }) {
                    gate.ready.append(stage.name)
                } else {
                    gate.waitingStage = stage.name
                    gate.waitingOn = states
                }
            }
        }
        return gate
    }
}

extension StackLayout {
    /// Containers created with other secrets than `fingerprint` (their data volumes were
    /// initialised with those): recreating them would lock cdcctl out of MySQL and Grafana.
    /// Containers without the label (made by an older cdcctl) are not judged.
    public static func secretsConflicts(_ running: [ServiceStatus], fingerprint: String) -> [String] {
        running.filter { ($0.secretsFingerprint ?? fingerprint) != fingerprint }.map(\.service).sorted()
    }
}

extension StackLayout {
    /// `clickhouse.openFiles` above what the engine itself may hand out makes runc refuse the
    /// ClickHouse container halfway through `compose up`: say so before anything starts.
    public static func openFilesProblem(requested: Int, engineLimit: Int?) -> CdcError? {
        guard let limit = engineLimit, requested > limit else { return nil }
        return CdcError.invalid("ClickHouse would get \(requested) open files, but the Docker engine may hand out at most \(limit) "
                                + "(its own hard limit), so the container could not start",
                                subject: "clickhouse.openFiles",
                                fix: "set clickhouse.openFiles: \(limit) (or lower) in the manifest, or raise dockerd's open-files limit "
                                    + "(LimitNOFILE in its systemd unit) and restart it")
    }
}
