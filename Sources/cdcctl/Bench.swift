import ArgumentParser
import Benchmarks
import Diagnostics
import EndToEnd
import Foundation
import OperationsCore

struct Bench: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Measure throughput (numbers for docs/benchmarks.md, not tests).",
                                                    subcommands: [E2E.self, Producer.self, ProcessorBench.self, Orders.self, Trades.self, PostgresSinkBench.self, BenchHistory.self])

    @ParentCommand var root: CDCCtl
    var global: GlobalOptions { root.global }

    struct Producer: CdcCommand {
        static let configuration = CommandConfiguration(abstract: "Idempotent acks=all producer throughput against the manifest's Kafka.")
        @ParentCommand var parent: Bench
        var global: GlobalOptions { parent.global }
        @Option(help: "Messages to send.") var messages: Int = 200_000
        @Option(help: "Bytes per message.") var size: Int = 100

        func validate() throws {
            guard messages > 0, size > 0 else { throw ValidationError("--messages and --size must be positive") }
        }

        func execute(_ context: CommandContext) throws -> CommandResult {
            let started = BenchClock.nowMs()
            let r = try ProducerBenchmark.run(try context.manifest().manifest, messages: messages, messageBytes: size, progress: context.log)
            try BenchLedger.record(context.workspace, manifest: try context.manifest(), name: "producer", startedAtMs: started,
                                   durationMs: BenchClock.nowMs() - started,
                                   parameters: ["messages": "\(messages)", "size": "\(size)"],
                                   results: ["messagesPerSecond": r.messagesPerSecond, "megabytesPerSecond": r.megabytesPerSecond,
                                             "failed": Double(r.failed)],
                                   verdict: r.failed > 0 ? "failed" : "measured")
            return CommandResult(json: r, table: String(format: "%d messages of %d B in %.2f s: %.0f msg/s, %.1f MiB/s (acked %d, failed %d; librdkafka %@)",
                                                        r.messages, r.messageBytes, r.seconds, r.messagesPerSecond, r.megabytesPerSecond,
                                                        r.acknowledged, r.failed, r.librdkafka),
                                 exitCode: r.failed > 0 ? 1 : 0)
        }
    }

    struct PostgresSinkBench: CdcCommand {
        static let configuration = CommandConfiguration(
            commandName: "postgres",
            abstract: "Rows/s of the processor's PostgreSQL loop (one transaction per batch) into a scratch schema of the sink's database.")
        @ParentCommand var parent: Bench
        var global: GlobalOptions { parent.global }
        @Option(help: "Order change records to produce and write.") var events: Int = 50_000
        @Option(help: "Records per transaction (default postgres.batchMaxRecords).") var batch: Int?

        func validate() throws {
            guard events > 0 else { throw ValidationError("--events must be positive") }
            if let batch, !(1...100_000).contains(batch) { throw ValidationError("--batch must be between 1 and 100000") }
        }

        func execute(_ context: CommandContext) throws -> CommandResult {
            let started = BenchClock.nowMs()
            let r = try PostgresBench.run(context.workspace, manifest: try context.manifest().manifest, events: events, batchMaxRecords: batch,
                                          progress: context.log)
            try BenchLedger.record(context.workspace, manifest: try context.manifest(), name: "postgres", startedAtMs: started,
                                   durationMs: BenchClock.nowMs() - started,
                                   parameters: ["events": "\(events)", "batch": "\(r.batchMaxRecords)"],
                                   results: ["recordsPerSecond": r.recordsPerSecond, "rowsPerSecond": r.rowsPerSecond,
                                             "meanTransactionMs": r.meanTransactionMs],
                                   verdict: "measured")
            return CommandResult(json: r, table: String(format: "%d change records in %llu transactions (≤ %d each) in %.2f s: %.0f records/s, %.0f rows/s, %.1f ms per transaction (PostgreSQL %d)",
                                                        r.events, r.transactions, r.batchMaxRecords, r.seconds, r.recordsPerSecond, r.rowsPerSecond,
                                                        r.meanTransactionMs, r.serverVersion),
                                 detail: String(format: "%.0f records/s", r.recordsPerSecond))
        }
    }

    struct ProcessorBench: CdcCommand {
        static let configuration = CommandConfiguration(
            commandName: "processor",
            abstract: "Decode + window + anomaly throughput of the stream engine on one core, on generated recorded-format input.")
        @ParentCommand var parent: Bench
        var global: GlobalOptions { parent.global }
        @Option(help: "Records to process (90% trades, 10% order changes, 20 symbols).") var events: Int = 1_000_000
        @Option(help: "Runs of the whole engine.") var runs: Int = 3
        @Flag(help: "Skip the decode-only comparison with Foundation's JSON parsers.") var noDecode = false
        @Option(help: "Stream this file instead of generated input: trade lines, or the raw Upbit/KIS frames `produce trades --record` writes.") var input: String?
        @Option(help: "With --input: partitions the symbols are spread over (each keeps its own watermark).") var partitions: Int = 3

        func validate() throws {
            guard events > 0 else { throw ValidationError("--events must be positive") }
            guard runs > 0 else { throw ValidationError("--runs must be positive") }
            guard (1...1024).contains(partitions) else { throw ValidationError("--partitions must be between 1 and 1024") }
        }

        func execute(_ context: CommandContext) throws -> CommandResult {
            if let input { return try file(input, context) }
            let started = BenchClock.nowMs()
            let r = Benchmarks.ProcessorBench.run(events: events, runs: runs, decode: !noDecode)
            // The ledger keeps the best run (the least disturbed by other work on the machine).
            try BenchLedger.record(context.workspace, manifest: try? context.manifest(), name: "processor", startedAtMs: started,
                                   durationMs: BenchClock.nowMs() - started,
                                   parameters: ["events": "\(events)", "runs": "\(runs)", "input": "generated"],
                                   results: ["eventsPerSecond": r.runs.map(\.eventsPerSecond).max() ?? 0, "peakRssMiB": r.peakRssMiB],
                                   verdict: "measured")
            var lines = r.runs.enumerated().map { i, run in
                String(format: "run %d: %d events (%d trades, %d change events, %.1f MiB) in %.2f s: %.0f events/s on one core, %.1f MB/s; %d rows, %d alerts; JSONEachRow %.0f rows/s",
                       i + 1, run.events, run.trades, run.cdcRecords, run.inputMiB, run.seconds, run.eventsPerSecond, run.megabytesPerSecond,
                       run.rows, run.alerts, run.encodedRowsPerSecond)
            }
            if let d = r.decode {
                lines.append(String(format: "decode only: %d trades: scanner %.0f/s, JSONDecoder %.0f/s, JSONSerialization %.0f/s; %d order changes: scanner %.0f/s, JSONSerialization %.0f/s",
                                    d.trades, d.tradeScannerPerSecond, d.tradeJSONDecoderPerSecond, d.tradeJSONSerializationPerSecond,
                                    d.changeEvents, d.changeScannerPerSecond, d.changeJSONSerializationPerSecond))
            }
            lines.append(String(format: "peak RSS %.1f MiB (includes the generated input)", r.peakRssMiB))
            return CommandResult(json: r, table: lines.joined(separator: "\n"))
        }
    }

    struct Orders: CdcCommand {
        static let configuration = CommandConfiguration(
            abstract: "Order lifecycle steps/s (one transaction each) into a scratch database on the manifest's MySQL, and peak RSS.")
        @ParentCommand var parent: Bench
        var global: GlobalOptions { parent.global }
        @Option(help: "Lifecycle steps to write.") var steps: Int = 20_000

        func validate() throws { guard steps > 0 else { throw ValidationError("--steps must be positive") } }

        func execute(_ context: CommandContext) throws -> CommandResult {
            let r = try ProducersBench.orders(context.workspace, manifest: try context.manifest().manifest, steps: steps, progress: context.log)
            return CommandResult(json: r, table: String(format: "%d steps (%d committed) in %.2f s: %.0f steps/s on one connection; peak RSS %.1f MiB",
                                                        r.steps, r.committed, r.seconds, r.stepsPerSecond, r.peakRssMiB),
                                 exitCode: r.committed == r.steps ? 0 : 1)
        }
    }

    struct Trades: CdcCommand {
        static let configuration = CommandConfiguration(
            abstract: "Trades/s replayed as fast as possible into a scratch topic (idempotent, acks=all), and peak RSS.")
        @ParentCommand var parent: Bench
        var global: GlobalOptions { parent.global }
        @Option(help: "Trades to send.") var trades: Int = 500_000

        func validate() throws { guard trades > 0 else { throw ValidationError("--trades must be positive") } }

        func execute(_ context: CommandContext) throws -> CommandResult {
            let r = try ProducersBench.trades(try context.manifest().manifest, count: trades, progress: context.log)
            return CommandResult(json: r, table: String(format: "%d trades in %.2f s: %.0f trades/s acknowledged (failed %d); peak RSS %.1f MiB; librdkafka %@",
                                                        r.trades, r.seconds, r.tradesPerSecond, r.failed, r.peakRssMiB, r.librdkafka),
                                 exitCode: r.failed > 0 || r.acknowledged < r.trades ? 1 : 0)
        }
    }
}

enum BenchClock {
    static func nowMs() -> Int64 { Int64((Date().timeIntervalSince1970 * 1000).rounded()) }
}

extension Bench {
    struct E2E: CdcCommand {
        static let configuration = CommandConfiguration(
            commandName: "e2e",
            abstract: "Drive the order generator and time every change at every hop: MySQL commit → Debezium → Kafka → processor → ClickHouse.",
            discussion: """
                Runs a processor of its own on the orders topic (its own consumer group, from the topic's end, into the manifest's \
                ClickHouse database); stop `process run` meanwhile, or cdc_orders_raw gets each change twice (counted as duplicates). \
                Verdict against bench.e2e.p99Ms / bench.e2e.minRate: exit 0 met, 1 missed (named). Every run is kept in the ledger \
                (`cdcctl bench history`).
                """)
        @ParentCommand var parent: Bench
        var global: GlobalOptions { parent.global }
        @Option(help: "Changes per second the generator writes (one transaction each).") var rate: Double = 200
        @Option(help: "Seconds measured.") var duration: Double = 30
        @Option(help: "Seconds written first and left out of the figures.") var warmup: Double = 5
        @Option(help: "Seconds to wait for every change to reach ClickHouse after the writes end.") var drain: Double = 60
        @Option(help: "Write a self-contained HTML page (latency distribution per hop, latency over time).") var report: String?
        @Flag(help: "Create or update source.appUser as root first (servers cdcctl did not render, e.g. the testbed).") var createUser = false
        @Option(help: "The generator's seed.") var seed: UInt64 = 1
        @Flag(help: ArgumentHelp("Flush on the timer alone, as before issue 18 (before/after figures).", visibility: .hidden))
        var flushTimerOnly = false

        var journal: JournalSpec? {
            JournalSpec(command: "bench e2e", arguments: ["--rate", "\(rate)", "--duration", "\(duration)", "--warmup", "\(warmup)"])
        }

        func validate() throws {
            guard rate > 0, rate.isFinite else { throw ValidationError("--rate must be a positive number of changes per second, e.g. --rate 200") }
            guard duration > 0 else { throw ValidationError("--duration must be positive seconds, e.g. --duration 30") }
            guard warmup >= 0 else { throw ValidationError("--warmup must not be negative, e.g. --warmup 5") }
            guard drain > 0 else { throw ValidationError("--drain must be positive seconds, e.g. --drain 60") }
            if let report, !report.hasSuffix(".html") { throw ValidationError("--report must name an .html file, found '\(report)'") }
        }

        func execute(_ context: CommandContext) throws -> CommandResult {
            let loaded = try context.manifest()
            let started = BenchClock.nowMs()
            var options = E2EBench.Options(rate: rate, durationSeconds: duration, warmupSeconds: warmup, drainSeconds: drain,
                                           createUser: createUser, seed: seed)
            options.flushTimerOnly = flushTimerOnly
            let r = try E2EBench.run(context.workspace, manifest: loaded.manifest, options: options, progress: context.log)
            if let report {
                try Data(E2EReport.html(r).utf8).write(to: URL(fileURLWithPath: report), options: .atomic)
                context.log("report written to \(report)")
            }
            let run = try BenchLedger.record(context.workspace, manifest: loaded, name: "e2e", startedAtMs: started, durationMs: BenchClock.nowMs() - started,
                                             parameters: ["rate": "\(rate)", "duration": "\(duration)", "warmup": "\(warmup)",
                                                          "flushIntervalMs": "\(r.flushIntervalMs)", "pollIntervalMs": r.pollIntervalMs.map { "\($0)" } ?? "?",
                                                          "flushPolicy": r.flushPolicy],
                                             results: BenchLedger.figures(r), verdict: r.verdict)
            return CommandResult(json: r, table: Self.table(r, run: run.id ?? 0), exitCode: r.missed.isEmpty ? 0 : 1,
                                 notes: r.missed.map { "missed: \($0)" }, detail: r.missed.isEmpty ? "met" : "missed: " + r.missed.joined(separator: "; "))
        }

        static func table(_ r: E2EBench.Result, run: Int64) -> String {
            var rows = [["hop", "count", "p50 ms", "p95 ms", "p99 ms", "max ms"]]
            for hop in Hop.allCases {
                guard let s = r.analysis.hops[hop.rawValue] else { continue }
                rows.append([hop.rawValue, "\(s.count)"] + [s.p50, s.p95, s.p99, s.max].map { String(format: "%.0f", $0) })
            }
            let c = r.analysis.consistency
            return TextTable.render(rows) + "\n" + String(format: """
                consistency: %d committed, %d in Kafka, %d consumed by the processor, %d in ClickHouse (%.2f %%); not arrived %d; duplicates %d (Kafka) / %d (ClickHouse)
                throughput: %.1f changes/s reached ClickHouse (generator %.1f/s); flushIntervalMs %d (%@), poll.interval.ms %@
                clocks: MySQL − host %+lld ms; %@
                verdict: %@ (run %lld in the ledger: cdcctl bench history --name e2e)
                """, c.committed, c.inKafka, c.consumed, c.inClickHouse, c.percent, c.notArrived, c.duplicatesInKafka, c.duplicatesInClickHouse,
                r.analysis.throughputPerSecond, r.writtenPerSecond, r.flushIntervalMs, r.flushPolicy, r.pollIntervalMs.map(String.init) ?? "?",
                r.clocks.mysqlSkewMs, r.clocks.note, r.missed.isEmpty ? "met" : "missed", run)
        }
    }

    struct BenchHistory: CdcCommand {
        static let configuration = CommandConfiguration(
            commandName: "history",
            abstract: "Benchmark runs from the ledger, each figure compared with the median of the previous five comparable runs (> 20 % worse: REGRESSION).")
        @ParentCommand var parent: Bench
        var global: GlobalOptions { parent.global }
        @Option(help: "Only this benchmark: e2e, processor, producer, postgres.") var name: String?
        @Option(help: "Runs to show (newest).") var limit: Int = 20

        func validate() throws {
            if let name, !["e2e", "processor", "producer", "postgres"].contains(name) {
                throw ValidationError("--name must be e2e, processor, producer or postgres, found '\(name)'")
            }
            guard limit > 0 else { throw ValidationError("--limit must be positive") }
        }

        func execute(_ context: CommandContext) throws -> CommandResult {
            let runs = try context.workspace.existingState()?.benchRuns(name: name, limit: 1000) ?? []
            let rows = Array(BenchLedger.judge(runs).suffix(limit))
            var table = [["id", "when (UTC)", "bench", "parameters", "figures", "verdict", "regressions"]]
            for r in rows {
                table.append(["\(r.id)", UTCTime.format(r.startedAtMs), r.name,
                              r.parameters.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " "),
                              Self.headline(r), r.verdict,
                              r.regressions.isEmpty ? "-" : r.regressions.map {
                                  String(format: "REGRESSION %@ %.4g vs median %.4g of %d (%.0f %% worse)", $0.figure, $0.value, $0.baselineMedian,
                                         $0.comparedRuns, $0.worseBy * 100)
                              }.joined(separator: "; ")])
            }
            let regressed = rows.filter { !$0.regressions.isEmpty }.count
            return CommandResult(json: rows, table: rows.isEmpty ? "no benchmark runs recorded yet (run `cdcctl bench e2e`)" : TextTable.render(table),
                                 notes: regressed > 0 ? ["\(regressed) run(s) regressed against the runs before them"] : [])
        }

        static func headline(_ r: BenchLedger.Row) -> String {
            let keys = ["e2eP50Ms", "e2eP99Ms", "throughputPerSecond", "eventsPerSecond", "messagesPerSecond", "recordsPerSecond", "notArrived"]
            return keys.compactMap { k in r.results[k].map { "\(k)=\(String(format: "%.4g", $0))" } }.joined(separator: " ")
        }
    }
}

extension Bench.ProcessorBench {
    /// `--input FILE`: the engine on the user's own trade lines or recorded raw frames, streamed; `--events` caps them
    /// when given on the command line.
    func file(_ path: String, _ context: CommandContext) throws -> CommandResult {
        let started = BenchClock.nowMs()
        let cap = CommandLine.arguments.contains("--events") ? events : nil
        let r = try Benchmarks.ProcessorBench.runFile(path: path, partitions: partitions, events: cap)
        try BenchLedger.record(context.workspace, manifest: try? context.manifest(), name: "processor", startedAtMs: started,
                               durationMs: BenchClock.nowMs() - started,
                               parameters: ["input": path, "format": r.format, "partitions": "\(partitions)", "events": cap.map { "\($0)" } ?? "all"],
                               results: ["eventsPerSecond": r.engineEventsPerSecond, "wholePathEventsPerSecond": r.wholeEventsPerSecond,
                                         "peakRssMiB": r.peakRssMiB],
                               verdict: "measured")
        let table = String(format: "%d trades from %@ (%@, %.1f MiB, %d malformed, %d partitions): engine %.0f events/s (%.2f s), whole path (read + decode + engine) %.0f events/s (%.2f s); %d rows, %d alerts; peak RSS %.1f MiB",
                           r.events, r.input, r.format, r.inputMiB, r.malformed, r.partitions, r.engineEventsPerSecond, r.engineSeconds,
                           r.wholeEventsPerSecond, r.wholeSeconds, r.rows, r.alerts, r.peakRssMiB)
        return CommandResult(json: r, table: table)
    }
}
