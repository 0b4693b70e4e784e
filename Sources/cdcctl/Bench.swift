import ArgumentParser
import Foundation
import Operations

struct Bench: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Measure throughput (numbers for docs/benchmarks.md, not tests).",
                                                    subcommands: [Producer.self])

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
