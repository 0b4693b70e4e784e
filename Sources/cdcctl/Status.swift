import ArgumentParser
import Diagnostics
import Foundation
import OperationsCore
import Producers
import HostServices
import Stack

struct Status: CdcCommand {
    static let configuration = CommandConfiguration(
        abstract: "Containers, Kafka, connectors and ClickHouse in one table. Exit 0 healthy, 3 when anything is unhealthy.")

    @ParentCommand var parent: CDCCtl
    var global: GlobalOptions { parent.global }

    @Flag(help: "Refresh until interrupted (Ctrl-C).")
    var watch = false

    @Option(help: "Seconds between refreshes with --watch.")
    var interval: Double = 2

    func validate() throws {
        guard interval > 0 else { throw ValidationError("--interval must be positive seconds") }
    }

    func execute(_ context: CommandContext) throws -> CommandResult {
        let report = try StatusOperation.run(context.workspace)
        let producers = ProducerProcesses.states(stateDir: context.workspace.stateDir)
        let table = Self.table(report) + "\nproducers: " + producers.map { p in
            "\(p.name) \(p.state)" + (p.pid.map { " (pid \($0))" } ?? "") }.joined(separator: ", ")
        return CommandResult(json: WithProducers(report: report, producers: producers), table: table, exitCode: report.healthy ? 0 : 3)
    }

    /// The report's JSON with `producers` beside its keys (each producer's pid file checked with kill(pid, 0)).
    struct WithProducers: Encodable {
        let report: StatusReport
        let producers: [ProducerProcesses.State]
        enum Key: String, CodingKey { case producers }
        func encode(to encoder: any Encoder) throws {
            try report.encode(to: encoder)
            var c = encoder.container(keyedBy: Key.self)
            try c.encode(producers, forKey: .producers)
        }
    }

    /// `--watch` repeats the one-shot command; an unhealthy report does not end the loop.
    func run() throws {
        guard watch else { return try runOnce() }
        let terminal = isatty(STDOUT_FILENO) == 1
        while true {
            if terminal { print("\u{1B}[H\u{1B}[2J", terminator: "") }
            do { try runOnce() } catch let e as ExitCode where e == ExitCode(3) {}
            fflush(nil)
            Thread.sleep(forTimeInterval: interval)
        }
    }

    static func table(_ r: StatusReport) -> String {
        var out: [String] = []
        var head = "cluster \(r.cluster): \(r.clusterState)"
        if let up = r.lastUpAtMs { head += ", last up \(UTCTime.format(up)) UTC" }
        if let down = r.lastDownAtMs { head += ", last down \(UTCTime.format(down)) UTC" }
        out.append(head)
        if let summary = r.summary {
            out.append(summary)
        } else {
            if r.runsOnDocker {
                var rows = [["SERVICE", "STATE", "HEALTH", "MEMORY", "LIMIT", "RESTARTS", "PORTS"]]
                for s in r.services {
                    rows.append([s.service, s.state, s.health, s.memoryMiB.map { String(format: "%.0f MiB", $0) } ?? "-",
                                 s.memoryLimitMiB.map { String(format: "%.0f MiB", $0) } ?? "-", String(s.restarts), s.ports.joined(separator: " ")])
                }
                out.append(TextTable.render(rows))
                out.append("")
            }
            let k = r.kafka
            out.append("kafka: " + (k.error ?? "\(k.brokersLive) of \(k.brokersExpected) brokers live, controller \(k.controller.map(String.init) ?? "not shown (KRaft; see -o json controllerNote)"), \(k.partitions) partitions, \(k.problems.isEmpty ? "all healthy" : "\(k.problems.count) unhealthy")"))
            var crow = [["CONNECTOR", "STATE", "TASKS"]]
            for c in r.connectors { crow.append([c.name, c.state, c.tasks]) }
            out.append(TextTable.render(crow))
            let ch = r.clickhouse
            out.append("clickhouse: " + (ch.reachable ? "reachable" : "UNREACHABLE") + (ch.error.map { " (\($0))" } ?? "")
                       + (ch.reachable && ch.error == nil ? ", database \(ch.database): " + (ch.tables.isEmpty ? "no tables" : ch.tables.map { "\($0.table)=\($0.rows)" }.joined(separator: " ")) : ""))
        }
        if let units = r.hostUnits, !units.isEmpty {
            out.append(TextTable.render([["UNIT", "LOADED", "ACTIVE", "RESTARTS"]]
                + units.map { [$0.unit, $0.loadState, "\($0.activeState) (\($0.subState))", $0.restarts.map(String.init) ?? "-"] }))
        }
        out.append("")
        out.append(r.healthy ? "healthy" : "UNHEALTHY:\n" + r.problems.map { "  - \($0.subject): \($0.message)\n    fix: \($0.fix)" }.joined(separator: "\n"))
        return out.joined(separator: "\n")
    }
}
