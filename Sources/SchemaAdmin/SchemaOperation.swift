import OperationsCore
import ClickHouse
import Diagnostics
import Foundation
import Manifest
import Render
import State

/// What the server holds of the managed database.
public struct SchemaObservation: Sendable {
    public var databaseExists: Bool
    public var bookkeepingExists: Bool
    public var applied: [SchemaMigrationRecord]
    public var tables: [TableSchema]
}

public struct SchemaPlanReport: Sendable, Codable {
    public var database: String
    public var databaseExists: Bool
    public var steps: [MigrationStep]
    /// The statements apply would run, in order.
    public var pending: [PendingMigration]
    public var hasRefusals: Bool { steps.contains(where: \.isRefused) }
    public var hasPending: Bool { steps.contains { $0.state == .pending } }
}

public struct PendingMigration: Sendable, Codable, Equatable {
    public var name: String
    public var statements: [String]
}

public struct SchemaStatusReport: Sendable, Codable {
    public var database: String
    public var databaseExists: Bool
    public var steps: [MigrationStep]
    public var drift: [DriftItem]
    /// Differences between the server's record and the local state store.
    public var notes: [String]
    /// Role users (writer, reader) whose rights differ from the manifest's users.d.
    public var users: [UserDrift]
    public var hasRefusals: Bool { steps.contains(where: \.isRefused) }
    public var hasPending: Bool { steps.contains { $0.state == .pending } }
    public var hasDrift: Bool { drift.contains(where: \.isDrift) || !users.isEmpty }
}

public struct SchemaApplyResult: Sendable, Codable {
    public var database: String
    public var dryRun: Bool
    public var steps: [MigrationStep]
    /// Migrations run (dry run: that would run), in order.
    public var applied: [String]
    public var statements: Int
}

/// `cdcctl schema …`: the analytics schema as versioned migrations rendered from the manifest,
/// recorded with checksums in ClickHouse (`cdcctl_schema_migrations`) and in the state store.
public struct SchemaOperation {
    public let manifest: Manifest
    public let database: String
    public let migrations: [Migration]
    public let client: ClickHouseClient
    let workspace: Workspace
    let progress: (String) -> Void
    let secrets: ResolvedSecrets

    /// `readOnly` (plan, status): a secret that would be generated now is not stored.
    public init(_ ws: Workspace, manifest: Manifest, templatesDir: String? = nil, readOnly: Bool = false,
                progress: @escaping (String) -> Void = { _ in }) throws {
        self.manifest = manifest
        workspace = ws
        database = manifest.clickhouse.database
        self.progress = progress
        let (secrets, migrations) = try renderedMigrations(ws, manifest, folder: SchemaPlanner.folder, templatesDir: templatesDir, readOnly: readOnly)
        self.secrets = secrets
        self.migrations = migrations
        client = ClickHouseClient(ws.clickhouse(manifest, secrets: secrets, timeoutSeconds: 60))
    }

    var cluster: String { manifest.cluster.name }

    // MARK: - Observe

    public func observe() throws -> SchemaObservation {
        struct Count: Decodable { var n: UInt64 }
        struct Table: Decodable { var name: String; var engine: String }
        struct Column: Decodable {
            var table: String, name: String, type: String, default_kind: String, default_expression: String
        }
        struct Applied: Decodable {
            var version: UInt32, name: String, kind: String, checksum: String, statements: UInt32, applied_at_ms: Int64, duration_ms: UInt64
        }
        let db = ["db": database]
        let exists = try client.select("SELECT count() AS n FROM system.databases WHERE name = {db:String}", as: Count.self,
                                       parameters: db).first?.n ?? 0 > 0
        guard exists else { return SchemaObservation(databaseExists: false, bookkeepingExists: false, applied: [], tables: []) }
        let tableRows = try client.select("SELECT name, engine FROM system.tables WHERE database = {db:String} ORDER BY name",
                                          as: Table.self, parameters: db)
        let columns = Dictionary(grouping: try client.select("""
            SELECT table, name, type, default_kind, default_expression FROM system.columns
            WHERE database = {db:String} ORDER BY table, position
            """, as: Column.self, parameters: db), by: \.table)
        let tables = tableRows.map { t in
            TableSchema(database: database, name: t.name, engine: t.engine, columns: (columns[t.name] ?? []).map {
                ColumnSchema(name: $0.name, type: $0.type, defaultKind: $0.default_kind, defaultExpression: $0.default_expression)
            })
        }
        let bookkeeping = tableRows.contains { $0.name == SchemaPlanner.bookkeepingTable }
        let applied = bookkeeping ? try client.select("""
            SELECT version, name, kind, checksum, statements, toUnixTimestamp64Milli(applied_at) AS applied_at_ms, duration_ms
            FROM \(ClickHouseSQL.qualified(database, SchemaPlanner.bookkeepingTable)) FINAL ORDER BY version, name
            """, as: Applied.self).map {
            SchemaMigrationRecord(version: Int($0.version), name: $0.name, kind: $0.kind, checksum: $0.checksum,
                                  statements: Int($0.statements), appliedAtMs: $0.applied_at_ms, durationMs: Int64($0.duration_ms))
        } : []
        return SchemaObservation(databaseExists: true, bookkeepingExists: bookkeeping, applied: applied, tables: tables)
    }

    // MARK: - Plan and status

    public func plan() throws -> SchemaPlanReport {
        let observed = try serverErrorsAsCdcErrors(observe)
        let steps = SchemaPlanner.plan(migrations, applied: observed.applied)
        return SchemaPlanReport(database: database, databaseExists: observed.databaseExists, steps: steps,
                                pending: SchemaPlanner.pending(migrations, in: steps).map { PendingMigration(name: $0.name, statements: $0.statements.map(\.text)) })
    }

    public func status() throws -> SchemaStatusReport {
        let observed = try serverErrorsAsCdcErrors(observe)
        let steps = SchemaPlanner.plan(migrations, applied: observed.applied)
        let expected = try SchemaPlanner.expectedSchema(migrations, steps: steps, database: database)
        let drift = SchemaPlanner.drift(expected: expected, actual: observed.tables, database: database)
        let local = try workspace.existingState()?.schemaMigrations(cluster: cluster, database: database) ?? []
        var notes = Self.notes(server: observed.applied, local: local)
        let (users, userNotes) = userDrift()
        notes += userNotes
        return SchemaStatusReport(database: database, databaseExists: observed.databaseExists, steps: steps, drift: drift,
                                  notes: notes, users: users)
    }

    /// The writer's and reader's rights, checked logged in as each (skipped for a role that
    /// `access` points at the admin user, as on the testbed, whose one user has every right).
    func userDrift() -> ([UserDrift], [String]) {
        var drift: [UserDrift] = []
        var notes: [String] = []
        for e in UserGrantCheck.expectations(manifest) {
            guard e.user != manifest.access.clickhouseUser else {
                notes.append("the \(e.role) user's grants were not checked: access.clickhouse\(e.role == "writer" ? "Writer" : "Reader")User is the admin user \(e.user)")
                continue
            }
            let config = e.role == "writer" ? workspace.clickhouseWriter(manifest, secrets: secrets, timeoutSeconds: 30)
                                            : workspace.clickhouseReader(manifest, secrets: secrets, timeoutSeconds: 30)
            let observed = UserGrantCheck.observe(ClickHouseClient(config))
            if !observed.checksPasswords {
                notes.append("the \(e.role) user's grants were not checked: the server let \(e.user) in with a wrong password, so it checks no users "
                             + "(a stand-in such as the testbed's; a real ClickHouse with the rendered users.d refuses it)")
            }
            drift += UserGrantCheck.compare(e, observed, database: database)
        }
        return (drift, notes)
    }

    /// How the local record differs from the server's (which is authoritative).
    static func notes(server: [SchemaMigrationRecord], local: [SchemaMigrationRecord]) -> [String] {
        func key(_ r: SchemaMigrationRecord) -> String { "\(r.version)/\(r.name)/\(r.checksum)" }
        let localKeys = Set(local.map(key))
        let serverKeys = Set(server.map(key))
        var notes: [String] = []
        let notLocal = server.filter { !localKeys.contains(key($0)) }.map(\.name)
        if !notLocal.isEmpty {
            notes.append("recorded on the server but not in the local state (applied from elsewhere?): \(notLocal.joined(separator: ", ")); "
                         + "cdcctl schema apply copies the record")
        }
        let notServer = local.filter { !serverKeys.contains(key($0)) }.map(\.name)
        if !notServer.isEmpty {
            notes.append("recorded in the local state but not on the server (database dropped or restored?): \(notServer.joined(separator: ", ")); "
                         + "the server's record counts")
        }
        return notes
    }

    // MARK: - Apply

    /// Runs the pending migrations in order and records each (server, then state store) once all
    /// its statements succeeded. Refuses, before changing anything, when an applied migration
    /// changed, is missing or a pending one is out of order. A failing statement stops the run:
    /// the migrations before it stay applied and recorded, the failing one is not recorded.
    public func apply(dryRun: Bool) throws -> SchemaApplyResult {
        try serverErrorsAsCdcErrors { try applyMigrations(dryRun: dryRun) }
    }

    func applyMigrations(dryRun: Bool) throws -> SchemaApplyResult {
        let observed = try observe()
        let steps = SchemaPlanner.plan(migrations, applied: observed.applied)
        let refusals = SchemaPlanner.refusals(steps)
        if !refusals.isEmpty { throw CdcErrors(refusals) }
        let pending = SchemaPlanner.pending(migrations, in: steps)
        let statementCount = pending.map(\.statements.count).reduce(0, +)
        if dryRun {
            try checkSyntax(pending)
            return SchemaApplyResult(database: database, dryRun: true, steps: steps, applied: pending.map(\.name), statements: statementCount)
        }
        let store = try workspace.openState()
        var records = observed.applied
        defer {
            // Whatever happened, the local record mirrors what the server has recorded.
            try? store.replaceSchemaMigrations(cluster: cluster, database: database, with: records)
        }
        if !pending.isEmpty || !observed.bookkeepingExists {
            try client.execute("CREATE DATABASE IF NOT EXISTS \(ClickHouseSQL.identifier(database))", idempotent: true)
            try client.execute(Self.bookkeepingDDL(database), idempotent: true)
        }
        for m in pending {
            progress("applying \(m.name) (\(m.statements.count) statement\(m.statements.count == 1 ? "" : "s"))")
            let started = workspace.environment.nowMs()
            for (i, statement) in m.statements.enumerated() {
                do {
                    try client.execute(statement.text, database: database)
                } catch {
                    throw CdcError(.operationFailed,
                                   "statement \(i + 1) of \(m.statements.count) failed: \((error as? ClickHouseError)?.description ?? "\(error)")",
                                   at: SourceLocation(file: m.path + ".mustache", line: statement.line), subject: "migration \(m.name)",
                                   fix: "the migrations before \(m.name) are applied and recorded; \(m.name) is not recorded"
                                       + (i > 0 ? " (its first \(i) statement\(i == 1 ? "" : "s") ran)" : "")
                                       + ". Fix the file, keeping its statements idempotent (IF NOT EXISTS), and run cdcctl schema apply again")
                }
            }
            let record = SchemaMigrationRecord(version: m.version, name: m.name, kind: m.kind.rawValue, checksum: m.checksum,
                                               statements: m.statements.count, appliedAtMs: workspace.environment.nowMs(),
                                               durationMs: workspace.environment.nowMs() - started)
            try recordOnServer(record)
            records.removeAll { $0.version == record.version && $0.name == record.name }
            records.append(record)
            try store.recordSchemaMigration(cluster: cluster, database: database, record)
        }
        return SchemaApplyResult(database: database, dryRun: false, steps: SchemaPlanner.plan(migrations, applied: records),
                                 applied: pending.map(\.name), statements: statementCount)
    }

    /// The command line prints cdcctl's one error type.
    func serverErrorsAsCdcErrors<T>(_ body: () throws -> T) throws -> T {
        do {
            return try body()
        } catch let e as ClickHouseError {
            throw e.cdcError
        }
    }

    /// Dry run: the server parses each pending statement (`EXPLAIN AST`) without running it.
    func checkSyntax(_ pending: [Migration]) throws {
        var errors: [CdcError] = []
        for m in pending {
            for statement in m.statements {
                do {
                    try client.execute("EXPLAIN AST " + statement.text, idempotent: true)
                } catch let e as ClickHouseError {
                    errors.append(CdcError.invalid("the server cannot parse this statement: \(e.description)",
                                                   at: SourceLocation(file: m.path + ".mustache", line: statement.line),
                                                   subject: "migration \(m.name)", fix: "fix the SQL; nothing was changed"))
                }
            }
        }
        if !errors.isEmpty { throw CdcErrors(errors) }
    }

    func recordOnServer(_ r: SchemaMigrationRecord) throws {
        struct Row: Encodable {
            var version: UInt32, name: String, kind: String, checksum: String, statements: UInt32
            var applied_at: String, duration_ms: UInt64, applied_by: String
        }
        let row = Row(version: UInt32(r.version), name: r.name, kind: r.kind, checksum: r.checksum, statements: UInt32(r.statements),
                      applied_at: UTCTime.format(r.appliedAtMs, milliseconds: true), duration_ms: UInt64(max(0, r.durationMs)),
                      applied_by: "cdcctl@\(ProcessInfo.processInfo.hostName)")
        // The token makes a retried request (after a lost response) store the record once.
        try client.insert([row], into: SchemaPlanner.bookkeepingTable, database: database,
                          deduplicationToken: "cdcctl-migration-\(r.name)-\(r.checksum)-\(r.appliedAtMs)")
    }

    static func bookkeepingDDL(_ database: String) -> String {
        """
        CREATE TABLE IF NOT EXISTS \(ClickHouseSQL.qualified(database, SchemaPlanner.bookkeepingTable))
        (
            version UInt32,
            name String,
            kind LowCardinality(String),
            checksum String,
            statements UInt32,
            applied_at DateTime64(3, 'UTC'),
            duration_ms UInt64,
            applied_by String
        )
        ENGINE = ReplacingMergeTree(applied_at)
        ORDER BY (version, name)
        SETTINGS non_replicated_deduplication_window = 1000
        """
    }
}

/// A target's migrations as the manifest renders them now (`folder` of the templates, a
/// `--templates` override first), and the secrets they were rendered with. Shared by the
/// ClickHouse, PostgreSQL and StarRocks schema operations.
func renderedMigrations(_ ws: Workspace, _ manifest: Manifest, folder: String, templatesDir: String?,
                        readOnly: Bool) throws -> (secrets: ResolvedSecrets, migrations: [Migration]) {
    let secrets = try ws.resolveSecrets(manifest, persist: !readOnly)
    let files = try Renderer(templates: try ws.templates(override: templatesDir)).render(manifest, secrets: secrets, under: folder)
    return (secrets, try SchemaPlanner.migrations(files.map { (path: $0.path, text: $0.contents) }))
}
