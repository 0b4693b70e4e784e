import Foundation
import Runtime

/// Space one service's volume uses, and the filesystem it lives on.
public struct VolumeUsage: Sendable, Codable, Equatable {
    public var service: String
    public var volume: String
    public var path: String
    /// Allocated bytes under the volume's directory (what `du` counts); nil when it is not readable from here.
    public var usedBytes: Int64?
    public var filesystemBytes: Int64?
    public var availableBytes: Int64?

    public init(service: String, volume: String, path: String, usedBytes: Int64?, filesystemBytes: Int64?, availableBytes: Int64?) {
        self.service = service
        self.volume = volume
        self.path = path
        self.usedBytes = usedBytes
        self.filesystemBytes = filesystemBytes
        self.availableBytes = availableBytes
    }

    /// Percentage of the filesystem in use (what `df` shows).
    public var filesystemPercent: Double? {
        guard let size = filesystemBytes, let avail = availableBytes, size > 0 else { return nil }
        return Double(size - avail) / Double(size) * 100
    }
}

/// Reads the containers' volumes: where the engine keeps them (`docker volume inspect`), their
/// size (a walk counting allocated blocks, like `du`) and their filesystem (statvfs). Thin.
public enum DiskReader {
    public static func volumes(_ statuses: [ServiceStatus], runner: ProcessRunner) throws -> [VolumeUsage] {
        let names = Array(Set(statuses.flatMap(\.volumes))).sorted()
        guard !names.isEmpty else { return [] }
        let r = try runner.run(["docker", "volume", "inspect", "--format", "{{.Name}} {{.Mountpoint}}"] + names, timeoutSeconds: 20)
        guard r.ok else { throw RuntimeError(.unreadableOutput(command: "docker volume inspect", output: r.message)) }
        var mount: [String: String] = [:]
        for line in r.stdout.split(separator: "\n") {
            let parts = line.split(separator: " ", maxSplits: 1)
            if parts.count == 2 { mount[String(parts[0])] = String(parts[1]) }
        }
        var out: [VolumeUsage] = []
        for s in statuses.sorted(by: { $0.service < $1.service }) {
            for v in s.volumes.sorted() {
                guard let path = mount[v] else { continue }
                let fs = filesystem(path)
                out.append(VolumeUsage(service: s.service, volume: v, path: path, usedBytes: allocatedBytes(path),
                                       filesystemBytes: fs?.size, availableBytes: fs?.available))
            }
        }
        return out
    }

    /// A data directory on the host (a bind mount, a host process's state).
    public static func directory(service: String, path: String) -> VolumeUsage {
        let fs = filesystem(path)
        return VolumeUsage(service: service, volume: path, path: path, usedBytes: allocatedBytes(path),
                           filesystemBytes: fs?.size, availableBytes: fs?.available)
    }

    public static func filesystem(_ path: String) -> (size: Int64, available: Int64)? {
        var s = statvfs()
        guard statvfs(path, &s) == 0 else { return nil }
        return (Int64(s.f_blocks) * Int64(s.f_frsize), Int64(s.f_bavail) * Int64(s.f_frsize))
    }

    /// Allocated bytes of a directory tree (st_blocks × 512, hard links counted once), without
    /// following symlinks or crossing into other filesystems; nil when the top is unreadable.
    public static func allocatedBytes(_ path: String) -> Int64? {
        var top = stat()
        guard lstat(path, &top) == 0 else { return nil }
        var total = Int64(top.st_blocks) * 512
        guard (top.st_mode & S_IFMT) == S_IFDIR else { return total }
        var seen = Set<UInt64>()
        var stack = [path]
        while let dir = stack.popLast() {
            guard let d = opendir(dir) else { continue }
            defer { closedir(d) }
            while let entry = readdir(d) {
                let name = withUnsafePointer(to: entry.pointee.d_name) { $0.withMemoryRebound(to: CChar.self, capacity: 256) { String(cString: $0) } }
                if name == "." || name == ".." { continue }
                let child = dir + "/" + name
                var st = stat()
                guard lstat(child, &st) == 0, st.st_dev == top.st_dev else { continue }
                if st.st_nlink > 1 && (st.st_mode & S_IFMT) != S_IFDIR && !seen.insert(UInt64(st.st_ino)).inserted { continue }
                total += Int64(st.st_blocks) * 512
                if (st.st_mode & S_IFMT) == S_IFDIR { stack.append(child) }
            }
        }
        return total
    }
}
