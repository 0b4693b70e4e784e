import Diagnostics
import Foundation
import Telemetry
import OperationsCore
import Polling
import Runtime

/// The load a failover test runs: an idempotent producer and a read_committed consumer.
public protocol FailoverWorkload: AnyObject {
    /// Starts producing and consuming; `now` is the run's clock (seconds since it started).
    func start(now: @escaping @Sendable () -> Double) throws
    var ackedCount: Int { get }
    /// Stops sending and waits (bounded) for every outstanding delivery report.
    func stopSending(flushTimeoutSeconds: Double)
    /// The consumer has read up to the last acked offset of every partition.
    func drained() -> Bool
    /// Stops the consumer; what was sent, acked and consumed.
    func finish() -> (sent: Int64, acks: [AckRecord], consumed: [ConsumedRecord])
}

/// What the drill asks the cluster. The real one uses the topics module and Kafka Connect.
public protocol FailoverObserver: AnyObject {
    /// Problems that make taking the target down unsafe (and creates the test topic); empty: go.
    func preflight() throws -> [String]
    func sample(at: Double) -> ClusterSample
    func healed() -> HealedObservation
    /// Each manifest connector's state (nil: Kafka Connect did not answer).
    func connectorStates() -> [String: String?]
    /// The processor's consumer-group lag, or a note why it is not measured.
    func processorLag() -> (lag: Int64?, note: String?)
}


/// Drives one run through steady → fault → restore → recovery → drain, and ALWAYS restores the
/// target once the fault was applied: on success, error, timeout and cancellation alike.
public final class FailoverDriver {
    let parameters: FailoverParameters
    let runtime: Runtime
    let workload: FailoverWorkload
    let observer: FailoverObserver
    let clock: any Clock
    /// Set by SIGINT/SIGTERM (Telemetry's `ServiceHost`): the run stops at its next step and restores the target.
    let cancel: StopFlag
    let progress: ProgressSink
    let nowMs: @Sendable () -> Int64
    /// Seconds between cluster samples.
    public var sampleInterval: Double = 0.5

    public init(parameters: FailoverParameters, runtime: Runtime, workload: FailoverWorkload, observer: FailoverObserver,
                clock: any Clock = SystemClock(), cancel: StopFlag = StopFlag(), progress: ProgressSink = .silent,
                nowMs: @escaping @Sendable () -> Int64 = { Int64(Date().timeIntervalSince1970 * 1000) }) {
        self.parameters = parameters
        self.runtime = runtime
        self.workload = workload
        self.observer = observer
        self.clock = clock
        self.cancel = cancel
        self.progress = progress
        self.nowMs = nowMs
    }

    struct Interrupted: Error { var reason: String }

    /// Runs the drill. Throws only when the preflight refuses (exit 3, nothing touched) or it
    /// cannot start; anything later ends in a history with `error` or `interrupted` set.
    public func run() throws -> FailoverHistory {
        let p = parameters
        let problems = try observer.preflight()
        if !problems.isEmpty {
            if !p.force {
                throw CdcErrors(problems.map {
                    CdcError(.unhealthy, $0, subject: "failover-test preflight",
                             fix: "nothing was touched; heal the cluster first (cdcctl topics health), or pass --force to run anyway")
                })
            }
            progress.step("preflight: \(problems.count) problem(s), running anyway (--force): " + problems.joined(separator: "; "))
        } else {
            progress.step("preflight: every broker live, nothing under-replicated or under min ISR"
                          + (p.replicationObservable ? ", \(p.target.service) can go (canRoll)" : ""))
        }
        let clock = self.clock
        let origin = clock.now()
        let now: @Sendable () -> Double = { clock.now() - origin }
        var h = FailoverHistory(parameters: p, startedAtMs: nowMs())
        var faultApplied = false
        var restored = false
        var phaseStart = 0.0
        var current = Phase.steady
        var nextSample = 0.0

        func begin(_ phase: Phase, note: String? = nil) {
            if phase != current || !h.phases.isEmpty {
                h.phases.append(PhaseSpan(phase: current, start: phaseStart, end: now()))
            }
            current = phase
            phaseStart = now()
            progress.step(String(format: "[%6.1f s] %@", phaseStart, phase.rawValue) + (note.map { ": " + $0 } ?? ""))
        }
        func checkCancelled() throws { if cancel.isSet { throw Interrupted(reason: cancel.reason ?? "stop") } }
        func sampleIfDue() {
            let t = now()
            guard t >= nextSample else { return }
            h.samples.append(observer.sample(at: t))
            nextSample = t + sampleInterval
        }
        /// Waits `seconds`, sampling the cluster; stops early when cancelled or `until` holds.
        func hold(_ seconds: Double, until: (() -> Bool)? = nil) throws -> Bool {
            let end = now() + seconds
            while now() < end {
                try checkCancelled()
                sampleIfDue()
                if let until, until() { return true }
                progress.live(String(format: "%@ %.0f s left, %d acked", current.rawValue, max(0, end - now()), workload.ackedCount))
                clock.sleep(min(0.1, max(0, end - now())))
            }
            return until?() ?? true
        }
        func restoreTarget() {
            guard faultApplied, !restored else { return }
            restored = true
            let action = "\(p.mode.restoreAction) \(p.target.service)"
            do {
                try Poll.retry(Deadline(seconds: 20, clock: clock), backoff: .every(1), isTransient: { _ in true }) {
                    switch p.mode {
                    case .kill, .stop: try runtime.start([p.target.service])
                    case .pause: try runtime.unpause([p.target.service])
                    case .disconnect: try runtime.reconnect(p.target.service)
                    }
                }
                h.restoredAt = now()
                h.restore = "restored \(p.target.service): \(action)"
            } catch {
                h.restoreFailed = true
                h.restore = "could NOT restore \(p.target.service) (\(action)): \(CdcError.bridging(error).message)"
            }
            progress.step(String(format: "[%6.1f s] %@", now(), h.restore ?? ""))
            h.targetAfter = targetState()
        }
        func targetState() -> String {
            guard let s = try? runtime.services().first(where: { $0.service == p.target.service }) else { return "no container" }
            return s.state + (p.mode == .disconnect ? " (networks: \(s.networks.isEmpty ? "none" : s.networks.joined(separator: ", ")))" : "")
        }

        do {
            try workload.start(now: now)
            begin(.steady, note: "\(p.ratePerSecond) msg/s to \(p.topic) for \(Int(p.warmupSeconds)) s")
            _ = try hold(p.warmupSeconds)
            let connectorsBefore = observer.connectorStates()
            let lagBefore = observer.processorLag()
            h.processorLagBefore = lagBefore.lag
            h.processorNote = lagBefore.note

            begin(.fault, note: "\(p.mode.rawValue) \(p.target.service)")
            try checkCancelled()
            faultApplied = true
            h.faultAt = now()
            switch p.mode {
            case .kill: try runtime.kill([p.target.service], signal: "SIGKILL")
            case .stop: try runtime.stop([p.target.service], timeoutSeconds: 10)
            case .pause: try runtime.pause([p.target.service])
            case .disconnect: try runtime.disconnect(p.target.service)
            }
            h.targetDuringFault = targetState()
            progress.step(String(format: "[%6.1f s] %@ is %@", now(), p.target.service, h.targetDuringFault ?? "?"))
            _ = try hold(p.faultSeconds)

            begin(.restore)
            restoreTarget()
            if h.restoreFailed { throw CdcError.failed(h.restore ?? "restore failed", subject: p.target.service) }

            begin(.recovery, note: "until healed, at most \(Int(p.recoveryTimeoutSeconds)) s")
            var lastHealed: HealedObservation?
            let wanted = connectorsBefore.filter { $0.value == "RUNNING" }.map(\.key)
            var connectorsAfter = connectorsBefore
            var lagAfter: Int64?
            var nextCheck = 0.0
            let healed = try hold(p.recoveryTimeoutSeconds) {
                guard now() >= nextCheck else { return false }
                nextCheck = now() + 1
                let o = self.observer.healed()
                lastHealed = o
                guard o.healed(replication: p.replicationObservable) else { return false }
                if !wanted.isEmpty {
                    connectorsAfter = self.observer.connectorStates()
                    guard wanted.allSatisfy({ connectorsAfter[$0] == .some("RUNNING") }) else { return false }
                }
                if let before = h.processorLagBefore {
                    lagAfter = self.observer.processorLag().lag
                    guard let a = lagAfter, a <= before + max(100, before / 10) else { return false }
                }
                return true
            }
            if healed { h.healedAt = now() }
            h.healed = lastHealed ?? observer.healed()
            if wanted.isEmpty || !healed { connectorsAfter = observer.connectorStates() }
            if h.processorLagBefore != nil, lagAfter == nil || !healed { lagAfter = observer.processorLag().lag }
            h.processorLagAfter = lagAfter
            h.connectors = connectorsBefore.keys.sorted().map { ConnectorObservation(name: $0, before: connectorsBefore[$0] ?? nil,
                                                                                     after: connectorsAfter[$0] ?? nil) }

            begin(.drain, note: healed ? "healed; producer stops, consumer catches up" : "NOT healed within \(Int(p.recoveryTimeoutSeconds)) s; draining anyway")
            workload.stopSending(flushTimeoutSeconds: Double(p.deliveryTimeoutMs) / 1000)
            if !(try hold(p.drainTimeoutSeconds, until: { self.workload.drained() })) {
                progress.step("drain: the consumer did not reach the last acked offset of every partition within \(Int(p.drainTimeoutSeconds)) s")
            }
        } catch let i as Interrupted {
            h.interrupted = i.reason
            progress.step("interrupted by \(i.reason) during \(current.rawValue)")
            restoreTarget()
            workload.stopSending(flushTimeoutSeconds: 5)
        } catch {
            h.error = CdcError.bridging(error).description
            progress.step("error during \(current.rawValue): \(h.error ?? "")")
            restoreTarget()
            workload.stopSending(flushTimeoutSeconds: 5)
        }
        h.phases.append(PhaseSpan(phase: current, start: phaseStart, end: now()))
        let (sent, acks, consumed) = workload.finish()
        h.sent = sent
        h.acks = acks
        h.consumed = consumed
        h.endedAt = now()
        return h
    }
}
