import ArgumentParser
import Diagnostics
import Foundation
import OperationsCore
import Telemetry
import Render
import Reports

struct Report: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Reports on the running cluster: memory, disk.",
        subcommands: [MemoryReportCommand.self, DiskReportCommand.self])

    @ParentCommand var root: CDCCtl
    var global: GlobalOptions { root.global }
}

struct MemoryReportCommand: CdcCommand {
    static let configuration = CommandConfiguration(
        commandName: "memory",
        abstract: "Every service's memory against its limit and the box's budget; history and a picture. Exit 3 when a service is above 90 % of its limit, was OOM-killed since the last report, is restarting, or the total is over budget.",
        discussion: """
            Usage is what `docker stats` shows (cgroup usage minus inactive file cache), read from each
            container's cgroup (v1 or v2); cdcctl's own processes on this host by RSS. docs/reports.md says
            where every figure comes from.
            """)

    @ParentCommand var parent: Report
    var global: GlobalOptions { parent.global }

    @Flag(help: "Refresh in place until interrupted (Ctrl-C).")
    var watch = false

    @Option(help: "Seconds between refreshes with --watch.")
    var interval: Double = 2

    @Option(help: ArgumentHelp("Per-service min/mean/p95/max and peak time from the recorded history over this period (e.g. 24h, 90m, 7d).", valueName: "duration"))
    var since: String?

    @Option(help: ArgumentHelp("Write a self-contained HTML page: stacked usage, limits, budget, OOM kills, and the tables (period: --since, default 24h).", valueName: "file"))
    var html: String?

    @Option(help: ArgumentHelp("Write the chart alone as an SVG file (period: --since, default 24h).", valueName: "file"))
    var svg: String?

    @Flag(help: "Record this reading in the state database (memory_samples); retention: 48 h raw, then 10-minute buckets for 30 days.")
    var record = false

    @Option(help: ArgumentHelp("With --record: keep sampling at this interval until interrupted (e.g. 60s; at least 10s).", valueName: "duration"))
    var every: String?

    @Option(help: ArgumentHelp("With --every: serve the latest figures for Prometheus on 127.0.0.1:PORT/metrics (0: none). Default: the manifest's reports.memoryMetricsPort (9401), which the rendered Prometheus scrapes.", valueName: "port"))
    var metricsPort: Int?

    func validate() throws {
        if let metricsPort, !(0...65535).contains(metricsPort) {
            throw ValidationError("--metrics-port \(metricsPort): expected 0 (none) or a port 1-65535")
        }
        guard interval > 0 else { throw ValidationError("--interval must be positive seconds") }
        if html != nil && svg != nil { throw ValidationError("--html and --svg exclude each other: give one file") }
        if let since, MemoryHistory.parseDuration(since) == nil {
            throw ValidationError("--since \(since): expected a duration such as 24h, 90m, 7d or 30s")
        }
        if let every {
            guard let ms = MemoryHistory.parseDuration(every) else {
                throw ValidationError("--every \(every): expected a duration such as 60s or 5m")
            }
            guard record else { throw ValidationError("--every samples into the history: add --record") }
            guard Double(ms) / 1000 >= MemoryHistory.minimumIntervalSeconds else {
                throw ValidationError("--every \(every): at least \(Int(MemoryHistory.minimumIntervalSeconds))s (it bounds the history table)")
            }
            if watch { throw ValidationError("--every and --watch exclude each other: the sampler prints one line per sample") }
        }
    }

    var options: MemoryOperation.Options {
        var o = MemoryOperation.Options()
        o.record = record
        let picture = html != nil || svg != nil
        if let since { o.sinceMs = MemoryHistory.parseDuration(since); o.sinceLabel = "last \(since)" }
        else if picture { o.sinceMs = 86_400_000; o.sinceLabel = "last 24h" }
        o.keepSamples = picture
        return o
    }

    func execute(_ context: CommandContext) throws -> CommandResult {
        var result = try MemoryOperation.run(context.workspace, options: options)
        let r = result.report
        if let file = html ?? svg {
            let text = html != nil
                ? MemoryPicture.html(cluster: r.cluster, samples: result.samples, report: r, summaries: result.history,
                                     periodLabel: result.since ?? "last 24h")
                : MemoryPicture.svg(cluster: r.cluster, samples: result.samples, report: r)
            try AtomicFile.write(text, to: file)
            result.pictureFile = file
        }
        // Progress lines, not warnings: notes print as "error:".
        if let file = result.pictureFile { context.log("wrote \(file) (\(result.samples.count) samples)") }
        if record { context.log("recorded \(result.recorded) samples") }
        var notes: [String] = []
        if result.since != nil && result.history.isEmpty {
            notes.append("no samples recorded in the \(result.since!): record some with cdcctl report memory --record (or --record --every 60s)")
        }
        return CommandResult(json: result, table: Self.table(result), exitCode: r.healthy ? 0 : 3, notes: notes,
                             detail: r.healthy ? "ok" : "\(r.problems.count) problems")
    }

    func run() throws {
        if let every, let ms = MemoryHistory.parseDuration(every) {
            // The sampler: one reading per interval, a line on stderr for each; a failed verdict does not end it.
            do {
                let port = try metricsPort ?? global.workspace.loadManifest().manifest.reports.memoryMetricsPort
                let sampler = MemorySamplerService(workspace: global.workspace, options: options, intervalMs: ms, metricsPort: port,
                                                   portSource: metricsPort == nil ? "reports.memoryMetricsPort" : "--metrics-port",
                                                   log: { Console.progress($0) })
                try ServiceHost.run(sampler, log: { Console.progress($0) })
                return
            } catch {
                throw Console.report(error)
            }
        }
        guard watch else { return try runOnce() }
        let terminal = isatty(STDOUT_FILENO) == 1
        while true {
            if terminal { print("\u{1B}[H\u{1B}[2J", terminator: "") }
            do { try runOnce() } catch let e as ExitCode where e == ExitCode(3) {}
            fflush(nil)
            Thread.sleep(forTimeInterval: interval)
        }
    }

    static func table(_ result: MemoryReportResult) -> String {
        let r = result.report
        var out = ["cluster \(r.cluster) memory at \(UTCTime.format(r.atMs)) UTC (cgroup \(r.cgroup ?? "not readable here"))"]
        if let summary = r.summary { out.append(summary) }
        out.append(TextTable.render(MemoryTables.nowRows(r)))
        if let since = result.since, !result.history.isEmpty {
            out.append("")
            out.append("history, \(since):")
            out.append(TextTable.render(MemoryTables.historyRows(result.history)))
        }
        out.append("")
        out.append(r.healthy ? "healthy" : "UNHEALTHY:\n" + r.problems.map { "  - \($0.subject): \($0.message)\n    fix: \($0.fix)" }.joined(separator: "\n"))
        return out.joined(separator: "\n")
    }
}
