import Foundation
import Reports
import TestSupport
import XCTest

/// The 24/7 sampler (`report memory --record --every`) must not grow with every reading. It did,
/// by ~270 KiB a reading: `HostProcesses.scan` read each PID's cmdline with
/// `FileManager.contents(atPath:)`, which in swift-foundation (Swift 6.3) leaks a 4 KiB buffer for
/// every file that reports size 0 and reads empty — a kernel thread's cmdline (docs/reports.md).
///
/// No timing: the test counts resident memory before and after a fixed number of scans of a
/// /proc-like directory with many empty cmdlines, against a bound far below what the leak gave,
/// and first shows with a deliberate leak of the same size that this measure sees one.
final class SamplerMemoryTests: XCTestCase {
    static let pids = 60
    static let scans = 250
    /// 60 empty cmdlines × 250 scans × 4 KiB ≈ 59 MiB with the leak; allow 8 MiB of noise.
    static let bound: Int64 = 8 << 20

    /// Resident memory after glibc handed its free pages back (`malloc_trim(0)`), so a leak cannot
    /// hide in memory that earlier tests freed but the process still holds.
    static func residentBytes() throws -> Int64 {
        typealias Trim = @convention(c) (Int) -> Int32
        if let sym = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "malloc_trim") { _ = unsafeBitCast(sym, to: Trim.self)(0) }
        let status = try XCTUnwrap(PseudoFile.text("/proc/self/status"))
        return try XCTUnwrap(ProcStatus.parse(status: status)).rssBytes
    }

    /// A /proc with `pids` kernel threads (empty cmdline and environ, like the host's) and one
    /// cdcctl processor reading our manifest.
    func fakeProc() throws -> (proc: String, manifest: String) {
        let dir = try TestSupport.temporaryDirectory(self)
        let proc = dir + "/proc", manifest = dir + "/cdcctl.yaml"
        try "apiVersion: cdcctl/v1\n".write(toFile: manifest, atomically: true, encoding: .utf8)
        let fm = FileManager.default
        for pid in 2..<(2 + Self.pids) {
            try fm.createDirectory(atPath: "\(proc)/\(pid)", withIntermediateDirectories: true)
            for name in ["cmdline", "environ"] { fm.createFile(atPath: "\(proc)/\(pid)/\(name)", contents: Data()) }
            try "Name:\tkthreadd\n".write(toFile: "\(proc)/\(pid)/status", atomically: true, encoding: .utf8)
        }
        let ours = "\(proc)/4242"
        try fm.createDirectory(atPath: ours, withIntermediateDirectories: true)
        try Data("cdcctl\0-m\0\(manifest)\0process\0run\0".utf8).write(to: URL(fileURLWithPath: ours + "/cmdline"))
        fm.createFile(atPath: ours + "/environ", contents: Data())
        try "Name:\tcdcctl\nVmHWM:\t  9000 kB\nVmRSS:\t  8000 kB\nRssAnon:\t  6000 kB\nRssFile:\t  2000 kB\nRssShmem:\t 0 kB\n"
            .write(toFile: ours + "/status", atomically: true, encoding: .utf8)
        return (proc, manifest)
    }

    func testTheMeasureSeesALeakOfThatSize() throws {
        let before = try Self.residentBytes()
        var kept: [UnsafeMutableRawPointer] = []
        for _ in 0..<(Self.pids * Self.scans) {
            let p = try XCTUnwrap(malloc(4096))
            memset(p, 1, 4096)  // touched, as a read() into it touches it
            kept.append(p)
        }
        let grown = try Self.residentBytes() - before
        for p in kept { free(p) }
        XCTAssertGreaterThan(grown, 4 * Self.bound, "a deliberate leak of \(Self.pids * Self.scans) × 4 KiB must show in VmRSS; grew \(grown) bytes")
    }

    func testScanningProcDoesNotGrowWithEveryReading() throws {
        let (proc, manifest) = try fakeProc()
        // The path under test ran: the one cdcctl process is found among the kernel threads.
        let found = HostProcesses.scan(manifest: manifest, proc: proc)
        XCTAssertEqual(found.map(\.service), ["processor"])
        XCTAssertEqual(found.first?.status.rssBytes, 8000 * 1024)
        let before = try Self.residentBytes()
        for _ in 0..<Self.scans { XCTAssertEqual(HostProcesses.scan(manifest: manifest, proc: proc).count, 1) }
        let grown = try Self.residentBytes() - before
        print("HostProcesses.scan × \(Self.scans) over \(Self.pids) empty cmdlines: VmRSS grew \(grown / 1024) KiB")
        XCTAssertLessThan(grown, Self.bound, "\(Self.scans) scans grew resident memory by \(grown / 1024) KiB (the leak gave ~\(Self.pids * Self.scans * 4) KiB)")
    }

    func testPseudoFilesReadWhole() throws {
        // /proc files report size 0; the reader must not trust that.
        let cmdline = try XCTUnwrap(PseudoFile.bytes("/proc/self/cmdline"))
        XCTAssertFalse(cmdline.isEmpty)
        XCTAssertNotNil(PseudoFile.text("/proc/meminfo").flatMap(HostMemory.parse(meminfo:)))
        XCTAssertNil(PseudoFile.bytes("/proc/self/no-such-file"))
        let dir = try TestSupport.temporaryDirectory(self)
        let big = String(repeating: "0123456789abcdef", count: 4096)  // 64 KiB: several reads
        try big.write(toFile: dir + "/big", atomically: true, encoding: .utf8)
        XCTAssertEqual(PseudoFile.text(dir + "/big"), big)
        FileManager.default.createFile(atPath: dir + "/empty", contents: Data())
        XCTAssertEqual(PseudoFile.bytes(dir + "/empty"), [])
    }
}
