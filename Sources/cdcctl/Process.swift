import ArgumentParser
import Diagnostics
import Foundation
import OperationsCore
import Processing

struct ProcessCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "process",
        abstract: "The bundled stream processor: windows, anomalies, exactly-once effect into ClickHouse.",
        subcommands: [Run.self, Status.self])

    @ParentCommand var root: CDCCtl
    var global: GlobalOptions { root.global }

    struct Run: CdcCommand {
        static let configuration = CommandConfiguration(
            abstract: "Run in the foreground (logs on stderr) until SIGTERM/SIGINT, then flush and commit.")
        @ParentCommand var parent: ProcessCommand
        var global: GlobalOptions { parent.global }
        @Option(help: "Serve /metrics on this port instead of processor.metricsPort.") var metricsPort: Int?
        @Option(help: "Stop after this many seconds without input (backfills, tests).") var exitWhenIdle: Double?

        /// The metrics port is checked by ProcessOperation (bad input, journaled), like
        /// processor.metricsPort from the manifest.
        func validate() throws {
            if let exitWhenIdle, exitWhenIdle <= 0 { throw ValidationError("--exit-when-idle must be positive seconds") }
        }

        var journal: JournalSpec? {
            JournalSpec(command: "process run", arguments: exitWhenIdle.map { ["--exit-when-idle", "\($0)"] } ?? [], handlesSignals: true)
        }

        func execute(_ context: CommandContext) throws -> CommandResult {
            let r = try ProcessOperation.run(context.workspace, manifest: try context.manifest().manifest, metricsPort: metricsPort,
                                             exitWhenIdleSeconds: exitWhenIdle, log: context.log)
            var lines: [String] = []
            var summary = RunSummary()
            if let s = r.clickhouse {
                lines.append("processed \(s.eventsIn) events; rows: " + s.rowsOut.keys.sorted().map { "\($0)=\(s.rowsOut[$0]!)" }.joined(separator: " "))
                if s.batches > 0 {
                    lines.append(String(format: "%llu flushes, mean %.1f ms (pend commit, inserts, commit)", s.batches,
                                        s.batchSecondsSum / Double(s.batches) * 1000))
                }
                summary = RunSummary(eventsIn: s.eventsIn, malformed: s.malformed, rowsOut: s.rowsOut, sinkErrors: s.sinkErrors,
                                     flushes: s.batches, meanFlushMs: s.batches > 0 ? s.batchSecondsSum / Double(s.batches) * 1000 : 0)
            }
            if let p = r.postgres {
                lines.append("postgres: \(p.recordsIn) records in \(p.transactions) transaction(s); rows: "
                             + p.rowsWritten.keys.sorted().map { "\($0)=\(p.rowsWritten[$0]!)" }.joined(separator: " ")
                             + "; rejects \(p.rejects.values.reduce(0, +)), retries \(p.retries)")
                summary.postgres = PostgresSummary(recordsIn: p.recordsIn, transactions: p.transactions, rowsWritten: p.rowsWritten,
                                                   rejects: p.rejects, retries: p.retries)
            }
            return CommandResult(json: summary, table: lines.joined(separator: "\n"),
                                 detail: "\(summary.eventsIn) events, \(summary.rowsOut.values.reduce(0, +)) rows"
                                     + (r.postgres.map { "; postgres \($0.recordsIn) records" } ?? ""))
        }
    }

    /// What `process run -o json` prints when it ends.
    struct RunSummary: Encodable {
        var eventsIn: UInt64 = 0
        var malformed: UInt64 = 0
        var rowsOut: [String: UInt64] = [:]
        var sinkErrors: UInt64 = 0
        var flushes: UInt64 = 0
        var meanFlushMs: Double = 0
        /// The PostgreSQL loop's counters, when processor.sinks has postgres.
        var postgres: PostgresSummary?
    }

    struct PostgresSummary: Encodable {
        var recordsIn: UInt64
        var transactions: UInt64
        var rowsWritten: [String: UInt64]
        var rejects: [String: UInt64]
        var retries: UInt64
    }

    struct Status: CdcCommand {
        static let configuration = CommandConfiguration(abstract: "Committed offsets and lag per partition; whether it runs. Exit 3 when not running.")
        @ParentCommand var parent: ProcessCommand
        var global: GlobalOptions { parent.global }
        @Option(help: "The /metrics port to probe.") var metricsPort: Int?

        func validate() throws {
            if let metricsPort, !(1...65535).contains(metricsPort) {
                throw ValidationError("--metrics-port must be a TCP port from 1 to 65535, not \(metricsPort)")
            }
        }

        func execute(_ context: CommandContext) throws -> CommandResult {
            let s = try ProcessOperation.status(try context.manifest().manifest, metricsPort: metricsPort, workspace: context.workspace)
            var lines = ["processor group \(s.group): \(s.running ? "running" : "NOT RUNNING") (\(s.metricsURL))",
                         "recovery mode: \(s.recoveryMode ?? "unknown (the broker did not answer the probe)")"]
            let rows: [[String]] = s.partitions.map { p -> [String] in
                [p.topic, String(p.partition), p.committed < 0 ? "-" : String(p.committed), String(p.highWatermark), String(p.lag)]
            }
            lines.append(TextTable.render([["TOPIC", "PARTITION", "COMMITTED", "HIGH WATERMARK", "LAG"]] + rows))
            if let pg = s.postgres {
                lines.append("postgres sink group \(pg.group) (offsets stored in PostgreSQL \(pg.database))"
                             + (pg.problem.map { ": could not read them: \($0)" } ?? ""))
                lines.append(TextTable.render([["TOPIC", "PARTITION", "STORED", "HIGH WATERMARK", "LAG"]] + pg.partitions.map {
                    [$0.topic, String($0.partition), $0.committed < 0 ? "-" : String($0.committed), String($0.highWatermark), String($0.lag)]
                }))
            }
            if !s.running { lines.append("next: cdcctl process run") }
            return CommandResult(json: s, table: lines.joined(separator: "\n"), exitCode: s.running ? 0 : 3)
        }
    }
}
