import Foundation

/// `/proc/meminfo`: the host's memory.
public struct HostMemory: Sendable, Codable, Equatable {
    public var totalBytes: Int64
    public var availableBytes: Int64

    public init(totalBytes: Int64, availableBytes: Int64) {
        self.totalBytes = totalBytes
        self.availableBytes = availableBytes
    }

    /// `MemTotal:  24684420 kB` lines → bytes.
    public static func parse(meminfo text: String) -> HostMemory? {
        let kv = ProcStatus.kilobyteFields(text)
        guard let total = kv["MemTotal"] else { return nil }
        return HostMemory(totalBytes: total, availableBytes: kv["MemAvailable"] ?? kv["MemFree"] ?? 0)
    }

    public static func read(proc: String = "/proc") -> HostMemory? {
        (try? String(contentsOfFile: proc + "/meminfo", encoding: .utf8)).flatMap(parse(meminfo:))
    }
}

/// `/proc/PID/status`: a process's resident memory.
public struct ProcStatus: Sendable, Codable, Equatable {
    public var rssBytes: Int64
    public var anonBytes: Int64
    public var fileBytes: Int64
    public var shmemBytes: Int64
    /// VmHWM: the highest RSS the process had.
    public var peakBytes: Int64

    public init(rssBytes: Int64, anonBytes: Int64, fileBytes: Int64, shmemBytes: Int64, peakBytes: Int64) {
        self.rssBytes = rssBytes
        self.anonBytes = anonBytes
        self.fileBytes = fileBytes
        self.shmemBytes = shmemBytes
        self.peakBytes = peakBytes
    }

    /// `Name:   value kB` lines → bytes for the fields given in kB.
    static func kilobyteFields(_ text: String) -> [String: Int64] {
        var out: [String: Int64] = [:]
        for line in text.split(separator: "\n") {
            guard let colon = line.firstIndex(of: ":") else { continue }
            let rest = line[line.index(after: colon)...].split(whereSeparator: \.isWhitespace)
            guard rest.count == 2, rest[1] == "kB", let v = Int64(rest[0]) else { continue }
            out[String(line[..<colon])] = v * 1024
        }
        return out
    }

    public static func parse(status text: String) -> ProcStatus? {
        let kv = kilobyteFields(text)
        guard let rss = kv["VmRSS"] else { return nil }
        return ProcStatus(rssBytes: rss, anonBytes: kv["RssAnon"] ?? 0, fileBytes: kv["RssFile"] ?? 0,
                          shmemBytes: kv["RssShmem"] ?? 0, peakBytes: kv["VmHWM"] ?? rss)
    }
}

/// A cdcctl process on this host and the manifest service it is (`process run` → processor).
public struct HostProcess: Sendable, Codable, Equatable {
    public var pid: Int
    public var service: String
    public var status: ProcStatus

    public init(pid: Int, service: String, status: ProcStatus) {
        self.pid = pid
        self.service = service
        self.status = status
    }
}

/// Finds the long-running cdcctl processes in /proc by their command line.
public enum HostProcesses {
    /// The manifest service a cdcctl command line runs, or nil for a short-lived command.
    /// `argv` as /proc/PID/cmdline gives it (NUL-separated).
    public static func service(argv: [String]) -> String? {
        guard let exe = argv.first, (exe as NSString).lastPathComponent == "cdcctl" else { return nil }
        let args = Array(argv.dropFirst())
        // The subcommand's words, wherever global options put them (`cdcctl -m x.yaml process run`).
        func runs(_ a: String, _ b: String) -> Bool {
            args.indices.dropLast().contains { args[$0] == a && args[$0 + 1] == b }
        }
        if runs("process", "run") { return "processor" }
        if runs("produce", "orders") || runs("producer", "orders") { return "producer-orders" }
        if runs("produce", "trades") || runs("producer", "trades") { return "producer-trades" }
        if runs("report", "memory") && args.contains(where: { $0 == "--every" || $0.hasPrefix("--every=") }) {
            return "memory-sampler"
        }
        return nil
    }

    /// The manifest a cdcctl command line reads: `-m`/`--manifest`, else `CDCCTL_MANIFEST` of its
    /// environment, else `cdcctl.yaml` (relative to its working directory).
    public static func manifest(argv: [String], environment: [String: String]) -> String {
        var i = 1
        while i < argv.count {
            let a = argv[i]
            if (a == "-m" || a == "--manifest"), i + 1 < argv.count { return argv[i + 1] }
            if a.hasPrefix("--manifest=") { return String(a.dropFirst("--manifest=".count)) }
            i += 1
        }
        return environment["CDCCTL_MANIFEST"] ?? "cdcctl.yaml"
    }

    static func canonical(_ path: String, cwd: String) -> String {
        let absolute = path.hasPrefix("/") ? path : cwd + "/" + path
        return URL(fileURLWithPath: absolute).resolvingSymlinksInPath().standardizedFileURL.path
    }

    /// The cdcctl processes on this host that run the given manifest (so another cluster's
    /// processor on the same machine is not counted as ours).
    public static func scan(manifest: String, proc: String = "/proc") -> [HostProcess] {
        let fm = FileManager.default
        let ours = canonical(manifest, cwd: fm.currentDirectoryPath)
        var out: [HostProcess] = []
        for entry in (try? fm.contentsOfDirectory(atPath: proc)) ?? [] {
            guard let pid = Int(entry), let data = readSmallFile("\(proc)/\(pid)/cmdline"), !data.isEmpty else { continue }
            let argv = data.split(separator: 0).map { String(decoding: $0, as: UTF8.self) }
            guard let service = service(argv: argv) else { continue }
            // Only CDCCTL_MANIFEST is kept of its environment; nothing else is looked at.
            var environment: [String: String] = [:]
            let key = Array("CDCCTL_MANIFEST=".utf8)
            for pair in (readSmallFile("\(proc)/\(pid)/environ") ?? []).split(separator: 0) where pair.starts(with: key) {
                environment["CDCCTL_MANIFEST"] = String(decoding: pair.dropFirst(key.count), as: UTF8.self)
            }
            let cwd = (try? fm.destinationOfSymbolicLink(atPath: "\(proc)/\(pid)/cwd")) ?? "/"
            guard canonical(Self.manifest(argv: argv, environment: environment), cwd: cwd) == ours,
                  let text = try? String(contentsOfFile: "\(proc)/\(pid)/status", encoding: .utf8),
                  let status = ProcStatus.parse(status: text) else { continue }
            out.append(HostProcess(pid: pid, service: service, status: status))
        }
        return out.sorted { ($0.service, $0.pid) < ($1.service, $1.pid) }
    }

    /// A /proc file's bytes with plain open/read: Foundation's `FileManager.contents(atPath:)`
    /// leaked about 1 KiB per /proc file read here (size-0 files), 265 KiB per scan of this host —
    /// linear growth of every long-running sampler (measured: `cdcctl monitor`, docs/benchmarks.md).
    static func readSmallFile(_ path: String, limit: Int = 1 << 20) -> [UInt8]? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var out: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while out.count < limit {
            let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n < 0 { if errno == EINTR { continue }; return nil }
            if n == 0 { break }
            out += buffer[0..<n]
        }
        return out
    }
}
