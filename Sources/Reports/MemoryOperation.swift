import Diagnostics
import Foundation
import Manifest
import OperationsCore
import Runtime
import State

/// What `cdcctl report memory` hands back: the report now, and with `--since` the history.
public struct MemoryReportResult: Sendable, Codable {
    public var report: MemoryReport
    public var since: String?
    public var history: [MemorySummary]
    public var samples: [MemorySampleRecord]
    /// Samples written by `--record`.
    public var recorded: Int
    /// The picture written, if any.
    public var pictureFile: String?
}

/// Reads the containers (through `Runtime` and their cgroup files), the cdcctl processes on this
/// host (/proc) and /proc/meminfo, then builds the report with `MemoryVerdict`. Thin.
public enum MemoryOperation {
    public typealias RuntimeFactory = @Sendable (ComposeProject, [String: String]) -> Runtime

    public static let dockerCompose: RuntimeFactory = { project, env in
        DockerComposeRuntime(project: project, runner: SystemProcessRunner(environment: env), environment: env)
    }

    public struct Options: Sendable {
        public var record = false
        public var sinceMs: Int64?
        public var sinceLabel: String?
        public var keepSamples = false
        public init() {}
    }

    public static func run(_ ws: Workspace, options: Options, runtime makeRuntime: RuntimeFactory = dockerCompose,
                           cgroups: CgroupReader = CgroupReader()) throws -> MemoryReportResult {
        let m = try ws.loadManifest().manifest
        let cluster = m.cluster.name
        let store = try ws.openState()
        let now = ws.environment.nowMs()
        let dir = try store.cluster(named: cluster)?.projectDir ?? (ws.stateDir + "/" + cluster)
        let runtime = makeRuntime(ComposeProject(name: cluster, directory: dir), ws.environment.variables)

        var containers: [ContainerMemory] = []
        let statuses = try runtime.services()
        var engine: [String: Int64] = [:]
        if statuses.contains(where: { $0.state == "running" && cgroups.read(pid: $0.pid) == nil }) {
            // A cgroup not readable from here (a remote engine, another kernel): the engine's own figure.
            for s in (try? runtime.stats()) ?? [] { engine[s.container] = s.memoryBytes }
        }
        for s in statuses {
            let cg = s.state == "running" || s.state == "paused" ? cgroups.read(pid: s.pid) : nil
            containers.append(ContainerMemory(status: s, cgroup: cg, engineUsageBytes: engine[s.container]))
        }
        let processes = HostProcesses.scan(manifest: ws.manifestPath)
        let flag = ws.manifestPath == "cdcctl.yaml" ? "" : " -m \(ws.manifestPath)"
        var peaks: [String: Int64] = [:]
        for s in try store.memorySamples(cluster: cluster, fromMs: now - MemoryHistory.rawRetentionMs) {
            peaks[s.service] = max(peaks[s.service] ?? 0, s.maxUsageBytes)
        }
        let report = MemoryVerdict.build(cluster: cluster, budget: MemoryBudget(m), containers: containers, processes: processes,
                                         host: HostMemory.read(), marks: try store.oomMarks(cluster: cluster), historyPeaks: peaks,
                                         cgroup: cgroups.version, nowMs: now, flag: flag)
        try store.recordOOMMarks(cluster: cluster, MemoryVerdict.marks(report))
        var recorded = 0
        if options.record {
            let samples = MemoryVerdict.samples(report)
            try store.recordMemorySamples(cluster: cluster, samples)
            try MemoryHistory.compact(store, cluster: cluster, nowMs: now)
            recorded = samples.count
        }
        var samples: [MemorySampleRecord] = []
        var history: [MemorySummary] = []
        if let since = options.sinceMs {
            samples = try store.memorySamples(cluster: cluster, fromMs: now - since, toMs: now + 1)
            history = MemoryHistory.summarize(samples)
        }
        return MemoryReportResult(report: report, since: options.sinceLabel, history: history,
                                  samples: options.keepSamples ? samples : [], recorded: recorded, pictureFile: nil)
    }
}
