import Foundation
import TestSupport
import XCTest

/// Runs the real `cdcctl` binary the way a user does and checks stdout, stderr and exit codes.
final class CommandLineTests: XCTestCase {
    var dir = ""

    override func setUpWithError() throws {
        dir = try TestSupport.temporaryDirectory(self)
    }

    func cdcctl(_ args: String...) throws -> (status: Int32, output: String) {
        var env = ProcessInfo.processInfo.environment
        env["CDCCTL_HOME"] = TestSupport.repo
        return try TestSupport.run(TestSupport.cdcctlBinary, args + ["--state-dir", dir + "/state"], cwd: dir, environment: env)
    }

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
        XCTAssertEqual((result?["files"] as? [Any])?.count, 24)
        XCTAssertTrue(FileManager.default.fileExists(atPath: dir + "/out/docker-compose.yml"))

        let history = try cdcctl("history", "-o", "json")
        XCTAssertEqual(history.status, 0, history.output)
        let ops = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(history.output.utf8)) as? [[String: Any]])
        XCTAssertEqual(ops.map { $0["command"] as? String }, ["render", "init", "init"])
        XCTAssertEqual(ops.map { $0["outcome"] as? String }, ["ok", "invalid", "ok"])
        XCTAssertEqual(ops.first?["cluster"] as? String, "cdc")
        XCTAssertEqual((ops.first?["inputsHash"] as? String)?.count, 16)
    }

    func testInvalidManifestExitsTwoWithLocatedMessages() throws {
        try "kafka:\n  heap: 1g\n  topics:\n    - name: a.b\n      replicationFactor: 4\n".write(toFile: dir + "/bad.yaml", atomically: true, encoding: .utf8)
        let run = try cdcctl("validate", "-m", dir + "/bad.yaml")
        XCTAssertEqual(run.status, 2)
        XCTAssertTrue(run.output.contains("bad.yaml:2 kafka.heap: JVM heap 1024 MiB must be below the container limit 768 MiB"), run.output)
        XCTAssertTrue(run.output.contains("bad.yaml:5 kafka.topics[0].replicationFactor: 4 exceeds the 3 brokers"), run.output)
        XCTAssertTrue(run.output.contains("fix:"), run.output)
    }

    func testRenderOfInvalidManifestWritesNothing() throws {
        try "kafka:\n  brokers: 2\n".write(toFile: dir + "/bad.yaml", atomically: true, encoding: .utf8)
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
        XCTAssertEqual(badOutput.status, 64, "argument-parser's usage exit code")
        XCTAssertTrue(badOutput.output.contains("--output"), badOutput.output)
        let badTemplates = try cdcctl("render", "-m", TestSupport.repo + "/manifests/default.yaml", "--out", dir + "/o", "--templates", dir + "/none")
        XCTAssertEqual(badTemplates.status, 2, badTemplates.output)
        XCTAssertTrue(badTemplates.output.contains("templates directory does not exist"), badTemplates.output)
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir + "/o"))
    }
}
