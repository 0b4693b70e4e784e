import Foundation
import TestSupport
import XCTest

/// `cdcctl report memory`'s bad input exits 2 naming the flag, before anything is read or written.
final class MemoryCommandLineTests: XCTestCase {
    func testBadFlagsExit2NamingTheFlag() throws {
        let dir = try TestSupport.temporaryDirectory(self)
        try "apiVersion: cdcctl/v1\ncluster:\n  name: flags\n".write(toFile: dir + "/cdcctl.yaml", atomically: true, encoding: .utf8)
        let cli = CLI(directory: dir, extraArguments: ["-m", dir + "/cdcctl.yaml"])
        let cases: [([String], String)] = [
            (["--since", "24"], "--since 24: expected a duration"),
            (["--every", "60s"], "--every samples into the history: add --record"),
            (["--record", "--every", "5s"], "at least 10s"),
            (["--html", "a.html", "--svg", "a.svg"], "--html and --svg exclude each other"),
            (["--record", "--every", "60s", "--metrics-port", "70000"], "--metrics-port 70000"),
        ]
        for (args, message) in cases {
            let r = try cli.separately(["report", "memory"] + args)
            XCTAssertEqual(r.status, 2, "\(args): \(r.stderr)")
            XCTAssertTrue(r.stderr.contains(message), "\(args): \(r.stderr)")
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir + "/state"), "nothing written for bad input")
    }

    /// The sampler's /metrics port already held: exit 2 naming the flag and the fix, before any reading.
    func testSamplerOnAHeldPortExits2NamingTheFlag() throws {
        let dir = try TestSupport.temporaryDirectory(self)
        try "apiVersion: cdcctl/v1\ncluster:\n  name: held\n".write(toFile: dir + "/cdcctl.yaml", atomically: true, encoding: .utf8)
        let (holder, port) = try TestSupport.listeningSocket()
        defer { close(holder) }
        let r = try CLI(directory: dir, extraArguments: ["-m", dir + "/cdcctl.yaml"])
            .separately(["report", "memory", "--record", "--every", "10s", "--metrics-port", String(port)])
        XCTAssertEqual(r.status, 2, r.stderr)
        XCTAssertTrue(r.stderr.contains("--metrics-port: cannot listen on 127.0.0.1:\(port) for /metrics"), r.stderr)
        XCTAssertTrue(r.stderr.contains("another process holds port \(port)"), r.stderr)
        XCTAssertFalse(r.stderr.contains("recorded"), "no reading was taken: \(r.stderr)")
    }
}
