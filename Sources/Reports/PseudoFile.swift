#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Reads the kernel's pseudo files (/proc, /sys/fs/cgroup) with plain open/read/close.
///
/// Not `FileManager.contents(atPath:)` / `String(contentsOfFile:)`: for a file whose size stat
/// reports as 0 — every /proc and cgroup file — swift-foundation (Swift 6.3, `readBytesFromFile`)
/// reads into a 4 KiB `malloc` buffer, and when the read returns nothing (a kernel thread's
/// `/proc/PID/cmdline` is empty) that buffer is never freed. The 24/7 memory sampler scans every
/// PID's cmdline on each reading, so it lost 4 KiB per kernel thread per reading (~270 KiB with
/// ~60 kernel threads; heaptrack: `readBytesFromFile` ← `HostProcesses.scan`). docs/reports.md.
public enum PseudoFile {
    /// The whole file, or nil when it cannot be opened or read.
    public static func bytes(_ path: String, limit: Int = 4 << 20) -> [UInt8]? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var out: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 8192)
        while out.count < limit {
            let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n < 0 {
                if errno == EINTR { continue }
                return nil
            }
            if n == 0 { break }
            out.append(contentsOf: chunk[0..<n])
        }
        return out
    }

    /// The whole file as UTF-8 text, or nil.
    public static func text(_ path: String) -> String? {
        bytes(path).map { String(decoding: $0, as: UTF8.self) }
    }
}
