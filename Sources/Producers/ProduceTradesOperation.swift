import Diagnostics
import Foundation
import Manifest
import OperationsCore
import Polling

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
    }

    /// Everything a run needs, checked before anything is sent (exit 2 with the fix).
    public static func validate(_ m: Manifest, _ o: Options) throws -> String {
        let source = o.source ?? m.producers.trades.source
        switch source {
        case "synthetic", "replay": break
        case "upbit", "kis":
            throw CdcError.invalid("the \(source) live feed is not built into this cdcctl yet", subject: "--source",
                                   fix: "use --source synthetic or --source replay --file FILE (docs/producers.md says what is missing)")
        default:
            throw CdcError.invalid("unknown source '\(source)'", subject: "--source", fix: "use synthetic, replay, upbit or kis")
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
        if source == "replay" && (o.file ?? m.producers.trades.replayFile ?? "").isEmpty {
            throw CdcError.invalid("replay needs a recorded file", subject: "--file", fix: "pass --file FILE (trade lines) or set producers.trades.replayFile")
        }
        return source
    }

    public static func run(_ m: Manifest, options o: Options, progress: @escaping (String) -> Void,
                           live: @escaping (String) -> Void) throws -> Result {
        let source = try validate(m, o)
        let topic = m.producers.trades.topic
        var next: () -> (TradeLine, Double?)?
        var seed: UInt64?
        var anomalies: String?
        if source == "replay" {
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
        StopSignal.install()
        let sink = try KafkaTradeSink(bootstrap: m.access.kafkaBootstrap, topic: topic)
        let runner = TradeRunner(clock: SystemClock(), count: o.count, durationSeconds: o.durationSeconds, shouldStop: { StopSignal.isRequested },
                                 live: { s in live(String(format: "trades: %d queued, %d acknowledged, %d failed, %.0f/s", s.queued, s.acknowledged, s.failed, s.tradesPerSecond)) })
        var summary = try runner.run(into: sink, next: next)
        summary.source = source
        summary.topic = topic
        return Result(source: source, topic: topic, seed: seed, anomalies: anomalies, summary: summary)
    }
}
