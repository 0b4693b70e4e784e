import Diagnostics
import Foundation
import Polling

/// Where order steps go: MySQL in production, memory in the unit tests. `write` commits the step
/// as one transaction or throws; a thrown `OrderWriteFailure.indeterminate` means the
/// connection dropped during COMMIT, so whether it committed is unknown.
public protocol OrderSink {
    mutating func write(_ step: OrderStep) throws
}

public struct OrderWriteFailure: Error, CdcErrorConvertible, Sendable {
    public var indeterminate: Bool
    public var underlying: String
    public init(indeterminate: Bool, underlying: String) {
        self.indeterminate = indeterminate
        self.underlying = underlying
    }
    public var cdcError: CdcError {
        CdcError(.operationFailed, "the connection dropped during COMMIT: the step may or may not have committed (\(underlying))",
                 subject: "produce orders", transient: false)
    }
}

public struct OrderRunSettings: Sendable {
    public var ratePerSecond: Double
    public var pattern: RatePattern
    /// `--at HH:MM`: run as if the KST clock started there (seconds of the day); nil = the real clock.
    public var startKSTSecond: Int?
    /// Stop after this many steps were attempted (`--count`), or this many seconds (`--duration`).
    public var count: Int?
    public var durationSeconds: Double?
    /// How long one step is retried while MySQL is unavailable before it is counted unwritten.
    public var retrySeconds: Double
    public var backoff: Backoff

    public init(ratePerSecond: Double, pattern: RatePattern, startKSTSecond: Int? = nil, count: Int? = nil,
                durationSeconds: Double? = nil, retrySeconds: Double = 30, backoff: Backoff = Backoff(initial: 0.2, maximum: 5)) {
        self.ratePerSecond = ratePerSecond
        self.pattern = pattern
        self.startKSTSecond = startKSTSecond
        self.count = count
        self.durationSeconds = durationSeconds
        self.retrySeconds = retrySeconds
        self.backoff = backoff
    }
}

/// What a run did. `committed` counts only steps whose COMMIT returned OK.
public struct OrderRunSummary: Sendable, Codable, Equatable {
    public var attempted = 0
    public var committed = 0
    /// Steps that did not commit (MySQL unavailable past the retry window, or a server error).
    public var failed = 0
    /// Steps whose COMMIT outcome is unknown (connection lost during COMMIT); not counted as committed.
    public var indeterminate = 0
    /// Steps that came due while the writer waited and were skipped, not written late.
    public var unwrittenBacklog = 0
    public var retries = 0
    public var committedByKind: [String: Int] = [:]
    public var seconds = 0.0
    public var stepsPerSecond = 0.0
    public var lastError: String?
    /// Why the run ended: `count`, `duration`, `signal`, or `error`.
    public var endedBy = ""

    public init() {}

    /// Steps that were meant to be written and were not (failed, unknown, skipped).
    public var unwritten: Int { failed + indeterminate + unwrittenBacklog }
}

/// Drives the model at the pattern's rate into a sink: the loop of `cdcctl produce orders`.
/// Time comes from the injected clock (monotonic) plus `wallStart` (Unix seconds at the start),
/// so tests run hours of pattern in microseconds.
public struct OrderRunner {
    public var model: OrderModel
    public var settings: OrderRunSettings
    public let clock: any Clock
    public let wallStart: Double
    public var progress: (String) -> Void
    public var live: (OrderRunSummary) -> Void
    public var shouldStop: () -> Bool

    public init(model: OrderModel, settings: OrderRunSettings, clock: any Clock, wallStart: Double,
                progress: @escaping (String) -> Void = { _ in }, live: @escaping (OrderRunSummary) -> Void = { _ in },
                shouldStop: @escaping () -> Bool = { false }) {
        self.model = model
        self.settings = settings
        self.clock = clock
        self.wallStart = wallStart
        self.progress = progress
        self.live = live
        self.shouldStop = shouldStop
    }

    /// The rate the pattern asks for `elapsed` seconds into the run.
    public func rate(elapsed: Double) -> Double {
        let kst = settings.startKSTSecond.map { $0 + Int(elapsed) }
            ?? RatePattern.kstSecondOfDay(unixSeconds: wallStart + elapsed)
        return settings.ratePerSecond * settings.pattern.factor(kstSecondOfDay: kst, elapsed: elapsed)
    }

    public mutating func run<S: OrderSink>(into sink: inout S) -> OrderRunSummary {
        var summary = OrderRunSummary()
        let start = clock.now()
        var pacer = Pacer(maxBacklog: max(10, settings.ratePerSecond))
        var lastLive = start
        func finish(_ reason: String) -> OrderRunSummary {
            summary.endedBy = reason
            summary.seconds = clock.now() - start
            summary.unwrittenBacklog = pacer.dropped
            summary.stepsPerSecond = summary.seconds > 0 ? Double(summary.committed) / summary.seconds : 0
            return summary
        }
        while true {
            let elapsed = clock.now() - start
            if let count = settings.count, summary.attempted >= count { return finish("count") }
            if let d = settings.durationSeconds, elapsed >= d { return finish("duration") }
            if shouldStop() { return finish("signal") }
            let rate = rate(elapsed: elapsed)
            var due = pacer.due(now: clock.now(), rate: rate)
            if let count = settings.count { due = min(due, count - summary.attempted) }
            if due == 0 {
                var pause = pacer.wait(rate: rate)
                if let d = settings.durationSeconds { pause = min(pause, max(0, d - elapsed)) }
                clock.sleep(max(pause, 0.0005))
                continue
            }
            for _ in 0..<due {
                if shouldStop() { break }
                let step = model.next()
                summary.attempted += 1
                switch write(step, into: &sink, summary: &summary) {
                case .committed:
                    model.committed(step)
                    summary.committed += 1
                    summary.committedByKind[step.kind, default: 0] += 1
                case .indeterminate:
                    model.failed(step, indeterminate: true)
                    summary.indeterminate += 1
                case .failed(let fatal):
                    model.failed(step, indeterminate: false)
                    summary.failed += 1
                    if fatal { return finish("error") }
                }
            }
            if clock.now() - lastLive >= 1 {
                lastLive = clock.now()
                var snapshot = summary
                snapshot.seconds = lastLive - start
                snapshot.unwrittenBacklog = pacer.dropped
                snapshot.stepsPerSecond = snapshot.seconds > 0 ? Double(snapshot.committed) / snapshot.seconds : 0
                live(snapshot)
            }
        }
    }

    enum Outcome { case committed, indeterminate, failed(fatal: Bool) }

    /// One step, retried with backoff while the failure is transient (MySQL not there, a lost
    /// connection before COMMIT, a deadlock): those never committed, so sending the step again
    /// cannot write it twice.
    func write<S: OrderSink>(_ step: OrderStep, into sink: inout S, summary: inout OrderRunSummary) -> Outcome {
        let deadline = Deadline(seconds: settings.retrySeconds, clock: clock)
        var said = false
        do {
            try Poll.retry(deadline, backoff: settings.backoff,
                           isTransient: { error in !(error is OrderWriteFailure) && Poll.isTransient(error) && !shouldStop() },
                           retrying: { attempt, error in
                               summary.retries += 1
                               summary.lastError = CdcError.bridging(error).message
                               if !said || attempt % 10 == 0 {
                                   progress("MySQL unavailable (\(CdcError.bridging(error).message)); retrying step \(step.kind) with backoff (attempt \(attempt))")
                                   said = true
                               }
                           }) {
                try sink.write(step)
            }
            if said { progress("MySQL reachable again; step \(step.kind) committed") }
            return .committed
        } catch let e as OrderWriteFailure {
            summary.lastError = e.underlying
            progress("step \(step.kind) of order \(step.order): \(e.cdcError.message); counted indeterminate, the order is left alone")
            return .indeterminate
        } catch {
            let e = CdcError.bridging(error)
            summary.lastError = e.message
            if e.isTransient {
                progress("step \(step.kind) not written: MySQL unavailable for \(Int(settings.retrySeconds)) s (\(e.message))")
                return .failed(fatal: false)
            }
            progress("step \(step.kind) failed: \(e.message)")
            return .failed(fatal: true)
        }
    }
}
