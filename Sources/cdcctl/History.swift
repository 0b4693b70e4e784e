import ArgumentParser
import Diagnostics
import Foundation
import OperationsCore
import State

struct History: CdcCommand {
    static let configuration = CommandConfiguration(abstract: "List the operations journal, newest first.")

    @ParentCommand var parent: CDCCtl
    var global: GlobalOptions { parent.global }

    @Option(help: "How many entries.")
    var limit: Int = 50

    @Option(help: "Only this cluster.")
    var cluster: String?

    @Flag(help: "Only the recorded drill runs (cdcctl failover-test); with -o json their array instead of the journal's.")
    var testRuns = false

    func validate() throws {
        guard limit > 0 else { throw ValidationError("--limit must be a positive number") }
    }

    func execute(_ context: CommandContext) throws -> CommandResult {
        // A read: no state directory is created where there is none.
        let store = try context.workspace.existingState()
        let ops = try store?.operations(limit: limit, cluster: cluster) ?? []
        let runs = try store?.testRuns(limit: limit, cluster: cluster) ?? []
        var rows = [["ID", "WHEN (UTC)", "CLUSTER", "COMMAND", "OUTCOME", "EXIT", "DURATION", "DETAIL"]]
        for op in ops {
            rows.append([String(op.id ?? 0), UTCTime.format(op.startedAtMs), op.cluster ?? "-", op.command,
                         op.outcome.rawValue, String(op.exitCode), "\(op.durationMs) ms",
                         String(op.detail.split(separator: "\n").first ?? "")])
        }
        if testRuns {
            return CommandResult(json: runs.map(FailoverTest.RunRow.init), table: runs.isEmpty ? "no test runs recorded" : FailoverTest.table(runs))
        }
        var table = TextTable.render(rows)
        if !runs.isEmpty { table += "\n\ntest runs (cdcctl failover-test --show ID; history --test-runs -o json):\n" + FailoverTest.table(runs) }
        // -o json keeps its shape (the journal's entries); the runs are `--test-runs -o json`.
        return CommandResult(json: ops, table: table)
    }
}
