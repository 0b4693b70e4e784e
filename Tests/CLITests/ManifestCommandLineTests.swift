import Foundation
import TestSupport
import XCTest

/// Issue 14, items 9–11 as a user meets them: `-m DIR`, `init --profile`, empty and
/// unversioned manifests, and one problem (not six) for `kafka.brokers: 2`.
final class ManifestCommandLineTests: XCTestCase {
    var dir = ""

    override func setUpWithError() throws {
        dir = try TestSupport.temporaryDirectory(self)
    }

    var cdcctl: CLI { CLI(directory: dir) }

    func write(_ name: String, _ text: String) throws -> String {
        try text.write(toFile: dir + "/" + name, atomically: true, encoding: .utf8)
        return dir + "/" + name
    }

    func testManifestDirectoryIsNamedAsOneAndItsCdcctlYamlIsUsed() throws {
        let project = dir + "/project"
        try FileManager.default.createDirectory(atPath: project, withIntermediateDirectories: true)
        let none = try cdcctl("validate", "-m", project)
        XCTAssertEqual(none.status, 2, none.output)
        XCTAssertTrue(none.output.contains("\(project): is a directory"), none.output)
        XCTAssertFalse(none.output.contains("permissions"), none.output)

        let initRun = try cdcctl("init", "-m", project)
        XCTAssertEqual(initRun.status, 0, initRun.output)
        XCTAssertTrue(FileManager.default.fileExists(atPath: project + "/cdcctl.yaml"), initRun.output)
        let valid = try cdcctl("validate", "-m", project)
        XCTAssertEqual(valid.status, 0, valid.output)
        XCTAssertTrue(valid.output.contains("\(project)/cdcctl.yaml: valid"), valid.output)
    }

    func testInitProfilesInHelpAreTheOnesItTakes() throws {
        let help = try cdcctl("init", "--help")
        let text = help.output.split(whereSeparator: \.isWhitespace).joined(separator: " ")
        XCTAssertTrue(text.contains("--profile <profile> Profile to start from: default (the 16 GB box), lean ("), text)
        XCTAssertFalse(text.contains("testbed"), "the testbed manifest is the project's fixture, not a profile: \(text)")

        let testbed = try cdcctl("init", "-m", dir + "/t.yaml", "--profile", "testbed")
        XCTAssertEqual(testbed.status, 2, testbed.output)
        XCTAssertTrue(testbed.output.contains("--profile: unknown profile 'testbed'"), testbed.output)
        XCTAssertTrue(testbed.output.contains("use one of: default (the 16 GB box), lean ("), testbed.output)
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir + "/t.yaml"), "nothing written for a refused profile")

        let lean = try cdcctl("init", "-m", dir + "/lean.yaml", "--profile", "lean")
        XCTAssertEqual(lean.status, 0, lean.output)
        XCTAssertEqual(try String(contentsOfFile: dir + "/lean.yaml", encoding: .utf8),
                       try String(contentsOfFile: TestSupport.repo + "/manifests/lean.yaml", encoding: .utf8))
    }

    func testEmptyAndUnversionedManifestsAreRefused() throws {
        let empty = try cdcctl("validate", "-m", try write("empty.yaml", ""))
        XCTAssertEqual(empty.status, 2, empty.output)
        XCTAssertTrue(empty.output.contains("empty.yaml: is empty"), empty.output)
        XCTAssertTrue(empty.output.contains("fix:"), empty.output)

        let unversioned = try cdcctl("validate", "-m", try write("old.yaml", "cluster:\n  name: x\n"))
        XCTAssertEqual(unversioned.status, 2, unversioned.output)
        XCTAssertTrue(unversioned.output.contains("old.yaml:1 apiVersion: is missing"), unversioned.output)
        XCTAssertTrue(unversioned.output.contains("apiVersion: cdcctl/v1"), unversioned.output)

        let render = try cdcctl("render", "-m", dir + "/empty.yaml", "--out", dir + "/out")
        XCTAssertEqual(render.status, 2, render.output)
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir + "/out"), "nothing half-written")
    }

    func testTwoBrokersIsOneProblemAtTheLineThatSetsIt() throws {
        let run = try cdcctl("validate", "-m", try write("two.yaml", "apiVersion: cdcctl/v1\nkafka:\n  brokers: 2\n"))
        XCTAssertEqual(run.status, 2, run.output)
        let errors = run.output.split(separator: "\n").filter { $0.hasPrefix("error:") }
        XCTAssertEqual(errors.count, 1, run.output)
        XCTAssertTrue(errors.first?.contains("two.yaml:3 kafka.brokers: 2 brokers are fewer than the default replication factor 3") ?? false, run.output)
    }

    func testDedentedKeyIsReportedAtItsLine() throws {
        let run = try cdcctl("validate", "-m", try write("d.yaml", "apiVersion: cdcctl/v1\nsecrets:\n mysqlRootPassword: generate\n  mysqlCdcPassword: generate\n"))
        XCTAssertEqual(run.status, 2, run.output)
        XCTAssertTrue(run.output.contains("d.yaml:3 YAML syntax error: 'mysqlRootPassword' starts in column 2"), run.output)
    }
}
