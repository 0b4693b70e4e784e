import Foundation

/// Which cgroup hierarchy the host mounts at /sys/fs/cgroup.
public enum CgroupVersion: String, Sendable, Codable, Equatable {
    /// Legacy hierarchies, one per controller (`/sys/fs/cgroup/memory/...`).
    case v1
    /// The unified hierarchy (`/sys/fs/cgroup/...`, `cgroup.controllers` at its root).
    case v2

    /// v2 when the root is the unified hierarchy with the memory controller; v1 when a `memory`
    /// hierarchy is mounted (hybrid hosts keep memory in v1); nil when neither is readable.
    public static func detect(root: String = "/sys/fs/cgroup") -> CgroupVersion? {
        let fm = FileManager.default
        if let controllers = PseudoFile.text(root + "/cgroup.controllers"),
           controllers.split(whereSeparator: \.isWhitespace).contains("memory") {
            return .v2
        }
        if fm.fileExists(atPath: root + "/memory/memory.usage_in_bytes") || fm.fileExists(atPath: root + "/memory/memory.stat") {
            return .v1
        }
        return nil
    }
}

/// One container's memory counters, read from its cgroup.
public struct CgroupMemory: Sendable, Codable, Equatable {
    public var version: CgroupVersion
    /// `memory.current` (v2) / `memory.usage_in_bytes` (v1): everything charged, page cache included.
    public var chargedBytes: Int64
    /// `inactive_file` (v2) / `total_inactive_file` (v1): page cache the kernel reclaims first.
    public var inactiveFileBytes: Int64
    /// `memory.max` / `memory.limit_in_bytes`; nil when unlimited.
    public var limitBytes: Int64?
    /// `memory.peak` (v2, kernel ≥ 5.19) / `memory.max_usage_in_bytes` (v1): the highest charge
    /// since the cgroup was created (page cache included); nil when the kernel has none.
    public var peakBytes: Int64?
    /// `anon` / `total_rss`: anonymous memory (heaps, stacks).
    public var anonBytes: Int64
    /// `file` / `total_cache`: file-backed page cache (tmpfs and shm included).
    public var fileBytes: Int64
    /// `shmem` / `total_shmem`: tmpfs and shared memory; charged like anon and not reclaimable.
    public var shmemBytes: Int64
    /// `memory.events` `oom_kill` (v2) / `memory.oom_control` `oom_kill` (v1, kernel ≥ 4.13).
    public var oomKills: Int64

    public init(version: CgroupVersion, chargedBytes: Int64, inactiveFileBytes: Int64, limitBytes: Int64?, peakBytes: Int64?,
                anonBytes: Int64, fileBytes: Int64, shmemBytes: Int64, oomKills: Int64) {
        self.version = version
        self.chargedBytes = chargedBytes
        self.inactiveFileBytes = inactiveFileBytes
        self.limitBytes = limitBytes
        self.peakBytes = peakBytes
        self.anonBytes = anonBytes
        self.fileBytes = fileBytes
        self.shmemBytes = shmemBytes
        self.oomKills = oomKills
    }

    /// What `docker stats` shows as MEM USAGE (docker/cli `calculateMemUsageUnixNoCache`): the
    /// charge minus the inactive page cache, never below zero.
    public var usageBytes: Int64 { Self.dockerStatsUsage(charged: chargedBytes, inactiveFile: inactiveFileBytes) }

    public static func dockerStatsUsage(charged: Int64, inactiveFile: Int64) -> Int64 {
        inactiveFile < charged ? charged - inactiveFile : charged
    }

    // MARK: - Parsing (pure): file name → content

    /// `key value` lines (`memory.stat`, `memory.events`, `memory.oom_control`).
    public static func keyValues(_ text: String) -> [String: Int64] {
        var out: [String: Int64] = [:]
        for line in text.split(separator: "\n") {
            let parts = line.split(whereSeparator: \.isWhitespace)
            if parts.count == 2, let v = Int64(parts[1]) { out[String(parts[0])] = v }
        }
        return out
    }

    static func number(_ text: String?) -> Int64? {
        guard let t = text?.trimmingCharacters(in: .whitespacesAndNewlines), !t.isEmpty, t != "max" else { return nil }
        return Int64(t)
    }

    /// v1 reports "no limit" as a huge page-aligned number (PAGE_COUNTER_MAX × page size).
    static let v1Unlimited: Int64 = 1 << 60

    /// cgroup v1 memory controller files.
    public static func parseV1(_ files: [String: String]) -> CgroupMemory? {
        guard let usage = number(files["memory.usage_in_bytes"]) else { return nil }
        let stat = keyValues(files["memory.stat"] ?? "")
        let limit = number(files["memory.limit_in_bytes"]).flatMap { $0 >= v1Unlimited ? nil : $0 }
        return CgroupMemory(version: .v1, chargedBytes: usage, inactiveFileBytes: stat["total_inactive_file"] ?? stat["inactive_file"] ?? 0,
                            limitBytes: limit, peakBytes: number(files["memory.max_usage_in_bytes"]),
                            anonBytes: stat["total_rss"] ?? stat["rss"] ?? 0, fileBytes: stat["total_cache"] ?? stat["cache"] ?? 0,
                            shmemBytes: stat["total_shmem"] ?? stat["shmem"] ?? 0,
                            oomKills: keyValues(files["memory.oom_control"] ?? "")["oom_kill"] ?? 0)
    }

    /// cgroup v2 memory controller files.
    public static func parseV2(_ files: [String: String]) -> CgroupMemory? {
        guard let current = number(files["memory.current"]) else { return nil }
        let stat = keyValues(files["memory.stat"] ?? "")
        return CgroupMemory(version: .v2, chargedBytes: current, inactiveFileBytes: stat["inactive_file"] ?? 0,
                            limitBytes: number(files["memory.max"]), peakBytes: number(files["memory.peak"]),
                            anonBytes: stat["anon"] ?? 0, fileBytes: stat["file"] ?? 0, shmemBytes: stat["shmem"] ?? 0,
                            oomKills: keyValues(files["memory.events"] ?? "")["oom_kill"] ?? 0)
    }

    public static let v1Files = ["memory.usage_in_bytes", "memory.limit_in_bytes", "memory.max_usage_in_bytes", "memory.stat", "memory.oom_control"]
    public static let v2Files = ["memory.current", "memory.max", "memory.peak", "memory.stat", "memory.events"]

    /// The memory cgroup of a process, from `/proc/PID/cgroup`: the `memory` controller's line
    /// on v1, the `0::` line on v2; a path relative to the hierarchy's mount.
    public static func cgroupPath(procCgroup text: String, version: CgroupVersion) -> String? {
        for line in text.split(separator: "\n") {
            let parts = line.split(separator: ":", maxSplits: 2, omittingEmptySubsequences: false)
            guard parts.count == 3 else { continue }
            switch version {
            case .v2 where parts[0] == "0" && parts[1].isEmpty: return String(parts[2])
            case .v1 where parts[1].split(separator: ",").contains("memory"): return String(parts[2])
            default: continue
            }
        }
        return nil
    }
}

/// Reads a container's cgroup memory files from the host's /sys/fs/cgroup (and /proc for the
/// path). Thin: everything it reads goes through the pure parsers above.
public struct CgroupReader: Sendable {
    public var root: String
    public var proc: String
    public var version: CgroupVersion?

    public init(root: String = "/sys/fs/cgroup", proc: String = "/proc") {
        self.root = root
        self.proc = proc
        self.version = CgroupVersion.detect(root: root)
    }

    /// The directory of the memory cgroup the process lives in, when it is readable from here
    /// (the container runs on this host's kernel and we see its cgroup).
    public func directory(pid: Int) -> String? {
        guard let version, pid > 0,
              let text = PseudoFile.text("\(proc)/\(pid)/cgroup"),
              let path = CgroupMemory.cgroupPath(procCgroup: text, version: version) else { return nil }
        let base = version == .v1 ? root + "/memory" : root
        let dir = base + (path == "/" ? "" : path)
        return FileManager.default.fileExists(atPath: dir + (version == .v1 ? "/memory.usage_in_bytes" : "/memory.current")) ? dir : nil
    }

    public func read(directory dir: String) -> CgroupMemory? {
        guard let version else { return nil }
        var files: [String: String] = [:]
        for name in version == .v1 ? CgroupMemory.v1Files : CgroupMemory.v2Files {
            if let text = PseudoFile.text(dir + "/" + name) { files[name] = text }
        }
        return version == .v1 ? CgroupMemory.parseV1(files) : CgroupMemory.parseV2(files)
    }

    public func read(pid: Int) -> CgroupMemory? { directory(pid: pid).flatMap(read(directory:)) }
}
