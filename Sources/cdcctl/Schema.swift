import ArgumentParser
import Diagnostics
import Foundation
import OperationsCore
import SchemaAdmin

struct Schema: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "The ClickHouse analytics schema as versioned migrations: plan, apply, status.",
        discussion: """
            Migrations are templates/clickhouse/migrations/NNNN_name.sql.mustache (run once, in order, immutable once \
            applied) and R__name.sql.mustache (run again whenever their rendered text changes, e.g. TTLs from the \
            manifest). Each applied one is recorded with its SHA-256 in <database>.cdcctl_schema_migrations and in \
            the state store.
            """,
        subcommands: [Plan.self, Apply.self, Status.self])

    @ParentCommand var root: CDCCtl
    var global: GlobalOptions { root.global }

    struct SchemaOptions: ParsableArguments {
        @Option(help: ArgumentHelp("Directory of templates that override the built-in ones, file by file.", valueName: "dir"))
        var templates: String?

        @Option(help: ArgumentHelp("clickhouse, starrocks (the StarRocks variant's tables and Routine Load jobs, on the FE over the MySQL protocol; plan and apply), or postgres (the PostgreSQL sink's tables).",
                                   valueName: "target"))
        var target: SchemaTarget = .clickhouse

        var arguments: [String] { (templates.map { ["--templates", $0] } ?? []) + (target == .clickhouse ? [] : ["--target", target.rawValue]) }

        func starrocks(_ context: CommandContext, readOnly: Bool, progress: @escaping (String) -> Void = { _ in }) throws -> StarRocksSchemaOperation? {
            guard target == .starrocks else { return nil }
            return try StarRocksSchemaOperation(context.workspace, manifest: try context.manifest().manifest, templatesDir: templates,
                                                readOnly: readOnly, progress: progress)
        }

        func postgres(_ context: CommandContext, readOnly: Bool, progress: @escaping (String) -> Void = { _ in }) throws -> PostgresSchemaOperation? {
            guard target == .postgres else { return nil }
            return try PostgresSchemaOperation(context.workspace, manifest: try context.manifest().manifest, templatesDir: templates,
                                               readOnly: readOnly, progress: progress)
        }

        func operation(_ context: CommandContext, readOnly: Bool, progress: @escaping (String) -> Void = { _ in }) throws -> SchemaOperation {
            try SchemaOperation(context.workspace, manifest: try context.manifest().manifest, templatesDir: templates, readOnly: readOnly,
                                progress: progress)
        }
    }

    struct Plan: CdcCommand {
        static let configuration = CommandConfiguration(
            abstract: "Show which migrations apply would run. Exit 3 when some are pending, 2 when apply would refuse.")
        @ParentCommand var parent: Schema
        var global: GlobalOptions { parent.global }
        @OptionGroup var options: SchemaOptions

        func execute(_ context: CommandContext) throws -> CommandResult {
            let report = try options.starrocks(context, readOnly: true)?.plan() ?? options.postgres(context, readOnly: true)?.plan()
                ?? options.operation(context, readOnly: true).plan()
            var lines = [SchemaTable.migrations(report.steps)]
            for p in report.pending {
                lines.append("\n-- \(p.name)")
                lines += p.statements.map { $0 + ";" }
            }
            return SchemaTable.finish(CommandResult(json: report, table: lines.joined(separator: "\n")),
                                      refused: report.hasRefusals, pending: report.hasPending, drift: false)
        }
    }

    struct Apply: CdcCommand {
        static let configuration = CommandConfiguration(
            abstract: "Run the pending migrations in order and record them. Idempotent; refuses edited applied migrations.")
        @ParentCommand var parent: Schema
        var global: GlobalOptions { parent.global }
        @OptionGroup var options: SchemaOptions
        @Flag(help: "Check checksums and have the server parse the pending statements, without changing anything.")
        var dryRun = false

        var journal: JournalSpec? { JournalSpec(command: "schema apply", arguments: options.arguments + (dryRun ? ["--dry-run"] : [])) }

        func execute(_ context: CommandContext) throws -> CommandResult {
            let r = try options.starrocks(context, readOnly: dryRun, progress: Console.progress)?.apply(dryRun: dryRun)
                ?? options.postgres(context, readOnly: dryRun, progress: Console.progress)?.apply(dryRun: dryRun)
                ?? options.operation(context, readOnly: dryRun, progress: Console.progress).apply(dryRun: dryRun)
            var lines = [SchemaTable.migrations(r.steps)]
            if r.dryRun {
                lines.append("dry run: would apply \(r.applied.count) migration(s), \(r.statements) statement(s); nothing changed")
            } else if r.applied.isEmpty {
                lines.append("no changes: every migration is applied")
            } else {
                lines.append("applied \(r.applied.count) migration(s) to \(r.database): \(r.applied.joined(separator: ", "))")
                lines.append("next: cdcctl schema status")
            }
            return CommandResult(json: r, table: lines.joined(separator: "\n"),
                                 detail: (r.dryRun ? "dry run: " : "") + "\(r.applied.count) migration(s), \(r.statements) statement(s)")
        }
    }

    struct Status: CdcCommand {
        static let configuration = CommandConfiguration(
            abstract: "Applied and pending migrations, and drift of the tables from what they define. Exit 3 on pending or drift.")
        @ParentCommand var parent: Schema
        var global: GlobalOptions { parent.global }
        @OptionGroup var options: SchemaOptions

        func execute(_ context: CommandContext) throws -> CommandResult {
            if options.target == .starrocks {
                throw CdcError.invalid("schema status has no StarRocks target yet", subject: "--target",
                                       fix: "use cdcctl schema plan --target starrocks for applied and pending migrations")
            }
            let report = try options.postgres(context, readOnly: true)?.status() ?? options.operation(context, readOnly: true).status()
            var lines = ["database \(report.database)" + (report.databaseExists ? "" : " (does not exist yet)"), SchemaTable.migrations(report.steps)]
            if !report.drift.isEmpty { lines.append("\n" + SchemaTable.drift(report.drift)) }
            if !report.users.isEmpty {
                var rows = [["USER", "ROLE", "DRIFT", "EXPECTED", "ACTUAL"]]
                for u in report.users { rows.append([u.user, u.role, u.problem, u.expected, u.actual]) }
                lines.append("\n" + TextTable.render(rows) + "\nfix: cdcctl render and restart ClickHouse so users.d/cdcctl.xml matches the manifest")
            }
            lines += report.notes.map { "note: " + $0 }
            if !report.hasDrift && !report.hasPending && !report.hasRefusals { lines.append("up to date, no drift") }
            return SchemaTable.finish(CommandResult(json: report, table: lines.joined(separator: "\n")),
                                      refused: report.hasRefusals, pending: report.hasPending, drift: report.hasDrift)
        }
    }
}

enum SchemaTable {
    static func migrations(_ steps: [MigrationStep]) -> String {
        var rows = [["MIGRATION", "STATE", "STATEMENTS", "CHECKSUM", "APPLIED (UTC)", "DETAIL"]]
        for s in steps {
            rows.append([s.name, s.state.rawValue, String(s.statements), String((s.checksum ?? s.appliedChecksum ?? "").prefix(12)),
                         s.appliedAtMs.map { UTCTime.format($0) } ?? "-", s.reason ?? ""])
        }
        return TextTable.render(rows)
    }

    static func drift(_ items: [DriftItem]) -> String {
        var rows = [["TABLE", "COLUMN", "DRIFT", "EXPECTED", "ACTUAL"]]
        for d in items {
            rows.append([d.table, d.column ?? "-", d.kind.rawValue, d.expected ?? "-", d.actual ?? "-"])
        }
        return TextTable.render(rows)
    }

    /// Exit 2 when apply would refuse, 3 when something is pending or drifted.
    static func finish(_ result: CommandResult, refused: Bool, pending: Bool, drift: Bool) -> CommandResult {
        var r = result
        if refused {
            r.exitCode = 2
            r.notes.append("apply would refuse: see DETAIL above; nothing was changed")
        } else if pending || drift {
            r.exitCode = 3
            r.table += "\n" + (pending ? "next: cdcctl schema apply" : "drift: the tables differ from what the migrations define")
        }
        return r
    }
}

enum SchemaTarget: String, ExpressibleByArgument, CaseIterable {
    case clickhouse, starrocks, postgres
}
