import Foundation
import HTTP
import Manifest
import OperationsCore
import Reports
import Runtime

/// Containers (memory vs limit and OOM kills exactly as `report memory` exports them; restarts),
/// disk (the containers' volumes and their filesystems), and whether the processor answers.
public enum HostMetrics {
    /// Pure. Restarts and running state per service from `report memory`'s rows.
    public static func writeContainers(_ report: MemoryReport, into e: inout Exposition) {
        e.append(raw: MemoryMetrics.exposition(report))
        let rows = report.rows.filter { $0.kind != "process" }
        e.gauge("cdcctl_container_running", "1 when the service's container runs, 0 when it exists but does not.",
                rows.map { ([("cluster", report.cluster), ("service", $0.service)], $0.state == "running" ? 1 : 0) })
        e.counter("cdcctl_container_restarts_total", "Restarts of the service's container (the engine's RestartCount).",
                  rows.map { ([("cluster", report.cluster), ("service", $0.service)], Double($0.restarts)) })
    }

    /// Pure.
    public static func writeDisk(_ volumes: [VolumeUsage], into e: inout Exposition) {
        func labels(_ v: VolumeUsage) -> [(String, String)] { [("service", v.service), ("volume", v.volume)] }
        e.gauge("cdcctl_disk_used_bytes", "Bytes allocated under the service's volume or data directory.",
                volumes.compactMap { v in v.usedBytes.map { (labels(v), Double($0)) } })
        e.gauge("cdcctl_disk_filesystem_size_bytes", "Size of the filesystem holding the volume.",
                volumes.compactMap { v in v.filesystemBytes.map { (labels(v), Double($0)) } })
        e.gauge("cdcctl_disk_filesystem_avail_bytes", "Bytes available to unprivileged users on the filesystem holding the volume.",
                volumes.compactMap { v in v.availableBytes.map { (labels(v), Double($0)) } })
    }
}

/// `Workspace` is a value of paths and settings, read only here.
public final class ContainerCollector: Collector, @unchecked Sendable {
    public let name = "containers"
    let workspace: Workspace
    let runtime: MemoryOperation.RuntimeFactory

    public init(workspace: Workspace, runtime: @escaping MemoryOperation.RuntimeFactory = MemoryOperation.dockerCompose) {
        self.workspace = workspace
        self.runtime = runtime
    }

    public func collect(into e: inout Exposition) throws {
        let result = try MemoryOperation.run(workspace, options: MemoryOperation.Options(), runtime: runtime)
        HostMetrics.writeContainers(result.report, into: &e)
    }
}

public final class DiskCollector: Collector, @unchecked Sendable {
    public let name = "disk"
    let workspace: Workspace
    let cluster: String
    let extraDirectories: [(service: String, path: String)]

    public init(workspace: Workspace, cluster: String, extraDirectories: [(service: String, path: String)]) {
        self.workspace = workspace
        self.cluster = cluster
        self.extraDirectories = extraDirectories
    }

    public func collect(into e: inout Exposition) throws {
        var volumes = extraDirectories.map { DiskReader.directory(service: $0.service, path: $0.path) }
        let env = workspace.environment.variables
        let dir = (try? workspace.existingState()?.cluster(named: cluster))?.projectDir ?? (workspace.stateDir + "/" + cluster)
        let runtime = MemoryOperation.dockerCompose(ComposeProject(name: cluster, directory: dir), env)
        let statuses = try runtime.services()
        volumes += try DiskReader.volumes(statuses, runner: SystemProcessRunner(environment: env))
        HostMetrics.writeDisk(volumes, into: &e)
    }
}

/// Asks the processor's own /metrics (processor.metricsPort on this host) whether it answers.
public final class ProcessorCollector: Collector {
    public let name = "processor"
    let url: String
    let timeout: Double

    public init(port: Int, timeout: Double) {
        url = "http://127.0.0.1:\(port)/metrics"
        self.timeout = timeout
    }

    public func collect(into e: inout Exposition) throws {
        let ok = (try? HTTPClient(retries: 0).send(HTTPRequest("GET", url, timeoutSeconds: timeout)).status == 200) ?? false
        e.gauge("cdcctl_processor_up", "1 when `cdcctl process run` answers on its metrics port, 0 when nothing does.", ok ? 1 : 0,
                labels: [("address", url)])
    }
}
