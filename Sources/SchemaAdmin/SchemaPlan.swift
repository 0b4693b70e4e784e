import OperationsCore
import Checksum
import ClickHouse
import Diagnostics
import State

/// One rendered migration file (`clickhouse/migrations/0002_orders_current.sql`).
public struct Migration: Sendable, Equatable {
    public enum Kind: String, Sendable, Codable {
        /// `NNNN_name.sql`: runs once, in version order; immutable once applied.
        case versioned
        /// `R__name.sql`: runs after the versioned ones whenever its rendered text changes.
        case repeatable
    }

    public var kind: Kind
    /// 0 for repeatable migrations.
    public var version: Int
    /// The file name without `.sql`.
    public var name: String
    public var path: String
    public var text: String
    /// SHA-256 of `text`, hex.
    public var checksum: String
    public var statements: [ClickHouseSQL.Statement]
}

/// What a migration's state is against the server's record of applied migrations.
public struct MigrationStep: Sendable, Codable, Equatable {
    public enum State: String, Sendable, Codable {
        /// Applied with this exact text.
        case applied
        /// Not applied yet (or, repeatable, changed since): apply runs it.
        case pending
        /// Applied, but the file renders differently now: apply refuses.
        case changed
        /// Recorded as applied, but no such file: apply refuses.
        case missing
        /// Pending, but a higher version is already applied: apply refuses.
        case outOfOrder = "out-of-order"
    }

    public var name: String
    public var version: Int
    public var kind: Migration.Kind
    public var state: State
    public var checksum: String?
    public var appliedChecksum: String?
    public var appliedAtMs: Int64?
    public var statements: Int
    public var reason: String?

    /// Refused states: apply changes nothing while any is present.
    public var isRefused: Bool { state == .changed || state == .missing || state == .outOfOrder }
}

/// One difference between the tables the applied migrations define and the server's.
public struct DriftItem: Sendable, Codable, Equatable {
    public enum Kind: String, Sendable, Codable {
        case missingTable = "missing-table"
        /// A table in the database no migration creates: reported, not counted as drift.
        case extraTable = "extra-table"
        case engine
        case missingColumn = "missing-column"
        case extraColumn = "extra-column"
        case type
        case defaultValue = "default"
    }

    public var table: String
    public var column: String?
    public var kind: Kind
    public var expected: String?
    public var actual: String?

    public var isDrift: Bool { kind != .extraTable }
}

/// Migrations from rendered files, their plan against the applied ones, and the expected-versus-
/// actual schema diff. Pure: `SchemaOperation` does the I/O.
public enum SchemaPlanner {
    public static let folder = "clickhouse/migrations"
    /// The server-side record of applied migrations, in the managed database.
    public static let bookkeepingTable = "cdcctl_schema_migrations"

    /// Parses `NNNN_name.sql` / `R__name.sql` files into ordered migrations: versioned ones by
    /// version, then repeatable ones by name. Every problem is reported at once (exit 2).
    public static func migrations(_ files: [(path: String, text: String)]) throws -> [Migration] {
        var out: [Migration] = []
        var errors: [CdcError] = []
        for file in files {
            let base = String(file.path.split(separator: "/").last ?? "")
            guard base.hasSuffix(".sql") else {
                errors.append(.invalid("is not a .sql migration", subject: file.path,
                                       fix: "name migrations NNNN_description.sql.mustache or R__description.sql.mustache"))
                continue
            }
            let name = String(base.dropLast(4))
            let kind: Migration.Kind
            let version: Int
            if name.wholeMatch(of: #/R__[A-Za-z0-9_]+/#) != nil {
                kind = .repeatable
                version = 0
            } else if let m = name.wholeMatch(of: #/(\d{1,9})_[A-Za-z0-9_]+/#), let v = Int(m.output.1), v > 0 {
                kind = .versioned
                version = v
            } else {
                errors.append(.invalid("'\(base)' does not follow the migration naming", subject: file.path,
                                       fix: "name it NNNN_description.sql.mustache (NNNN ≥ 1; letters, digits and '_') or R__description.sql.mustache"))
                continue
            }
            do {
                let statements = try ClickHouseSQL.split(file.text, file: file.path)
                if statements.isEmpty {
                    errors.append(.invalid("has no SQL statement", subject: file.path, fix: "add its statements, separated by ';'"))
                    continue
                }
                out.append(Migration(kind: kind, version: version, name: name, path: file.path, text: file.text,
                                     checksum: SHA256.hex(file.text), statements: statements))
            } catch let e as CdcError {
                errors.append(e)
            }
        }
        let byVersion = Dictionary(grouping: out.filter { $0.kind == .versioned }, by: \.version)
        for (version, same) in byVersion.sorted(by: { $0.key < $1.key }) where same.count > 1 {
            errors.append(.invalid("version \(version) is used by \(same.map(\.name).sorted().joined(separator: " and "))",
                                   subject: same[0].path, fix: "give each migration its own version number"))
        }
        if !errors.isEmpty { throw CdcErrors(errors) }
        return out.sorted { a, b in
            if a.kind != b.kind { return a.kind == .versioned }
            return a.kind == .versioned ? a.version < b.version : a.name < b.name
        }
    }

    /// Each local migration's state against the applied records, plus records with no file.
    public static func plan(_ local: [Migration], applied: [SchemaMigrationRecord]) -> [MigrationStep] {
        let lastApplied = applied.filter { $0.kind == Migration.Kind.versioned.rawValue }.map(\.version).max() ?? 0
        var steps: [MigrationStep] = []
        for m in local {
            let record = applied.first { m.kind == .versioned ? ($0.version == m.version && $0.kind == m.kind.rawValue) : $0.name == m.name }
            var step = MigrationStep(name: m.name, version: m.version, kind: m.kind, state: .pending, checksum: m.checksum,
                                     appliedChecksum: record?.checksum, appliedAtMs: record?.appliedAtMs,
                                     statements: m.statements.count, reason: nil)
            switch (m.kind, record) {
            case (.versioned, nil) where m.version < lastApplied:
                step.state = .outOfOrder
                step.reason = "version \(m.version) is not applied but \(lastApplied) already is: renumber it above \(lastApplied)"
            case (.versioned, nil), (.repeatable, nil):
                step.state = .pending
            case (.versioned, let r?) where r.checksum == m.checksum && r.name == m.name:
                step.state = .applied
            case (.versioned, let r?):
                step.state = .changed
                step.reason = r.name != m.name
                    ? "applied as \(r.name); a file may not be renamed once applied: rename it back"
                    : "renders differently from the text applied (checksum \(r.checksum.prefix(12)), now \(m.checksum.prefix(12))); "
                        + "applied migrations are immutable: restore the file (and the manifest values it uses), "
                        + "and make the change in a new migration numbered above \(lastApplied)"
            case (.repeatable, let r?) where r.checksum == m.checksum:
                step.state = .applied
            case (.repeatable, _?):
                step.state = .pending
                step.reason = "changed since it last ran: runs again"
            }
            steps.append(step)
        }
        for r in applied where !local.contains(where: { r.kind == Migration.Kind.versioned.rawValue ? $0.version == r.version && $0.kind == .versioned : $0.name == r.name }) {
            steps.append(MigrationStep(name: r.name, version: r.version, kind: Migration.Kind(rawValue: r.kind) ?? .versioned,
                                       state: .missing, checksum: nil, appliedChecksum: r.checksum, appliedAtMs: r.appliedAtMs,
                                       statements: r.statements,
                                       reason: "applied on the server, but there is no \(r.name).sql.mustache: restore the file "
                                           + "(or use the cdcctl version that applied it)"))
        }
        return steps.sorted { a, b in
            if a.kind != b.kind { return a.kind == .versioned }
            return a.kind == .versioned ? a.version < b.version : a.name < b.name
        }
    }

    /// The local migrations a plan says to run, in their order.
    public static func pending(_ local: [Migration], in steps: [MigrationStep]) -> [Migration] {
        let names = Set(steps.filter { $0.state == .pending }.map(\.name))
        return local.filter { names.contains($0.name) }
    }

    /// The local migrations the server has applied, a changed one with its current text.
    public static func applied(_ local: [Migration], in steps: [MigrationStep]) -> [Migration] {
        let names = Set(steps.filter { $0.state == .applied || $0.state == .changed }.map(\.name))
        return local.filter { names.contains($0.name) }
    }

    /// The refusals in a plan, as errors (exit 2).
    public static func refusals(_ steps: [MigrationStep]) -> [CdcError] {
        steps.filter(\.isRefused).map {
            CdcError.invalid($0.reason ?? $0.state.rawValue, subject: "migration \($0.name)",
                             fix: "nothing was changed; fix the migration files, then run cdcctl schema apply again")
        }
    }

    /// The tables the applied migrations define: their statements run through a model of the DDL.
    /// A changed migration counts with its current text (the applied text is not kept), so its
    /// tables show what differs instead of showing up as extra.
    public static func expectedSchema(_ local: [Migration], steps: [MigrationStep], database: String) throws -> SchemaModel {
        var model = SchemaModel()
        for m in applied(local, in: steps) {
            for s in m.statements { try model.apply(s.text, database: database) }
        }
        return model
    }

    /// Expected versus actual tables of `database`. Tables other than the migrations' are
    /// reported as `extraTable` (not drift); the bookkeeping table and hidden inner tables are skipped.
    public static func drift(expected: SchemaModel, actual: [TableSchema], database: String) -> [DriftItem] {
        drift(expected: expected.tables, actual: actual, database: database)
    }

    public static func drift(expected: [TableSchema], actual: [TableSchema], database: String) -> [DriftItem] {
        var items: [DriftItem] = []
        let actualByName = Dictionary(actual.filter { $0.database == database }.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
        for e in expected where e.database == database {
            guard let a = actualByName[e.name] else {
                items.append(DriftItem(table: e.name, column: nil, kind: .missingTable, expected: e.engine ?? "table", actual: nil))
                continue
            }
            if let engine = e.engine, let actualEngine = a.engine, engine != actualEngine {
                items.append(DriftItem(table: e.name, column: nil, kind: .engine, expected: engine, actual: actualEngine))
            }
            guard let expectedColumns = e.columns, let actualColumns = a.columns else { continue }
            let actualColumnsByName = Dictionary(actualColumns.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
            for c in expectedColumns {
                guard let ac = actualColumnsByName[c.name] else {
                    items.append(DriftItem(table: e.name, column: c.name, kind: .missingColumn, expected: c.type, actual: nil))
                    continue
                }
                if let type = c.type, let actualType = ac.type, ClickHouseSQL.normalized(type) != ClickHouseSQL.normalized(actualType) {
                    items.append(DriftItem(table: e.name, column: c.name, kind: .type, expected: type, actual: actualType))
                }
                if c.defaultKind != ac.defaultKind
                    || ClickHouseSQL.normalized(c.defaultExpression) != ClickHouseSQL.normalized(ac.defaultExpression) {
                    items.append(DriftItem(table: e.name, column: c.name, kind: .defaultValue,
                                           expected: describeDefault(c), actual: describeDefault(ac)))
                }
            }
            let expectedNames = Set(expectedColumns.map(\.name))
            for ac in actualColumns where !expectedNames.contains(ac.name) {
                items.append(DriftItem(table: e.name, column: ac.name, kind: .extraColumn, expected: nil, actual: ac.type))
            }
        }
        let expectedNames = Set(expected.filter { $0.database == database }.map(\.name))
        for a in actual.sorted(by: { $0.name < $1.name })
            where a.database == database && !expectedNames.contains(a.name) && a.name != bookkeepingTable && !a.name.hasPrefix(".inner") {
            items.append(DriftItem(table: a.name, column: nil, kind: .extraTable, expected: nil, actual: a.engine))
        }
        return items
    }

    static func describeDefault(_ c: ColumnSchema) -> String {
        c.defaultKind.isEmpty ? "(none)" : "\(c.defaultKind) \(c.defaultExpression)"
    }
}
