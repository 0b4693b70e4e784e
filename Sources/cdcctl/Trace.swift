import ArgumentParser
import EndToEnd
import Foundation
import OperationsCore
import Diagnostics

struct Trace: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Follow one change through every hop: \"why is my change not in ClickHouse yet?\"",
                                                    subcommands: [Order.self, Trade.self])

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
            let tail = r.missingAt.map { "order \(id): missing at \($0) (the first hop without its latest change)" } ?? "order \(id): at every hop"
            return Trace.result(r, tail: tail)
        }
    }

    struct Trade: CdcCommand {
        static let configuration = CommandConfiguration(
            abstract: "A trade's record in Kafka (topic/partition/offset) → the processor's committed offset (or its quarantine) → its trades row and window in ClickHouse.",
            discussion: "Exit 0 when the trade is at every hop (a window still open is not missing), 3 naming the first hop where it is missing.")
        @ParentCommand var parent: Trace
        var global: GlobalOptions { parent.global }
        @Argument(help: "The symbol (the record's key), e.g. KRW-BTC.") var symbol: String
        @Argument(help: "The trade_id as the producer wrote it.") var tradeId: String
        @Option(help: "Seconds to scan the partition past the processor's committed offset.") var scanSeconds: Double = 15

        func validate() throws {
            guard scanSeconds > 0 else { throw ValidationError("--scan-seconds must be positive") }
            guard !symbol.isEmpty, !tradeId.isEmpty else { throw ValidationError("<symbol> and <trade-id> must not be empty") }
        }

        func execute(_ context: CommandContext) throws -> CommandResult {
            let r = try TraceOperation.trade(context.workspace, manifest: try context.manifest().manifest, symbol: symbol, tradeId: tradeId,
                                             scanSeconds: scanSeconds, progress: context.log)
            let tail = r.missingAt.map { "trade \(symbol) \(tradeId): missing at \($0) (the first hop without it)" } ?? "trade \(symbol) \(tradeId): at every hop"
            return Trace.result(r, tail: tail)
        }
    }

    static func result(_ r: TraceResult, tail: String) -> CommandResult {
        var rows = [["hop", "found", "at (UTC)", "detail"]]
        for h in r.hops {
            rows.append([h.hop, h.found ? "yes" : "NO", h.atMs.map { UTCTime.format($0, milliseconds: true) } ?? "-", h.detail])
        }
        return CommandResult(json: r, table: TextTable.render(rows) + "\n" + tail, exitCode: r.missingAt == nil ? 0 : 3,
                             detail: r.missingAt.map { "missing at \($0)" } ?? "found at every hop")
    }
}
