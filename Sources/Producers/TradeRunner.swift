import Diagnostics
import Foundation
import Kafka
import Polling

/// Where trade lines go: Kafka in production (idempotent, acks=all, keyed by symbol), memory in tests.
public protocol TradeSink: AnyObject {
    /// Queues one trade; throws when it cannot even be queued.
    func send(_ trade: TradeLine) throws
    /// Serves delivery reports.
    func poll()
    /// Waits until everything queued is acknowledged or failed (SIGTERM ends here too).
    func flush(timeoutMs: Int32) throws
    var acknowledged: Int { get }
    var failed: Int { get }
    var firstError: String? { get }
}

public final class KafkaTradeSink: TradeSink {
    let producer: KafkaProducer
    let topic: String

    public init(bootstrap: String, topic: String, lingerMs: Int = 5) throws {
        producer = try KafkaProducer(KafkaSettings(bootstrap: bootstrap, clientId: "cdcctl-produce-trades"), lingerMs: lingerMs)
        self.topic = topic
    }

    public func send(_ trade: TradeLine) throws { try producer.send(topic: topic, key: trade.symbol, value: trade.json) }
    public func poll() { producer.poll() }
    public func flush(timeoutMs: Int32) throws { try producer.flush(timeoutMs: timeoutMs) }
    public var acknowledged: Int { producer.acknowledged }
    public var failed: Int { producer.failed }
    public var firstError: String? { producer.firstError }
}

/// What a trades run did. `acknowledged` counts deliveries the brokers confirmed (acks=all);
/// `failed` deliveries the producer gave up on — reported, never dropped silently.
public struct TradeRunSummary: Sendable, Codable, Equatable {
    public var source = ""
    public var topic = ""
    public var queued = 0
    public var acknowledged = 0
    public var failed = 0
    /// Queued but neither acknowledged nor failed when the flush timed out.
    public var unconfirmed = 0
    public var seconds = 0.0
    public var tradesPerSecond = 0.0
    public var firstError: String?
    public var endedBy = ""
    public init() {}
}

/// Paces a trade source into a sink: replay by its schedule (seconds after the start), synthetic
/// by the rate pattern. Ends at `count`, `duration`, the source's end, or a stop request; then flushes.
public struct TradeRunner {
    public let clock: any Clock
    public var count: Int?
    public var durationSeconds: Double?
    public var flushTimeoutMs: Int32
    public var shouldStop: () -> Bool
    public var live: (TradeRunSummary) -> Void

    public init(clock: any Clock, count: Int? = nil, durationSeconds: Double? = nil, flushTimeoutMs: Int32 = 60_000,
                shouldStop: @escaping () -> Bool = { false }, live: @escaping (TradeRunSummary) -> Void = { _ in }) {
        self.clock = clock
        self.count = count
        self.durationSeconds = durationSeconds
        self.flushTimeoutMs = flushTimeoutMs
        self.shouldStop = shouldStop
        self.live = live
    }

    /// `next` returns the next trade and when to send it (seconds after the start; nil = now), or nil at the end.
    public func run(into sink: TradeSink, next: () -> (TradeLine, Double?)?) throws -> TradeRunSummary {
        try run(into: sink, pull: { next().map { TradePull.trade($0.0, at: $0.1) } ?? .end })
    }

    /// The same for a source that can have nothing yet (a live feed): `.wait` after it waited a
    /// little (≤ 50 ms); the runner then serves delivery reports and checks stop, duration and the clock.
    public func run(into sink: TradeSink, pull: () -> TradePull) throws -> TradeRunSummary {
        var s = TradeRunSummary()
        let start = clock.now()
        var lastLive = start
        var ended = "end of input"
        func report(_ force: Bool = false) {
            guard force || clock.now() - lastLive >= 1 else { return }
            lastLive = clock.now()
            var snap = s
            snap.acknowledged = sink.acknowledged
            snap.failed = sink.failed
            snap.seconds = lastLive - start
            snap.tradesPerSecond = Double(s.queued) / max(snap.seconds, 1e-9)
            live(snap)
        }
        loop: while true {
            if let count, s.queued >= count { ended = "count"; break }
            if shouldStop() { ended = "signal"; break }
            let trade: TradeLine, at: Double?
            switch pull() {
            case .end: break loop
            case .wait:
                if let d = durationSeconds, clock.now() - start >= d { ended = "duration"; break loop }
                sink.poll()
                report()
                continue loop
            case .trade(let t, let when): (trade, at) = (t, when)
            }
            if let at {
                while clock.now() - start < at {
                    if shouldStop() { ended = "signal"; break loop }
                    if let d = durationSeconds, clock.now() - start >= d { ended = "duration"; break loop }
                    sink.poll()
                    // At least 0.1 ms: a remainder below the clock's resolution would never pass.
                    clock.sleep(max(0.0001, min(0.05, at - (clock.now() - start))))
                }
            }
            if let d = durationSeconds, clock.now() - start >= d { ended = "duration"; break }
            try sink.send(trade)
            s.queued += 1
            if s.queued % 1000 == 0 { sink.poll() }
            report()
        }
        s.endedBy = ended
        do { try sink.flush(timeoutMs: flushTimeoutMs) } catch { s.firstError = CdcError.bridging(error).message }
        s.acknowledged = sink.acknowledged
        s.failed = sink.failed
        s.unconfirmed = max(0, s.queued - s.acknowledged - s.failed)
        s.firstError = sink.firstError ?? s.firstError
        s.seconds = clock.now() - start
        s.tradesPerSecond = s.seconds > 0 ? Double(s.acknowledged) / s.seconds : 0
        return s
    }
}

/// What a source gives the runner: a trade (and when to send it), nothing yet, or its end.
public enum TradePull {
    case trade(TradeLine, at: Double?)
    case wait
    case end
}

/// The synthetic feed's schedule: `rate` trades/s shaped by a pattern (`burst` for bursts), or
/// as fast as possible when rate is nil.
public struct SyntheticSchedule {
    var pacerTime = 0.0
    let rate: Double?
    let pattern: RatePattern
    var sent = 0.0

    public init(rate: Double?, pattern: RatePattern) {
        self.rate = rate
        self.pattern = pattern
    }

    /// Seconds after the start at which the next trade is due.
    public mutating func nextAt() -> Double? {
        guard let rate else { return nil }
        // Advance by 1/(rate × factor) at the current point; a factor of 0 waits a second and looks again.
        let f = pattern.factor(kstSecondOfDay: 0, elapsed: pacerTime)
        let step = f > 0 ? 1 / (rate * f) : 1
        pacerTime += step
        return pacerTime - step
    }
}
