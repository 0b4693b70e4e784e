import Diagnostics
@testable import Drills
import Foundation
import State
import TestSupport
import TopicAdmin
import XCTest

/// The verdict over constructed histories: each violation the drill must catch, and a clean run.
final class FailoverVerdictTests: XCTestCase {
    static let target = FailoverTarget(name: "broker-2", service: "kafka-2", broker: 2)

    static func params(engine: String = "kafka", rate: Int = 100) -> FailoverParameters {
        FailoverParameters(target: target, mode: .kill, ratePerSecond: rate, warmupSeconds: 10, faultSeconds: 10,
                           recoveryTimeoutSeconds: 30, partitions: 2, engine: engine)
    }

    /// 100 msg/s for 40 s over two partitions, every message acked 5 ms after it was sent and
    /// consumed once; fault 10–20 s; partition 1 led by broker 2 until 12 s, ISR back at 25 s.
    static func cleanHistory(engine: String = "kafka") -> FailoverHistory {
        var acks: [AckRecord] = []
        var consumed: [ConsumedRecord] = []
        var next: [Int32: Int64] = [0: 0, 1: 0]
        for i in 0..<4000 {
            let seq = Int64(i)
            let p = Int32(i % 2)
            let t = Double(i) / 100
            acks.append(AckRecord(sequence: seq, partition: p, offset: next[p]!, sentAt: t, reportedAt: t + 0.005))
            consumed.append(ConsumedRecord(sequence: seq, partition: p, offset: next[p]!, at: t + 0.01))
            next[p]! += 1
        }
        var samples: [ClusterSample] = []
        for k in 0..<80 {
            let t = Double(k) * 0.5
            let leader1: Int32 = t < 12 ? 2 : 3
            let isr: [Int32] = (t >= 10 && t < 25) ? [1, 3] : [1, 2, 3]
            samples.append(ClusterSample(at: t, brokersLive: (t >= 10 && t < 21) ? 2 : 3, targetAnswers: !(t >= 10 && t < 21),
                                         partitions: [PartitionSample(partition: 0, leader: 1, replicas: [1, 2, 3], isr: isr),
                                                      PartitionSample(partition: 1, leader: leader1, replicas: [2, 3, 1], isr: isr)],
                                         down: (t >= 10 && t < 21) ? [2] : []))
        }
        return FailoverHistory(
            parameters: params(engine: engine), startedAtMs: 1_700_000_000_000,
            phases: [PhaseSpan(phase: .steady, start: 0, end: 10), PhaseSpan(phase: .fault, start: 10, end: 20),
                     PhaseSpan(phase: .restore, start: 20, end: 20.5), PhaseSpan(phase: .recovery, start: 20.5, end: 26),
                     PhaseSpan(phase: .drain, start: 26, end: 40)],
            acks: acks, consumed: consumed, sent: 4000, samples: samples, faultAt: 10, restoredAt: 20.5, healedAt: 26,
            healed: HealedObservation(brokersLive: 3, brokersExpected: 3, partitions: 2),
            targetDuringFault: "exited", targetAfter: "running", restore: "restored kafka-2: start kafka-2",
            connectors: [ConnectorObservation(name: "shop-mysql", before: "RUNNING", after: "RUNNING")], endedAt: 40)
    }

    func outcome(_ r: FailoverReport, _ n: Int) -> ConditionOutcome { r.conditions.first { $0.number == n }!.outcome }

    func testCleanRunPassesWithEveryFigure() {
        let r = FailoverVerdict.judge(Self.cleanHistory())
        XCTAssertEqual(r.verdict, "passed", "\(r.conditions)")
        XCTAssertEqual(r.exitCode, 0)
        XCTAssertEqual(r.conditions.map(\.outcome), [.pass, .pass, .pass, .pass, .pass, .pass])
        XCTAssertEqual(r.figures.acked, 4000)
        XCTAssertEqual(r.figures.consumed, 4000)
        XCTAssertEqual(r.figures.ackedDuringFault, 1050, "acks reported in [10, 20.5)")
        XCTAssertEqual(r.figures.timeToNewLeaders.seconds, 2, "partition 1 moved off broker 2 at the 12 s sample")
        XCTAssertEqual(r.figures.timeToBackInIsr.seconds, 4.5, "broker 2 back in both ISRs at 25 s, restore at 20.5 s")
        XCTAssertEqual(r.figures.timeToTargetAnswering.seconds, 0.5)
        XCTAssertEqual(r.figures.timeToHealed.seconds ?? -1, 5.5, accuracy: 1e-9)
        XCTAssertEqual(r.figures.latency.first { $0.phase == .steady }?.p50Ms ?? 0, 5, accuracy: 0.01)
        XCTAssertEqual(r.timeline.first { $0.second == 15 }?.minIsr, 2, "down broker not counted")
        XCTAssertEqual(r.timeline.first { $0.second == 5 }?.minIsr, 3)
    }

    func testTansuSaysNotObservableInsteadOfNumbers() {
        let r = FailoverVerdict.judge(Self.cleanHistory(engine: "tansu"))
        XCTAssertNil(r.figures.timeToNewLeaders.seconds)
        XCTAssertEqual(r.figures.timeToNewLeaders.note, "not observable on this broker")
        XCTAssertEqual(r.figures.timeToBackInIsr.note, "not observable on this broker")
        XCTAssertNotNil(r.figures.timeToTargetAnswering.seconds, "a direct probe works on every broker")
        XCTAssertEqual(outcome(r, 5), .partial)
        XCTAssertTrue(r.conditions[4].detail.contains("not observable on this broker"))
        XCTAssertTrue(r.timeline.allSatisfy { $0.minIsr == nil }, "no ISR line drawn for Tansu")
        XCTAssertEqual(r.verdict, "passed", "partial is not a violation")
        XCTAssertTrue(FailoverChart.svg(r).contains("ISR: not observable on this broker"))
    }

    func testLostAckedWriteIsReportedWithPartitionOffsetSequence() {
        var h = Self.cleanHistory()
        h.consumed.removeAll { $0.sequence == 1234 }
        let r = FailoverVerdict.judge(h)
        XCTAssertEqual(outcome(r, 1), .fail)
        XCTAssertEqual(r.figures.missingCount, 1)
        XCTAssertEqual(r.figures.missing, [MissingMessage(sequence: 1234, partition: 0, offset: 617)])
        XCTAssertTrue(r.conditions[0].detail.contains("seq 1234 at partition 0 offset 617"), r.conditions[0].detail)
        XCTAssertEqual(r.verdict, "failed")
        XCTAssertEqual(r.exitCode, 1)
    }

    func testFailedSendIsIndeterminateNotLost() {
        var h = Self.cleanHistory()
        h.acks[2000].error = "_MSG_TIMED_OUT"
        h.consumed.removeAll { $0.sequence == 2000 }
        let r = FailoverVerdict.judge(h)
        XCTAssertEqual(outcome(r, 1), .pass)
        XCTAssertEqual(r.figures.failedByError, ["_MSG_TIMED_OUT": 1])
    }

    func testDuplicateIsCaught() {
        var h = Self.cleanHistory()
        // seq 10 written again at the end of partition 0.
        h.consumed.append(ConsumedRecord(sequence: 10, partition: 0, offset: 2000, at: 39))
        let r = FailoverVerdict.judge(h)
        XCTAssertEqual(outcome(r, 2), .fail)
        XCTAssertEqual(r.figures.duplicates, 1)
        XCTAssertTrue(r.conditions[1].detail.contains("seq 10 at 0/5 and 0/2000"), r.conditions[1].detail)
        XCTAssertEqual(outcome(r, 3), .fail, "a lower sequence after higher ones is also a reordering")
    }

    func testReorderingIsCaught() {
        var h = Self.cleanHistory()
        // Partition 1, offsets 100 and 101 hold seqs 203 and 201 swapped.
        let a = h.consumed.firstIndex { $0.partition == 1 && $0.offset == 100 }!
        let b = h.consumed.firstIndex { $0.partition == 1 && $0.offset == 101 }!
        let (sa, sb) = (h.consumed[a].sequence, h.consumed[b].sequence)
        h.consumed[a].sequence = sb
        h.consumed[b].sequence = sa
        let r = FailoverVerdict.judge(h)
        XCTAssertEqual(outcome(r, 3), .fail)
        XCTAssertTrue(r.conditions[2].detail.contains("1 reordering(s)"), r.conditions[2].detail)
        XCTAssertTrue(r.conditions[2].detail.contains("acked as seq"), "the offsets hold other messages than their acks said")
        XCTAssertEqual(outcome(r, 1), .pass)
        XCTAssertEqual(outcome(r, 2), .pass)
    }

    /// What the Tansu stand-in did after a SIGKILL (docs/failover.md): acks for new messages
    /// carrying offsets that already held earlier messages, which the consumer reads instead.
    func testTwoAcksAtOneOffsetAreLostWritesAndInconsistentOffsets() {
        var h = Self.cleanHistory()
        for (k, seq) in [3001, 3003, 3005].enumerated() {
            let i = h.acks.firstIndex { $0.sequence == Int64(seq) }!
            h.acks[i].offset = Int64(k)
            h.consumed.removeAll { $0.sequence == Int64(seq) }
        }
        let j = h.acks.firstIndex { $0.sequence == 3007 }!
        h.acks[j].offset = -1
        h.consumed.removeAll { $0.sequence == 3007 }
        let r = FailoverVerdict.judge(h)
        XCTAssertEqual(outcome(r, 1), .fail)
        XCTAssertEqual(r.figures.missing.map(\.sequence), [3001, 3003, 3005, 3007])
        XCTAssertEqual(r.figures.missing.first?.offset, 0)
        XCTAssertEqual(outcome(r, 3), .fail)
        XCTAssertTrue(r.conditions[2].detail.contains("partition 1 offset 0 acknowledged for seqs 1 and 3001"), r.conditions[2].detail)
        XCTAssertTrue(r.conditions[2].detail.contains("3 inconsistent offset(s)"), r.conditions[2].detail)
        XCTAssertEqual(r.figures.ackedWithoutOffset, 1)
    }

    /// librdkafka reports a retried batch the broker already had (DUPLICATE_SEQUENCE_NUMBER) as
    /// delivered at offset -1: consumed, that is no violation.
    func testAckWithoutOffsetThatWasConsumedIsFine() {
        var h = Self.cleanHistory()
        let j = h.acks.firstIndex { $0.sequence == 3007 }!
        h.acks[j].offset = -1
        let r = FailoverVerdict.judge(h)
        XCTAssertEqual(r.verdict, "passed", "\(r.conditions)")
        XCTAssertEqual(r.figures.ackedWithoutOffset, 1)
    }

    func testOffsetRegressionIsCaught() {
        var h = Self.cleanHistory()
        // The consumer read partition 0 offset 3 again after offset 10.
        let i = h.consumed.firstIndex { $0.partition == 0 && $0.offset == 10 }!
        h.consumed.insert(ConsumedRecord(sequence: 6, partition: 0, offset: 3, at: 1), at: i + 1)
        let r = FailoverVerdict.judge(h)
        XCTAssertEqual(outcome(r, 3), .fail)
        XCTAssertTrue(r.conditions[2].detail.contains("offset 3 read after 10"), r.conditions[2].detail)
        XCTAssertEqual(r.figures.duplicates, 0, "the same offset read twice is not a second write")
    }

    func testStallIsMeasured() {
        var h = Self.cleanHistory()
        // Nothing acked between 12 s and 19 s: those acks come at 19 s.
        for i in h.acks.indices where h.acks[i].reportedAt > 12 && h.acks[i].reportedAt < 19 { h.acks[i].reportedAt = 19 }
        let r = FailoverVerdict.judge(h)
        let stall = try! XCTUnwrap(r.figures.maxStall)
        XCTAssertEqual(stall.seconds, 19 - 11.995, accuracy: 1e-6)
        XCTAssertEqual(stall.from, 11.995, accuracy: 1e-6)
        XCTAssertEqual(outcome(r, 4), .pass, "acks still came during the fault")
        XCTAssertGreaterThan(r.figures.latency.first { $0.phase == .fault }!.p99Ms!, 6000)
        XCTAssertTrue(FailoverChart.svg(r).contains("longest stall 7.00 s"))
    }

    func testProgressStoppingDuringTheFaultFails() {
        var h = Self.cleanHistory()
        h.acks = h.acks.filter { $0.sentAt < 10 || $0.sentAt >= 20.5 }
        h.consumed = h.consumed.filter { $0.at < 10 || $0.at >= 20.5 }
        let r = FailoverVerdict.judge(h)
        XCTAssertEqual(outcome(r, 4), .fail)
        XCTAssertEqual(r.figures.ackedDuringFault, 0)
        XCTAssertTrue(r.conditions[3].detail.contains("at least 100 expected"), r.conditions[3].detail)
        XCTAssertEqual(r.verdict, "failed")
    }

    func testIsrNeverRecoveringFails() {
        var h = Self.cleanHistory()
        for i in h.samples.indices where h.samples[i].at >= 20 {
            for j in h.samples[i].partitions.indices { h.samples[i].partitions[j].isr = [1, 3] }
        }
        h.healedAt = nil
        h.healed = HealedObservation(brokersLive: 3, brokersExpected: 3, partitions: 2,
                                     underReplicated: ["_cdcctl_failover[0]", "_cdcctl_failover[1]"],
                                     targetOutOfIsr: ["_cdcctl_failover[0]", "_cdcctl_failover[1]"])
        let r = FailoverVerdict.judge(h)
        XCTAssertEqual(outcome(r, 5), .fail)
        XCTAssertTrue(r.conditions[4].detail.contains("kafka-2 not in the ISR of _cdcctl_failover[0]"), r.conditions[4].detail)
        XCTAssertTrue(r.conditions[4].detail.contains("within --recovery-timeout 30 s"))
        XCTAssertNil(r.figures.timeToBackInIsr.seconds)
        XCTAssertEqual(r.figures.timeToBackInIsr.note, "kafka-2 not back in every ISR by the end of the run")
        XCTAssertNil(r.figures.timeToHealed.seconds)
    }

    func testConnectorNotRunningAfterwardsFails() {
        var h = Self.cleanHistory()
        h.connectors = [ConnectorObservation(name: "shop-mysql", before: "RUNNING", after: "FAILED (tasks 0:FAILED)")]
        let r = FailoverVerdict.judge(h)
        XCTAssertEqual(outcome(r, 6), .fail)
        h.connectors = [ConnectorObservation(name: "shop-mysql", before: "NOT REGISTERED", after: "NOT REGISTERED")]
        XCTAssertEqual(outcome(FailoverVerdict.judge(h), 6), .notApplicable)
    }

    // MARK: - preflight

    func health(_ isr: [Int32], minIsr: Int = 2, down: Set<Int32> = []) -> [PartitionHealth] {
        [PartitionHealth(topic: "orders", partition: 0, leader: isr.first ?? -1, replicas: [1, 2, 3], isr: isr, minInsyncReplicas: minIsr, down: down)]
    }

    let brokers = (1...3).map { BrokerState(id: Int32($0), service: "kafka-\($0)", address: "127.0.0.1:909\($0 + 1)", live: true, reason: nil) }

    func testPreflightAcceptsAHealthyCluster() {
        XCTAssertEqual(FailoverPreflight.problems(brokers: brokers, expected: 3, partitions: health([1, 2, 3]), target: Self.target, engine: "kafka"), [])
    }

    func testPreflightRefusesUnderReplicatedAndCanRoll() {
        // ISR {1,2} with min ISR 2: taking broker 2 down leaves one replica, below min ISR.
        let p = FailoverPreflight.problems(brokers: brokers, expected: 3, partitions: health([1, 2]), target: Self.target, engine: "kafka")
        XCTAssertEqual(p.count, 2, "\(p)")
        XCTAssertTrue(p[0].hasPrefix("under-replicated: orders[0]"))
        XCTAssertTrue(p[1].contains("taking kafka-2 down would leave ISR below min.insync.replicas (Strimzi's canRoll): orders[0] (ISR 2, min 2)"), p[1])
        // The same partition without broker 2 in its ISR does not stop broker 2 (canRoll), only the URP does.
        let other = FailoverPreflight.problems(brokers: brokers, expected: 3, partitions: health([1, 3]), target: Self.target, engine: "kafka")
        XCTAssertEqual(other.count, 1, "\(other)")
    }

    func testPreflightRefusesADownBroker() {
        var b = brokers
        b[2].live = false
        b[2].reason = "does not answer"
        let p = FailoverPreflight.problems(brokers: b, expected: 3, partitions: health([1, 2, 3], down: [3]), target: Self.target, engine: "kafka")
        XCTAssertTrue(p.contains("2 of 3 brokers are live"), "\(p)")
        XCTAssertTrue(p.contains("broker 3 (kafka-3) is down: does not answer"), "\(p)")
    }

    // MARK: - target and record

    func testTargetNames() throws {
        XCTAssertEqual(try FailoverTarget.resolve("broker-2", brokers: 3).service, "kafka-2")
        XCTAssertEqual(try FailoverTarget.resolve("kafka-3", brokers: 3).broker, 3)
        for bad in ["broker-4", "broker-0", "broker-02", "zookeeper", "kafka-"] {
            XCTAssertThrowsError(try FailoverTarget.resolve(bad, brokers: 3)) { e in
                let error = CdcError.bridging(e)
                XCTAssertEqual(error.exitCode, 2, bad)
                XCTAssertTrue(error.description.contains("broker-1, broker-2, broker-3"), error.description)
            }
        }
    }

    func testRunIsRecordedAndListed() throws {
        let dir = try TestSupport.temporaryDirectory(self)
        let store = try StateStore(path: dir + "/state.db")
        var r = FailoverVerdict.judge(Self.cleanHistory())
        let id = try store.recordTestRun(FailoverOperation.record(r, cluster: "drill"))
        r.runId = id
        let listed = try store.testRuns(kind: "failover")
        XCTAssertEqual(listed.map(\.id), [id])
        XCTAssertEqual(listed.first?.verdict, "passed")
        XCTAssertTrue(listed.first?.summary.contains("acked 4000, lost 0, duplicates 0") ?? false, listed.first?.summary ?? "")
        let shown = try XCTUnwrap(try store.testRun(id: id))
        let timeline = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(shown.timeline.utf8)) as? [String: Any])
        XCTAssertEqual((timeline["seconds"] as? [Any])?.count, 41)
        XCTAssertEqual(timeline["faultAt"] as? Double, 10)
        XCTAssertTrue(shown.figures.contains("\"ackedDuringFault\":1050"), shown.figures)
    }

    func testHtmlReportIsSelfContained() {
        var r = FailoverVerdict.judge(Self.cleanHistory())
        r.runId = 7
        let html = FailoverChart.html(r)
        XCTAssertTrue(html.contains("<svg"))
        XCTAssertTrue(html.contains("fault: kill kafka-2"))
        XCTAssertTrue(html.contains("healed"))
        XCTAssertFalse(html.contains("http://") && !html.contains("http://www.w3.org/2000/svg"), "no network reference")
        XCTAssertFalse(html.contains("<script"))
        XCTAssertFalse(html.contains("https://"))
    }
}
