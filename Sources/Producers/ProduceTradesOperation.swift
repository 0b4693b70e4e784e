import Diagnostics
import Foundation
import Manifest
import OperationsCore
import Polling
import Synchronization
import Telemetry

/// `cdcctl produce trades`: the manifest's `producers.trades` (with the command's overrides) →
/// a source (synthetic or replay) → the idempotent acks=all producer → a summary.
public enum ProduceTradesOperation {
    public struct Options: Sendable {
        public var source: String?
        public var rate: Double?
        public var pattern: String?
        public var count: Int?
        public var durationSeconds: Double?
        public var seed: UInt64?
        public var injectAnomalies: Bool
        /// Event time between synthetic trades in ms (nil: 1000 / rate, i.e. real time).
        public var eventStepMs: Int64?
        public var file: String?
        /// Replay pace: 1 = as recorded, N = N× faster, 0 = as fast as possible.
        public var speed: Double
        public var loop: Bool
        /// Synthetic: as fast as the producer takes them, ignoring the rate.
        public var asFastAsPossible: Bool
        /// Live sources (upbit, kis): the WebSocket URL (default: the real service's).
        public var url: String?
        /// PEM CA certificates to trust instead of the system's (WebSocket TLS and the KIS approval POST).
        public var caFile: String?
        /// Live sources: write every raw frame, one per line, for `--source replay`.
        public var recordPath: String?
        public var pingSeconds: Double = 30
        public var deadAfterSeconds: Double = 90
        public var reconnectInitialSeconds: Double = 1
        public var reconnectMaxSeconds: Double = 60
        /// KIS: the approval-key endpoint and the app key / secret as secret references (`env:NAME`, `file:PATH`).
        public var approvalURL: String?
        public var kisAppKey = "env:KIS_APP_KEY"
        public var kisAppSecret = "env:KIS_APP_SECRET"
        /// `HOST:PORT` or `PORT` (127.0.0.1) for GET /metrics while the run lasts.
        public var metricsListen: String?

        public init(source: String? = nil, rate: Double? = nil, pattern: String? = nil, count: Int? = nil, durationSeconds: Double? = nil,
                    seed: UInt64? = nil, injectAnomalies: Bool = false, eventStepMs: Int64? = nil, file: String? = nil, speed: Double = 1,
                    loop: Bool = false, asFastAsPossible: Bool = false) {
            self.asFastAsPossible = asFastAsPossible
            self.source = source
            self.rate = rate
            self.pattern = pattern
            self.count = count
            self.durationSeconds = durationSeconds
            self.seed = seed
            self.injectAnomalies = injectAnomalies
            self.eventStepMs = eventStepMs
            self.file = file
            self.speed = speed
            self.loop = loop
        }
    }

    public struct Result: Sendable, Codable {
        public var source: String
        public var topic: String
        public var seed: UInt64?
        public var anomalies: String?
        public var summary: TradeRunSummary
        /// Live sources: connections, reconnects, gaps, duplicates, malformed frames, …
        public var live: LiveFeedCounters?
        public var recorded: String?
        /// Set when the live feed stopped for good (an untrusted certificate, a refused approval key).
        public var feedError: String?
    }

    /// Everything a run needs, checked before anything is sent (exit 2 with the fix).
    public static func validate(_ m: Manifest, _ o: Options) throws -> String {
        let source = o.source ?? m.producers.trades.source
        switch source {
        case "synthetic", "replay":
            if o.recordPath != nil {
                throw CdcError.invalid("records the raw frames of a live source", subject: "--record", fix: "use it with --source upbit or --source kis")
            }
        case "upbit", "kis":
            if let u = o.url, !(u.hasPrefix("ws://") || u.hasPrefix("wss://")) {
                throw CdcError.invalid("not a ws:// or wss:// URL: \(u)", subject: "--url", fix: "e.g. wss://api.upbit.com/websocket/v1")
            }
            if let ca = o.caFile, !FileManager.default.isReadableFile(atPath: ca) {
                throw CdcError.invalid("cannot read \(ca)", subject: "--ca-file", fix: "name a PEM file of CA certificates")
            }
            if !(o.pingSeconds >= 0) || !(o.deadAfterSeconds > 0) || !(o.reconnectInitialSeconds > 0) || !(o.reconnectMaxSeconds >= o.reconnectInitialSeconds) {
                throw CdcError.invalid("ping ≥ 0, dead-after > 0 and 0 < reconnect initial ≤ reconnect max seconds", subject: "--ping-seconds/--dead-after-seconds/--reconnect-*",
                                       fix: "e.g. --ping-seconds 30 --dead-after-seconds 90")
            }
        default:
            throw CdcError.invalid("unknown source '\(source)'", subject: "--source", fix: "use synthetic, replay, upbit or kis")
        }
        if source == "kis" {
            _ = try resolveSecret(o.kisAppKey, option: "--kis-app-key")
            _ = try resolveSecret(o.kisAppSecret, option: "--kis-app-secret")
        }
        if let r = o.rate, !(r > 0) { throw CdcError.invalid("must be positive trades per second, found \(r)", subject: "--rate", fix: "e.g. --rate 100") }
        if let c = o.count, c <= 0 { throw CdcError.invalid("must be positive, found \(c)", subject: "--count", fix: "e.g. --count 1000") }
        if let d = o.durationSeconds, !(d > 0) { throw CdcError.invalid("must be positive seconds", subject: "--duration", fix: "e.g. --duration 60") }
        if !(o.speed >= 0) { throw CdcError.invalid("must be 0 (as fast as possible) or a positive factor", subject: "--speed", fix: "e.g. --speed 10") }
        if let p = o.pattern, RatePattern.named(p, offHours: 0) == nil {
            throw CdcError.invalid("unknown pattern '\(p)'", subject: "--pattern", fix: "use constant or burst")
        }
        if let step = o.eventStepMs, step <= 0 { throw CdcError.invalid("must be positive ms", subject: "--event-step-ms", fix: "e.g. 100") }
        for (i, symbol) in m.producers.trades.symbols.enumerated() where !SymbolFormat.isTradeSymbol(symbol, source: source) {
            throw CdcError.invalid("'\(symbol)' is not a \(source) symbol", subject: "producers.trades.symbols[\(i)]", fix: SymbolFormat.example(source: source))
        }
        if let listen = o.metricsListen { _ = try metricsAddress(listen) }
        if source == "replay" && (o.file ?? m.producers.trades.replayFile ?? "").isEmpty {
            throw CdcError.invalid("replay needs a recorded file", subject: "--file", fix: "pass --file FILE (trade lines) or set producers.trades.replayFile")
        }
        return source
    }

    public static func run(_ m: Manifest, options o: Options, progress: @escaping @Sendable (String) -> Void,
                           live: @escaping (String) -> Void) throws -> Result {
        let source = try validate(m, o)
        let topic = m.producers.trades.topic
        var next: () -> (TradeLine, Double?)? = { nil }
        var seed: UInt64?
        var anomalies: String?
        var liveSource: LiveTradeSource?
        if source == "upbit" || source == "kis" {
            let kind: LiveFrameHandler.Kind = source == "upbit" ? .upbit : .kis
            var appKey = "", appSecret = ""
            if kind == .kis {
                appKey = try resolveSecret(o.kisAppKey, option: "--kis-app-key")
                appSecret = try resolveSecret(o.kisAppSecret, option: "--kis-app-secret")
            }
            let url = o.url ?? (kind == .upbit ? "wss://api.upbit.com/websocket/v1" : KISApproval.defaultWebSocketURL)
            let settings = LiveTradeSource.Settings(
                kind: kind, url: url, symbols: m.producers.trades.symbols, caFile: o.caFile, pingSeconds: o.pingSeconds,
                deadAfterSeconds: o.deadAfterSeconds,
                policy: ReconnectPolicy(backoff: Backoff(initial: o.reconnectInitialSeconds, factor: 2, maximum: o.reconnectMaxSeconds),
                                        minimum: min(0.25, o.reconnectInitialSeconds), rateLimitedMinimum: min(10, o.reconnectMaxSeconds)),
                recordPath: o.recordPath, approvalURL: o.approvalURL ?? KISApproval.defaultURL, appKey: appKey, appSecret: appSecret)
            liveSource = try LiveTradeSource(settings, log: progress)
            progress("\(source) trades for \(m.producers.trades.symbols.joined(separator: ", ")) from \(url) to \(topic)"
                     + (o.recordPath.map { ", recording frames to \($0)" } ?? ""))
            if kind == .kis {
                let kst = Int((Date().timeIntervalSince1970 + 9 * 3600).truncatingRemainder(dividingBy: 86_400))
                let wait = KISApproval.minutesUntilSession(kstSecondOfDay: kst)
                if wait > 0 { progress("outside the KRX session (09:00–15:30 KST): no trades expected for \(wait) min") }
            }
        } else if source == "replay" {
            let path = o.file ?? m.producers.trades.replayFile!
            guard let data = FileManager.default.contents(atPath: path) else {
                throw CdcError.invalid("cannot read \(path)", subject: "--file", fix: "name a readable file of trade lines")
            }
            let trades: [TradeLine]
            do { trades = try ReplayTrades.load(text: String(decoding: data, as: UTF8.self), path: path) } catch let e as ReplayFileError {
                throw CdcError.invalid("line \(e.line) is not a trade line: \(e.message)", subject: "\(path):\(e.line)",
                                       fix: "one JSON trade per line, as `cdcctl produce trades --source synthetic` writes them")
            }
            var replay = ReplayTrades(trades: trades, speed: o.speed, loop: o.loop)
            next = { replay.next() }
            progress("replaying \(trades.count) trades from \(path) to \(topic) at " + (o.speed == 0 ? "full speed" : "×\(o.speed)") + (o.loop ? ", looping" : ""))
        } else {
            let s = o.seed ?? UInt64.random(in: 0 ... UInt64(UInt32.max))
            seed = s
            let rate = o.rate ?? m.producers.trades.ratePerSecond
            let step = o.eventStepMs ?? max(1, Int64(1000 / rate))
            let a = m.processor.anomalies
            let inject = o.injectAnomalies
                ? InjectedAnomalies.schedule(symbols: m.producers.trades.symbols.count, priceWindow: a.priceWindow, volumeWindows: a.volumeWindows,
                                             windowMs: Int64(m.processor.windowMinutes) * 60_000, stepMs: step)
                : InjectedAnomalies()
            if o.injectAnomalies {
                anomalies = "price jump at trade \(inject.priceJumpAt!), volume burst over trades \(inject.volumeBurst!.lowerBound)..<\(inject.volumeBurst!.upperBound) of \(m.producers.trades.symbols[0])"
                progress("injecting anomalies: \(anomalies!)")
            }
            // Event time must not run ahead of the clock (the processor quarantines trades more than
            // processor.maxFutureSkewSeconds ahead): a counted run sent faster than its event time
            // ends at now instead of starting there.
            let now = Int64(Date().timeIntervalSince1970 * 1000)
            let startMs = SyntheticTrades.startMs(now: now, count: o.count, stepMs: step, paced: !o.asFastAsPossible && o.eventStepMs == nil)
            var gen = SyntheticTrades(symbols: m.producers.trades.symbols, seed: s, startMs: startMs, stepMs: step, anomalies: inject)
            var schedule = SyntheticSchedule(rate: o.asFastAsPossible ? nil : rate,
                                             pattern: RatePattern.named(o.pattern ?? "constant", offHours: 0)!)
            next = { (gen.next(), schedule.nextAt()) }
            progress("synthetic trades for \(m.producers.trades.symbols.joined(separator: ", ")) to \(topic), seed \(s), event time \(step) ms apart")
        }
        let stop = StopFlag()
        let sink = try KafkaTradeSink(bootstrap: m.access.kafkaBootstrap, topic: topic)
        let snapshot = Mutex(TradeRunSummary())
        var metrics: MetricsServer?
        if let listen = o.metricsListen {
            let (host, port) = try metricsAddress(listen)
            let feed = liveSource
            metrics = try MetricsServer(host: host, port: port, source: "--metrics-listen") {
                ProducerMetrics.text(source: source, summary: snapshot.withLock { $0 }, live: feed?.counters)
            }
            progress("metrics on http://\(host):\(port)/metrics")
        }
        defer { _ = metrics }
        let runner = TradeRunner(clock: SystemClock(), count: o.count, durationSeconds: o.durationSeconds, shouldStop: { stop.isSet },
                                 live: { s in
                                     snapshot.withLock { $0 = s }
                                     var line = String(format: "trades: %d queued, %d acknowledged, %d failed, %.0f/s", s.queued, s.acknowledged, s.failed, s.tradesPerSecond)
                                     if let c = liveSource?.counters {
                                         line += ", \(c.reconnects) reconnects, \(c.duplicates) duplicates, \(c.malformed) malformed"
                                     }
                                     live(line)
                                 })
        var summary = try ProducerService.run(name: "produce trades", stop: stop, log: progress) { _ in
            if let liveSource {
                liveSource.start()
                defer { liveSource.requestStop() }
                return try runner.run(into: sink, pull: {
                    if liveSource.fatal != nil { return .end }
                    return liveSource.pull()
                })
            }
            return try runner.run(into: sink, next: next)
        }
        liveSource?.requestStop()
        summary.source = source
        summary.topic = topic
        snapshot.withLock { $0 = summary }
        var result = Result(source: source, topic: topic, seed: seed, anomalies: anomalies, summary: summary)
        if let liveSource {
            result.live = liveSource.counters
            result.recorded = o.recordPath
            if let f = liveSource.fatal {
                result.feedError = f.message + (f.fix.map { " (\($0))" } ?? "")
                if summary.endedBy == "end of input" { result.summary.endedBy = "feed error" }
            }
        }
        return result
    }

    /// `HOST:PORT` or `PORT` → (host, port); exit 2 naming --metrics-listen otherwise.
    static func metricsAddress(_ text: String) throws -> (String, Int) {
        let parts = text.split(separator: ":", omittingEmptySubsequences: false)
        let host = parts.count == 2 ? String(parts[0]) : "127.0.0.1"
        guard parts.count <= 2, let port = Int(parts.last ?? ""), !host.isEmpty else {
            throw CdcError.invalid("'\(text)' is not HOST:PORT or PORT", subject: "--metrics-listen", fix: "e.g. --metrics-listen 127.0.0.1:9410")
        }
        try MetricsServer.validatePort(port, source: "--metrics-listen")
        return (host, port)
    }

    /// An app key or secret from its reference (`env:NAME`, `file:PATH`); exit 2 naming the option.
    static func resolveSecret(_ reference: String, option: String) throws -> String {
        switch SecretRef(reference) {
        case .env(let name):
            if let v = ProcessInfo.processInfo.environment[name], !v.isEmpty { return v }
            throw CdcError.invalid("references the environment variable \(name), which is not set", subject: option,
                                   fix: "export \(name)=… (the KIS app key/secret), or pass \(option) file:PATH")
        case .file(let path):
            guard let data = FileManager.default.contents(atPath: path),
                  let text = String(data: data, encoding: .utf8)?.trimmingCharacters(in: .whitespacesAndNewlines), !text.isEmpty else {
                throw CdcError.invalid("references \(path), which cannot be read or is empty", subject: option, fix: "write the secret to that file (mode 0600)")
            }
            return text
        default:
            throw CdcError.invalid("is not a secret reference", subject: option, fix: "use env:NAME or file:PATH (never the secret itself)")
        }
    }
}

