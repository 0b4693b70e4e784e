import Diagnostics

/// What went wrong driving the container engine; callers branch on `reason`.
public struct RuntimeError: Error, Sendable, Equatable, CustomStringConvertible, CdcErrorConvertible {
    public enum Reason: Sendable, Equatable {
        case dockerNotInstalled
        case daemonPermissionDenied(address: String)
        /// Nothing answers at the socket; `fromDockerHost` when DOCKER_HOST named it.
        case daemonNotRunning(address: String, fromDockerHost: Bool)
        case daemonNoAnswer(address: String, output: String)
        case composeNotInstalled
        /// `CDCCTL_COMPOSE` names something that does not run as docker compose.
        case composeOverrideBroken(String)
        case composeFailed(what: String, command: String, output: String, projectDirectory: String)
        case noContainer(service: String, project: String)
        case networkChangeFailed(service: String, network: String, connect: Bool, output: String)
        case unreadableOutput(command: String, output: String)
        /// runc could not give a container the open-files limit the compose file asks for.
        case openFilesLimitRefused(output: String)
    }

    public var reason: Reason

    public init(_ reason: Reason) { self.reason = reason }

    /// The engine is missing or unreachable: nothing of the stack can be judged.
    public var engineUnavailable: Bool {
        switch reason {
        case .dockerNotInstalled, .daemonPermissionDenied, .daemonNotRunning, .daemonNoAnswer, .composeNotInstalled, .composeOverrideBroken: true
        default: false
        }
    }

    public var description: String {
        switch reason {
        case .dockerNotInstalled: "the docker command is not installed (not found on PATH)"
        case let .daemonPermissionDenied(address): "permission denied on the Docker daemon socket at \(address)"
        case let .daemonNotRunning(address, _): "the Docker daemon is not running (nothing answers at \(address))"
        case let .daemonNoAnswer(address, output): "the Docker daemon at \(address) did not answer: \(output)"
        case .composeNotInstalled: "Docker Compose is not installed: neither `docker compose` nor `docker-compose` runs"
        case let .composeOverrideBroken(path): "CDCCTL_COMPOSE=\(path) does not run as docker compose"
        case let .composeFailed(what, _, output, _): "docker compose \(what) failed: \(output)"
        case let .noContainer(service, project): "service \(service) has no container in project \(project)"
        case let .networkChangeFailed(service, network, connect, output):
            "cannot \(connect ? "reconnect" : "disconnect") \(service) \(connect ? "to" : "from") \(network): \(output)"
        case let .unreadableOutput(command, output): "\(command) printed something that is not a JSON array: \(output)"
        case let .openFilesLimitRefused(output):
            "the container engine refused the open-files limit the stack asks for (runc: \(output)); the containers started so far keep running"
        }
    }

    public var cdcError: CdcError {
        switch reason {
        case .dockerNotInstalled:
            .failed(description, subject: "docker",
                    fix: "install Docker Engine and its CLI (Debian: apt-get install docker.io; or Docker's docker-ce packages), then run this again")
        case .daemonPermissionDenied:
            .failed(description, subject: "docker",
                    fix: "run as root, or add your user to the docker group (usermod -aG docker $USER) and log in again")
        case let .daemonNotRunning(_, fromDockerHost):
            .failed(description, subject: "docker",
                    fix: fromDockerHost ? "start the daemon that DOCKER_HOST names, or unset DOCKER_HOST to use /var/run/docker.sock"
                                        : "start it (systemctl start docker, or dockerd &), or set DOCKER_HOST to the socket of a running daemon")
        case .daemonNoAnswer:
            .failed(description, subject: "docker", fix: "check `docker version` works, then run this again", transient: true)
        case .composeNotInstalled:
            .failed(description, subject: "docker compose",
                    fix: "install the Compose v2 plugin (docker-compose-plugin, or the binary in ~/.docker/cli-plugins/docker-compose), or docker-compose")
        case .composeOverrideBroken:
            .failed(description, subject: "CDCCTL_COMPOSE", fix: "point CDCCTL_COMPOSE at a docker-compose binary, or unset it")
        case let .composeFailed(_, command, _, directory):
            .failed(description, subject: "docker compose \(command)",
                    fix: "see the message above; `cdcctl status` shows each service, and `docker compose --project-directory \(directory) logs SERVICE` its log")
        case let .noContainer(service, _):
            .invalid(description, subject: service, fix: "cdcctl status lists the services; cdcctl up creates them")
        case let .networkChangeFailed(service, _, _, _):
            .failed(description, subject: service)
        case .unreadableOutput:
            .failed(description, subject: "docker inspect")
        case .openFilesLimitRefused:
            .invalid(description, subject: "clickhouse.openFiles",
                     fix: "lower clickhouse.openFiles in the manifest to at most the engine's own hard limit (`grep 'open files' /proc/$(pidof dockerd)/limits`), "
                         + "or raise dockerd's limit (LimitNOFILE in its systemd unit); then cdcctl up again")
        }
    }
}
