import Foundation

public enum ConditionOutcome: String, Sendable, Codable, Equatable {
    case pass
    case fail
    /// What the broker shows passed; the rest is not observable on this broker.
    case partial
    /// Nothing of it can be observed on this broker.
    case notObservable = "not-observable"
    /// Nothing to judge (no connector registered, no processor running).
    case notApplicable = "not-applicable"

    public var mark: String {
        switch self {
        case .pass: "✓"
        case .fail: "✗"
        case .partial: "~"
        case .notObservable, .notApplicable: "–"
        }
    }
}

public struct Condition: Sendable, Codable, Equatable {
    public var number: Int
    public var name: String
    public var outcome: ConditionOutcome
    public var detail: String
}

/// A quantity that was measured, or why there is no number.
public struct Measured: Sendable, Codable, Equatable {
    public var seconds: Double?
    public var note: String?

    public static let notObservable = Measured(seconds: nil, note: FailoverVerdict.notObservable)
    public static func value(_ s: Double, note: String? = nil) -> Measured { Measured(seconds: s, note: note) }
    public static func none(_ why: String) -> Measured { Measured(seconds: nil, note: why) }

    public var text: String {
        if let seconds { return String(format: "%.2f s", seconds) + (note.map { " (\($0))" } ?? "") }
        return note ?? "-"
    }
}

public struct PhaseLatency: Sendable, Codable, Equatable {
    public var phase: Phase
    public var acked: Int
    public var p50Ms: Double?
    public var p99Ms: Double?
}

public struct MissingMessage: Sendable, Codable, Equatable {
    public var sequence: Int64
    public var partition: Int32
    public var offset: Int64
}

public struct Stall: Sendable, Codable, Equatable {
    public var seconds: Double
    /// The ack before the gap and the one after it.
    public var from: Double
    public var to: Double
}

public struct FailoverFigures: Sendable, Codable, Equatable {
    public var sent: Int64
    public var acked: Int
    public var consumed: Int
    public var failedByError: [String: Int]
    public var duplicates: Int
    public var maxStall: Stall?
    public var latency: [PhaseLatency]
    public var ackedDuringFault: Int
    /// Acked with offset -1: librdkafka reports a retried batch the broker already had
    /// (DUPLICATE_SEQUENCE_NUMBER) as delivered with no offset. Not a violation by itself: such a
    /// message must still be consumed (condition 1).
    public var ackedWithoutOffset: Int
    public var timeToNewLeaders: Measured
    public var timeToBackInIsr: Measured
    /// From the restore until the target answers a direct probe (observable on every broker).
    public var timeToTargetAnswering: Measured
    /// From the restore until the recovery condition held.
    public var timeToHealed: Measured
    public var missing: [MissingMessage]
    public var missingCount: Int
}

/// One second of the run, for the picture and the record.
public struct TimelinePoint: Sendable, Codable, Equatable {
    public var second: Int
    public var acks: Int
    public var failures: Int
    /// The smallest live ISR of the test topic in that second; nil when not observable or not sampled.
    public var minIsr: Int?
    public var brokersLive: Int?
}

public struct FailoverReport: Sendable, Codable {
    public var parameters: FailoverParameters
    public var startedAtMs: Int64
    public var durationSeconds: Double
    public var phases: [PhaseSpan]
    public var conditions: [Condition]
    public var figures: FailoverFigures
    public var timeline: [TimelinePoint]
    public var faultAt: Double?
    public var restoredAt: Double?
    public var healedAt: Double?
    public var targetDuringFault: String?
    public var targetAfter: String?
    public var restore: String?
    public var connectors: [ConnectorObservation]
    /// `passed`, `failed` or `interrupted`.
    public var verdict: String
    public var exitCode: Int32
    public var interrupted: String?
    public var error: String?
    public var notes: [String]
    /// The row in the state store (`cdcctl failover-test --show ID`).
    public var runId: Int64?
    /// What this run's messages start with (`<tag> <seq> …`): tells them from other runs' in the topic.
    public var messageTag: String?
    public var reportFile: String?
    /// `--through-pipeline`: the comparison's counts (the order lists themselves stay out).
    public var pipeline: PipelineFigures?

    public var violated: [Condition] { conditions.filter { $0.outcome == .fail } }
}

/// The verdict over one run's history. Pure: the same history gives the same report.
public enum FailoverVerdict {
    public static let notObservable = "not observable on this broker"

    public static func judge(_ h: FailoverHistory) -> FailoverReport {
        let p = h.parameters
        let acked = h.acks.filter(\.acked)
        let ackedBySeq = Dictionary(acked.map { ($0.sequence, $0) }, uniquingKeysWith: { a, _ in a })
        // Each distinct place (partition, offset) a sequence was read at.
        var placesBySeq: [Int64: Set<Place>] = [:]
        for c in h.consumed { placesBySeq[c.sequence, default: []].insert(Place(partition: c.partition, offset: c.offset)) }
        var conditions: [Condition] = []

        // 1. acked − consumed = ∅
        let missingAll = acked.filter { placesBySeq[$0.sequence] == nil }.sorted { $0.sequence < $1.sequence }
        let missing = missingAll.prefix(20).map { MissingMessage(sequence: $0.sequence, partition: $0.partition, offset: $0.offset) }
        conditions.append(Condition(number: 1, name: "no acknowledged write lost", outcome: missingAll.isEmpty ? .pass : .fail,
                                    detail: missingAll.isEmpty ? "all \(acked.count) acked messages were consumed"
                                        : "\(missingAll.count) acked message(s) never consumed: "
                                        + missing.prefix(5).map { "seq \($0.sequence) at partition \($0.partition) offset \($0.offset)" }.joined(separator: ", ")
                                        + (missingAll.count > 5 ? ", …" : "")))

        // 2. duplicates: a sequence at more than one offset.
        let duplicates = placesBySeq.values.reduce(0) { $0 + max(0, $1.count - 1) }
        let dupExamples = placesBySeq.filter { $0.value.count > 1 }.keys.sorted().prefix(3)
        conditions.append(Condition(number: 2, name: "no duplicates", outcome: duplicates == 0 ? .pass : .fail,
                                    detail: duplicates == 0 ? "every consumed sequence is at one offset"
                                        : "\(duplicates) duplicate(s): " + dupExamples.map { s in
                                            "seq \(s) at " + placesBySeq[s]!.sorted().map { "\($0.partition)/\($0.offset)" }.joined(separator: " and ")
                                        }.joined(separator: "; ")))

        // 3. per-partition order.
        conditions.append(order(h.consumed, acked: acked))

        // 4. progress during the fault.
        var ackedDuringFault = 0
        if let f = h.faultAt {
            let end = h.restoredAt ?? h.endedAt
            ackedDuringFault = acked.filter { $0.reportedAt >= f && $0.reportedAt < end }.count
            let ok = ackedDuringFault >= p.progressThreshold
            conditions.append(Condition(number: 4, name: "progress during the fault", outcome: ok ? .pass : .fail,
                                        detail: "\(ackedDuringFault) message(s) acked while \(p.target.service) was down (\(String(format: "%.1f", end - f)) s)"
                                            + (ok ? "" : "; at least \(p.progressThreshold) expected: with RF 3 and min ISR 2 one broker down must not block producing")))
        } else {
            conditions.append(Condition(number: 4, name: "progress during the fault", outcome: .fail,
                                        detail: "the fault was never applied"))
        }

        // 5. healed.
        conditions.append(healedCondition(h))

        // 6. connectors and processor.
        conditions.append(pipelineCondition(h))

        // 7. with --through-pipeline: every order change exactly once in ClickHouse.
        if p.throughPipeline || h.pipeline != nil { conditions.append(PipelineVerdict.condition(h.pipeline)) }

        let figures = FailoverFigures(
            sent: h.sent, acked: acked.count, consumed: placesBySeq.count,
            failedByError: Dictionary(grouping: h.acks.compactMap(\.error), by: { $0 }).mapValues(\.count),
            duplicates: duplicates, maxStall: maxStall(acked), latency: latency(acked, phases: h.phases),
            ackedDuringFault: ackedDuringFault, ackedWithoutOffset: acked.filter { $0.offset < 0 }.count, timeToNewLeaders: timeToNewLeaders(h), timeToBackInIsr: timeToBackInIsr(h),
            timeToTargetAnswering: timeToTargetAnswering(h),
            timeToHealed: h.restoredAt.flatMap { r in h.healedAt.map { .value($0 - r) } }
                ?? .none(h.restoredAt == nil ? "never restored" : "not healed within --recovery-timeout \(Int(p.recoveryTimeoutSeconds)) s"),
            missing: Array(missing), missingCount: missingAll.count)

        var notes: [String] = []
        if !p.replicationObservable {
            notes.append("engine \(p.engine): replication, ISR, leader election and min.insync.replicas are \(notObservable); "
                         + "this run judges what a client sees (acked writes lost, doubled or reordered; progress; the target down and back)")
        }
        if let n = h.processorNote { notes.append(n) }
        let failed = conditions.contains { $0.outcome == .fail } || h.restoreFailed
        let verdict = h.interrupted != nil ? "interrupted" : h.error != nil ? "failed" : failed ? "failed" : "passed"
        return FailoverReport(parameters: p, startedAtMs: h.startedAtMs, durationSeconds: h.endedAt, phases: h.phases,
                              conditions: conditions, figures: figures, timeline: timeline(h), faultAt: h.faultAt,
                              restoredAt: h.restoredAt, healedAt: h.healedAt, targetDuringFault: h.targetDuringFault,
                              targetAfter: h.targetAfter, restore: h.restore, connectors: h.connectors, verdict: verdict,
                              exitCode: verdict == "passed" ? 0 : 1, interrupted: h.interrupted, error: h.error, notes: notes,
                              pipeline: h.pipeline.map(PipelineFigures.init))
    }

    struct Place: Hashable, Comparable {
        var partition: Int32
        var offset: Int64
        static func < (a: Place, b: Place) -> Bool { (a.partition, a.offset) < (b.partition, b.offset) }
    }

    /// No offset regression while reading a partition, no two sequences at one offset (nor an
    /// offset holding another message than its ack said), sequences increasing with offsets, and
    /// no acked sequence skipped below one that was read.
    static func order(_ consumed: [ConsumedRecord], acked: [AckRecord]) -> Condition {
        var problems: [String] = []
        var regressions = 0, inconsistent = 0, reordered = 0, skipped = 0
        let byPartition = Dictionary(grouping: consumed, by: \.partition)
        // The broker acknowledged two messages at one offset: at most one of them is there.
        let acksAt = Dictionary(grouping: acked.filter { $0.offset >= 0 }, by: { Place(partition: $0.partition, offset: $0.offset) })
        for (place, acks) in acksAt.sorted(by: { $0.key < $1.key }) where Set(acks.map(\.sequence)).count > 1 {
            inconsistent += 1
            if problems.count < 5 {
                problems.append("partition \(place.partition) offset \(place.offset) acknowledged for seqs "
                                + acks.map { String($0.sequence) }.sorted().joined(separator: " and "))
            }
        }
        let ackAt = Dictionary(acked.map { (Place(partition: $0.partition, offset: $0.offset), $0.sequence) }, uniquingKeysWith: { a, _ in a })
        for (partition, reads) in byPartition.sorted(by: { $0.key < $1.key }) {
            var last: Int64 = -1
            var atOffset: [Int64: Int64] = [:]
            for r in reads {
                if r.offset <= last {
                    regressions += 1
                    if problems.count < 5 { problems.append("partition \(partition): offset \(r.offset) read after \(last)") }
                }
                last = max(last, r.offset)
                if let seen = atOffset[r.offset], seen != r.sequence {
                    inconsistent += 1
                    if problems.count < 5 { problems.append("partition \(partition) offset \(r.offset) held seq \(seen) and seq \(r.sequence)") }
                }
                atOffset[r.offset] = r.sequence
                if let a = ackAt[Place(partition: partition, offset: r.offset)], a != r.sequence {
                    inconsistent += 1
                    if problems.count < 5 { problems.append("partition \(partition) offset \(r.offset): acked as seq \(a), read as seq \(r.sequence)") }
                }
            }
            var previous: (Int64, Int64)?
            for (offset, seq) in atOffset.sorted(by: { $0.key < $1.key }) {
                if let (po, ps) = previous, seq <= ps {
                    reordered += 1
                    if problems.count < 5 { problems.append("partition \(partition): seq \(seq) at offset \(offset) after seq \(ps) at offset \(po)") }
                }
                previous = (offset, seq)
            }
            let readSeqs = Set(atOffset.values)
            if let highest = atOffset.values.max() {
                let skips = acked.filter { $0.partition == partition && $0.sequence < highest && !readSeqs.contains($0.sequence) }
                skipped += skips.count
                if let s = skips.first, problems.count < 5 {
                    problems.append("partition \(partition): acked seq \(s.sequence) (offset \(s.offset)) skipped, seq \(highest) was read")
                }
            }
        }
        let total = regressions + inconsistent + reordered + skipped
        return Condition(number: 3, name: "per-partition order", outcome: total == 0 ? .pass : .fail,
                         detail: total == 0 ? "in every partition offsets only grew and sequences with them, none skipped"
                             : "\(regressions) offset regression(s), \(inconsistent) inconsistent offset(s), \(reordered) reordering(s), "
                             + "\(skipped) skipped: " + problems.joined(separator: "; "))
    }

    static func healedCondition(_ h: FailoverHistory) -> Condition {
        let p = h.parameters
        guard let o = h.healed else {
            return Condition(number: 5, name: "healed", outcome: .fail, detail: "the cluster was not observed after the restore")
        }
        if let e = o.error { return Condition(number: 5, name: "healed", outcome: .fail, detail: "cannot observe the cluster: \(e)") }
        let brokers = "\(o.brokersLive) of \(o.brokersExpected) brokers answer"
        guard p.replicationObservable else {
            let ok = o.brokersLive >= o.brokersExpected
            return Condition(number: 5, name: "healed", outcome: ok ? .partial : .fail,
                             detail: brokers + "; under-replicated/under-min-ISR partitions, the target's ISR membership and the controller quorum are \(notObservable)")
        }
        var problems: [String] = []
        if o.brokersLive < o.brokersExpected { problems.append(brokers) }
        if !o.underReplicated.isEmpty { problems.append("under-replicated: " + list(o.underReplicated)) }
        if !o.underMinIsr.isEmpty { problems.append("under min ISR: " + list(o.underMinIsr)) }
        if !o.offline.isEmpty { problems.append("offline: " + list(o.offline)) }
        if !o.targetOutOfIsr.isEmpty { problems.append("\(p.target.service) not in the ISR of " + list(o.targetOutOfIsr)) }
        if !o.targetListed { problems.append("\(p.target.service) is not in the cluster's broker list (not registered with the controller)") }
        let within = h.healedAt == nil ? " within --recovery-timeout \(Int(p.recoveryTimeoutSeconds)) s" : ""
        return Condition(number: 5, name: "healed", outcome: problems.isEmpty ? .pass : .fail,
                         detail: problems.isEmpty
                             ? "\(brokers); \(o.partitions) partition(s): none under-replicated, under min ISR or offline; "
                                + "\(p.target.service) back in every ISR; controller quorum has a leader (inferred: a restarted broker is "
                                + "listed and re-added to ISRs only through the active controller)"
                             : "not healed\(within): " + problems.joined(separator: "; "))
    }

    static func pipelineCondition(_ h: FailoverHistory) -> Condition {
        var parts: [String] = []
        var failed = false
        var judged = false
        for c in h.connectors {
            guard let before = c.before else { parts.append("connector \(c.name): Kafka Connect did not answer before the fault"); continue }
            guard before == "RUNNING" else { parts.append("connector \(c.name): \(before) before the fault, not judged"); continue }
            judged = true
            if c.after == "RUNNING" { parts.append("connector \(c.name) and its tasks RUNNING afterwards") }
            else { failed = true; parts.append("connector \(c.name): \(c.after ?? "no answer from Kafka Connect") afterwards (RUNNING before)") }
        }
        if h.connectors.isEmpty { parts.append("no connector in the manifest") }
        if let before = h.processorLagBefore {
            judged = true
            let slack = max(100, before / 10)
            if let after = h.processorLagAfter, after <= before + slack {
                parts.append("processor lag \(after) after, \(before) before the fault")
            } else {
                failed = true
                parts.append("processor lag \(h.processorLagAfter.map(String.init) ?? "unknown") after recovery, \(before) before the fault")
            }
        } else if let n = h.processorNote {
            parts.append(n)
        }
        return Condition(number: 6, name: "pipeline running afterwards", outcome: failed ? .fail : judged ? .pass : .notApplicable,
                         detail: parts.joined(separator: "; "))
    }

    static func list(_ items: [String]) -> String {
        items.prefix(8).joined(separator: ", ") + (items.count > 8 ? " and \(items.count - 8) more" : "")
    }

    /// The longest gap between consecutive acknowledgements.
    static func maxStall(_ acked: [AckRecord]) -> Stall? {
        let times = acked.map(\.reportedAt).sorted()
        guard times.count > 1 else { return nil }
        var best = Stall(seconds: 0, from: times[0], to: times[0])
        for i in 1..<times.count where times[i] - times[i - 1] > best.seconds {
            best = Stall(seconds: times[i] - times[i - 1], from: times[i - 1], to: times[i])
        }
        return best
    }

    /// Ack latency (report time − send time) per phase the message was sent in.
    static func latency(_ acked: [AckRecord], phases: [PhaseSpan]) -> [PhaseLatency] {
        phases.map { span in
            let ms = acked.filter { $0.sentAt >= span.start && $0.sentAt < span.end }.map { ($0.reportedAt - $0.sentAt) * 1000 }.sorted()
            return PhaseLatency(phase: span.phase, acked: ms.count, p50Ms: percentile(ms, 0.50), p99Ms: percentile(ms, 0.99))
        }
    }

    static func percentile(_ sorted: [Double], _ q: Double) -> Double? {
        guard !sorted.isEmpty else { return nil }
        let i = min(sorted.count - 1, max(0, Int((q * Double(sorted.count)).rounded(.up)) - 1))
        return sorted[i]
    }

    static let sampling = "sampled every 0.5 s"

    /// From the fault until every partition of the test topic the target led has another live leader.
    static func timeToNewLeaders(_ h: FailoverHistory) -> Measured {
        guard h.parameters.replicationObservable else { return .notObservable }
        guard let f = h.faultAt else { return .none("the fault was never applied") }
        let target = Int32(h.parameters.target.broker)
        guard let before = h.samples.last(where: { $0.at <= f && !$0.partitions.isEmpty }) else { return .none("no metadata before the fault") }
        let led = Set(before.partitions.filter { $0.leader == target }.map(\.partition))
        guard !led.isEmpty else { return .none("\(h.parameters.target.service) led no partition of the test topic") }
        for s in h.samples where s.at >= f && !s.partitions.isEmpty {
            let moved = s.partitions.filter { led.contains($0.partition) }.allSatisfy { $0.leader >= 0 && $0.leader != target }
            if moved { return .value(s.at - f, note: "\(led.count) partition(s), \(sampling)") }
        }
        return .none("leadership of \(led.count) partition(s) did not move during the run")
    }

    /// From the restore until the target is in every ISR it belongs to and nothing is under-replicated.
    static func timeToBackInIsr(_ h: FailoverHistory) -> Measured {
        guard h.parameters.replicationObservable else { return .notObservable }
        guard let r = h.restoredAt else { return .none("never restored") }
        let target = Int32(h.parameters.target.broker)
        for s in h.samples where s.at >= r && !s.partitions.isEmpty {
            let back = s.partitions.filter { $0.replicas.contains(target) }.allSatisfy { $0.isr.contains(target) }
            if back && s.underReplicated == 0 && s.down.isEmpty { return .value(s.at - r, note: sampling) }
        }
        return .none("\(h.parameters.target.service) not back in every ISR by the end of the run")
    }

    static func timeToTargetAnswering(_ h: FailoverHistory) -> Measured {
        guard let r = h.restoredAt else { return .none("never restored") }
        for s in h.samples where s.at >= r && s.targetAnswers { return .value(s.at - r, note: sampling) }
        return .none("\(h.parameters.target.service) did not answer by the end of the run")
    }

    static func timeline(_ h: FailoverHistory) -> [TimelinePoint] {
        let seconds = max(1, Int(h.endedAt.rounded(.up)))
        var acks = [Int](repeating: 0, count: seconds + 1)
        var failures = [Int](repeating: 0, count: seconds + 1)
        for a in h.acks {
            let i = min(seconds, max(0, Int(a.reportedAt)))
            if a.acked { acks[i] += 1 } else { failures[i] += 1 }
        }
        var isr = [Int?](repeating: nil, count: seconds + 1)
        var live = [Int?](repeating: nil, count: seconds + 1)
        for s in h.samples {
            let i = min(seconds, max(0, Int(s.at)))
            if h.parameters.replicationObservable, let m = s.minLiveIsr { isr[i] = min(isr[i] ?? m, m) }
            live[i] = min(live[i] ?? s.brokersLive, s.brokersLive)
        }
        return (0...seconds).map { TimelinePoint(second: $0, acks: acks[$0], failures: failures[$0], minIsr: isr[$0], brokersLive: live[$0]) }
    }
}
