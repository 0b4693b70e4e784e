import Diagnostics
import Foundation
import Manifest
import MySQL
import OperationsCore
import Render
import StarRocks
import State

/// `cdcctl schema plan|apply --target starrocks`: the StarRocks variant's migrations
/// (`starrocks/migrations/`, rendered from the manifest) run on the FE over the MySQL protocol,
/// recorded with checksums in `<database>.cdcctl_schema_migrations` and in the state store
/// (database key `starrocks:<database>`). Checked structurally before anything is sent.
/// Not run against a StarRocks FE by the tests (none runs here; docs/starrocks.md).
public struct StarRocksSchemaOperation {
    public let manifest: Manifest
    public let migrations: [Migration]
    let workspace: Workspace
    let progress: (String) -> Void
    public var database: String { manifest.starrocks.database }
    var cluster: String { manifest.cluster.name }
    var stateKey: String { "starrocks:" + database }

    public init(_ ws: Workspace, manifest: Manifest, templatesDir: String? = nil, readOnly: Bool = false,
                progress: @escaping (String) -> Void = { _ in }) throws {
        guard manifest.starrocks.enabled else {
            throw CdcError.invalid("--target starrocks needs the StarRocks variant", subject: "starrocks.enabled",
                                   fix: "set starrocks.enabled: true in the manifest, or leave out --target")
        }
        self.manifest = manifest
        workspace = ws
        self.progress = progress
        migrations = try renderedMigrations(ws, manifest, folder: StarRocksSQL.folder, templatesDir: templatesDir, readOnly: readOnly).migrations
    }

    /// Problems `StarRocksSQLCheck` finds in the rendered statements (empty: fine).
    public func structuralProblems() -> [String] {
        let tables = StarRocksSQL.captured(manifest).map(\.table)
        return migrations.flatMap { m in StarRocksSQLCheck.check(statements: m.statements.map(\.text), tables: tables).map { "\(m.name): \($0)" } }
    }

    func connect() throws -> MySQLConnection {
        do {
            return try MySQLConnection(MySQLEndpoint(host: manifest.cluster.bindAddress, port: manifest.starrocks.queryPort,
                                                     user: manifest.starrocks.user, password: ""), timeoutSeconds: 10)
        } catch let e as MySQLError {
            let address = "\(manifest.cluster.bindAddress):\(manifest.starrocks.queryPort)"
            throw CdcError(e.isAccessDenied ? .invalidInput : .operationFailed,
                           "cannot reach the StarRocks FE at \(address) over the MySQL protocol: \(e.message) (error \(e.code))",
                           subject: "starrocks-fe",
                           fix: "check the FE is up and healthy (`docker logs \(manifest.cluster.name)-starrocks-fe`) and that starrocks.queryPort is its published port",
                           transient: e.isTransient)
        }
    }

    func applied(_ fe: MySQLConnection) throws -> (databaseExists: Bool, records: [SchemaMigrationRecord]) {
        let dbs = try fe.query("SHOW DATABASES").firstColumn
        guard dbs.contains(database) else { return (false, []) }
        let tables = try fe.query("SHOW TABLES FROM `\(database)`").firstColumn
        guard tables.contains(SchemaPlanner.bookkeepingTable) else { return (true, []) }
        let rows = try fe.query("""
            SELECT version, name, kind, checksum, statements, applied_at_ms, duration_ms
            FROM `\(database)`.`\(SchemaPlanner.bookkeepingTable)` ORDER BY version, name
            """).rows
        return (true, rows.map { r in
            SchemaMigrationRecord(version: Int(r[0] ?? "") ?? 0, name: r[1] ?? "", kind: r[2] ?? "", checksum: r[3] ?? "",
                                  statements: Int(r[4] ?? "") ?? 0, appliedAtMs: Int64(r[5] ?? "") ?? 0, durationMs: Int64(r[6] ?? "") ?? 0)
        })
    }

    public func plan() throws -> SchemaPlanReport {
        let fe = try connect()
        let observed = try wrap { try applied(fe) }
        let steps = SchemaPlanner.plan(migrations, applied: observed.records)
        return SchemaPlanReport(database: database, databaseExists: observed.databaseExists, steps: steps,
                                pending: SchemaPlanner.pending(migrations, in: steps).map { PendingMigration(name: $0.name, statements: $0.statements.map(\.text)) })
    }

    /// Structural check → refusals → (dry run stops here) → database, bookkeeping, each pending
    /// migration in order, recorded once all its statements ran. A Routine Load job that exists
    /// already (an earlier run that failed before recording) is not created twice.
    public func apply(dryRun: Bool) throws -> SchemaApplyResult {
        let problems = structuralProblems()
        if !problems.isEmpty {
            throw CdcErrors(problems.map { CdcError.invalid($0, subject: "starrocks migrations", fix: "fix the generator or the manifest; nothing was sent") })
        }
        let fe = try connect()
        let observed = try wrap { try applied(fe) }
        let steps = SchemaPlanner.plan(migrations, applied: observed.records)
        let refusals = SchemaPlanner.refusals(steps)
        if !refusals.isEmpty { throw CdcErrors(refusals) }
        let pending = SchemaPlanner.pending(migrations, in: steps)
        let statementCount = pending.map(\.statements.count).reduce(0, +)
        if dryRun {
            return SchemaApplyResult(database: database, dryRun: true, steps: steps, applied: pending.map(\.name), statements: statementCount)
        }
        let store = try workspace.openState()
        var records = observed.records
        defer { try? store.replaceSchemaMigrations(cluster: cluster, database: stateKey, with: records) }
        try wrap {
            _ = try fe.query("CREATE DATABASE IF NOT EXISTS `\(database)`")
            _ = try fe.query(Self.bookkeepingDDL(database))
        }
        for m in pending {
            progress("applying \(m.name) to StarRocks (\(m.statements.count) statement\(m.statements.count == 1 ? "" : "s"))")
            let started = workspace.environment.nowMs()
            for (i, statement) in m.statements.enumerated() {
                do {
                    _ = try fe.query("USE `\(database)`")
                    if let job = Self.routineLoadJob(statement.text), try jobExists(fe, job) {
                        progress("routine load \(job) exists already: not created again")
                        continue
                    }
                    _ = try fe.query(statement.text)
                } catch let e as MySQLError {
                    throw CdcError(.operationFailed, "statement \(i + 1) of \(m.statements.count) failed: \(e.description)",
                                   subject: "migration \(m.name)",
                                   fix: "the migrations before \(m.name) are applied and recorded; \(m.name) is not. Fix it and run cdcctl schema apply --target starrocks again")
                }
            }
            let record = SchemaMigrationRecord(version: m.version, name: m.name, kind: m.kind.rawValue, checksum: m.checksum,
                                               statements: m.statements.count, appliedAtMs: workspace.environment.nowMs(),
                                               durationMs: workspace.environment.nowMs() - started)
            try wrap {
                _ = try fe.query("""
                    INSERT INTO `\(database)`.`\(SchemaPlanner.bookkeepingTable)` VALUES (\(record.version), '\(fe.escape(record.name))', \
                    '\(record.kind)', '\(record.checksum)', \(record.statements), \(record.appliedAtMs), \(record.durationMs), \
                    '\(fe.escape("cdcctl@" + ProcessInfo.processInfo.hostName))')
                    """)
            }
            records.removeAll { $0.version == record.version && $0.name == record.name }
            records.append(record)
            try store.recordSchemaMigration(cluster: cluster, database: stateKey, record)
        }
        return SchemaApplyResult(database: database, dryRun: false, steps: SchemaPlanner.plan(migrations, applied: records),
                                 applied: pending.map(\.name), statements: statementCount)
    }

    func jobExists(_ fe: MySQLConnection, _ job: String) throws -> Bool {
        let result = try fe.query("SHOW ALL ROUTINE LOAD FOR `\(database)`.`\(job)`")
        guard let state = result.columns.firstIndex(where: { $0.lowercased() == "state" }) else { return !result.rows.isEmpty }
        return result.rows.contains { ["NEED_SCHEDULE", "RUNNING", "PAUSED"].contains(($0[state] ?? "").uppercased()) }
    }

    /// The job a `CREATE ROUTINE LOAD <job> ON …` statement creates, or nil. Pure.
    public static func routineLoadJob(_ statement: String) -> String? {
        statement.firstMatch(of: #/^\s*CREATE\s+ROUTINE\s+LOAD\s+(?:[A-Za-z0-9_]+\.)?([A-Za-z0-9_]+)\s+ON\s/#.ignoresCase())
            .map { String($0.output.1) }
    }

    func wrap<T>(_ body: () throws -> T) throws -> T {
        do { return try body() } catch let e as MySQLError { throw e.cdcError }
    }

    static func bookkeepingDDL(_ database: String) -> String {
        """
        CREATE TABLE IF NOT EXISTS `\(database)`.`\(SchemaPlanner.bookkeepingTable)` (
            version INT NOT NULL,
            name VARCHAR(255) NOT NULL,
            kind VARCHAR(16),
            checksum VARCHAR(64),
            statements INT,
            applied_at_ms BIGINT,
            duration_ms BIGINT,
            applied_by VARCHAR(255)
        )
        PRIMARY KEY (version, name)
        DISTRIBUTED BY HASH (version) BUCKETS 1
        PROPERTIES ("replication_num" = "1")
        """
    }
}
