import ArgumentParser
import Foundation
import Operations
import Processor

struct Bench: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Measure throughput (numbers for docs/benchmarks.md, not tests).",
                                                    subcommands: [Producer.self, ProcessorBench.self])

    struct Producer: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Idempotent acks=all producer throughput against the manifest's Kafka.")
        @OptionGroup var global: GlobalOptions
        @Option(help: "Messages to send.") var messages: Int = 200_000
        @Option(help: "Bytes per message.") var size: Int = 100

        func validate() throws {
            guard messages > 0, size > 0 else { throw ValidationError("--messages and --size must be positive") }
        }

        func run() throws {
            try cdcctl.run {
                let m = try global.workspace.loadManifest().manifest
                let r = try ProducerBenchmark.run(m, messages: messages, messageBytes: size, progress: Console.progress)
                switch global.output {
                case .json: try Console.json(r)
                case .table:
                    print(String(format: "%d messages of %d B in %.2f s: %.0f msg/s, %.1f MiB/s (acked %d, failed %d)",
                                 r.messages, r.messageBytes, r.seconds, r.messagesPerSecond, r.megabytesPerSecond, r.acknowledged, r.failed))
                }
                if r.failed > 0 { throw ExitCode(1) }
            }
        }
    }
}

extension Bench {
    struct ProcessorBench: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "processor",
            abstract: "Decode + window + anomaly throughput of the stream engine on one core, on generated recorded-format input.")
        @OptionGroup var global: GlobalOptions
        @Option(help: "Records to process (90% trades, 10% order changes, 20 symbols).") var events: Int = 1_000_000

        func validate() throws {
            guard events > 0 else { throw ValidationError("--events must be positive") }
        }

        func run() throws {
            let r = ProcessorBenchmark.run(events: events)
            var usage = rusage()
            getrusage(__rusage_who_t(RUSAGE_SELF.rawValue), &usage)
            let peakMiB = Double(usage.ru_maxrss) / 1024
            switch global.output {
            case .json:
                try Console.json(["events": Double(r.events), "seconds": r.seconds, "eventsPerSecond": r.eventsPerSecond,
                                  "megabytesPerSecond": r.megabytesPerSecond, "peakRssMiB": peakMiB])
            case .table:
                print(String(format: "%d events (%d trades, %d change events) in %.2f s: %.0f events/s on one core, %.1f MB/s; peak RSS %.1f MiB (includes the generated input)",
                             r.events, r.trades, r.cdcRecords, r.seconds, r.eventsPerSecond, r.megabytesPerSecond, peakMiB))
            }
        }
    }
}
