import ArgumentParser
import Benchmarks
import Foundation
import OperationsCore

struct Bench: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Measure throughput (numbers for docs/benchmarks.md, not tests).",
                                                    subcommands: [Producer.self, ProcessorBench.self, Orders.self, Trades.self])

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
            let r = try ProducerBenchmark.run(try context.manifest().manifest, messages: messages, messageBytes: size, progress: context.log)
            return CommandResult(json: r, table: String(format: "%d messages of %d B in %.2f s: %.0f msg/s, %.1f MiB/s (acked %d, failed %d; librdkafka %@)",
                                                        r.messages, r.messageBytes, r.seconds, r.messagesPerSecond, r.megabytesPerSecond,
                                                        r.acknowledged, r.failed, r.librdkafka),
                                 exitCode: r.failed > 0 ? 1 : 0)
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

        func validate() throws {
            guard events > 0 else { throw ValidationError("--events must be positive") }
            guard runs > 0 else { throw ValidationError("--runs must be positive") }
        }

        func execute(_ context: CommandContext) throws -> CommandResult {
            let r = Benchmarks.ProcessorBench.run(events: events, runs: runs, decode: !noDecode)
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
