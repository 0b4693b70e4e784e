import ArgumentParser
import Diagnostics
import Foundation
import OperationsCore
import Producers

struct Produce: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Producers: orders into MySQL (captured by Debezium), trades into Kafka.",
        subcommands: [Orders.self, Trades.self])

    @ParentCommand var root: CDCCtl
    var global: GlobalOptions { root.global }

    struct Orders: CdcCommand {
        static let configuration = CommandConfiguration(
            abstract: "Write orders the way an order system would: place, partial executions, fill or cancel, some deletes; one transaction per step.",
            discussion: """
                Connects as source.appUser (SELECT, INSERT, UPDATE, DELETE on the shop database only). Runs until \
                --count steps, --duration seconds, or SIGTERM/SIGINT, then prints what was written. MySQL unavailable: \
                each step is retried with backoff for --retry-seconds, then counted unwritten; a step is reported \
                committed only when its COMMIT returned OK.
                """)
        @ParentCommand var parent: Produce
        var global: GlobalOptions { parent.global }
        @Option(help: "Steps per second at the pattern's peak (default: producers.orders.ratePerSecond).") var rate: Double?
        @Option(help: "time-of-day (KRX session U shape, KST), constant or burst (default: producers.orders.pattern).") var pattern: String?
        @Option(help: ArgumentHelp("Run as if the KST clock read this time of day when starting.", valueName: "HH:MM")) var at: String?
        @Option(help: "Stop after this many seconds.") var duration: Double?
        @Option(help: "Stop after this many lifecycle steps (transactions attempted).") var count: Int?
        @Option(help: "Seed for a reproducible run (same seed, same orders).") var seed: UInt64?
        @Option(help: "Seconds one step is retried while MySQL is unavailable before it is counted unwritten.") var retrySeconds: Double = 30
        @Flag(help: "Create or update source.appUser as root first (for a server cdcctl did not render, e.g. the testbed).") var createUser = false
        @Option(help: ArgumentHelp("Serve GET /metrics on HOST:PORT (or PORT on 127.0.0.1) while running.", valueName: "HOST:PORT")) var metricsListen: String?

        var journal: JournalSpec? {
            var args: [String] = []
            if let rate { args += ["--rate", "\(rate)"] }
            if let pattern { args += ["--pattern", pattern] }
            if let at { args += ["--at", at] }
            if let duration { args += ["--duration", "\(duration)"] }
            if let count { args += ["--count", "\(count)"] }
            if let seed { args += ["--seed", "\(seed)"] }
            if createUser { args.append("--create-user") }
            if let metricsListen { args += ["--metrics-listen", metricsListen] }
            return JournalSpec(command: "produce orders", arguments: args, handlesSignals: true)
        }

        func execute(_ context: CommandContext) throws -> CommandResult {
            let m = try context.manifest().manifest
            var options = ProduceOrdersOperation.Options(rate: rate, pattern: pattern, at: at, durationSeconds: duration, count: count,
                                                         seed: seed, retrySeconds: retrySeconds, createUser: createUser)
            options.metricsListen = metricsListen
            _ = try ProduceOrdersOperation.settings(m, options)  // bad input: exit 2 before anything is written
            let unregister = try ProducerProcesses.register(stateDir: context.workspace.stateDir, name: "orders")  // for `status`
            defer { unregister() }
            let sink = context.progress
            let r = try ProduceOrdersOperation.run(context.workspace, manifest: m, options: options, progress: sink.step, live: sink.live)
            let s = r.summary
            if s.endedBy == "error" && s.committed == 0 {
                throw CdcError.failed("no step was written: \(s.lastError ?? "unknown error")", subject: "produce orders",
                                      fix: "check the app user's grants and the schema (cdcctl connector preflight shows the source)")
            }
            let kinds = s.committedByKind.keys.sorted().map { "\($0)=\(s.committedByKind[$0]!)" }.joined(separator: " ")
            let lines = [
                "orders into \(r.database) as \(r.user) (pattern \(r.pattern), peak \(r.peakRatePerSecond) steps/s, seed \(r.seed))",
                String(format: "steps: %d attempted, %d committed, %d failed, %d indeterminate, %d skipped while waiting; %d retries",
                       s.attempted, s.committed, s.failed, s.indeterminate, s.unwrittenBacklog, s.retries),
                "committed by kind: " + (kinds.isEmpty ? "none" : kinds),
                String(format: "rate achieved: %.1f steps/s over %.1f s; ended by %@; %d order(s) left open", s.stepsPerSecond, s.seconds,
                       s.endedBy, r.openOrders),
            ]
            let failed = s.endedBy == "error" || s.unwritten > 0
            return CommandResult(json: r, table: lines.joined(separator: "\n"), exitCode: s.endedBy == "error" ? 1 : 0,
                                 notes: failed ? ["\(s.unwritten) step(s) not written" + (s.lastError.map { "; last error: \($0)" } ?? "")] : [],
                                 detail: "\(s.committed) committed, \(s.unwritten) unwritten, seed \(r.seed)")
        }
    }

    struct Trades: CdcCommand {
        static let configuration = CommandConfiguration(
            abstract: "Write trades to producers.trades.topic: keyed by symbol, idempotent acks=all; failed deliveries counted and reported.",
            discussion: """
                --source synthetic: seeded random walks per symbol (--inject-anomalies adds a price jump and a volume burst \
                that make the processor's price_zscore and volume_spike rules fire). --source replay --file F: recorded \
                trade lines at the original pace, --speed N times faster (0 = as fast as possible), --loop. \
                SIGTERM/SIGINT stop the source and flush what is queued before the summary.
                """)
        @ParentCommand var parent: Produce
        var global: GlobalOptions { parent.global }
        @Option(help: "upbit, kis (live WebSocket feeds), synthetic or replay (default: producers.trades.source).") var source: String?
        @Option(help: "Synthetic trades per second (default: producers.trades.ratePerSecond).") var rate: Double?
        @Flag(help: "Synthetic: send as fast as the producer takes them.") var asFastAsPossible = false
        @Option(help: "Synthetic rate shape: constant or burst.") var pattern: String?
        @Option(help: "Stop after this many trades.") var count: Int?
        @Option(help: "Stop after this many seconds.") var duration: Double?
        @Option(help: "Seed for the synthetic feed (same seed, same trades).") var seed: UInt64?
        @Flag(help: "Synthetic: inject a price jump and a volume burst on the first symbol.") var injectAnomalies = false
        @Option(help: "Synthetic: event time between trades in ms (default 1000 / rate).") var eventStepMs: Int64?
        @Option(help: "Replay: the recorded file (default: producers.trades.replayFile).") var file: String?
        @Option(help: "Replay pace: 1 as recorded, N times faster, 0 as fast as possible.") var speed: Double = 1
        @Flag(help: "Replay: start over at the end (event time shifted, ids suffixed).") var loop = false
        @Option(help: "Live: the WebSocket URL (default: wss://api.upbit.com/websocket/v1, ws://ops.koreainvestment.com:21000).") var url: String?
        @Option(help: "Live: a PEM file of CA certificates to trust instead of the system's (WebSocket TLS, KIS approval POST).") var caFile: String?
        @Option(help: ArgumentHelp("Live: write every raw frame, one per line, for --source replay.", valueName: "FILE")) var record: String?
        @Option(help: "Live: a WebSocket ping every N seconds (the server drops a connection idle ~120 s; 0 = none).") var pingSeconds: Double = 30
        @Option(help: "Live: no frame for N seconds means the connection is dead: reconnect.") var deadAfterSeconds: Double = 90
        @Option(help: "Live: first reconnect delay in seconds (doubling, with jitter).") var reconnectInitialSeconds: Double = 1
        @Option(help: "Live: longest reconnect delay in seconds.") var reconnectMaxSeconds: Double = 60
        @Option(help: "KIS: the approval-key endpoint (default: https://openapi.koreainvestment.com:9443/oauth2/Approval).") var approvalUrl: String?
        @Option(help: ArgumentHelp("KIS: the app key as a secret reference.", valueName: "env:NAME|file:PATH")) var kisAppKey = "env:KIS_APP_KEY"
        @Option(help: ArgumentHelp("KIS: the app secret as a secret reference.", valueName: "env:NAME|file:PATH")) var kisAppSecret = "env:KIS_APP_SECRET"
        @Option(help: ArgumentHelp("Serve GET /metrics on HOST:PORT (or PORT on 127.0.0.1) while running.", valueName: "HOST:PORT")) var metricsListen: String?

        var journal: JournalSpec? {
            var args: [String] = []
            if let source { args += ["--source", source] }
            if let rate { args += ["--rate", "\(rate)"] }
            if asFastAsPossible { args.append("--as-fast-as-possible") }
            if let count { args += ["--count", "\(count)"] }
            if let duration { args += ["--duration", "\(duration)"] }
            if let seed { args += ["--seed", "\(seed)"] }
            if injectAnomalies { args.append("--inject-anomalies") }
            if let file { args += ["--file", file] }
            if speed != 1 { args += ["--speed", "\(speed)"] }
            if loop { args.append("--loop") }
            if let url { args += ["--url", url] }
            if let caFile { args += ["--ca-file", caFile] }
            if let record { args += ["--record", record] }
            if let metricsListen { args += ["--metrics-listen", metricsListen] }
            return JournalSpec(command: "produce trades", arguments: args, handlesSignals: true)
        }

        func execute(_ context: CommandContext) throws -> CommandResult {
            let m = try context.manifest().manifest
            var options = ProduceTradesOperation.Options(source: source, rate: rate, pattern: pattern, count: count, durationSeconds: duration,
                                                         seed: seed, injectAnomalies: injectAnomalies, eventStepMs: eventStepMs, file: file,
                                                         speed: speed, loop: loop, asFastAsPossible: asFastAsPossible)
            options.url = url
            options.caFile = caFile
            options.recordPath = record
            options.pingSeconds = pingSeconds
            options.deadAfterSeconds = deadAfterSeconds
            options.reconnectInitialSeconds = reconnectInitialSeconds
            options.reconnectMaxSeconds = reconnectMaxSeconds
            options.approvalURL = approvalUrl
            options.kisAppKey = kisAppKey
            options.kisAppSecret = kisAppSecret
            options.metricsListen = metricsListen
            _ = try ProduceTradesOperation.validate(m, options)
            let unregister = try ProducerProcesses.register(stateDir: context.workspace.stateDir, name: "trades")  // for `status`
            defer { unregister() }
            let sink = context.progress
            let r = try ProduceTradesOperation.run(m, options: options, progress: sink.step, live: sink.live)
            let s = r.summary
            var lines = [
                "trades from \(r.source) to \(r.topic)" + (r.seed.map { " (seed \($0))" } ?? ""),
                "written \(s.queued), committed (acknowledged, acks=all) \(s.acknowledged), failed \(s.failed), unconfirmed \(s.unconfirmed)",
                String(format: "rate achieved: %.0f trades/s over %.1f s; ended by %@", s.tradesPerSecond, s.seconds, s.endedBy),
            ]
            if let a = r.anomalies { lines.append("injected: \(a)") }
            if let c = r.live {
                lines.append("feed: \(c.frames) frames, \(c.trades) new trades, \(c.duplicates) duplicates dropped, \(c.malformed) malformed skipped, "
                             + "\(c.serverErrors) server errors, \(c.pingPongs) PINGPONG answered")
                lines.append("connections: \(c.connections) (\(c.reconnects) reconnects, \(c.connectFailures) failed attempts, \(c.rateLimited) rate-limited), "
                             + String(format: "%d gaps (%.1f s without a connection)", c.gaps, c.gapSeconds))
            }
            if let f = r.recorded { lines.append("raw frames recorded to \(f)") }
            let bad = s.failed + s.unconfirmed
            var notes = bad > 0 ? ["\(bad) trade(s) not acknowledged" + (s.firstError.map { ": \($0)" } ?? "")] : []
            if let e = r.feedError { notes.append("the feed stopped: \(e)") }
            return CommandResult(json: r, table: lines.joined(separator: "\n"), exitCode: bad > 0 || r.feedError != nil ? 1 : 0,
                                 notes: notes,
                                 detail: "\(s.acknowledged) acknowledged, \(s.failed) failed, \(s.unconfirmed) unconfirmed")
        }
    }
}
