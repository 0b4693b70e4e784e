import Diagnostics
import Foundation

/// A published port: `hostIP:hostPort` → `containerPort/proto`.
public struct PublishedPort: Sendable, Codable, Equatable, CustomStringConvertible {
    public var hostIP: String
    public var hostPort: Int
    public var containerPort: Int
    public var proto: String

    public init(hostIP: String, hostPort: Int, containerPort: Int, proto: String = "tcp") {
        self.hostIP = hostIP
        self.hostPort = hostPort
        self.containerPort = containerPort
        self.proto = proto
    }

    public var description: String { "\(hostIP):\(hostPort)->\(containerPort)" + (proto == "tcp" ? "" : "/\(proto)") }
}

/// One compose service's container as the engine reports it.
public struct ServiceStatus: Sendable, Codable, Equatable {
    public var service: String
    public var container: String
    public var id: String
    public var image: String
    public var imageId: String
    /// created, running, paused, restarting, removing, exited or dead
    public var state: String
    /// healthy, unhealthy or starting; nil when the service has no healthcheck
    public var health: String?
    /// The last healthcheck output, for saying why a service is not healthy.
    public var lastHealthOutput: String?
    public var startedAt: String
    public var exitCode: Int
    public var restartCount: Int
    public var memoryLimitBytes: Int64
    public var ports: [PublishedPort]
    public var networks: [String]
    /// The `io.cdcctl.secrets-fingerprint` label: the secrets the container was created with.
    public var secretsFingerprint: String?
    /// Names of the volumes mounted (named and anonymous: an image's VOLUME gets one).
    public var volumes: [String]
    /// The container's main process on the engine's host (0 when not running): its
    /// `/proc/PID/cgroup` names the container's cgroup, where its memory counters are.
    public var pid: Int
    /// The engine's `State.OOMKilled`: the main process was killed for memory.
    public var oomKilled: Bool

    public init(service: String, container: String, id: String, image: String, imageId: String = "", state: String,
                health: String?, lastHealthOutput: String? = nil, startedAt: String = "", exitCode: Int = 0,
                restartCount: Int = 0, memoryLimitBytes: Int64 = 0, ports: [PublishedPort] = [], networks: [String] = [],
                secretsFingerprint: String? = nil, volumes: [String] = [], pid: Int = 0, oomKilled: Bool = false) {
        self.service = service
        self.container = container
        self.id = id
        self.image = image
        self.imageId = imageId
        self.state = state
        self.health = health
        self.lastHealthOutput = lastHealthOutput
        self.startedAt = startedAt
        self.exitCode = exitCode
        self.restartCount = restartCount
        self.memoryLimitBytes = memoryLimitBytes
        self.ports = ports
        self.networks = networks
        self.secretsFingerprint = secretsFingerprint
        self.volumes = volumes
        self.pid = pid
        self.oomKilled = oomKilled
    }

    public var verdict: ServiceHealth { ServiceHealth(state: state, health: health) }
}

/// What `cdcctl` makes of a container's state and healthcheck.
public enum ServiceHealth: String, Sendable, Codable, Equatable {
    /// Running and its healthcheck passes.
    case healthy
    /// Running without a healthcheck: as healthy as the engine can tell.
    case running
    /// Running, healthcheck not passed yet (start period or retries left).
    case starting
    /// Running, healthcheck failed its retries.
    case unhealthy
    /// Paused by `cdcctl` or `docker pause`.
    case paused
    /// Being restarted by its restart policy (it exited).
    case restarting
    /// Created, exited or dead.
    case stopped
    /// No container for the service.
    case missing

    public init(state: String, health: String?) {
        switch state {
        case "running":
            switch health {
            case nil, "": self = .running
            case "healthy": self = .healthy
            case "unhealthy": self = .unhealthy
            default: self = .starting
            }
        case "paused": self = .paused
        case "restarting": self = .restarting
        default: self = .stopped
        }
    }

    /// Ready to serve: healthy, or running when there is no healthcheck.
    public var isReady: Bool { self == .healthy || self == .running }
}

/// Memory and CPU of one container (`docker stats --no-stream`).
public struct ServiceStats: Sendable, Codable, Equatable {
    public var container: String
    public var memoryBytes: Int64
    public var memoryLimitBytes: Int64
    public var cpuPercent: Double

    public init(container: String, memoryBytes: Int64, memoryLimitBytes: Int64, cpuPercent: Double) {
        self.container = container
        self.memoryBytes = memoryBytes
        self.memoryLimitBytes = memoryLimitBytes
        self.cpuPercent = cpuPercent
    }
}

/// What the engine and compose said about themselves.
public struct RuntimeInfo: Sendable, Codable, Equatable {
    public var engineVersion: String
    public var compose: String
    public var composeVersion: String

    public init(engineVersion: String, compose: String, composeVersion: String) {
        self.engineVersion = engineVersion
        self.compose = compose
        self.composeVersion = composeVersion
    }
}

/// Runs the rendered stack. One implementation (Docker Compose); operations and tests use the
/// protocol so a fake can stand in.
public protocol Runtime: Sendable {
    /// The engine answers and a compose command exists; a clear error otherwise.
    func check() throws -> RuntimeInfo
    /// Creates or converges the stack (only changed services are recreated), detached.
    /// `forceRecreate` recreates the named services even when their definition is unchanged.
    func up(services: [String], forceRecreate: Bool) throws
    /// Removes containers and networks; named volumes too with `volumes`.
    func down(volumes: Bool) throws
    func start(_ services: [String]) throws
    func stop(_ services: [String], timeoutSeconds: Int) throws
    func kill(_ services: [String], signal: String) throws
    func pause(_ services: [String]) throws
    func unpause(_ services: [String]) throws
    /// Cuts a service off its project networks (a network partition), and back.
    func disconnect(_ service: String) throws
    func reconnect(_ service: String) throws
    /// Every container of the project, running or not.
    func services() throws -> [ServiceStatus]
    func stats() throws -> [ServiceStats]
    func logs(_ service: String, tail: Int) throws -> String
    func health(_ service: String) throws -> ServiceHealth
    /// The engine's own hard limit on open files, where it can be read (a daemon on this
    /// machine); containers cannot be given more (`ulimits: nofile`). Nil when unknown.
    func engineOpenFilesLimit() -> Int?
}

extension Runtime {
    public func engineOpenFilesLimit() -> Int? { nil }

    public func health(_ service: String) throws -> ServiceHealth {
        try services().first { $0.service == service }?.verdict ?? .missing
    }
}
