import Diagnostics
import Foundation
import Manifest
import Runtime
import State

/// One service's memory now.
public struct MemoryRow: Sendable, Codable, Equatable {
    public var service: String
    /// `container`, `process` (a cdcctl process on this host), or `container (not in manifest)`.
    public var kind: String
    /// running, restarting, exited, … as the engine says; `missing` when nothing runs for it.
    public var state: String
    /// The manifest's limit and JVM heap (nil for a container the manifest does not name).
    public var plannedLimitBytes: Int64?
    public var heapBytes: Int64?
    /// The limit in force: the cgroup's (or the engine's), else the manifest's for a process (not enforced).
    public var limitBytes: Int64?
    /// docker-stats usage for a container, RSS for a process.
    public var usageBytes: Int64?
    public var percentOfLimit: Double?
    public var peakBytes: Int64?
    /// Where the peak comes from: memory.peak, memory.max_usage_in_bytes, VmHWM or history.
    public var peakSource: String?
    public var anonBytes: Int64?
    public var fileBytes: Int64?
    public var shmemBytes: Int64?
    /// The container's OOM-kill counter, and how many of them are new since the last report.
    public var oomKills: Int64
    public var newOOMKills: Int64
    public var restarts: Int
    /// cgroup v1, cgroup v2, engine stats (the cgroup was not readable from here), /proc, or none.
    public var source: String
    public var containerId: String?
    public var pid: Int?
}

public struct MemoryTotals: Sendable, Codable, Equatable {
    public var usageBytes: Int64
    /// Sum of the manifest's limits (what `cdcctl validate` plans).
    public var plannedBytes: Int64
    /// The manifest's host memory minus its reserve: what the limits must fit in.
    public var budgetBytes: Int64
    public var plannedHostBytes: Int64
    public var reserveBytes: Int64
    /// `/proc/meminfo` MemTotal and MemAvailable of the host cdcctl runs on.
    public var hostTotalBytes: Int64?
    public var hostAvailableBytes: Int64?
}

public struct MemoryProblem: Sendable, Codable, Equatable, CustomStringConvertible {
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

public struct MemoryReport: Sendable, Codable, Equatable {
    public var cluster: String
    public var atMs: Int64
    /// The host's cgroup hierarchy (nil when none is readable here).
    public var cgroup: String?
    public var rows: [MemoryRow]
    public var totals: MemoryTotals
    /// One plain sentence when nothing of the cluster runs.
    public var summary: String?
    public var problems: [MemoryProblem]
    public var healthy: Bool { problems.isEmpty }
}

/// What was observed of one container.
public struct ContainerMemory: Sendable, Equatable {
    public var status: ServiceStatus
    public var cgroup: CgroupMemory?
    /// `docker stats` usage, when the cgroup files are not readable from here (a remote engine).
    public var engineUsageBytes: Int64?

    public init(status: ServiceStatus, cgroup: CgroupMemory?, engineUsageBytes: Int64? = nil) {
        self.status = status
        self.cgroup = cgroup
        self.engineUsageBytes = engineUsageBytes
    }
}

/// Builds the report and its verdict from what was observed. Pure.
public enum MemoryVerdict {
    /// Above this share of its limit a service is named.
    public static let threshold = 0.90
    static let mib: Int64 = 1_048_576

    public static func build(cluster: String, budget: MemoryBudget, containers: [ContainerMemory], processes: [HostProcess],
                             host: HostMemory?, marks: [OOMMark], historyPeaks: [String: Int64] = [:], cgroup: CgroupVersion?,
                             nowMs: Int64, flag: String = "") -> MemoryReport {
        let planned = Dictionary(budget.lines.map { ($0.service, $0) }, uniquingKeysWith: { a, _ in a })
        let markOf = Dictionary(marks.map { ($0.service, $0) }, uniquingKeysWith: { a, _ in a })
        var rows: [MemoryRow] = []
        let byService = Dictionary(grouping: containers, by: \.status.service)
        let processByService = Dictionary(grouping: processes, by: \.service)

        func peak(_ service: String, _ kernel: Int64?, _ kernelSource: String) -> (Int64?, String?) {
            if let kernel { return (kernel, kernelSource) }
            if let h = historyPeaks[service] { return (h, "history") }
            return (nil, nil)
        }

        func containerRow(_ c: ContainerMemory, _ line: MemoryBudget.Line?) -> MemoryRow {
            let s = c.status
            let cg = c.cgroup
            let usage = cg?.usageBytes ?? c.engineUsageBytes
            let limit = cg?.limitBytes ?? (s.memoryLimitBytes > 0 ? s.memoryLimitBytes : nil)
            let kills = max(cg?.oomKills ?? 0, s.oomKilled ? 1 : 0)
            let mark = markOf[s.service]
            let seen = mark.map { $0.containerId == s.id ? $0.oomKills : 0 } ?? 0
            let (p, ps) = peak(s.service, cg?.peakBytes, cg?.version == .v2 ? "memory.peak" : "memory.max_usage_in_bytes")
            return MemoryRow(service: s.service, kind: line == nil ? "container (not in manifest)" : "container", state: s.state,
                             plannedLimitBytes: line.map { Int64($0.limitMiB) * mib }, heapBytes: line?.heapMiB.map { Int64($0) * mib },
                             limitBytes: limit, usageBytes: s.state == "running" ? usage : nil,
                             percentOfLimit: percent(s.state == "running" ? usage : nil, limit), peakBytes: p, peakSource: ps,
                             anonBytes: cg?.anonBytes, fileBytes: cg?.fileBytes, shmemBytes: cg?.shmemBytes, oomKills: kills,
                             newOOMKills: max(0, kills - seen), restarts: s.restartCount,
                             source: cg.map { "cgroup \($0.version.rawValue)" } ?? (c.engineUsageBytes != nil ? "engine stats" : "none"),
                             containerId: s.id, pid: s.pid > 0 ? s.pid : nil)
        }

        for line in budget.lines {
            if line.kind == "container" {
                if let cs = byService[line.service], !cs.isEmpty {
                    rows += cs.map { containerRow($0, line) }
                } else {
                    rows.append(missing(line))
                }
            } else if let ps = processByService[line.service], !ps.isEmpty {
                for p in ps {
                    let limit = Int64(line.limitMiB) * mib
                    let (pk, pks) = peak(line.service, p.status.peakBytes, "VmHWM")
                    rows.append(MemoryRow(service: line.service, kind: "process", state: "running", plannedLimitBytes: limit,
                                          heapBytes: nil, limitBytes: limit, usageBytes: p.status.rssBytes,
                                          percentOfLimit: percent(p.status.rssBytes, limit), peakBytes: pk, peakSource: pks,
                                          anonBytes: p.status.anonBytes, fileBytes: p.status.fileBytes, shmemBytes: p.status.shmemBytes,
                                          oomKills: 0, newOOMKills: 0, restarts: 0, source: "/proc", containerId: nil, pid: p.pid))
                }
            } else {
                rows.append(missing(line))
            }
        }
        for (service, cs) in byService.sorted(by: { $0.key < $1.key }) where planned[service] == nil {
            rows += cs.map { containerRow($0, nil) }
        }
        for (service, ps) in processByService.sorted(by: { $0.key < $1.key }) where planned[service] == nil {
            for p in ps {
                let (pk, pks) = peak(service, p.status.peakBytes, "VmHWM")
                rows.append(MemoryRow(service: service, kind: "process", state: "running", plannedLimitBytes: nil, heapBytes: nil,
                                      limitBytes: nil, usageBytes: p.status.rssBytes, percentOfLimit: nil, peakBytes: pk, peakSource: pks,
                                      anonBytes: p.status.anonBytes, fileBytes: p.status.fileBytes, shmemBytes: p.status.shmemBytes,
                                      oomKills: 0, newOOMKills: 0, restarts: 0, source: "/proc", containerId: nil, pid: p.pid))
            }
        }

        let totals = MemoryTotals(usageBytes: rows.compactMap(\.usageBytes).reduce(0, +), plannedBytes: Int64(budget.totalMiB) * mib,
                                  budgetBytes: Int64(budget.budgetMiB) * mib, plannedHostBytes: Int64(budget.hostMiB) * mib,
                                  reserveBytes: Int64(budget.reserveMiB) * mib, hostTotalBytes: host?.totalBytes,
                                  hostAvailableBytes: host?.availableBytes)
        guard !containers.isEmpty || !processes.isEmpty else {
            return MemoryReport(cluster: cluster, atMs: nowMs, cgroup: cgroup?.rawValue, rows: rows, totals: totals,
                                summary: "nothing is running for cluster \(cluster)",
                                problems: [MemoryProblem("cluster \(cluster)", "no container of it exists and no cdcctl process of it runs on this host",
                                                         fix: "cdcctl\(flag) up starts it; cdcctl\(flag) status shows what answers")])
        }
        return MemoryReport(cluster: cluster, atMs: nowMs, cgroup: cgroup?.rawValue, rows: rows, totals: totals, summary: nil,
                            problems: problems(rows: rows, totals: totals, flag: flag))
    }

    static func missing(_ line: MemoryBudget.Line) -> MemoryRow {
        MemoryRow(service: line.service, kind: line.kind, state: "missing", plannedLimitBytes: Int64(line.limitMiB) * mib,
                  heapBytes: line.heapMiB.map { Int64($0) * mib }, limitBytes: nil, usageBytes: nil, percentOfLimit: nil, peakBytes: nil,
                  peakSource: nil, anonBytes: nil, fileBytes: nil, shmemBytes: nil, oomKills: 0, newOOMKills: 0, restarts: 0,
                  source: "none", containerId: nil, pid: nil)
    }

    static func percent(_ usage: Int64?, _ limit: Int64?) -> Double? {
        guard let usage, let limit, limit > 0 else { return nil }
        return Double(usage) * 100 / Double(limit)
    }

    /// The verdict: above 90 % of the limit, OOM-killed since the last report, restarting, or
    /// the total over the budget — each named with its fix.
    public static func problems(rows: [MemoryRow], totals: MemoryTotals, flag: String = "") -> [MemoryProblem] {
        var out: [MemoryProblem] = []
        for r in rows {
            if let p = r.percentOfLimit, p > threshold * 100, let u = r.usageBytes, let l = r.limitBytes {
                out.append(MemoryProblem(r.service, "uses \(Bytes.mib(u)) of its \(Bytes.mib(l)) limit (\(String(format: "%.0f", p)) %, above \(Int(threshold * 100)) %)",
                                         fix: r.kind == "process" ? "raise its memoryMiB in the manifest or lower its load"
                                            : "raise its memoryMiB (and heap) in the manifest, then cdcctl\(flag) up; or find what grows (anon \(r.anonBytes.map(Bytes.mib) ?? "?"), file \(r.fileBytes.map(Bytes.mib) ?? "?"))"))
            }
            if r.newOOMKills > 0 {
                out.append(MemoryProblem(r.service, "OOM-killed \(r.newOOMKills) time\(r.newOOMKills == 1 ? "" : "s") since the last report (\(r.oomKills) in this container's life)",
                                         fix: "raise its memoryMiB in the manifest (or lower its heap so the JVM fits), then cdcctl\(flag) up; the next report counts only new kills"))
            }
            if r.state == "restarting" {
                out.append(MemoryProblem(r.service, "is restarting (\(r.restarts) restarts)",
                                         fix: "docker logs of its container say why; cdcctl\(flag) status shows its health"))
            }
        }
        if totals.usageBytes > totals.budgetBytes {
            out.append(MemoryProblem("total", "services use \(Bytes.mib(totals.usageBytes)), over the budget of \(Bytes.mib(totals.budgetBytes)) (host \(Bytes.mib(totals.plannedHostBytes)) − reserve \(Bytes.mib(totals.reserveBytes)))",
                                     fix: "lower the largest services' memoryMiB, or disable optional ones (kafkaUI, cloudflared)"))
        }
        return out
    }

    /// The OOM counters to remember, so the next report names only new kills.
    public static func marks(_ report: MemoryReport) -> [OOMMark] {
        report.rows.compactMap { r in
            guard let id = r.containerId else { return nil }
            return OOMMark(service: r.service, containerId: id, oomKills: r.oomKills, seenAtMs: report.atMs)
        }
    }

    /// The report as samples for the history table.
    public static func samples(_ report: MemoryReport) -> [MemorySampleRecord] {
        var seen = Set<String>()
        return report.rows.compactMap { r in
            guard let usage = r.usageBytes, seen.insert(r.service).inserted else { return nil }
            return MemorySampleRecord(service: r.service, atMs: report.atMs, kind: r.kind == "process" ? "process" : "container",
                                      usageBytes: usage, limitBytes: r.limitBytes ?? 0, rssBytes: r.kind == "process" ? usage : (r.anonBytes ?? 0),
                                      anonBytes: r.anonBytes ?? 0, fileBytes: r.fileBytes ?? 0, oomKills: r.oomKills)
        }
    }
}

/// Byte figures for people.
public enum Bytes {
    public static func mib(_ b: Int64) -> String {
        let m = Double(b) / 1_048_576
        return m >= 10 ? String(format: "%.0f MiB", m) : String(format: "%.1f MiB", m)
    }
}
