import ArgumentParser
import Diagnostics
import Foundation
import Operations

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

    struct SchemaOptions: ParsableArguments {
        @Option(help: ArgumentHelp("Directory of templates that override the built-in ones, file by file.", valueName: "dir"))
        var templates: String?

        var arguments: [String] { templates.map { ["--templates", $0] } ?? [] }

        func operation(_ global: GlobalOptions) throws -> SchemaOperation {
            let ws = global.workspace
            return try SchemaOperation(ws, manifest: try ws.loadManifest().manifest, templatesDir: templates)
        }
    }

    struct Plan: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Show which migrations apply would run. Exit 3 when some are pending, 2 when apply would refuse.")
        @OptionGroup var global: GlobalOptions
        @OptionGroup var options: SchemaOptions

        func run() throws {
            try cdcctl.run {
                let report = try options.operation(global).plan()
                switch global.output {
                case .json: try Console.json(report)
                case .table:
                    print(SchemaTable.migrations(report.steps))
                    for p in report.pending {
                        print("\n-- \(p.name)")
                        for s in p.statements { print(s + ";") }
                    }
                }
                try SchemaTable.finish(refused: report.hasRefusals, pending: report.hasPending, drift: false, output: global.output)
            }
        }
    }

    struct Apply: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Run the pending migrations in order and record them. Idempotent; refuses edited applied migrations.")
        @OptionGroup var global: GlobalOptions
        @OptionGroup var options: SchemaOptions
        @Flag(help: "Check checksums and have the server parse the pending statements, without changing anything.")
        var dryRun = false

        func run() throws {
            try cdcctl.run {
                let ws = global.workspace
                let loaded = try ws.loadManifest()
                let args = options.arguments + (dryRun ? ["--dry-run"] : [])
                let result = try ws.journaled("schema apply", arguments: args, manifest: loaded) {
                    let r = try SchemaOperation(ws, manifest: loaded.manifest, templatesDir: options.templates,
                                                progress: Console.progress).apply(dryRun: dryRun)
                    return (r, (r.dryRun ? "dry run: " : "") + "\(r.applied.count) migration(s), \(r.statements) statement(s)")
                }
                switch global.output {
                case .json: try Console.json(result)
                case .table:
                    print(SchemaTable.migrations(result.steps))
                    if result.dryRun {
                        print("dry run: would apply \(result.applied.count) migration(s), \(result.statements) statement(s); nothing changed")
                    } else if result.applied.isEmpty {
                        print("no changes: every migration is applied")
                    } else {
                        print("applied \(result.applied.count) migration(s) to \(result.database): \(result.applied.joined(separator: ", "))")
                        print("next: cdcctl schema status")
                    }
                }
            }
        }
    }

    struct Status: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Applied and pending migrations, and drift of the tables from what they define. Exit 3 on pending or drift.")
        @OptionGroup var global: GlobalOptions
        @OptionGroup var options: SchemaOptions

        func run() throws {
            try cdcctl.run {
                let report = try options.operation(global).status()
                switch global.output {
                case .json: try Console.json(report)
                case .table:
                    print("database \(report.database)" + (report.databaseExists ? "" : " (does not exist yet)"))
                    print(SchemaTable.migrations(report.steps))
                    if !report.drift.isEmpty { print("\n" + SchemaTable.drift(report.drift)) }
                    for note in report.notes { print("note: " + note) }
                    if !report.hasDrift && !report.hasPending && !report.hasRefusals { print("up to date, no drift") }
                }
                try SchemaTable.finish(refused: report.hasRefusals, pending: report.hasPending, drift: report.hasDrift, output: global.output)
            }
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
    static func finish(refused: Bool, pending: Bool, drift: Bool, output: OutputFormat) throws {
        if refused {
            if output == .table { Console.error("apply would refuse: see DETAIL above; nothing was changed") }
            throw ExitCode(2)
        }
        if pending || drift {
            if output == .table { print(pending ? "next: cdcctl schema apply" : "drift: the tables differ from what the migrations define") }
            throw ExitCode(3)
        }
    }
}
