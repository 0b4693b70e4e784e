import Foundation
import TestSupport
import XCTest
@testable import State

final class StateTests: XCTestCase {
    func store() throws -> (StateStore, String) {
        let dir = try TestSupport.temporaryDirectory(self)
        return (try StateStore(path: dir + "/state.db"), dir + "/state.db")
    }

    func testMigrationsRunOnceInWALMode() throws {
        let (s, path) = try store()
        XCTAssertEqual(s.schemaVersion, StateStore.migrations.count)
        XCTAssertEqual(s.journalMode, "wal")
        try s.record(JournalEntry(cluster: "c", command: "render", arguments: "", inputsHash: "h", startedAtMs: 1, durationMs: 2,
                                  outcome: .ok, exitCode: 0, detail: ""))
        let reopened = try StateStore(path: path)
        XCTAssertEqual(reopened.schemaVersion, StateStore.migrations.count)
        XCTAssertEqual(try reopened.operations().count, 1, "reopening keeps data and does not migrate again")
    }

    func testNewerSchemaIsRefused() throws {
        let (s, path) = try store()
        try s.db.execute("PRAGMA user_version = 99")
        XCTAssertThrowsError(try StateStore(path: path)) { error in
            XCTAssertTrue("\(error)".contains("schema version 99 is newer than this cdcctl knows"), "\(error)")
        }
    }

    func testJournalListsNewestFirstFiltersByClusterAndRedactsSecrets() throws {
        let (s, _) = try store()
        for (i, cluster) in ["a", "b", "a"].enumerated() {
            try s.record(JournalEntry(cluster: cluster, command: "cmd\(i)", arguments: "--password=hunter22 --out x",
                                      inputsHash: "h\(i)", startedAtMs: Int64(1000 + i), durationMs: 5,
                                      outcome: i == 1 ? .failed : .ok, exitCode: i == 1 ? 1 : 0,
                                      detail: "connect to mysql://root:hunter22@db failed"))
        }
        let all = try s.operations()
        XCTAssertEqual(all.map(\.command), ["cmd2", "cmd1", "cmd0"])
        XCTAssertEqual(try s.operations(cluster: "a").map(\.command), ["cmd2", "cmd0"])
        XCTAssertEqual(try s.operations(limit: 1).count, 1)
        XCTAssertEqual(all[1].outcome, .failed)
        XCTAssertEqual(all[1].exitCode, 1)
        for op in all {
            XCTAssertFalse(op.arguments.contains("hunter22"), op.arguments)
            XCTAssertFalse(op.detail.contains("hunter22"), op.detail)
            XCTAssertTrue(op.arguments.contains("--out x"))
        }
    }

    func testClustersAndRendersAreRecorded() throws {
        let (s, _) = try store()
        try s.upsertCluster(name: "cdc", manifestPath: "cdcctl.yaml", manifestHash: "h1", nowMs: 10)
        try s.upsertCluster(name: "cdc", manifestPath: "cdcctl.yaml", manifestHash: "h2", nowMs: 20)
        let c = try XCTUnwrap(try s.cluster(named: "cdc"))
        XCTAssertEqual(c.manifestHash, "h2")
        XCTAssertEqual(c.createdAtMs, 10)
        XCTAssertEqual(c.updatedAtMs, 20)
        XCTAssertNil(try s.cluster(named: "other"))

        try s.recordRender(cluster: "cdc", manifestHash: "h1", outputDir: "out", files: [RenderedFileRecord(path: "a", sha256: "x", bytes: 1, mode: 0o644)], nowMs: 30)
        try s.recordRender(cluster: "cdc", manifestHash: "h2", outputDir: "out", files: [
            RenderedFileRecord(path: "b", sha256: "y", bytes: 2, mode: 0o600), RenderedFileRecord(path: "a", sha256: "z", bytes: 3, mode: 0o644)], nowMs: 40)
        let last = try XCTUnwrap(try s.lastRender(cluster: "cdc"))
        XCTAssertEqual(last.manifestHash, "h2")
        XCTAssertEqual(last.files.map(\.path), ["a", "b"])
        XCTAssertEqual(last.files.last?.mode, 0o600)
    }

    func testClickHouseMigrationsArePerClusterAndDatabaseAndMirrorTheServer() throws {
        let (s, _) = try store()
        func r(_ version: Int, _ name: String, _ checksum: String, at: Int64 = 1) -> SchemaMigrationRecord {
            SchemaMigrationRecord(version: version, name: name, kind: version == 0 ? "repeatable" : "versioned", checksum: checksum,
                                  statements: 1, appliedAtMs: at, durationMs: 2)
        }
        try s.recordSchemaMigration(cluster: "cdc", database: "analytics", r(2, "0002_b", "c2"))
        try s.recordSchemaMigration(cluster: "cdc", database: "analytics", r(1, "0001_a", "c1"))
        try s.recordSchemaMigration(cluster: "cdc", database: "analytics", r(0, "R__ttl", "t1"))
        try s.recordSchemaMigration(cluster: "cdc", database: "analytics", r(0, "R__ttl", "t2", at: 5))  // a re-run replaces
        try s.recordSchemaMigration(cluster: "cdc", database: "other", r(1, "0001_a", "c1"))
        XCTAssertEqual(try s.schemaMigrations(cluster: "cdc", database: "analytics"), [r(0, "R__ttl", "t2", at: 5), r(1, "0001_a", "c1"), r(2, "0002_b", "c2")])

        try s.replaceSchemaMigrations(cluster: "cdc", database: "analytics", with: [r(1, "0001_a", "c1")])
        XCTAssertEqual(try s.schemaMigrations(cluster: "cdc", database: "analytics"), [r(1, "0001_a", "c1")])
        XCTAssertEqual(try s.schemaMigrations(cluster: "cdc", database: "other").count, 1)
        XCTAssertEqual(try s.schemaMigrations(cluster: "x", database: "analytics"), [])
    }

    func testUnwritableLocationGivesAClearError() {
        XCTAssertThrowsError(try StateStore(path: "/proc/no-such-dir/state.db")) { error in
            XCTAssertTrue("\(error)".contains("cannot open the state database"), "\(error)")
        }
    }
}
