import Diagnostics
import Foundation
@testable import Runtime
import XCTest

/// Answers subprocess calls from a script and records every argv: the Docker Compose runtime
/// is checked without Docker.
final class FakeRunner: ProcessRunner, @unchecked Sendable {
    private let lock = NSLock()
    private var calls: [[String]] = []
    var installed: Set<String>
    /// First matching rule answers; no rule → exit 0 with empty output.
    var rules: [(matches: ([String]) -> Bool, result: ProcessResult)] = []

    init(installed: Set<String> = ["docker", "docker-compose"]) { self.installed = installed }

    var argvs: [[String]] { lock.lock(); defer { lock.unlock() }; return calls }

    func on(_ prefix: [String], _ result: ProcessResult) {
        rules.append(({ Array($0.prefix(prefix.count)) == prefix }, result))
    }

    func onContaining(_ words: [String], _ result: ProcessResult) {
        rules.append(({ argv in words.allSatisfy(argv.contains) }, result))
    }

    func which(_ name: String) -> String? { installed.contains(name) ? "/usr/bin/\(name)" : nil }

    func run(_ argv: [String], timeoutSeconds: Double?) throws -> ProcessResult {
        guard let first = argv.first, installed.contains(first) else { throw ExecutableNotFound(name: argv.first ?? "") }
        lock.lock(); calls.append(argv); lock.unlock()
        return rules.first { $0.matches(argv) }?.result ?? ProcessResult(status: 0)
    }
}

final class RuntimeTests: XCTestCase {
    let project = ComposeProject(name: "cdc", directory: "/srv/cdc")

    func runtime(_ runner: FakeRunner, env: [String: String] = [:]) -> DockerComposeRuntime {
        DockerComposeRuntime(project: project, runner: runner, environment: env)
    }

    func plugin() -> FakeRunner {
        let r = FakeRunner()
        r.on(["docker", "version"], ProcessResult(status: 0, stdout: "20.10.24+dfsg1\n"))
        r.on(["docker", "compose", "version", "--short"], ProcessResult(status: 0, stdout: "2.40.3\n"))
        return r
    }

    // MARK: - finding Docker and compose

    func testUsesTheComposePluginAndPassesTheProjectExplicitly() throws {
        let r = plugin()
        let rt = runtime(r)
        let info = try rt.check()
        XCTAssertEqual(info, RuntimeInfo(engineVersion: "20.10.24+dfsg1", compose: "docker compose", composeVersion: "2.40.3"))
        try rt.up(services: [], forceRecreate: false)
        XCTAssertEqual(r.argvs.last, ["docker", "compose", "--project-name", "cdc", "--project-directory", "/srv/cdc",
                                      "--file", "/srv/cdc/docker-compose.yml", "up", "--detach", "--remove-orphans"])
    }

    func testFallsBackToStandaloneDockerCompose() throws {
        let r = FakeRunner()
        r.on(["docker", "version"], ProcessResult(status: 0, stdout: "20.10.24\n"))
        r.on(["docker", "compose"], ProcessResult(status: 1, stderr: "docker: 'compose' is not a docker command.\n"))
        r.on(["docker-compose", "version", "--short"], ProcessResult(status: 0, stdout: "1.29.2\n"))
        let rt = runtime(r)
        XCTAssertEqual(try rt.check().compose, "docker-compose")
        try rt.down(volumes: true)
        XCTAssertEqual(r.argvs.last, ["docker-compose", "--project-name", "cdc", "--project-directory", "/srv/cdc",
                                      "--file", "/srv/cdc/docker-compose.yml", "down", "--remove-orphans", "--timeout", "20", "--volumes"])
    }

    func testExplicitComposeBinary() throws {
        let r = FakeRunner(installed: ["docker", "/opt/compose"])
        r.on(["/opt/compose", "version", "--short"], ProcessResult(status: 0, stdout: "v2.40.3\n"))
        let rt = runtime(r, env: ["CDCCTL_COMPOSE": "/opt/compose"])
        let (command, version) = try rt.composeCommand()
        XCTAssertEqual(command, .standalone(path: "/opt/compose"))
        XCTAssertEqual(version, "2.40.3")
    }

    func testNoComposeAtAllSaysHowToInstallIt() throws {
        let r = FakeRunner(installed: ["docker"])
        r.on(["docker", "version"], ProcessResult(status: 0, stdout: "20.10.24\n"))
        r.on(["docker", "compose"], ProcessResult(status: 1, stderr: "unknown command: docker compose\n"))
        XCTAssertThrowsError(try runtime(r).check()) { error in
            XCTAssertEqual((error as? RuntimeError)?.reason, .composeNotInstalled)
            let e: CdcError? = CdcError.bridging(error)
            XCTAssertEqual(e?.exitCode, 1)
            XCTAssertTrue(e?.message.contains("neither `docker compose` nor `docker-compose` runs") == true, "\(error)")
            XCTAssertTrue(e?.fix?.contains("docker-compose-plugin") == true, "\(error)")
        }
    }

    func testDockerNotInstalled() throws {
        let r = FakeRunner(installed: [])
        XCTAssertThrowsError(try runtime(r).check()) { error in
            XCTAssertEqual((error as? RuntimeError)?.reason, .dockerNotInstalled)
            let e: CdcError? = CdcError.bridging(error)
            XCTAssertEqual(e?.message, "the docker command is not installed (not found on PATH)")
            XCTAssertTrue(e?.fix?.contains("apt-get install docker.io") == true)
        }
    }

    func testDaemonNotRunningNamesTheSocketItTried() throws {
        let r = FakeRunner()
        r.on(["docker", "version"], ProcessResult(status: 1, stdout: "Client: 28.2.2\n",
                                                  stderr: "Cannot connect to the Docker daemon at unix:///tmp/x.sock. Is the docker daemon running?\n"))
        XCTAssertThrowsError(try runtime(r, env: ["DOCKER_HOST": "unix:///tmp/x.sock"]).check()) { error in
            XCTAssertEqual((error as? RuntimeError)?.reason, .daemonNotRunning(address: "unix:///tmp/x.sock", fromDockerHost: true))
            XCTAssertEqual((error as? RuntimeError)?.engineUnavailable, true)
            let e: CdcError? = CdcError.bridging(error)
            XCTAssertEqual(e?.message, "the Docker daemon is not running (nothing answers at unix:///tmp/x.sock)")
            XCTAssertTrue(e?.fix?.contains("DOCKER_HOST") == true)
        }
        XCTAssertThrowsError(try runtime(r).check()) { error in
            XCTAssertEqual(CdcError.bridging(error).message, "the Docker daemon is not running (nothing answers at unix:///var/run/docker.sock)")
            XCTAssertTrue(CdcError.bridging(error).fix?.contains("systemctl start docker") == true)
        }
    }

    func testPermissionDeniedOnTheSocket() throws {
        let r = FakeRunner()
        r.on(["docker", "version"], ProcessResult(status: 1, stderr: "permission denied while trying to connect to the Docker daemon socket at unix:///var/run/docker.sock\n"))
        XCTAssertThrowsError(try runtime(r).check()) { error in
            XCTAssertTrue(CdcError.bridging(error).fix?.contains("docker group") == true, "\(error)")
        }
    }

    func testComposeFailureCarriesItsMessage() throws {
        let r = plugin()
        r.onContaining(["up"], ProcessResult(status: 1, stderr: "Error response from daemon: no such image: x\n"))
        XCTAssertThrowsError(try runtime(r).up(services: [], forceRecreate: false)) { error in
            XCTAssertTrue("\(error)".contains("docker compose up failed: Error response from daemon: no such image: x"), "\(error)")
        }
    }

    /// runc's raw rlimit error becomes a message that names the manifest field and the fix.
    func testOpenFilesRefusalIsTranslated() throws {
        let r = plugin()
        r.onContaining(["up"], ProcessResult(status: 1, stderr: "Error response from daemon: error setting rlimit type 7: operation not permitted\n"))
        XCTAssertThrowsError(try runtime(r).up(services: [], forceRecreate: false)) { error in
            guard case .openFilesLimitRefused? = (error as? RuntimeError)?.reason else { return XCTFail("\(error)") }
            let e = CdcError.bridging(error)
            XCTAssertEqual(e.subject, "clickhouse.openFiles")
            XCTAssertEqual(e.exitCode, 2)
            XCTAssertTrue(e.fix?.contains("lower clickhouse.openFiles") == true, "\(e)")
        }
    }

    func testEngineLimitsAreReadFromProc() {
        let limits = """
            Limit                     Soft Limit           Hard Limit           Units
            Max processes             unlimited            unlimited            processes
            Max open files            1024                 20000                files
            """
        XCTAssertEqual(DockerComposeRuntime.hardOpenFiles(limits), 20000)
        XCTAssertEqual(DockerComposeRuntime.hardOpenFiles("Max open files            1048576              unlimited            files"), Int.max)
        XCTAssertEqual(DockerComposeRuntime.daemonSockets(["dockerd", "--data-root", "/d", "-H", "unix:///tmp/d.sock", "--host=unix:///run/x.sock",
                                                           "-H", "tcp://0.0.0.0:2375"]), ["/tmp/d.sock", "/run/x.sock"])
        // This machine's own daemon (the Docker testbed's, when it runs): read where it can be.
        if let host = ProcessInfo.processInfo.environment["DOCKER_HOST"], host.hasPrefix("unix://") {
            let limit = DockerComposeRuntime(project: project, runner: FakeRunner(), environment: ["DOCKER_HOST": host]).engineOpenFilesLimit()
            XCTAssertNotNil(limit, "the testbed's dockerd at \(host) runs on this machine")
        }
    }

    // MARK: - lifecycle argv

    func testLifecycleCommands() throws {
        let r = plugin()
        let rt = runtime(r)
        let base = ["docker", "compose", "--project-name", "cdc", "--project-directory", "/srv/cdc", "--file", "/srv/cdc/docker-compose.yml"]
        try rt.up(services: ["mysql", "connect"], forceRecreate: true)
        XCTAssertEqual(r.argvs.last, base + ["up", "--detach", "--remove-orphans", "--force-recreate", "--no-deps", "mysql", "connect"])
        try rt.stop(["kafka-2"], timeoutSeconds: 5)
        XCTAssertEqual(r.argvs.last, base + ["stop", "--timeout", "5", "kafka-2"])
        try rt.kill(["kafka-2"], signal: "SIGKILL")
        XCTAssertEqual(r.argvs.last, base + ["kill", "--signal", "SIGKILL", "kafka-2"])
        try rt.start(["kafka-2"])
        XCTAssertEqual(r.argvs.last, base + ["start", "kafka-2"])
        try rt.pause(["connect"])
        XCTAssertEqual(r.argvs.last, base + ["pause", "connect"])
        try rt.unpause(["connect"])
        XCTAssertEqual(r.argvs.last, base + ["unpause", "connect"])
        try rt.down(volumes: false)
        XCTAssertEqual(r.argvs.last, base + ["down", "--remove-orphans", "--timeout", "20"])
    }

    func testDisconnectAndReconnectUseTheProjectNetwork() throws {
        let r = plugin()
        r.on(["docker", "ps"], ProcessResult(status: 0, stdout: "abc123\n"))
        r.on(["docker", "inspect"], ProcessResult(status: 0, stdout: Self.inspectJSON))
        r.on(["docker", "network", "ls"], ProcessResult(status: 0, stdout: "cdc_default\n"))
        let rt = runtime(r)
        try rt.disconnect("kafka-2")
        XCTAssertEqual(r.argvs.last, ["docker", "network", "disconnect", "cdc_default", "abc123"])
        XCTAssertTrue(r.argvs.contains(["docker", "ps", "--all", "--quiet", "--no-trunc", "--filter", "label=com.docker.compose.project=cdc"]))
    }

    // MARK: - parsing

    static let inspectJSON = """
        [{"Id": "abc123", "Name": "/cdc-kafka-2", "Image": "sha256:feed", "RestartCount": 1,
          "Config": {"Image": "apache/kafka:3.9.1", "Labels": {"com.docker.compose.project": "cdc", "com.docker.compose.service": "kafka-2"}},
          "State": {"Status": "running", "StartedAt": "2026-11-21T20:00:00Z", "ExitCode": 0, "Pid": 4242, "OOMKilled": true,
                    "Health": {"Status": "unhealthy", "Log": [{"Output": "first"}, {"Output": "bash: connect: Connection refused\\n"}]}},
          "HostConfig": {"Memory": 805306368},
          "NetworkSettings": {"Ports": {"9092/tcp": [{"HostIp": "127.0.0.1", "HostPort": "9093"}], "19092/tcp": null},
                              "Networks": {"cdc_default": {}}}},
         {"Id": "def456", "Name": "/cdc-prometheus", "Image": "sha256:beef",
          "Config": {"Image": "prom/prometheus:v2.54.1", "Labels": {"com.docker.compose.service": "prometheus"}},
          "State": {"Status": "exited", "ExitCode": 137}, "HostConfig": {"Memory": 0}, "NetworkSettings": {"Ports": {}, "Networks": {}}},
         {"Id": "zzz", "Name": "/other", "Config": {"Image": "busybox", "Labels": {}}, "State": {"Status": "running"}}]
        """

    func testParseInspect() throws {
        let statuses = try DockerComposeRuntime.parseInspect(Self.inspectJSON)
        XCTAssertEqual(statuses.count, 2, "a container without a compose service label is not ours")
        XCTAssertEqual(statuses[0], ServiceStatus(service: "kafka-2", container: "cdc-kafka-2", id: "abc123", image: "apache/kafka:3.9.1",
                                                  imageId: "sha256:feed", state: "running", health: "unhealthy",
                                                  lastHealthOutput: "bash: connect: Connection refused", startedAt: "2026-11-21T20:00:00Z",
                                                  exitCode: 0, restartCount: 1, memoryLimitBytes: 805_306_368,
                                                  ports: [PublishedPort(hostIP: "127.0.0.1", hostPort: 9093, containerPort: 9092)],
                                                  networks: ["cdc_default"], pid: 4242, oomKilled: true))
        XCTAssertEqual(statuses[1].pid, 0, "no Pid: not running")
        XCTAssertFalse(statuses[1].oomKilled)
        XCTAssertEqual(statuses[0].verdict, .unhealthy)
        XCTAssertEqual(statuses[1].verdict, .stopped)
        XCTAssertEqual(statuses[1].exitCode, 137)
        XCTAssertEqual(statuses[0].ports.map(\.description), ["127.0.0.1:9093->9092"])
        XCTAssertThrowsError(try DockerComposeRuntime.parseInspect("Error: No such container"))
    }

    func testHealthVerdicts() {
        XCTAssertEqual(ServiceHealth(state: "running", health: nil), .running)
        XCTAssertEqual(ServiceHealth(state: "running", health: "starting"), .starting)
        XCTAssertEqual(ServiceHealth(state: "running", health: "healthy"), .healthy)
        XCTAssertEqual(ServiceHealth(state: "restarting", health: "unhealthy"), .restarting)
        XCTAssertEqual(ServiceHealth(state: "paused", health: "healthy"), .paused)
        XCTAssertEqual(ServiceHealth(state: "created", health: nil), .stopped)
        XCTAssertTrue(ServiceHealth.running.isReady)
        XCTAssertFalse(ServiceHealth.starting.isReady)
    }

    func testParseStats() {
        let text = """
            {"CPUPerc":"1.25%","MemPerc":"10.0%","MemUsage":"76.8MiB / 768MiB","Name":"cdc-kafka-1"}
            {"CPUPerc":"0.00%","MemUsage":"1.5GiB / 2GiB","Name":"cdc-clickhouse"}
            not json
            """
        XCTAssertEqual(DockerComposeRuntime.parseStats(text), [
            ServiceStats(container: "cdc-kafka-1", memoryBytes: 80_530_636, memoryLimitBytes: 805_306_368, cpuPercent: 1.25),
            ServiceStats(container: "cdc-clickhouse", memoryBytes: 1_610_612_736, memoryLimitBytes: 2_147_483_648, cpuPercent: 0),
        ])
        XCTAssertEqual(DockerComposeRuntime.parseBytes("0B"), 0)
        XCTAssertEqual(DockerComposeRuntime.parseBytes("100kB"), 100_000)
        XCTAssertEqual(DockerComposeRuntime.parseBytes("512MiB"), 536_870_912)
    }

    func testServicesWithNoContainersSkipsInspect() throws {
        let r = plugin()
        XCTAssertEqual(try runtime(r).services(), [])
        XCTAssertFalse(r.argvs.contains { $0.starts(with: ["docker", "inspect"]) })
    }

    func testHealthOfAServiceWithoutContainerIsMissing() throws {
        let r = plugin()
        XCTAssertEqual(try runtime(r).health("mysql"), .missing)
    }

    /// The real runner: output, exit status and a missing executable.
    func testSystemProcessRunner() throws {
        let runner = SystemProcessRunner()
        let r = try runner.run(["sh", "-c", "echo out; echo err >&2; exit 3"], timeoutSeconds: 10)
        XCTAssertEqual(r, ProcessResult(status: 3, stdout: "out\n", stderr: "err\n"))
        XCTAssertThrowsError(try runner.run(["cdcctl-no-such-binary"], timeoutSeconds: nil)) { error in
            XCTAssertEqual(error as? ExecutableNotFound, ExecutableNotFound(name: "cdcctl-no-such-binary"))
        }
        let slow = try runner.run(["sleep", "5"], timeoutSeconds: 0.3)
        XCTAssertNotEqual(slow.status, 0, "a timed-out process is terminated")
    }
}
