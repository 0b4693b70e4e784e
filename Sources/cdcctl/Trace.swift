import ArgumentParser
import EndToEnd
import Foundation
import OperationsCore
import Diagnostics

struct Trace: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Follow one change through every hop: \"why is my change not in ClickHouse yet?\"",
                                                    subcommands: [Order.self])

    @ParentCommand var root: CDCCtl
    var global: GlobalOptions { root.global }

    struct Order: CdcCommand {
        static let configuration = CommandConfiguration(
            abstract: "An order's row in MySQL → its Debezium event (binlog position, GTID) → Kafka topic/partition/offset → the processor's committed offset → ClickHouse rows.",
            discussion: "Exit 0 when the order's latest change is at every hop, 3 naming the first hop where it is missing.")
        @ParentCommand var parent: Trace
        var global: GlobalOptions { parent.global }
        @Argument(help: "The order_id.") var id: UInt64
        @Option(help: "Seconds to scan the partition past the processor's committed offset.") var scanSeconds: Double = 15

        func validate() throws { guard scanSeconds > 0 else { throw ValidationError("--scan-seconds must be positive") } }

        func execute(_ context: CommandContext) throws -> CommandResult {
            let r = try TraceOperation.order(context.workspace, manifest: try context.manifest().manifest, id: id, scanSeconds: scanSeconds,
                                             progress: context.log)
            var rows = [["hop", "found", "at (UTC)", "detail"]]
            for h in r.hops {
                rows.append([h.hop, h.found ? "yes" : "NO", h.atMs.map { UTCTime.format($0, milliseconds: true) } ?? "-", h.detail])
            }
            let tail = r.missingAt.map { "order \(id): missing at \($0) (the first hop without its latest change)" } ?? "order \(id): at every hop"
            return CommandResult(json: r, table: TextTable.render(rows) + "\n" + tail, exitCode: r.missingAt == nil ? 0 : 3,
                                 detail: r.missingAt.map { "missing at \($0)" } ?? "found at every hop")
        }
    }
}
