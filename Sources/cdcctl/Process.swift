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
            let s = try ProcessOperation.run(context.workspace, manifest: try context.manifest().manifest, metricsPort: metricsPort,
                                             exitWhenIdleSeconds: exitWhenIdle, log: context.log)
            var lines = ["processed \(s.eventsIn) events; rows: " + s.rowsOut.keys.sorted().map { "\($0)=\(s.rowsOut[$0]!)" }.joined(separator: " ")]
            if s.batches > 0 {
                lines.append(String(format: "%llu flushes, mean %.1f ms (pend commit, inserts, commit)", s.batches,
                                    s.batchSecondsSum / Double(s.batches) * 1000))
            }
            let summary = RunSummary(eventsIn: s.eventsIn, malformed: s.malformed, rowsOut: s.rowsOut, sinkErrors: s.sinkErrors,
                                     flushes: s.batches, meanFlushMs: s.batches > 0 ? s.batchSecondsSum / Double(s.batches) * 1000 : 0)
            return CommandResult(json: summary, table: lines.joined(separator: "\n"),
                                 detail: "\(s.eventsIn) events, \(s.rowsOut.values.reduce(0, +)) rows")
        }
    }

    /// What `process run -o json` prints when it ends.
    struct RunSummary: Encodable {
        var eventsIn: UInt64
        var malformed: UInt64
        var rowsOut: [String: UInt64]
        var sinkErrors: UInt64
        var flushes: UInt64
        var meanFlushMs: Double
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
            let s = try ProcessOperation.status(try context.manifest().manifest, metricsPort: metricsPort)
            var lines = ["processor group \(s.group): \(s.running ? "running" : "NOT RUNNING") (\(s.metricsURL))",
                         "recovery mode: \(s.recoveryMode ?? "unknown (the broker did not answer the probe)")"]
            let rows: [[String]] = s.partitions.map { p -> [String] in
                [p.topic, String(p.partition), p.committed < 0 ? "-" : String(p.committed), String(p.highWatermark), String(p.lag)]
            }
            lines.append(TextTable.render([["TOPIC", "PARTITION", "COMMITTED", "HIGH WATERMARK", "LAG"]] + rows))
            if !s.running { lines.append("next: cdcctl process run") }
            return CommandResult(json: s, table: lines.joined(separator: "\n"), exitCode: s.running ? 0 : 3)
        }
    }
}
