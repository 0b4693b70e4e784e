import Connectors
import SchemaAdmin
import TopicAdmin
import OperationsCore
import StarRocks
import Polling
import Connect
import Diagnostics
import Foundation
import Kafka
import Manifest
import Runtime
import State

public struct UpOptions: Sendable {
    /// Where the compose project is rendered; `<state dir>/<cluster>` when nil.
    public var projectDir: String?
    public var bootstrap: Bool
    /// Seconds until every service is healthy and the bootstrap is done.
    public var timeoutSeconds: Double

    public init(projectDir: String? = nil, bootstrap: Bool = true, timeoutSeconds: Double = 600) {
        self.projectDir = projectDir
        self.bootstrap = bootstrap
        self.timeoutSeconds = timeoutSeconds
    }
}

public struct BootstrapReport: Sendable, Codable {
    public var topicsCreated: [String]
    public var topicsAltered: [String]
    public var schema: String
    public var connectors: [RegisterResult]
}

public struct ServiceRow: Sendable, Codable, Equatable {
    public var service: String
    public var state: String
    public var health: String
    public var image: String
    public var ports: [String]
    public var memoryLimitMiB: Int
    /// What this `up` did to it: created, recreated (new container), started (same container,
    /// new start time) or unchanged.
    public var change: String?
}

public struct UpResult: Sendable, Codable {
    public var cluster: String
    public var projectDir: String
    public var engine: RuntimeInfo
    public var services: [ServiceRow]
    public var secondsToHealthy: Double
    public var seconds: Double
    public var bootstrap: BootstrapReport?
    public var next: [String]
}

/// `cdcctl up`: validate → render → compose up → health gate in dependency order → bootstrap
/// (topics, schema, connectors) → record. Running it again converges: compose recreates only
/// services whose definition changed, cdcctl those whose mounted files changed, and the
/// bootstrap steps are idempotent.
public enum UpOperation {
    public typealias RuntimeFactory = @Sendable (ComposeProject, [String: String]) -> Runtime

    public static let dockerCompose: RuntimeFactory = { project, env in
        DockerComposeRuntime(project: project, runner: SystemProcessRunner(environment: env), environment: env)
    }

    /// The engine running a manifest's cluster: the compose project `up` rendered (recorded in
    /// the state store), for commands that act on its containers (failover-test).
    public static func runtime(_ ws: Workspace, manifest m: Manifest, factory: RuntimeFactory = dockerCompose) throws -> Runtime {
        let dir = try ws.existingState()?.cluster(named: m.cluster.name)?.projectDir ?? projectDir(ws, cluster: m.cluster.name)
        return factory(ComposeProject(name: m.cluster.name, directory: dir), ws.environment.variables)
    }

    public static func projectDir(_ ws: Workspace, cluster: String, explicit: String? = nil) -> String {
        absolute(explicit ?? (ws.stateDir + "/" + cluster))
    }

    static func absolute(_ path: String) -> String {
        let p = path.hasPrefix("/") ? path : FileManager.default.currentDirectoryPath + "/" + path
        return URL(fileURLWithPath: p).standardizedFileURL.path
    }

    public static func run(_ ws: Workspace, options: UpOptions, arguments: [String], progress: ProgressSink,
                           runtime makeRuntime: RuntimeFactory = dockerCompose) throws -> UpResult {
        let loaded = try ws.loadManifest()
        let m = loaded.manifest
        let dir = projectDir(ws, cluster: m.cluster.name, explicit: options.projectDir)
        return try ws.journaled("up", arguments: arguments, inputsHash: InputsHash.of([loaded.text] + arguments), cluster: m.cluster.name) {
            let started = Date()
            let deadline = started.addingTimeInterval(options.timeoutSeconds)
            func step(_ text: String) { progress.step("[\(elapsed(started))] \(text)") }

            let runtime = makeRuntime(ComposeProject(name: m.cluster.name, directory: dir), ws.environment.variables)
            let info = try runtime.check()
            step("Docker Engine \(info.engineVersion), \(info.compose) \(info.composeVersion)")

            if let problem = StackLayout.openFilesProblem(requested: m.clickhouse.openFiles, engineLimit: runtime.engineOpenFilesLimit()) {
                throw problem
            }
            // Read, never written: the BE's mmap limit is a host setting (on this machine's kernel,
            // which is the Docker host's unless DOCKER_HOST points elsewhere).
            if m.starrocks.enabled, let problem = MaxMapCount.problem(MaxMapCount.read(), minimum: m.starrocks.minMaxMapCount) {
                throw problem
            }
            // Before anything is written: the running containers must have been created with the
            // secrets this render would give them (another state dir generates other ones).
            let running = try runtime.services()
            let conflicts = StackLayout.secretsConflicts(running, fingerprint: try ws.resolveSecrets(m, persist: false).volumeFingerprint)
            if !conflicts.isEmpty {
                throw CdcError.invalid("cluster \(m.cluster.name) is running with other secrets than \(ws.secretsPath) holds: "
                                       + "\(conflicts.joined(separator: ", ")) would be recreated with passwords their data volumes do not know",
                                       subject: "--state-dir \(ws.stateDir)",
                                       fix: "run cdcctl with the state dir the cluster was started with (by default .cdcctl beside the manifest; "
                                           + "`docker inspect \(m.cluster.name)-mysql` shows its project directory), or point the manifest's secrets at "
                                           + "the values in use; `cdcctl down --volumes --yes` starts afresh and deletes the data")
            }

            let store = try ws.openState()
            let previous = try store.lastRender(cluster: m.cluster.name)
            let rendered = try RenderOperation.render(ws, loaded, outputDir: dir, templatesDir: nil)
            step("rendered \(rendered.files.count) files into \(dir)")
            if let warning = try SecretsFileAccess.prepare(dir + "/" + StackLayout.connectSecretsPath, uid: StackLayout.connectUID) {
                step("warning: \(warning)")
            }

            let beforeStatuses = try runtime.services()
            let before = Dictionary(beforeStatuses.map { ($0.service, $0.id) }, uniquingKeysWith: { a, _ in a })
            let startedBefore = Dictionary(beforeStatuses.map { ($0.service, $0.startedAt) }, uniquingKeysWith: { a, _ in a })
            // Single-file bind mounts keep showing the old file: recreate readers of changed files.
            if let previous, absolute(previous.outputDir) == dir {
                let old = Dictionary(previous.files.map { ($0.path, $0.sha256) }, uniquingKeysWith: { a, _ in a })
                let new = Dictionary(rendered.files.map { ($0.path, $0.sha256) }, uniquingKeysWith: { a, _ in a })
                let readers = Set(StackLayout.changedPaths(old: old, new: new).flatMap(StackLayout.servicesReading))
                    .filter { before[$0] != nil }.sorted()
                if !readers.isEmpty {
                    step("recreating \(readers.joined(separator: ", ")): their mounted files changed")
                    try runtime.up(services: readers, forceRecreate: true)
                }
            }

            step("docker compose up (project \(m.cluster.name))")
            let stages = StackLayout.stages(m)
            try composeUpAndWait(runtime, stages: stages, started: started, deadline: deadline, progress: progress)
            let secondsToHealthy = Date().timeIntervalSince(started)
            step(String(format: "all %d services healthy after %.1f s", stages.flatMap(\.services).count, secondsToHealthy))

            var report: BootstrapReport?
            if options.bootstrap {
                report = try bootstrap(ws, m, started: started, deadline: deadline, progress: progress)
            } else {
                step("bootstrap skipped (--no-bootstrap)")
            }

            let statuses = try runtime.services()
            try store.recordUp(cluster: m.cluster.name, projectDir: dir, services: statuses.map(record), nowMs: ws.environment.nowMs())
            let rows = statuses.map { s in
                ServiceRow(service: s.service, state: s.state, health: s.verdict.rawValue, image: s.image, ports: s.ports.map(\.description),
                           memoryLimitMiB: Int(s.memoryLimitBytes / 1_048_576),
                           change: before[s.service] == nil ? "created" : before[s.service] != s.id ? "recreated"
                               : startedBefore[s.service] != s.startedAt ? "started" : "unchanged")
            }
            let flag = ws.commandFlags
            let result = UpResult(cluster: m.cluster.name, projectDir: dir, engine: info, services: rows,
                                  secondsToHealthy: secondsToHealthy, seconds: Date().timeIntervalSince(started), bootstrap: report,
                                  next: ["cdcctl\(flag) status", "cdcctl\(flag) connector status", "cdcctl\(flag) topics health",
                                         "cdcctl\(flag) down"])
            let changed = rows.filter { $0.change != "unchanged" }.count
            return (result, String(format: "healthy after %.1f s; %d of %d services created or recreated", secondsToHealthy, changed, rows.count))
        }
    }

    static func record(_ s: ServiceStatus) -> ServiceRecord {
        ServiceRecord(service: s.service, container: s.container, containerId: s.id, image: s.image, imageId: s.imageId,
                      state: s.state, health: s.health, ports: s.ports.map(\.description).joined(separator: " "),
                      startedAt: s.startedAt, memoryLimitBytes: s.memoryLimitBytes)
    }

    /// Runs `compose up` in the background (it blocks while it waits for healthy dependencies)
    /// and reports each stage as it gets healthy, until every stage is healthy.
    static func composeUpAndWait(_ runtime: Runtime, stages: [HealthStage], started: Date, deadline: Date, progress: ProgressSink) throws {
        let outcome = Locked<Result<Void, Error>?>(nil)
        let thread = Thread {
            do { try runtime.up(services: [], forceRecreate: false); outcome.set(.success(())) } catch { outcome.set(.failure(error)) }
        }
        thread.start()
        var announced: Set<String> = []
        var last = HealthGate(ready: [], waitingStage: nil, waitingOn: [], failed: [])
        let healthy = try Poll.until(Deadline(seconds: deadline.timeIntervalSinceNow), backoff: .every(1)) { () -> Bool? in
            let finished = outcome.get()
            let statuses = try runtime.services()
            let gate = HealthGate.evaluate(stages, statuses, composeFinished: finished != nil)
            last = gate
            for name in gate.ready where !announced.contains(name) {
                announced.insert(name)
                let services = stages.first { $0.name == name }?.services ?? []
                progress.step("[\(elapsed(started))] \(name) healthy (\(services.joined(separator: ", ")))")
            }
            if case .failure(let error)? = finished {
                let expected = stages.flatMap(\.services)
                let notReady = expected.filter { name in !(statuses.first { $0.service == name }?.verdict.isReady ?? false) }
                throw withDiagnosis(error, runtime, notReady)
            }
            if !gate.failed.isEmpty {
                let names = gate.failed.map(\.service)
                throw withDiagnosis(CdcError(.unhealthy, gate.failed.map(\.description).joined(separator: ", "), subject: "cdcctl up",
                                             fix: "see the log lines below and `cdcctl status`; fix the cause and run `cdcctl up` again"),
                                    runtime, names)
            }
            if gate.done && finished != nil { return true }
            let live = gate.waitingStage.map { "waiting for \($0): " + gate.waitingOn.map(\.description).joined(separator: ", ") }
                ?? "waiting for docker compose up to return"
            progress.live("[\(elapsed(started))] \(live)")
            return nil
        }
        if healthy == nil {
            let waiting = last.waitingOn.filter { !$0.health.isReady }
            throw withDiagnosis(CdcError(.unhealthy, "not healthy after \(Int(deadline.timeIntervalSince(started))) s: "
                                            + waiting.map(\.description).joined(separator: ", "),
                                         subject: "cdcctl up", fix: "see the log lines below; wait longer with --timeout, or fix the cause and run `cdcctl up` again"),
                                runtime, waiting.map(\.service))
        }
    }

    /// Adds each named service's last healthcheck output and log lines to the error.
    static func withDiagnosis(_ error: Error, _ runtime: Runtime, _ services: [String]) -> Error {
        guard !services.isEmpty else { return error }
        var e = CdcError.bridging(error)
        let statuses = (try? runtime.services()) ?? []
        var lines: [String] = []
        for name in Array(Set(services)).sorted() {
            let s = statuses.first { $0.service == name }
            lines.append("\(name): \(s.map { "\($0.state)\($0.health.map { ", \($0)" } ?? "")" } ?? "no container")")
            if let output = s?.lastHealthOutput, !output.isEmpty { lines.append("  last healthcheck: " + output.split(separator: "\n").prefix(2).joined(separator: " ")) }
            if s != nil, let log = try? runtime.logs(name, tail: 8) {
                lines += log.split(separator: "\n").suffix(8).map { "  | " + $0 }
            }
        }
        e.message += "\n" + lines.joined(separator: "\n")
        return e
    }

    // MARK: - Bootstrap

    static func bootstrap(_ ws: Workspace, _ m: Manifest, started: Date, deadline: Date, progress: ProgressSink) throws -> BootstrapReport {
        func step(_ text: String) { progress.step("[\(elapsed(started))] \(text)") }
        step("bootstrap: topics apply")
        let topics = try retrying("topics apply", until: deadline, progress: progress) {
            try TopicsOperation(manifest: m).apply(dryRun: false)
        }
        step("topics: created \(topics.created.count), altered \(topics.altered.count), \(m.kafka.topics.count) declared")
        step("bootstrap: schema apply")
        let applied = try retrying("schema apply", until: deadline, progress: progress) {
            try SchemaOperation(ws, manifest: m, progress: { progress.step("         \($0)") }).apply(dryRun: false)
        }
        var schema = "\(applied.applied.count) migration(s) applied to \(m.clickhouse.database)"
        if m.postgresEnabled {
            step("bootstrap: schema apply --target postgres")
            let pg = try retrying("schema apply --target postgres", until: deadline, progress: progress) {
                try PostgresSchemaOperation(ws, manifest: m, progress: { progress.step("         \($0)") }).apply(dryRun: false)
            }
            schema += ", \(pg.applied.count) to PostgreSQL \(m.postgres.database)"
        }
        step("schema: \(schema)")
        var registered: [RegisterResult] = []
        let connectors = ConnectorOperation(ws, manifest: m, progress: { progress.step("         \($0)") })
        for c in m.connect.connectors {
            step("bootstrap: connector register \(c.name)")
            registered.append(try retrying("connector register \(c.name)", until: deadline, progress: progress) {
                try connectors.register(c, preflight: true, wait: true, timeoutSeconds: max(deadline.timeIntervalSinceNow, 10))
            })
        }
        return BootstrapReport(topicsCreated: topics.created, topicsAltered: topics.altered, schema: schema, connectors: registered)
    }

    /// Servers that just turned healthy may still refuse a request for a few seconds (a Kafka
    /// controller electing, a Connect worker joining its group). Retry what the adapters call
    /// transient until the deadline; bad input and a FAILED connector fail at once.
    static func retrying<T>(_ what: String, until deadline: Date, progress: ProgressSink, _ body: () throws -> T) throws -> T {
        var mismatches = 0
        return try Poll.retry(Deadline(seconds: deadline.timeIntervalSinceNow), isTransient: { error in
            // Brokers that accept TCP but answer no Kafka request: give a just-started broker a few
            // tries (about 20 s), then stop instead of retrying until the deadline.
            if let kafka = error as? KafkaError, kafka.isProtocolMismatch {
                mismatches += 1
                return mismatches < 6
            }
            // Several problems at once (CdcErrors): retry unless one of them is bad input.
            if let many = error as? CdcErrors { return many.exitCode != 2 && many.errors.allSatisfy { $0.kind != .invalidInput } }
            if let connect = error as? ConnectError { return connect.isTransient }
            return CdcError.bridging(error).kind != .invalidInput
        }, retrying: { attempt, error in
            progress.live("\(what): attempt \(attempt) failed (\(CdcError.bridging(error).message.split(separator: "\n").first ?? "")); retrying")
        }, body)
    }

    static func elapsed(_ since: Date) -> String { String(format: "%6.1fs", Date().timeIntervalSince(since)) }
}

/// The Connect secrets file is mounted into a container that runs as another user.
enum SecretsFileAccess {
    /// Keeps it 0600 and hands it to `uid` when this process may (root); otherwise makes it
    /// readable (0644) and returns a warning saying how to tighten it.
    static func prepare(_ path: String, uid: UInt32) throws -> String? {
        guard FileManager.default.fileExists(atPath: path) else { return nil }
        if getuid() == uid { return nil }
        if geteuid() == 0 {
            guard chown(path, uid, uid) == 0 else {
                throw CdcError.failed("cannot hand \(path) to uid \(uid): \(String(cString: strerror(errno)))", subject: path,
                                      fix: "run cdcctl up on a filesystem that supports chown (not a FAT/SMB mount)")
            }
            return nil
        }
        guard chmod(path, 0o644) == 0 else {
            throw CdcError.failed("cannot make \(path) readable: \(String(cString: strerror(errno)))", subject: path)
        }
        return "\(path) is mode 0644 (readable by other local users) because cdcctl is not root and cannot give it to the Connect container's uid \(uid); run `cdcctl up` as root, or `sudo chown \(uid) \(path) && sudo chmod 600 \(path)`"
    }
}
