import Diagnostics
import Foundation

/// A rendered compose project on disk.
public struct ComposeProject: Sendable, Equatable {
    public var name: String
    public var directory: String
    public var file: String

    public init(name: String, directory: String, file: String = "docker-compose.yml") {
        self.name = name
        self.directory = directory
        self.file = file
    }
}

/// How compose is invoked: the `docker compose` v2 plugin, or a standalone `docker-compose`
/// (v2, or v1 1.29 as Debian ships it).
public enum ComposeCommand: Sendable, Equatable, CustomStringConvertible {
    case plugin(docker: String)
    case standalone(path: String)

    public var argv: [String] {
        switch self {
        case .plugin(let docker): [docker, "compose"]
        case .standalone(let path): [path]
        }
    }

    public var description: String {
        switch self {
        case .plugin: "docker compose"
        case .standalone(let path): path
        }
    }
}

/// `Runtime` over the Docker CLI: `docker compose` for the project's lifecycle, `docker
/// inspect`/`stats`/`logs`/`network` for the containers (found by the compose project label,
/// which compose v1 and v2 both set, so state parsing does not depend on compose's version).
public final class DockerComposeRuntime: Runtime, @unchecked Sendable {
    public let project: ComposeProject
    let runner: ProcessRunner
    let environment: [String: String]
    private let resolved = Locked<(ComposeCommand, String)?>(nil)

    /// `CDCCTL_COMPOSE` names a compose binary to use instead of searching.
    public init(project: ComposeProject, runner: ProcessRunner, environment: [String: String] = ProcessInfo.processInfo.environment) {
        self.project = project
        self.runner = runner
        self.environment = environment
    }

    // MARK: - Finding Docker and compose

    /// Where the CLI connects: DOCKER_HOST, else the default socket (or the current context).
    var daemonAddress: String { environment["DOCKER_HOST"] ?? "unix:///var/run/docker.sock" }

    func docker(_ args: [String], timeout: Double? = 60) throws -> ProcessResult {
        do {
            return try runner.run(["docker"] + args, timeoutSeconds: timeout)
        } catch is ExecutableNotFound {
            throw RuntimeError(.dockerNotInstalled)
        }
    }

    /// The local dockerd's hard `Max open files` from /proc: the daemon answering at DOCKER_HOST
    /// (or the default socket). Nil for a remote engine or one this user cannot see.
    public func engineOpenFilesLimit() -> Int? {
        let socket = daemonAddress.hasPrefix("unix://") ? String(daemonAddress.dropFirst("unix://".count)) : nil
        guard let socket else { return nil }
        let pids = (try? FileManager.default.contentsOfDirectory(atPath: "/proc"))?.filter { $0.allSatisfy(\.isNumber) } ?? []
        for pid in pids {
            guard let data = FileManager.default.contents(atPath: "/proc/\(pid)/cmdline") else { continue }
            let argv = data.split(separator: 0).map { String(decoding: $0, as: UTF8.self) }
            guard let exe = argv.first, exe.hasSuffix("dockerd") else { continue }
            let hosts = Self.daemonSockets(argv)
            guard hosts.isEmpty ? socket == "/var/run/docker.sock" : hosts.contains(socket) else { continue }
            guard let limits = try? String(contentsOfFile: "/proc/\(pid)/limits", encoding: .utf8) else { return nil }
            return Self.hardOpenFiles(limits)
        }
        return nil
    }

    /// The unix sockets a dockerd command line listens on (`-H unix://…`, `--host=unix://…`).
    static func daemonSockets(_ argv: [String]) -> [String] {
        var out: [String] = []
        for (i, a) in argv.enumerated() {
            let value: String?
            if a == "-H" || a == "--host" { value = i + 1 < argv.count ? argv[i + 1] : nil }
            else if a.hasPrefix("--host=") { value = String(a.dropFirst("--host=".count)) }
            else if a.hasPrefix("-H") && a.count > 2 { value = String(a.dropFirst(2)) }
            else { value = nil }
            if let v = value, v.hasPrefix("unix://") { out.append(String(v.dropFirst("unix://".count))) }
        }
        return out
    }

    /// The hard limit of `Max open files` in a /proc/PID/limits text.
    static func hardOpenFiles(_ limits: String) -> Int? {
        guard let line = limits.split(separator: "\n").first(where: { $0.hasPrefix("Max open files") }) else { return nil }
        let fields = line.dropFirst("Max open files".count).split(separator: " ")
        guard fields.count >= 2 else { return nil }
        return fields[1] == "unlimited" ? Int.max : Int(fields[1])
    }

    public func check() throws -> RuntimeInfo {
        let version = try docker(["version", "--format", "{{.Server.Version}}"], timeout: 20)
        guard version.ok else { throw daemonError(version.message) }
        let (compose, composeVersion) = try composeCommand()
        return RuntimeInfo(engineVersion: version.stdout.trimmingCharacters(in: .whitespacesAndNewlines),
                           compose: compose.description, composeVersion: composeVersion)
    }

    /// The docker CLI's text is all there is to tell these apart; this is the one place that reads it.
    func daemonError(_ output: String) -> RuntimeError {
        let lower = output.lowercased()
        if lower.contains("permission denied") {
            return RuntimeError(.daemonPermissionDenied(address: daemonAddress))
        }
        if lower.contains("cannot connect") || lower.contains("no such file") || lower.contains("connection refused")
            || lower.contains("is the docker daemon running") {
            return RuntimeError(.daemonNotRunning(address: daemonAddress, fromDockerHost: environment["DOCKER_HOST"] != nil))
        }
        return RuntimeError(.daemonNoAnswer(address: daemonAddress, output: Self.lastLines(output, 3)))
    }

    /// `CDCCTL_COMPOSE`, then `docker compose` (v2 plugin), then `docker-compose`.
    public func composeCommand() throws -> (ComposeCommand, String) {
        if let found = resolved.get() { return found }
        var candidates: [ComposeCommand] = []
        if let explicit = environment["CDCCTL_COMPOSE"], !explicit.isEmpty {
            candidates = [.standalone(path: explicit)]
        } else {
            candidates = [.plugin(docker: "docker"), .standalone(path: "docker-compose")]
        }
        for candidate in candidates {
            guard let result = try? runner.run(candidate.argv + ["version", "--short"], timeoutSeconds: 20), result.ok else { continue }
            let version = result.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
            let found = (candidate, version.hasPrefix("v") ? String(version.dropFirst()) : version)
            resolved.set(found)
            return found
        }
        if let explicit = environment["CDCCTL_COMPOSE"], !explicit.isEmpty {
            throw RuntimeError(.composeOverrideBroken(explicit))
        }
        throw RuntimeError(.composeNotInstalled)
    }

    func composeArgs(_ args: [String]) throws -> [String] {
        let (command, _) = try composeCommand()
        return command.argv + ["--project-name", project.name, "--project-directory", project.directory,
                               "--file", project.directory + "/" + project.file] + args
    }

    @discardableResult
    func compose(_ args: [String], timeout: Double? = nil, what: String) throws -> ProcessResult {
        let argv = try composeArgs(args)
        let result: ProcessResult
        do {
            result = try runner.run(argv, timeoutSeconds: timeout)
        } catch is ExecutableNotFound {
            resolved.set(nil)
            throw RuntimeError(.composeNotInstalled)
        }
        guard result.ok else {
            if result.message.lowercased().contains("cannot connect to the docker daemon") { throw daemonError(result.message) }
            // runc's words for a `ulimits: nofile` above the daemon's own hard limit (RLIMIT_NOFILE is type 7).
            if result.message.contains("error setting rlimit type 7") {
                throw RuntimeError(.openFilesLimitRefused(output: Self.lastLines(result.message, 2)))
            }
            throw RuntimeError(.composeFailed(what: what, command: args.first ?? "", output: Self.lastLines(result.message, 6),
                                              projectDirectory: project.directory))
        }
        return result
    }

    // MARK: - Lifecycle

    public func up(services: [String] = [], forceRecreate: Bool = false) throws {
        var args = ["up", "--detach", "--remove-orphans"]
        if forceRecreate { args += ["--force-recreate", "--no-deps"] }
        try compose(args + services, what: "up")
    }

    /// With `volumes`, also the anonymous volumes the images' VOLUME lines gave the containers:
    /// `compose down --volumes` leaves those behind with some Compose versions, so whatever
    /// is still there afterwards is removed by name.
    public func down(volumes: Bool) throws {
        let mounted = volumes ? Set(try services().flatMap(\.volumes)) : []
        try compose(["down", "--remove-orphans", "--timeout", "20"] + (volumes ? ["--volumes"] : []), what: "down")
        guard !mounted.isEmpty else { return }
        let left = try docker(["volume", "ls", "-q"]).stdout.split(separator: "\n").map(String.init).filter(mounted.contains)
        guard !left.isEmpty else { return }
        let r = try docker(["volume", "rm"] + left.sorted())
        guard r.ok else { throw RuntimeError(.composeFailed(what: "down (removing volumes \(left.joined(separator: ", ")))", command: "down",
                                                            output: Self.lastLines(r.message, 3), projectDirectory: project.directory)) }
    }

    public func start(_ services: [String]) throws { try compose(["start"] + services, what: "start") }

    public func stop(_ services: [String], timeoutSeconds: Int) throws {
        try compose(["stop", "--timeout", String(timeoutSeconds)] + services, what: "stop")
    }

    public func kill(_ services: [String], signal: String = "SIGKILL") throws {
        try compose(["kill", "--signal", signal] + services, what: "kill")
    }

    public func pause(_ services: [String]) throws { try compose(["pause"] + services, what: "pause") }
    public func unpause(_ services: [String]) throws { try compose(["unpause"] + services, what: "unpause") }

    // MARK: - Networks

    func projectNetworks() throws -> [String] {
        let result = try docker(["network", "ls", "--filter", "label=com.docker.compose.project=\(project.name)", "--format", "{{.Name}}"])
        guard result.ok else { throw daemonError(result.message) }
        return result.stdout.split(separator: "\n").map(String.init).filter { !$0.isEmpty }.sorted()
    }

    func container(_ service: String) throws -> ServiceStatus {
        guard let s = try services().first(where: { $0.service == service }) else {
            throw RuntimeError(.noContainer(service: service, project: project.name))
        }
        return s
    }

    public func disconnect(_ service: String) throws {
        let s = try container(service)
        let networks = Set(try projectNetworks())
        for network in s.networks where networks.contains(network) {
            let r = try docker(["network", "disconnect", network, s.id])
            guard r.ok else { throw RuntimeError(.networkChangeFailed(service: service, network: network, connect: false, output: r.message)) }
        }
    }

    public func reconnect(_ service: String) throws {
        let s = try container(service)
        for network in try projectNetworks() where !s.networks.contains(network) {
            let r = try docker(["network", "connect", "--alias", service, network, s.id])
            guard r.ok else { throw RuntimeError(.networkChangeFailed(service: service, network: network, connect: true, output: r.message)) }
        }
    }

    // MARK: - Observing

    func containerIds() throws -> [String] {
        let ps = try docker(["ps", "--all", "--quiet", "--no-trunc", "--filter", "label=com.docker.compose.project=\(project.name)"])
        guard ps.ok else { throw daemonError(ps.message) }
        return ps.stdout.split(separator: "\n").map(String.init).filter { !$0.isEmpty }
    }

    public func services() throws -> [ServiceStatus] {
        let ids = try containerIds()
        guard !ids.isEmpty else { return [] }
        let inspect = try docker(["inspect", "--type", "container"] + ids)
        // A container removed between ps and inspect: inspect the rest again.
        guard inspect.ok || !inspect.stdout.isEmpty else { throw daemonError(inspect.message) }
        return try Self.parseInspect(inspect.stdout).sorted { $0.service < $1.service }
    }

    public func stats() throws -> [ServiceStats] {
        let ids = try containerIds()
        guard !ids.isEmpty else { return [] }
        let r = try docker(["stats", "--no-stream", "--format", "{{json .}}"] + ids)
        guard r.ok else { throw daemonError(r.message) }
        return Self.parseStats(r.stdout)
    }

    public func logs(_ service: String, tail: Int) throws -> String {
        let s = try container(service)
        let r = try docker(["logs", "--tail", String(tail), s.id])
        return r.stdout + r.stderr
    }

    // MARK: - Parsing (pure)

    /// `docker inspect` JSON → statuses of the containers that belong to a compose service.
    public static func parseInspect(_ json: String) throws -> [ServiceStatus] {
        guard let array = try? JSONSerialization.jsonObject(with: Data(json.utf8)) as? [[String: Any]] else {
            throw RuntimeError(.unreadableOutput(command: "docker inspect", output: lastLines(json, 2)))
        }
        return array.compactMap { c -> ServiceStatus? in
            let config = c["Config"] as? [String: Any] ?? [:]
            let labels = config["Labels"] as? [String: String] ?? [:]
            guard let service = labels["com.docker.compose.service"] else { return nil }
            let state = c["State"] as? [String: Any] ?? [:]
            let healthObj = state["Health"] as? [String: Any]
            let lastLog = (healthObj?["Log"] as? [[String: Any]])?.last?["Output"] as? String
            let host = c["HostConfig"] as? [String: Any] ?? [:]
            let net = c["NetworkSettings"] as? [String: Any] ?? [:]
            var ports: [PublishedPort] = []
            for (key, value) in net["Ports"] as? [String: Any] ?? [:] {
                let parts = key.split(separator: "/")
                guard let containerPort = Int(parts.first ?? ""), let bindings = value as? [[String: Any]] else { continue }
                for b in bindings {
                    guard let hostPort = Int(b["HostPort"] as? String ?? "") else { continue }
                    ports.append(PublishedPort(hostIP: b["HostIp"] as? String ?? "", hostPort: hostPort, containerPort: containerPort,
                                               proto: parts.count > 1 ? String(parts[1]) : "tcp"))
                }
            }
            ports.sort { ($0.hostPort, $0.hostIP) < ($1.hostPort, $1.hostIP) }
            let name = (c["Name"] as? String ?? "").trimmingPrefix("/")
            return ServiceStatus(
                service: service, container: String(name), id: c["Id"] as? String ?? "",
                image: config["Image"] as? String ?? "", imageId: c["Image"] as? String ?? "",
                state: state["Status"] as? String ?? "unknown",
                health: (healthObj?["Status"] as? String).flatMap { $0.isEmpty ? nil : $0 },
                lastHealthOutput: lastLog?.trimmingCharacters(in: .whitespacesAndNewlines),
                startedAt: state["StartedAt"] as? String ?? "", exitCode: (state["ExitCode"] as? NSNumber)?.intValue ?? 0,
                restartCount: (c["RestartCount"] as? NSNumber)?.intValue ?? 0,
                memoryLimitBytes: (host["Memory"] as? NSNumber)?.int64Value ?? 0,
                ports: ports, networks: (net["Networks"] as? [String: Any] ?? [:]).keys.sorted(),
                secretsFingerprint: labels["io.cdcctl.secrets-fingerprint"],
                volumes: (c["Mounts"] as? [[String: Any]] ?? []).filter { $0["Type"] as? String == "volume" }
                    .compactMap { $0["Name"] as? String }.sorted(),
                pid: (state["Pid"] as? NSNumber)?.intValue ?? 0, oomKilled: (state["OOMKilled"] as? Bool) ?? false)
        }
    }

    /// `docker stats --format '{{json .}}'` lines → memory and CPU per container.
    public static func parseStats(_ text: String) -> [ServiceStats] {
        text.split(separator: "\n").compactMap { line -> ServiceStats? in
            guard let obj = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
                  let name = obj["Name"] as? String else { return nil }
            let usage = (obj["MemUsage"] as? String ?? "").components(separatedBy: " / ")
            let cpu = Double((obj["CPUPerc"] as? String ?? "").replacingOccurrences(of: "%", with: "")) ?? 0
            return ServiceStats(container: name, memoryBytes: parseBytes(usage.first ?? ""),
                                memoryLimitBytes: usage.count > 1 ? parseBytes(usage[1]) : 0, cpuPercent: cpu)
        }
    }

    /// "512MiB", "1.5GiB", "100kB", "0B" → bytes (binary and decimal units, as docker prints them).
    public static func parseBytes(_ text: String) -> Int64 {
        let s = text.trimmingCharacters(in: .whitespaces)
        let digits = s.prefix { $0.isNumber || $0 == "." }
        guard let value = Double(digits) else { return 0 }
        let units: [String: Double] = ["B": 1, "kB": 1e3, "KB": 1e3, "MB": 1e6, "GB": 1e9, "TB": 1e12,
                                       "KiB": 1024, "MiB": 1_048_576, "GiB": 1_073_741_824, "TiB": 1_099_511_627_776]
        let unit = s.dropFirst(digits.count).trimmingCharacters(in: .whitespaces)
        return Int64(value * (units[unit] ?? 1))
    }

    static func lastLines(_ text: String, _ n: Int) -> String {
        text.split(separator: "\n").suffix(n).joined(separator: "\n    ")
    }
}
