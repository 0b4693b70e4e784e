import Diagnostics
import Foundation

/// How the target broker is taken down, each through the `Runtime` protocol.
public enum FaultMode: String, Sendable, Codable, CaseIterable {
    /// SIGKILL: a hard bounce (the default).
    case kill
    /// A clean shutdown (SIGTERM, then the engine's timeout).
    case stop
    /// A frozen process: the broker still accepts TCP connections and answers nothing.
    case pause
    /// A network partition: the container is cut off the project's networks.
    case disconnect

    /// What brings the target back.
    public var restoreAction: String {
        switch self {
        case .kill, .stop: "start"
        case .pause: "unpause"
        case .disconnect: "reconnect"
        }
    }
}

/// `broker-N` or `kafka-N`, resolved against the manifest.
public struct FailoverTarget: Sendable, Codable, Equatable {
    /// As the user wrote it.
    public var name: String
    /// The compose service: `kafka-N`.
    public var service: String
    /// N: the node id of the brokers cdcctl renders (`engine: kafka`).
    public var broker: Int

    /// Exit 2 with the valid names for anything else.
    public static func resolve(_ name: String, brokers: Int) throws -> FailoverTarget {
        let valid = (1...max(brokers, 1)).map { "broker-\($0)" }
        for prefix in ["broker-", "kafka-"] where name.hasPrefix(prefix) {
            if let n = Int(name.dropFirst(prefix.count)), n >= 1, n <= brokers, String(n) == String(name.dropFirst(prefix.count)) {
                return FailoverTarget(name: name, service: "kafka-\(n)", broker: n)
            }
        }
        throw CdcError.invalid("'\(name)' is not a broker of this cluster", subject: "failover-test target",
                               fix: "name one of \(valid.joined(separator: ", ")) (or kafka-1…kafka-\(brokers), the compose services)")
    }
}

public struct FailoverParameters: Sendable, Codable, Equatable {
    public var target: FailoverTarget
    public var mode: FaultMode
    public var ratePerSecond: Int
    public var warmupSeconds: Double
    public var faultSeconds: Double
    public var recoveryTimeoutSeconds: Double
    public var partitions: Int
    public var topic: String
    public var force: Bool
    /// `kafka` or `tansu` (the testbed's stand-in: no replication, ISR or leader election).
    public var engine: String
    /// `--through-pipeline`: the order generator writes to MySQL during the whole run and every
    /// change is followed to ClickHouse (condition 7).
    public var throughPipeline: Bool = false

    public init(target: FailoverTarget, mode: FaultMode = .kill, ratePerSecond: Int = 1000, warmupSeconds: Double = 20,
                faultSeconds: Double = 30, recoveryTimeoutSeconds: Double = 120, partitions: Int = 6,
                topic: String = FailoverParameters.defaultTopic, force: Bool = false, engine: String = "kafka") {
        self.target = target
        self.mode = mode
        self.ratePerSecond = ratePerSecond
        self.warmupSeconds = warmupSeconds
        self.faultSeconds = faultSeconds
        self.recoveryTimeoutSeconds = recoveryTimeoutSeconds
        self.partitions = partitions
        self.topic = topic
        self.force = force
        self.engine = engine
    }

    public static let defaultTopic = "_cdcctl_failover"
    public static let replicationFactor = 3
    public static let minInsyncReplicas = 2

    /// Only Apache Kafka shows replicas, ISR and leaders that mean something.
    public var replicationObservable: Bool { engine != "tansu" }

    /// The most messages a run sends: the rate over every phase that produces (bounded).
    public var maxMessages: Int64 {
        Int64(Double(ratePerSecond) * (warmupSeconds + faultSeconds + recoveryTimeoutSeconds + 10))
    }

    /// librdkafka's delivery.timeout.ms: longer than the fault window and the recovery after it,
    /// so a message waiting for a new leader is retried, not failed.
    public var deliveryTimeoutMs: Int { Int((faultSeconds + recoveryTimeoutSeconds + 30) * 1000) }

    /// The bound of the drain phase (the consumer reaching the last acked offset of every partition).
    public var drainTimeoutSeconds: Double { max(30, recoveryTimeoutSeconds / 2) }

    /// Acks needed during the fault to call it progress (Redpanda's chaos harness asks 100).
    public var progressThreshold: Int { max(1, min(100, Int(Double(ratePerSecond) * faultSeconds * 0.1))) }
}

public enum Phase: String, Sendable, Codable, CaseIterable {
    case steady, fault, restore, recovery, drain
}

/// One phase, in seconds since the run started.
public struct PhaseSpan: Sendable, Codable, Equatable {
    public var phase: Phase
    public var start: Double
    public var end: Double
    public var note: String?

    public init(phase: Phase, start: Double, end: Double, note: String? = nil) {
        self.phase = phase
        self.start = start
        self.end = end
        self.note = note
    }
}

/// What the broker said about one sent message (times in seconds since the run started).
public struct AckRecord: Sendable, Equatable {
    public var sequence: Int64
    public var partition: Int32
    public var offset: Int64
    public var sentAt: Double
    public var reportedAt: Double
    /// librdkafka's error name when the send failed (indeterminate, not lost); nil when acknowledged.
    public var error: String?

    public init(sequence: Int64, partition: Int32, offset: Int64, sentAt: Double, reportedAt: Double, error: String? = nil) {
        self.sequence = sequence
        self.partition = partition
        self.offset = offset
        self.sentAt = sentAt
        self.reportedAt = reportedAt
        self.error = error
    }

    public var acked: Bool { error == nil }
}

/// One message of this run as the consumer read it, in the order read.
public struct ConsumedRecord: Sendable, Equatable {
    public var sequence: Int64
    public var partition: Int32
    public var offset: Int64
    public var at: Double

    public init(sequence: Int64, partition: Int32, offset: Int64, at: Double) {
        self.sequence = sequence
        self.partition = partition
        self.offset = offset
        self.at = at
    }
}

public struct PartitionSample: Sendable, Codable, Equatable {
    public var partition: Int32
    public var leader: Int32
    public var replicas: [Int32]
    public var isr: [Int32]

    public init(partition: Int32, leader: Int32, replicas: [Int32], isr: [Int32]) {
        self.partition = partition
        self.leader = leader
        self.replicas = replicas
        self.isr = isr
    }
}

/// The cluster as seen at one moment: brokers answering, and the test topic's partitions.
public struct ClusterSample: Sendable, Codable, Equatable {
    public var at: Double
    public var brokersLive: Int
    public var targetAnswers: Bool
    /// The test topic's partitions (leader, replicas, ISR); empty when metadata did not answer.
    public var partitions: [PartitionSample]
    /// Brokers that are down (node ids; Apache Kafka only).
    public var down: [Int32]
    public var error: String?

    public init(at: Double, brokersLive: Int, targetAnswers: Bool, partitions: [PartitionSample], down: [Int32] = [], error: String? = nil) {
        self.at = at
        self.brokersLive = brokersLive
        self.targetAnswers = targetAnswers
        self.partitions = partitions
        self.down = down
        self.error = error
    }

    /// The smallest live ISR of the test topic's partitions (down members not counted).
    public var minLiveIsr: Int? {
        partitions.map { p in p.isr.filter { !down.contains($0) }.count }.min()
    }

    public var underReplicated: Int {
        partitions.filter { p in p.isr.filter { !down.contains($0) }.count < p.replicas.count }.count
    }
}

/// The cluster after recovery, judged over every partition health sees (the manifest's topics,
/// the internal ones and the test topic).
public struct HealedObservation: Sendable, Codable, Equatable {
    public var brokersLive: Int
    public var brokersExpected: Int
    public var partitions: Int
    public var underReplicated: [String]
    public var underMinIsr: [String]
    public var offline: [String]
    /// Partitions with the target among their replicas but not in their ISR.
    public var targetOutOfIsr: [String]
    /// The target is listed by the cluster's metadata again (a restarted KRaft broker is listed
    /// only after the active controller accepted its registration).
    public var targetListed: Bool
    public var error: String?

    public init(brokersLive: Int, brokersExpected: Int, partitions: Int = 0, underReplicated: [String] = [], underMinIsr: [String] = [],
                offline: [String] = [], targetOutOfIsr: [String] = [], targetListed: Bool = true, error: String? = nil) {
        self.brokersLive = brokersLive
        self.brokersExpected = brokersExpected
        self.partitions = partitions
        self.underReplicated = underReplicated
        self.underMinIsr = underMinIsr
        self.offline = offline
        self.targetOutOfIsr = targetOutOfIsr
        self.targetListed = targetListed
        self.error = error
    }

    /// Every broker answers, no partition under-replicated, under min ISR or offline, the target
    /// in every ISR it belongs to. With `replication` false (Tansu) only the brokers count.
    public func healed(replication: Bool) -> Bool {
        guard error == nil, brokersLive >= brokersExpected else { return false }
        guard replication else { return true }
        return underReplicated.isEmpty && underMinIsr.isEmpty && offline.isEmpty && targetOutOfIsr.isEmpty && targetListed
    }
}

/// A Debezium connector's state before the fault and after recovery.
public struct ConnectorObservation: Sendable, Codable, Equatable {
    public var name: String
    /// `RUNNING`, `FAILED`, …, `NOT REGISTERED`, or nil when Kafka Connect did not answer.
    public var before: String?
    public var after: String?

    public init(name: String, before: String?, after: String?) {
        self.name = name
        self.before = before
        self.after = after
    }
}

/// Everything one run observed, in seconds since it started: the input of the verdict.
public struct FailoverHistory: Sendable {
    public var parameters: FailoverParameters
    public var startedAtMs: Int64
    public var phases: [PhaseSpan]
    public var acks: [AckRecord]
    public var consumed: [ConsumedRecord]
    public var sent: Int64
    public var samples: [ClusterSample]
    /// When the fault was applied and when the target was restored (nil: never got there).
    public var faultAt: Double?
    public var restoredAt: Double?
    /// When the recovery condition first held (nil: not within --recovery-timeout).
    public var healedAt: Double?
    public var healed: HealedObservation?
    /// The target as the engine showed it during the fault and after the restore.
    public var targetDuringFault: String?
    public var targetAfter: String?
    /// What restored the target (`start kafka-2`), or why it could not be.
    public var restore: String?
    public var restoreFailed: Bool
    public var connectors: [ConnectorObservation]
    /// The processor's consumer-group lag before the fault and after recovery (nil: not measured).
    public var processorLagBefore: Int64?
    public var processorLagAfter: Int64?
    public var processorNote: String?
    /// `SIGINT`/`SIGTERM` when the run was interrupted.
    public var interrupted: String?
    /// The error that ended the run early.
    public var error: String?
    public var endedAt: Double
    /// `--through-pipeline`: MySQL against ClickHouse after the processor caught up.
    public var pipeline: PipelineObservation?

    public init(parameters: FailoverParameters, startedAtMs: Int64 = 0, phases: [PhaseSpan] = [], acks: [AckRecord] = [],
                consumed: [ConsumedRecord] = [], sent: Int64 = 0, samples: [ClusterSample] = [], faultAt: Double? = nil,
                restoredAt: Double? = nil, healedAt: Double? = nil, healed: HealedObservation? = nil, targetDuringFault: String? = nil,
                targetAfter: String? = nil, restore: String? = nil, restoreFailed: Bool = false, connectors: [ConnectorObservation] = [],
                processorLagBefore: Int64? = nil, processorLagAfter: Int64? = nil, processorNote: String? = nil,
                interrupted: String? = nil, error: String? = nil, endedAt: Double = 0) {
        self.parameters = parameters
        self.startedAtMs = startedAtMs
        self.phases = phases
        self.acks = acks
        self.consumed = consumed
        self.sent = sent
        self.samples = samples
        self.faultAt = faultAt
        self.restoredAt = restoredAt
        self.healedAt = healedAt
        self.healed = healed
        self.targetDuringFault = targetDuringFault
        self.targetAfter = targetAfter
        self.restore = restore
        self.restoreFailed = restoreFailed
        self.connectors = connectors
        self.processorLagBefore = processorLagBefore
        self.processorLagAfter = processorLagAfter
        self.processorNote = processorNote
        self.interrupted = interrupted
        self.error = error
        self.endedAt = endedAt
    }
}
