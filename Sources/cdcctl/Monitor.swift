import ArgumentParser
import Diagnostics
import Foundation
import Monitor
import OperationsCore
import Telemetry

struct MonitorCommand: CdcCommand {
    static let configuration = CommandConfiguration(
        commandName: "monitor",
        abstract: "Serve the whole stack's health on /metrics for Prometheus: Kafka, Connect/Debezium, MySQL binlogs, ClickHouse, containers, disk.",
        discussion: """
            Each scrape reads every part at once, each bounded by --timeout: a part that fails or does not
            answer exports cdcctl_monitor_collector_up{collector=…} 0 and the others export as usual.
            Without --listen it serves on 127.0.0.1 and the Docker bridge at the manifest's monitor.port
            (9402), which the rendered Prometheus scrapes as host.docker.internal (job `monitor`).
            docs/operations.md lists every metric and the alerts built on them.
            --once prints one scrape on stdout and exits (3 when a collector failed).
            """)

    @ParentCommand var root: CDCCtl
    var global: GlobalOptions { root.global }

    @Option(help: ArgumentHelp("Serve /metrics here: HOST:PORT, :PORT or PORT (host 127.0.0.1). Default: the manifest's monitor.port on 127.0.0.1 and the Docker bridge.", valueName: "addr"))
    var listen: String?

    @Option(help: ArgumentHelp("Seconds each collector (and so each scrape) may take at most.", valueName: "seconds"))
    var timeout: Double = 5

    @Option(help: ArgumentHelp("Leave a collector out (repeatable): \(MonitorOperation.collectorNames.joined(separator: ", ")).", valueName: "name"))
    var skip: [String] = []

    @Option(help: ArgumentHelp("Also measure a data directory on this host (repeatable), e.g. mysql=/var/lib/mysql.", valueName: "service=path"))
    var dataDir: [String] = []

    @Flag(help: "Print one scrape on stdout and exit.")
    var once = false

    func validate() throws {
        guard timeout > 0, timeout <= 60 else { throw ValidationError("--timeout \(timeout): expected seconds above 0 and at most 60") }
        for s in skip where !MonitorOperation.collectorNames.contains(s) {
            throw ValidationError("--skip \(s): expected one of \(MonitorOperation.collectorNames.joined(separator: ", "))")
        }
        for d in dataDir where !d.contains("=") || d.hasPrefix("=") || d.hasSuffix("=") {
            throw ValidationError("--data-dir \(d): expected SERVICE=PATH, e.g. mysql=/var/lib/mysql")
        }
    }

    func execute(_ context: CommandContext) throws -> CommandResult {
        let address = try listen.map { try MonitorService.parseListen($0) }
        var options = MonitorOperation.Options()
        options.timeoutSeconds = timeout
        options.skip = Set(skip)
        options.directories = dataDir.map { d in
            let parts = d.split(separator: "=", maxSplits: 1).map(String.init)
            return (parts[0], parts[1])
        }
        let runner = CollectorRunner(try MonitorOperation.collectors(context.workspace, options: options), timeout: timeout)
        if once {
            let (text, outcomes) = MonitorOperation.scrape(runner)
            let failed = outcomes.filter { $0.status != .ok }
            return CommandResult(json: ["metrics": text], table: text.hasSuffix("\n") ? String(text.dropLast()) : text,
                                 exitCode: failed.isEmpty ? 0 : 3,
                                 notes: failed.map { "collector \($0.name) \($0.status.rawValue): \($0.error ?? "")" },
                                 detail: failed.isEmpty ? "ok" : "\(failed.count) collectors failed")
        }
        let (host, port, source) = try address.map { ($0.host, $0.port, "--listen") }
            ?? ("127.0.0.1", context.workspace.loadManifest().manifest.monitor.port, "monitor.port")
        let service = MonitorService(runner: runner, host: host, port: port, source: source, log: { Console.progress($0) })
        try ServiceHost.run(service, log: { Console.progress($0) })
        return CommandResult(json: ["stopped": true], table: "")
    }
}
