import ArgumentParser
import Diagnostics
import Foundation
import Operations

struct History: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "List the operations journal, newest first.")

    @OptionGroup var global: GlobalOptions

    @Option(help: "How many entries.")
    var limit: Int = 50

    @Option(help: "Only this cluster.")
    var cluster: String?

    func validate() throws {
        guard limit > 0 else { throw ValidationError("--limit must be a positive number") }
    }

    func run() throws {
        try cdcctl.run {
            let ops = try global.workspace.openState().operations(limit: limit, cluster: cluster)
            switch global.output {
            case .json: try Console.json(ops)
            case .table:
                var rows = [["ID", "WHEN (UTC)", "CLUSTER", "COMMAND", "OUTCOME", "EXIT", "DURATION", "DETAIL"]]
                for op in ops {
                    rows.append([String(op.id ?? 0), UTCTime.format(op.startedAtMs), op.cluster ?? "-", op.command,
                                 op.outcome.rawValue, String(op.exitCode), "\(op.durationMs) ms",
                                 String(op.detail.split(separator: "\n").first ?? "")])
                }
                print(TextTable.render(rows))
            }
        }
    }
}
