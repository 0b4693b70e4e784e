import Diagnostics
@testable import Drills
import Foundation
import Polling
import Runtime
import TestSupport
import Telemetry
import XCTest

/// The phase machine on a FAKE container engine (TestSupport.FakeRuntime), a fake workload and
/// a fake observer, with a clock that advances only when the driver sleeps: which calls the
/// engine gets, in which order, and that the target is restored on every exit path.
final class FailoverDriverTests: XCTestCase {
    final class StepClock: Polling.Clock, @unchecked Sendable {
        private let lock = NSLock()
        private var t = 0.0
        func now() -> Double { lock.withLock { t } }
        func sleep(_ seconds: Double) { lock.withLock { t += max(seconds, 0.001) } }
    }

    final class FakeWorkload: FailoverWorkload {
        var now: (@Sendable () -> Double)?
        var stopped = false
        var finished = false
        func start(now: @escaping @Sendable () -> Double) throws { self.now = now }
        var ackedCount: Int { 0 }
        func stopSending(flushTimeoutSeconds: Double) { stopped = true }
        func drained() -> Bool { true }
        func finish() -> (sent: Int64, acks: [AckRecord], consumed: [ConsumedRecord]) {
            finished = true
            // One ack per simulated second, all consumed.
            let end = Int(now?() ?? 0)
            let acks = (0..<end).map { AckRecord(sequence: Int64($0), partition: 0, offset: Int64($0), sentAt: Double($0), reportedAt: Double($0) + 0.01) }
            return (Int64(end), acks, acks.map { ConsumedRecord(sequence: $0.sequence, partition: 0, offset: $0.offset, at: $0.reportedAt) })
        }
    }

    final class FakeObserver: FailoverObserver {
        var problems: [String] = []
        var healAfterChecks = 2
        var healChecks = 0
        var onSample: ((Double) -> Void)?
        func preflight() throws -> [String] { problems }
        func sample(at t: Double) -> ClusterSample {
            onSample?(t)
            return ClusterSample(at: t, brokersLive: 3, targetAnswers: true, partitions: [])
        }
        func healed() -> HealedObservation {
            healChecks += 1
            return HealedObservation(brokersLive: healChecks >= healAfterChecks ? 3 : 2, brokersExpected: 3)
        }
        func connectorStates() -> [String: String?] { ["shop-mysql": .some("RUNNING")] }
        func processorLag() -> (lag: Int64?, note: String?) { (nil, "processor: not running") }
    }

    /// A fake engine whose fault call fails after it took effect (a daemon that timed out answering).
    final class FailingFaultRuntime: Runtime, @unchecked Sendable {
        let inner = FakeRuntime()
        func check() throws -> RuntimeInfo { try inner.check() }
        func up(services: [String], forceRecreate: Bool) throws { try inner.up(services: services, forceRecreate: forceRecreate) }
        func down(volumes: Bool) throws { try inner.down(volumes: volumes) }
        func start(_ s: [String]) throws { try inner.start(s) }
        func stop(_ s: [String], timeoutSeconds: Int) throws { try inner.stop(s, timeoutSeconds: timeoutSeconds) }
        func kill(_ s: [String], signal: String) throws { try inner.kill(s, signal: signal) }
        func pause(_ s: [String]) throws { try inner.pause(s) }
        func unpause(_ s: [String]) throws { try inner.unpause(s) }
        func disconnect(_ s: String) throws {
            try inner.disconnect(s)
            throw RuntimeError(.noContainer(service: s, project: "drill"))
        }
        func reconnect(_ s: String) throws { try inner.reconnect(s) }
        func services() throws -> [ServiceStatus] { try inner.services() }
        func stats() throws -> [ServiceStats] { try inner.stats() }
        func logs(_ s: String, tail: Int) throws -> String { try inner.logs(s, tail: tail) }
    }

    let target = FailoverTarget(name: "broker-2", service: "kafka-2", broker: 2)

    func driver(_ mode: FaultMode, runtime: Runtime, observer: FakeObserver = FakeObserver(), workload: FakeWorkload = FakeWorkload(),
                cancel: StopFlag = StopFlag(), force: Bool = false) -> FailoverDriver {
        let p = FailoverParameters(target: target, mode: mode, ratePerSecond: 1, warmupSeconds: 5, faultSeconds: 10,
                                   recoveryTimeoutSeconds: 20, partitions: 6, force: force)
        return FailoverDriver(parameters: p, runtime: runtime, workload: workload, observer: observer, clock: StepClock(), cancel: cancel)
    }

    func engineCalls(_ r: FakeRuntime) -> [String] { r.calls.filter { $0 != "services" } }

    func testEachModeFaultsThenRestoresTheTarget() throws {
        let expected: [FaultMode: [String]] = [
            .kill: ["kill -SIGKILL kafka-2", "start kafka-2"], .stop: ["stop kafka-2", "start kafka-2"],
            .pause: ["pause kafka-2", "unpause kafka-2"], .disconnect: ["disconnect kafka-2", "reconnect kafka-2"],
        ]
        for mode in FaultMode.allCases {
            let runtime = FakeRuntime()
            let workload = FakeWorkload()
            let h = try driver(mode, runtime: runtime, workload: workload).run()
            XCTAssertEqual(engineCalls(runtime), expected[mode], "\(mode)")
            XCTAssertEqual(h.phases.map(\.phase), [.steady, .fault, .restore, .recovery, .drain], "\(mode)")
            XCTAssertEqual(h.faultAt ?? 0, 5, accuracy: 0.01)
            XCTAssertEqual(h.restoredAt ?? 0, 15, accuracy: 0.2)
            XCTAssertNotNil(h.healedAt, "healed on the second check")
            XCTAssertEqual(h.restore, "restored kafka-2: \(mode.restoreAction) kafka-2")
            XCTAssertTrue(workload.stopped && workload.finished)
            XCTAssertNil(h.interrupted)
            XCTAssertEqual(h.connectors, [ConnectorObservation(name: "shop-mysql", before: "RUNNING", after: "RUNNING")])
            let r = FailoverVerdict.judge(h)
            XCTAssertEqual(r.conditions.first { $0.number == 4 }?.outcome, .pass, "acks went on during the fault: \(r.conditions)")
        }
    }

    func testPreflightRefusalTouchesNothing() {
        let runtime = FakeRuntime()
        let observer = FakeObserver()
        observer.problems = ["under-replicated: orders[0]"]
        let workload = FakeWorkload()
        XCTAssertThrowsError(try driver(.kill, runtime: runtime, observer: observer, workload: workload).run()) { e in
            XCTAssertEqual(CdcErrors.exitCode(of: e), 3)
            XCTAssertTrue(String(describing: e).contains("under-replicated: orders[0]"))
        }
        XCTAssertEqual(runtime.calls, [], "no container touched")
        XCTAssertNil(workload.now, "no load started")
    }

    func testForceRunsDespiteThePreflight() throws {
        let runtime = FakeRuntime()
        let observer = FakeObserver()
        observer.problems = ["under-replicated: orders[0]"]
        _ = try driver(.kill, runtime: runtime, observer: observer, force: true).run()
        XCTAssertEqual(engineCalls(runtime), ["kill -SIGKILL kafka-2", "start kafka-2"])
    }

    func testInterruptDuringTheFaultStillRestores() throws {
        let runtime = FakeRuntime()
        let observer = FakeObserver()
        let cancel = StopFlag()
        observer.onSample = { t in if t > 8 { cancel.set(reason: "SIGINT") } }
        let workload = FakeWorkload()
        let h = try driver(.pause, runtime: runtime, observer: observer, workload: workload, cancel: cancel).run()
        XCTAssertEqual(engineCalls(runtime), ["pause kafka-2", "unpause kafka-2"])
        XCTAssertEqual(h.interrupted, "SIGINT")
        XCTAssertEqual(h.phases.last?.phase, .fault, "stopped in the fault phase")
        XCTAssertEqual(h.restore, "restored kafka-2: unpause kafka-2")
        XCTAssertTrue(workload.finished)
        let r = FailoverVerdict.judge(h)
        XCTAssertEqual(r.verdict, "interrupted")
        XCTAssertEqual(r.exitCode, 1)
    }

    func testInterruptBeforeTheFaultTouchesNothing() throws {
        let runtime = FakeRuntime()
        let observer = FakeObserver()
        let cancel = StopFlag()
        observer.onSample = { t in if t > 2 { cancel.set(reason: "SIGTERM") } }
        let h = try driver(.kill, runtime: runtime, observer: observer, cancel: cancel).run()
        XCTAssertEqual(engineCalls(runtime), [])
        XCTAssertEqual(h.interrupted, "SIGTERM")
        XCTAssertNil(h.restore)
    }

    func testAnErrorAfterTheFaultStillRestores() throws {
        let runtime = FailingFaultRuntime()
        let h = try driver(.disconnect, runtime: runtime).run()
        XCTAssertEqual(runtime.inner.calls.filter { $0 != "services" }, ["disconnect kafka-2", "reconnect kafka-2"])
        XCTAssertNotNil(h.error)
        XCTAssertEqual(h.restore, "restored kafka-2: reconnect kafka-2")
        XCTAssertEqual(FailoverVerdict.judge(h).verdict, "failed")
    }

    func testRecoveryTimeoutEndsInDrainNotHealed() throws {
        let runtime = FakeRuntime()
        let observer = FakeObserver()
        observer.healAfterChecks = .max
        let h = try driver(.stop, runtime: runtime, observer: observer).run()
        XCTAssertNil(h.healedAt)
        XCTAssertEqual(h.phases.map(\.phase), [.steady, .fault, .restore, .recovery, .drain])
        let recovery = try XCTUnwrap(h.phases.first { $0.phase == .recovery })
        XCTAssertEqual(recovery.end - recovery.start, 20, accuracy: 0.5, "bounded by --recovery-timeout")
        XCTAssertEqual(FailoverVerdict.judge(h).conditions.first { $0.number == 5 }?.outcome, .fail)
    }

    func testUnrestorableTargetIsSaidLoudly() throws {
        let runtime = FakeRuntime()
        let observer = FakeObserver()
        // The engine goes away during the fault: the kill happened, the start cannot.
        observer.onSample = { t in if t > 8 { runtime.unavailable = RuntimeError(.noContainer(service: "kafka-2", project: "drill")) } }
        let h = try driver(.kill, runtime: runtime, observer: observer).run()
        XCTAssertTrue(h.restoreFailed)
        XCTAssertTrue(h.restore?.hasPrefix("could NOT restore kafka-2 (start kafka-2)") ?? false, h.restore ?? "")
        XCTAssertEqual(FailoverVerdict.judge(h).exitCode, 1)
    }
}
