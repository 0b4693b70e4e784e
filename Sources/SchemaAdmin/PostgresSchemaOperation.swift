import ClickHouse
import Diagnostics
import Foundation
import Manifest
import OperationsCore
import Postgres
import Render
import State

/// `cdcctl schema plan|apply|status --target postgres`: the PostgreSQL sink's migrations
/// (`postgres/migrations/`, rendered from the manifest), planned with the same checksums and
/// refusals as ClickHouse's (`SchemaPlanner`), recorded in `cdcctl_schema_migrations` of the
/// sink's database and in the state store (database key `postgres:<database>`). PostgreSQL's
/// DDL is transactional: each migration and its record commit together, or neither does.
public struct PostgresSchemaOperation {
    public static let folder = "postgres/migrations"
    public let manifest: Manifest
    public let migrations: [Migration]
    public let endpoint: PostgresEndpoint
    let workspace: Workspace
    let progress: (String) -> Void
    public var database: String { manifest.postgres.database }
    var stateKey: String { "postgres:" + database }

    public init(_ ws: Workspace, manifest: Manifest, templatesDir: String? = nil, readOnly: Bool = false,
                progress: @escaping (String) -> Void = { _ in }) throws {
        guard manifest.postgresEnabled else {
            throw CdcError.invalid("--target postgres needs the PostgreSQL sink", subject: "processor.sinks",
                                   fix: "add postgres to processor.sinks in the manifest (e.g. sinks: [clickhouse, postgres]), or leave out --target")
        }
        self.manifest = manifest
        workspace = ws
        self.progress = progress
        let (secrets, migrations) = try renderedMigrations(ws, manifest, folder: Self.folder, templatesDir: templatesDir, readOnly: readOnly)
        endpoint = ws.postgres(manifest, secrets: secrets, connectTimeoutSeconds: 10)
        self.migrations = migrations
    }

    func connect() throws -> PostgresConnection {
        do {
            return try PostgresConnection(endpoint)
        } catch let e as PostgresError {
            throw CdcError(.operationFailed, e.description, subject: "postgres",
                           fix: "check PostgreSQL is up at \(manifest.access.postgresHost):\(manifest.access.postgresPort) (access.postgresHost/Port), "
                               + "that postgres.database exists and postgres.user logs in with the password secrets.postgresPassword references",
                           transient: e.isTransient)
        }
    }

    func applied(_ pg: PostgresConnection) throws -> [SchemaMigrationRecord] {
        guard try pg.exec("SELECT to_regclass($1)", [SchemaPlanner.bookkeepingTable]).scalar != nil else { return [] }
        return try pg.exec("""
            SELECT version, name, kind, checksum, statements, applied_at_ms, duration_ms
            FROM \(SchemaPlanner.bookkeepingTable) ORDER BY version, name
            """).rows.map { r in
            SchemaMigrationRecord(version: Int(r[0] ?? "") ?? 0, name: r[1] ?? "", kind: r[2] ?? "", checksum: r[3] ?? "",
                                  statements: Int(r[4] ?? "") ?? 0, appliedAtMs: Int64(r[5] ?? "") ?? 0, durationMs: Int64(r[6] ?? "") ?? 0)
        }
    }

    public func plan() throws -> SchemaPlanReport {
        let pg = try connect()
        let steps = SchemaPlanner.plan(migrations, applied: try wrap { try applied(pg) })
        return SchemaPlanReport(database: database, databaseExists: true, steps: steps,
                                pending: SchemaPlanner.pending(migrations, in: steps).map { PendingMigration(name: $0.name, statements: $0.statements.map(\.text)) })
    }

    /// Plan, and the applied migrations' tables compared column by column with the database's
    /// (drift). What the migrations should have made is made for real: inside one transaction that
    /// is always rolled back, they run in a scratch schema, and both schemas are read from the
    /// catalog. Where the user may not create a schema, tables are checked for presence only.
    public func status() throws -> SchemaStatusReport {
        let pg = try connect()
        let steps = SchemaPlanner.plan(migrations, applied: try wrap { try applied(pg) })
        let made = SchemaPlanner.applied(migrations, in: steps)
        let current = try wrap { try pg.exec("SELECT current_schema()").scalar } ?? "public"
        let scratch = "cdcctl_expected_" + UUID().uuidString.prefix(8).lowercased()
        do {
            let (expected, actual) = try pg.rolledBack { pg -> ([TableSchema], [TableSchema]) in
                try pg.exec("CREATE SCHEMA \(scratch)")
                try pg.exec("SET LOCAL search_path = \(scratch)")
                for m in made { try pg.execScript(m.text) }
                func read(_ schema: String) throws -> [TableSchema] {
                    Self.tables(catalogRows: try pg.exec(Self.catalogQuery, [schema]).rows, database: database, schemas: [scratch, current])
                }
                return (try read(scratch), try read(current))
            }
            let drift = SchemaPlanner.drift(expected: expected, actual: actual, database: database)
            return SchemaStatusReport(database: database, databaseExists: true, steps: steps, drift: drift,
                                      notes: ["columns compared with the applied migrations run in a scratch schema (rolled back)"], users: [])
        } catch let e as PostgresError where !e.isTransient {
            // The scratch schema could not be made (the transaction is rolled back): without
            // CREATE on the database (42501), or a migration that touches more than its schema.
            let why = e.sqlState == "42501"
                ? "\(manifest.postgres.user) may not create the scratch schema the column check needs (\(e.message)); GRANT CREATE ON DATABASE \(database) TO \(manifest.postgres.user) enables it"
                : "the applied migrations could not be run again in a scratch schema (\(e.description))"
            let expected = made.flatMap { Self.createdTables($0.text) }
            let actual = Set(try wrap { try pg.exec("SELECT tablename FROM pg_tables WHERE schemaname = current_schema()").rows.compactMap { $0.first ?? nil } })
            var drift = expected.filter { !actual.contains($0) }.map { DriftItem(table: $0, column: nil, kind: .missingTable, expected: "table", actual: nil) }
            let known = Set(expected + [SchemaPlanner.bookkeepingTable])
            drift += actual.subtracting(known).sorted().map { DriftItem(table: $0, column: nil, kind: .extraTable, expected: nil, actual: "table") }
            return SchemaStatusReport(database: database, databaseExists: true, steps: steps, drift: drift,
                                      notes: ["tables checked for presence only: " + why],
                                      users: [])
        } catch let e as PostgresError {
            throw e.cdcError
        }
    }

    /// Every column of the ordinary and partitioned tables of schema $1, in order.
    static let catalogQuery = """
        SELECT c.relname, a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull, coalesce(pg_get_expr(d.adbin, d.adrelid), '')
        FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
        LEFT JOIN pg_attrdef d ON d.adrelid = c.oid AND d.adnum = a.attnum
        WHERE n.nspname = $1 AND c.relkind IN ('r', 'p')
        ORDER BY c.relname, a.attnum
        """

    /// Catalog rows (table, column, type, not null, default) → tables. NOT NULL is part of the
    /// type, and `schema.` qualifiers of the two schemas compared are dropped from defaults
    /// (`nextval('public.t_id_seq'::regclass)` equals the scratch schema's own). Pure.
    public static func tables(catalogRows: [[String?]], database: String, schemas: [String]) -> [TableSchema] {
        var order: [String] = []
        var columns: [String: [ColumnSchema]] = [:]
        for r in catalogRows {
            guard r.count == 5, let table = r[0], let name = r[1], let type = r[2] else { continue }
            var expression = r[4] ?? ""
            for s in schemas { expression = expression.replacingOccurrences(of: "\(s).", with: "").replacingOccurrences(of: "\"\(s)\".", with: "") }
            if columns[table] == nil { order.append(table) }
            columns[table, default: []].append(ColumnSchema(name: name, type: type + (r[3] == "t" ? " NOT NULL" : ""),
                                                            defaultKind: expression.isEmpty ? "" : "DEFAULT", defaultExpression: expression))
        }
        return order.map { TableSchema(database: database, name: $0, engine: nil, columns: columns[$0]) }
    }

    /// `CREATE TABLE [IF NOT EXISTS] name` in a migration's text. Pure.
    public static func createdTables(_ sql: String) -> [String] {
        sql.matches(of: #/(?i)CREATE\s+TABLE\s+(?:IF\s+NOT\s+EXISTS\s+)?"?([A-Za-z_][A-Za-z0-9_]*)"?/#).map { String($0.output.1) }
    }

    /// Refusals → (dry run: each pending migration run inside a transaction that is rolled
    /// back) → each pending migration and its record in one transaction.
    public func apply(dryRun: Bool) throws -> SchemaApplyResult {
        let pg = try connect()
        let records = try wrap { try applied(pg) }
        let steps = SchemaPlanner.plan(migrations, applied: records)
        let refusals = SchemaPlanner.refusals(steps)
        if !refusals.isEmpty { throw CdcErrors(refusals) }
        let pending = SchemaPlanner.pending(migrations, in: steps)
        let statementCount = pending.map(\.statements.count).reduce(0, +)
        if dryRun {
            // DDL is transactional: the server checks every statement, then nothing is kept.
            try wrap { try pg.rolledBack { pg in for m in pending { try pg.execScript(m.text) } } }
            return SchemaApplyResult(database: database, dryRun: true, steps: steps, applied: pending.map(\.name), statements: statementCount)
        }
        let store = try workspace.openState()
        var done = records
        defer { try? store.replaceSchemaMigrations(cluster: manifest.cluster.name, database: stateKey, with: done) }
        _ = try wrap { try pg.exec(Self.bookkeepingDDL) }
        for m in pending {
            progress("applying \(m.name) to PostgreSQL \(database) (\(m.statements.count) statement\(m.statements.count == 1 ? "" : "s"))")
            let started = workspace.environment.nowMs()
            var record = SchemaMigrationRecord(version: m.version, name: m.name, kind: m.kind.rawValue, checksum: m.checksum,
                                               statements: m.statements.count, appliedAtMs: 0, durationMs: 0)
            do {
                try pg.transaction { tx in
                    try tx.execScript(m.text)
                    record.appliedAtMs = workspace.environment.nowMs()
                    record.durationMs = record.appliedAtMs - started
                    try tx.exec("""
                        INSERT INTO \(SchemaPlanner.bookkeepingTable) (version, name, kind, checksum, statements, applied_at_ms, duration_ms, applied_by)
                        VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
                        ON CONFLICT (version, name) DO UPDATE SET checksum = EXCLUDED.checksum, applied_at_ms = EXCLUDED.applied_at_ms,
                            duration_ms = EXCLUDED.duration_ms, applied_by = EXCLUDED.applied_by
                        """, [String(record.version), record.name, record.kind, record.checksum, String(record.statements),
                              String(record.appliedAtMs), String(record.durationMs), "cdcctl@" + ProcessInfo.processInfo.hostName])
                }
            } catch let e as PostgresError {
                throw CdcError(.operationFailed, "\(m.name) failed and was rolled back: \(e.description)", subject: "migration \(m.name)",
                               fix: "the migrations before \(m.name) are applied and recorded; \(m.name) changed nothing. Fix it and run cdcctl schema apply --target postgres again",
                               transient: e.isTransient)
            }
            done.removeAll { $0.version == record.version && $0.name == record.name }
            done.append(record)
        }
        return SchemaApplyResult(database: database, dryRun: false, steps: SchemaPlanner.plan(migrations, applied: done),
                                 applied: pending.map(\.name), statements: statementCount)
    }

    func wrap<T>(_ body: () throws -> T) throws -> T {
        do { return try body() } catch let e as PostgresError { throw e.cdcError }
    }

    static let bookkeepingDDL = """
        CREATE TABLE IF NOT EXISTS \(SchemaPlanner.bookkeepingTable) (
            version       integer NOT NULL,
            name          text    NOT NULL,
            kind          text    NOT NULL,
            checksum      text    NOT NULL,
            statements    integer NOT NULL,
            applied_at_ms bigint  NOT NULL,
            duration_ms   bigint  NOT NULL,
            applied_by    text,
            PRIMARY KEY (version, name)
        )
        """
}
