import ArgumentParser
import Diagnostics
import Foundation
import Operations

struct ProcessCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "process",
        abstract: "The bundled stream processor: windows, anomalies, exactly-once effect into ClickHouse.",
        subcommands: [Run.self, Status.self])

    struct Run: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Run in the foreground (logs on stderr) until SIGTERM/SIGINT, then flush and commit.")
        @OptionGroup var global: GlobalOptions
        @Option(help: "Serve /metrics on this port instead of processor.metricsPort.") var metricsPort: Int?
        @Option(help: "Stop after this many seconds without input (backfills, tests).") var exitWhenIdle: Double?

        func run() throws {
            try cdcctl.run {
                let ws = global.workspace
                let loaded = try ws.loadManifest()
                let snapshot = try ws.journaled("process run", arguments: exitWhenIdle.map { ["--exit-when-idle", "\($0)"] } ?? [],
                                                manifest: loaded) {
                    let s = try ProcessOperation.run(ws, manifest: loaded.manifest, metricsPort: metricsPort,
                                                     exitWhenIdleSeconds: exitWhenIdle, log: Console.progress)
                    return (s, "\(s.eventsIn) events, \(s.rowsOut.values.reduce(0, +)) rows")
                }
                print("processed \(snapshot.eventsIn) events; rows: " + snapshot.rowsOut.keys.sorted().map { "\($0)=\(snapshot.rowsOut[$0]!)" }.joined(separator: " "))
                if snapshot.batches > 0 {
                    print(String(format: "%llu flushes, mean %.1f ms (pend commit, inserts, commit)", snapshot.batches,
                                 snapshot.batchSecondsSum / Double(snapshot.batches) * 1000))
                }
            }
        }
    }

    struct Status: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Committed offsets and lag per partition; whether it runs. Exit 3 when not running.")
        @OptionGroup var global: GlobalOptions
        @Option(help: "The /metrics port to probe.") var metricsPort: Int?

        func run() throws {
            try cdcctl.run {
                let m = try global.workspace.loadManifest().manifest
                let s = try ProcessOperation.status(m, metricsPort: metricsPort)
                switch global.output {
                case .json: try Console.json(s)
                case .table:
                    print("processor group \(s.group): \(s.running ? "running" : "NOT RUNNING") (\(s.metricsURL))")
                    print("recovery mode: \(s.recoveryMode ?? "unknown (the broker did not answer the probe)")")
                    print(TextTable.render([["TOPIC", "PARTITION", "COMMITTED", "HIGH WATERMARK", "LAG"]] + s.partitions.map {
                        [$0.topic, String($0.partition), $0.committed < 0 ? "-" : String($0.committed), String($0.highWatermark), String($0.lag)]
                    }))
                    if !s.running { print("next: cdcctl process run") }
                }
                if !s.running { throw ExitCode(3) }
            }
        }
    }
}
