import ArgumentParser
import Diagnostics
import Foundation
import OperationsCore

struct History: CdcCommand {
    static let configuration = CommandConfiguration(abstract: "List the operations journal, newest first.")

    @OptionGroup var global: GlobalOptions

    @Option(help: "How many entries.")
    var limit: Int = 50

    @Option(help: "Only this cluster.")
    var cluster: String?

    func validate() throws {
        guard limit > 0 else { throw ValidationError("--limit must be a positive number") }
    }

    func execute(_ context: CommandContext) throws -> CommandResult {
        // A read: no state directory is created where there is none.
        let ops = try context.workspace.existingState()?.operations(limit: limit, cluster: cluster) ?? []
        var rows = [["ID", "WHEN (UTC)", "CLUSTER", "COMMAND", "OUTCOME", "EXIT", "DURATION", "DETAIL"]]
        for op in ops {
            rows.append([String(op.id ?? 0), UTCTime.format(op.startedAtMs), op.cluster ?? "-", op.command,
                         op.outcome.rawValue, String(op.exitCode), "\(op.durationMs) ms",
                         String(op.detail.split(separator: "\n").first ?? "")])
        }
        return CommandResult(json: ops, table: TextTable.render(rows))
    }
}
