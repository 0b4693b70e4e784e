import Foundation
import TestSupport
import XCTest

/// Runs the real `cdcctl` binary the way a user does and checks stdout, stderr and exit codes.
final class CommandLineTests: XCTestCase {
    var dir = ""

    override func setUpWithError() throws {
        dir = try TestSupport.temporaryDirectory(self)
    }

    var cdcctl: CLI { CLI(directory: dir) }

    func testInitValidateRenderHistory() throws {
        let initRun = try cdcctl("init", "-m", dir + "/cdcctl.yaml")
        XCTAssertEqual(initRun.status, 0, initRun.output)
        XCTAssertEqual(try String(contentsOfFile: dir + "/cdcctl.yaml", encoding: .utf8),
                       try String(contentsOfFile: TestSupport.repo + "/manifests/default.yaml", encoding: .utf8))

        let again = try cdcctl("init", "-m", dir + "/cdcctl.yaml")
        XCTAssertEqual(again.status, 2)
        XCTAssertTrue(again.output.contains("already exists; not overwriting it"), again.output)

        let validate = try cdcctl("validate", "-m", dir + "/cdcctl.yaml")
        XCTAssertEqual(validate.status, 0, validate.output)
        XCTAssertTrue(validate.output.contains("headroom                    6272 MiB"), validate.output)

        let render = try cdcctl("render", "-m", dir + "/cdcctl.yaml", "--out", dir + "/out", "-o", "json")
        XCTAssertEqual(render.status, 0, render.output)
        let result = try JSONSerialization.jsonObject(with: Data(render.output.utf8)) as? [String: Any]
        // 26 + the monitor's rules and dashboard + four systemd units (processor, orders, trades, monitor)
        // + ClickHouse migration 0007.
        XCTAssertEqual((result?["files"] as? [Any])?.count, 33)
        XCTAssertTrue(FileManager.default.fileExists(atPath: dir + "/out/docker-compose.yml"))
        XCTAssertTrue(FileManager.default.fileExists(atPath: dir + "/out/systemd/cdcctl-cdc-processor.service"))

        let history = try cdcctl("history", "-o", "json")
        XCTAssertEqual(history.status, 0, history.output)
        let ops = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(history.output.utf8)) as? [[String: Any]])
        XCTAssertEqual(ops.map { $0["command"] as? String }, ["render", "init", "init"])
        XCTAssertEqual(ops.map { $0["outcome"] as? String }, ["ok", "invalid", "ok"])
        XCTAssertEqual(ops.first?["cluster"] as? String, "cdc")
        XCTAssertEqual((ops.first?["inputsHash"] as? String)?.count, 16)
    }

    func testInvalidManifestExitsTwoWithLocatedMessages() throws {
        try "apiVersion: cdcctl/v1\nkafka:\n  heap: 1g\n  topics:\n    - name: a.b\n      replicationFactor: 4\n".write(toFile: dir + "/bad.yaml", atomically: true, encoding: .utf8)
        let run = try cdcctl("validate", "-m", dir + "/bad.yaml")
        XCTAssertEqual(run.status, 2)
        XCTAssertTrue(run.output.contains("bad.yaml:3 kafka.heap: JVM heap 1024 MiB must be below the container limit 768 MiB"), run.output)
        XCTAssertTrue(run.output.contains("bad.yaml:6 kafka.topics[0].replicationFactor: 4 exceeds the 3 brokers"), run.output)
        XCTAssertTrue(run.output.contains("fix:"), run.output)
    }

    func testRenderOfInvalidManifestWritesNothing() throws {
        try "apiVersion: cdcctl/v1\nkafka:\n  brokers: 2\n".write(toFile: dir + "/bad.yaml", atomically: true, encoding: .utf8)
        let run = try cdcctl("render", "-m", dir + "/bad.yaml", "--out", dir + "/out")
        XCTAssertEqual(run.status, 2, run.output)
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir + "/out"))
    }

    func testMissingManifestAndBadFlagsAreUsageErrors() throws {
        let missing = try cdcctl("validate", "-m", dir + "/nope.yaml")
        XCTAssertEqual(missing.status, 2)
        XCTAssertTrue(missing.output.contains("no such file"), missing.output)
        XCTAssertTrue(missing.output.contains("cdcctl init"), missing.output)
        let badOutput = try cdcctl("validate", "-o", "xml")
        XCTAssertEqual(badOutput.status, 2, "usage errors exit 2, as --help promises (not argument-parser's 64)")
        XCTAssertTrue(badOutput.output.contains("--output"), badOutput.output)
        let badPort = try cdcctl("process", "run", "-m", TestSupport.repo + "/manifests/default.yaml", "--metrics-port", "70000")
        XCTAssertEqual(badPort.status, 2, "a bad port is a usage error, not a crash: \(badPort.output)")
        XCTAssertTrue(badPort.output.contains("--metrics-port") && badPort.output.contains("70000"), badPort.output)
        let badTemplates = try cdcctl("render", "-m", TestSupport.repo + "/manifests/default.yaml", "--out", dir + "/o", "--templates", dir + "/none")
        XCTAssertEqual(badTemplates.status, 2, badTemplates.output)
        XCTAssertTrue(badTemplates.output.contains("templates directory does not exist"), badTemplates.output)
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir + "/o"))
    }

    func testTypoSuggestsTheNearestSubcommand() throws {
        let top = try cdcctl("statsu")
        XCTAssertEqual(top.status, 2, top.output)
        XCTAssertTrue(top.output.contains("did you mean `cdcctl status`?"), top.output)
        let nested = try cdcctl("topics", "aply")
        XCTAssertEqual(nested.status, 2, nested.output)
        XCTAssertTrue(nested.output.contains("did you mean `cdcctl topics apply`?"), nested.output)
        let nothingClose = try cdcctl("zzzzzz")
        XCTAssertEqual(nothingClose.status, 2, nothingClose.output)
        XCTAssertTrue(nothingClose.output.contains("the subcommands of cdcctl are: init, validate, render, up"), nothingClose.output)
    }

    func testVersionNamesTheCommitAndTheLoadedLibrdkafka() throws {
        let v = try cdcctl("--version")
        XCTAssertEqual(v.status, 0, v.output)
        XCTAssertTrue(v.output.hasPrefix("cdcctl "), v.output)
        XCTAssertNotNil(v.output.range(of: #"librdkafka \d+\.\d+\.\d+"#, options: .regularExpression), v.output)
        XCTAssertNotNil(v.output.range(of: #"commit [0-9a-f]{7,}"#, options: .regularExpression), "built in a git checkout: \(v.output)")
    }

    /// Every read command answers `-o json` with a JSON document (not a table).
    func testReadCommandsPrintJSON() throws {
        let m = TestSupport.repo + "/manifests/default.yaml"
        for args in [["validate", "-m", m], ["history"], ["init", "-m", dir + "/j.yaml"]] {
            let r = try cdcctl.separately(args + ["-o", "json"])
            XCTAssertEqual(r.status, 0, "\(args): \(r.stderr)")
            XCTAssertNoThrow(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)), "\(args) printed: \(r.stdout)")
        }
    }

    /// A binary copied away from the source tree (as `install` puts it on PATH) has its templates
    /// and profiles built in: no CDCCTL_HOME, no files beside it.
    func testACopiedBinaryIsSelfContained() throws {
        let bin = dir + "/bin/cdcctl"
        try FileManager.default.createDirectory(atPath: dir + "/bin", withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: TestSupport.cdcctlBinary, toPath: bin)
        var env = ProcessInfo.processInfo.environment
        env["CDCCTL_HOME"] = nil
        let work = dir + "/elsewhere"
        try FileManager.default.createDirectory(atPath: work, withIntermediateDirectories: true)
        let initRun = try TestSupport.run(bin, ["init", "--profile", "lean", "-m", work + "/cdcctl.yaml"], cwd: work, environment: env)
        XCTAssertEqual(initRun.status, 0, initRun.output)
        XCTAssertEqual(try String(contentsOfFile: work + "/cdcctl.yaml", encoding: .utf8),
                       try String(contentsOfFile: TestSupport.repo + "/manifests/lean.yaml", encoding: .utf8))
        let render = try TestSupport.run(bin, ["render", "-m", work + "/cdcctl.yaml", "--out", work + "/out"], cwd: work, environment: env)
        XCTAssertEqual(render.status, 0, render.output)
        XCTAssertTrue(try String(contentsOfFile: work + "/out/docker-compose.yml", encoding: .utf8).contains("\nservices:\n"))
        XCTAssertTrue(FileManager.default.fileExists(atPath: work + "/.cdcctl/state.db"), "state beside the manifest by default")
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir + "/bin/.cdcctl"))
    }

    /// Read-only commands create no state directory where there is none.
    func testReadsCreateNoState() throws {
        let m = dir + "/ro/cdcctl.yaml"
        try FileManager.default.createDirectory(atPath: dir + "/ro", withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: TestSupport.repo + "/manifests/default.yaml", toPath: m)
        for args in [["history"], ["validate"]] {
            let r = try TestSupport.run(TestSupport.cdcctlBinary, args + ["-m", m], cwd: dir + "/ro")
            XCTAssertEqual(r.status, 0, "\(args): \(r.output)")
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir + "/ro/.cdcctl"), "a read wrote state")
    }

    /// A SIGINT while a journaled command runs is recorded as `interrupted` (exit 130), not lost.
    /// The command blocks on a Connect URL whose socket accepts but never answers.
    func testAnInterruptedOperationIsJournaled() throws {
        let (fd, port) = try TestSupport.listeningSocket()  // accepts connections (the backlog), never answers
        defer { close(fd) }
        try "apiVersion: cdcctl/v1\naccess:\n  connectURL: http://127.0.0.1:\(port)\n".write(toFile: dir + "/silent.yaml", atomically: true, encoding: .utf8)

        let p = Process()
        p.executableURL = URL(fileURLWithPath: TestSupport.cdcctlBinary)
        p.arguments = ["connector", "register", "--skip-preflight", "-m", dir + "/silent.yaml", "--state-dir", dir + "/state"]
        p.standardOutput = FileHandle.nullDevice
        p.standardError = FileHandle.nullDevice
        try p.run()
        Thread.sleep(forTimeInterval: 1.5)
        XCTAssertTrue(p.isRunning, "still waiting for Connect")
        p.interrupt()
        p.waitUntilExit()
        XCTAssertEqual(p.terminationStatus, 130)

        let history = try cdcctl("history", "-o", "json")
        let ops = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(history.output.utf8)) as? [[String: Any]])
        XCTAssertEqual(ops.first?["command"] as? String, "connector register")
        XCTAssertEqual(ops.first?["outcome"] as? String, "interrupted")
        XCTAssertEqual(ops.first?["exitCode"] as? Int, 130)
    }

    /// Global options are the root command's (read through @ParentCommand): before the
    /// subcommand, between its words, or after it.
    func testGlobalOptionsStandAnywhere() throws {
        let m = TestSupport.repo + "/manifests/default.yaml"
        for args in [["-m", m, "-o", "json", "validate"], ["validate", "-m", m, "-o", "json"], ["-o", "json", "validate", "-m", m]] {
            let r = try cdcctl.separately(args)
            XCTAssertEqual(r.status, 0, "\(args): \(r.stderr)")
            XCTAssertTrue(r.stdout.hasPrefix("{"), "\(args) printed JSON: \(r.stdout.prefix(80))")
        }
        let nested = try cdcctl.separately(["topics", "-m", dir + "/missing.yaml", "plan"])
        XCTAssertEqual(nested.status, 2, nested.stderr)
        XCTAssertTrue(nested.stderr.contains("missing.yaml"), "the -m between the words was read: \(nested.stderr)")
        let typo = try cdcctl("-m", m, "statsu")
        XCTAssertTrue(typo.output.contains("did you mean `cdcctl status`?"), "an option's value is not taken for the typo: \(typo.output)")
    }
}
