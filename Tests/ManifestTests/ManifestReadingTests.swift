import Diagnostics
import Foundation
import TestSupport
import XCTest
@testable import Manifest

/// Issue 14, items 9–11: what a newcomer meets first when cdcctl reads a manifest — where an
/// error points, that a problem caused by a default says so, and which files are manifests.
final class ManifestReadingTests: XCTestCase {
    static let version = "apiVersion: \(Manifest.apiVersion)\n"

    func problems(_ yaml: String, file: String = "cdcctl.yaml") -> [CdcError] {
        do {
            _ = try ManifestLoader.parse(yaml, file: file)
            return []
        } catch let e as CdcErrors {
            return e.errors
        } catch {
            XCTFail("unexpected error type \(error)")
            return []
        }
    }

    /// Exactly one problem, at `line`, whose text contains every one of `texts`.
    func assertOnly(_ yaml: String, subject: String?, line: Int?, _ texts: String..., fix: String? = nil,
                    file: StaticString = #filePath, lineNo: UInt = #line) {
        let found = problems(yaml)
        XCTAssertEqual(found.count, 1, "problems: \(found.map(\.description))", file: file, line: lineNo)
        guard let p = found.first else { return }
        XCTAssertEqual(p.subject, subject, p.description, file: file, line: lineNo)
        XCTAssertEqual(p.location?.line, line, p.description, file: file, line: lineNo)
        XCTAssertEqual(p.exitCode, 2, file: file, line: lineNo)
        for text in texts { XCTAssertTrue(p.description.contains(text), "'\(p.description)' lacks '\(text)'", file: file, line: lineNo) }
        if let fix { XCTAssertTrue(p.fix?.contains(fix) ?? false, "fix '\(p.fix ?? "")' lacks '\(fix)'", file: file, line: lineNo) }
    }

    // MARK: - Item 10: a dedented key is reported at its own line

    func testDedentedFirstKeyIsReportedAtItsLineNotTheNext() {
        // The parser takes line 3's indentation for the mapping and only fails at line 4.
        assertOnly(Self.version + "secrets:\n mysqlRootPassword: generate\n  mysqlCdcPassword: generate\n  clickhousePassword: none\n",
                   subject: nil, line: 3, "'mysqlRootPassword' starts in column 2, but 'mysqlCdcPassword' on line 4 starts in column 3",
                   fix: "move 'mysqlRootPassword' on line 3 to column 3")
    }

    func testKeyDedentedToItsParentsLevelIsReportedAtItsLine() {
        assertOnly(Self.version + "cluster:\nname: cdc\n  bindAddress: 127.0.0.1\n", subject: nil, line: 3, "'name' starts in column 1")
        assertOnly(Self.version + "cluster:\n  name: cdc\nbindAddress: 127.0.0.1\n  host:\n    memory: 16g\n", subject: nil, line: 4,
                   "'bindAddress' starts in column 1, but 'host' on line 5 starts in column 3")
    }

    func testDedentedKeyWithItsBlockIsReportedAtTheKey() {
        let yaml = Self.version + "kafka:\n  brokers: 3\ndefaults:\n    partitions: 3\n    retentionHours: 72\n  heap: 512m\n"
        assertOnly(yaml, subject: nil, line: 4, "'defaults' starts in column 1, but 'heap' on line 7 starts in column 3")
    }

    func testDedentedKeyOfAListItemIsReportedAtItsLine() {
        let yaml = Self.version + "kafka:\n  topics:\n   - name: a\n      partitions: 3\n      key: x\n"
        assertOnly(yaml, subject: nil, line: 4, "'name' starts in column 6, but 'partitions' on line 5 starts in column 7")
    }

    func testOverIndentedKeyIsStillReportedAtItsOwnLine() {
        let yaml = Self.version + "kafka:\n  brokers: 3\n    heap: 1g\n  memory: 2g\n"
        XCTAssertEqual(problems(yaml).map { $0.location?.line }, [4], problems(yaml).map(\.description).joined())
        XCTAssertFalse(problems(yaml).first?.description.contains("line up") ?? true)
    }

    // MARK: - Item 10: problems that come from defaults point at the line that caused them

    func testBrokerCountBelowTheDefaultReplicationFactorIsOneProblemAtKafkaBrokers() {
        assertOnly(Self.version + "kafka:\n  brokers: 2\n", subject: "kafka.brokers", line: 3,
                   "2 brokers are fewer than the default replication factor 3", "kafka.defaults.replicationFactor is not set",
                   fix: "set kafka.defaults.replicationFactor: 2 and kafka.defaults.minInsyncReplicas: 1")
        // Following the fix gives a valid manifest.
        XCTAssertEqual(problems(Self.version + "kafka:\n  brokers: 2\n  defaults:\n    replicationFactor: 2\n    minInsyncReplicas: 1\n").map(\.description), [])
    }

    func testDefaultMinInsyncThatNoLongerFitsIsReportedAtTheReplicationFactorThatBrokeIt() {
        // Half the fix: the default minInsyncReplicas 2 is not below the replication factor 2 set on line 5.
        assertOnly(Self.version + "kafka:\n  brokers: 2\n  defaults:\n    replicationFactor: 2\n", subject: "kafka.defaults.minInsyncReplicas", line: 5,
                   "is not set, and its default 2 does not fit the replication factor 2", "taken by topics 'cdc.shop.orders'",
                   fix: "set kafka.defaults.minInsyncReplicas: 1")
        // The same on one topic: reported at the topic's replicationFactor line.
        let topics = Self.version + """
            kafka:
              topics:
                - name: cdc.shop.orders
                - name: cdc.shop.order_executions
                  replicationFactor: 2
                - name: trades.raw
                - name: alerts
                - name: schemahistory.shop
                  partitions: 1
                  retentionHours: -1
                  retentionBytes: -1

            """
        assertOnly(topics, subject: "kafka.topics[1].minInsyncReplicas", line: 6, "its default 2 does not fit this topic's replication factor 2",
                   fix: "set minInsyncReplicas: 1 on this topic")
    }

    func testMinInsyncSetUnderDefaultsIsReportedAtThatLineOnce() {
        assertOnly(Self.version + "kafka:\n  defaults:\n    minInsyncReplicas: 3\n", subject: "kafka.defaults.minInsyncReplicas", line: 4,
                   "must be at least 1 and below the replication factor 3 for a durable topic, found 3",
                   "taken by topics 'cdc.shop.orders', 'cdc.shop.order_executions', 'trades.raw', 'alerts', 'schemahistory.shop'",
                   fix: "use 2")
    }

    func testReplicationFactorSetUnderDefaultsIsReportedThereNotPerTopic() {
        assertOnly(Self.version + "kafka:\n  brokers: 2\n  defaults:\n    replicationFactor: 3\n", subject: "kafka.defaults.replicationFactor", line: 5,
                   "3 exceeds the 2 brokers")
    }

    // MARK: - Item 11: a manifest says what it is

    func testEmptyManifestIsRefused() {
        for text in ["", "\n", "# nothing yet\n", "~\n"] {
            let found = problems(text, file: "empty.yaml")
            XCTAssertEqual(found.count, 1, "\(text.debugDescription): \(found.map(\.description))")
            XCTAssertEqual(found.first?.subject, "empty.yaml")
            XCTAssertTrue(found.first?.description.contains("is empty") ?? false, found.first?.description ?? "")
            XCTAssertTrue(found.first?.fix?.contains("apiVersion: cdcctl/v1") ?? false)
            XCTAssertEqual(found.first?.exitCode, 2)
        }
    }

    func testManifestWithoutApiVersionIsRefused() {
        let found = problems("cluster:\n  name: x\n", file: "mine.yaml")
        XCTAssertEqual(found.map(\.subject), ["apiVersion"], found.map(\.description).joined())
        XCTAssertEqual(found.first?.location, SourceLocation(file: "mine.yaml", line: 1))
        XCTAssertTrue(found.first?.description.contains("is missing") ?? false)
        XCTAssertTrue(found.first?.fix?.contains("`apiVersion: cdcctl/v1` at the top of mine.yaml") ?? false, found.first?.fix ?? "")
    }

    func testADocumentThatIsNotAMappingIsRefused() {
        assertOnly("- kafka\n- mysql\n", subject: nil, line: 1, "expected a manifest", "found a list")
    }

    func testEveryShippedManifestDeclaresItsVersionAndValidates() throws {
        let dir = TestSupport.repo + "/manifests"
        let files = try FileManager.default.contentsOfDirectory(atPath: dir).filter { $0.hasSuffix(".yaml") }
        XCTAssertGreaterThanOrEqual(files.count, 3)
        for name in files {
            XCTAssertNoThrow(try ManifestLoader.load(path: dir + "/" + name, environment: [:]), name)
        }
    }

    // MARK: - Item 9: a directory stands for the cdcctl.yaml in it

    func testDirectoryWithoutManifestSaysItIsADirectory() throws {
        let dir = try TestSupport.temporaryDirectory(self)
        XCTAssertThrowsError(try ManifestLoader.load(path: dir)) { error in
            let e = (error as? CdcErrors)?.errors.first
            XCTAssertEqual(e?.subject, dir)
            XCTAssertTrue(e?.message.contains("is a directory") ?? false, "\(error)")
            XCTAssertFalse(e?.description.contains("permissions") ?? true, "\(error)")
            XCTAssertTrue(e?.fix?.contains(dir + "/cdcctl.yaml") ?? false, "\(error)")
            XCTAssertEqual(e?.exitCode, 2)
        }
    }

    func testDirectoryWithManifestReadsIt() throws {
        let dir = try TestSupport.temporaryDirectory(self)
        try (Self.version + "cluster:\n  name: in-dir\n").write(toFile: dir + "/cdcctl.yaml", atomically: true, encoding: .utf8)
        let loaded = try ManifestLoader.load(path: dir)
        XCTAssertEqual(loaded.file, dir + "/cdcctl.yaml")
        XCTAssertEqual(loaded.manifest.cluster.name, "in-dir")
    }
}
