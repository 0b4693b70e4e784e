import Foundation

/// One order change as the generator wrote it: which order, and when its step began (host clock,
/// before the statement was sent: a lower bound of its commit, as `updated_at` is).
public struct WrittenChange: Sendable, Codable, Equatable {
    public var orderId: UInt64
    /// `place`, `partial`, `fill`, `cancel`, `delete`.
    public var kind: String
    public var startedAtMs: Int64
    public init(orderId: UInt64, kind: String, startedAtMs: Int64) {
        self.orderId = orderId
        self.kind = kind
        self.startedAtMs = startedAtMs
    }
}

/// One Debezium change event of the orders topic as the processor consumed it.
public struct ObservedEvent: Sendable, Codable, Equatable {
    public var partition: Int32
    public var offset: Int64
    public var orderId: UInt64
    public var op: String
    /// The after image's `updated_at` (DATETIME(3) as Debezium sends it: the wall-clock digits read
    /// as UTC), nil for a delete.
    public var updatedAtMs: Int64?
    /// The envelope's `ts_ms`: when Debezium processed the event (the Connect worker's clock).
    public var debeziumMs: Int64?
    /// `source.ts_ms`: the binlog event's time (MySQL's clock; whole seconds on MariaDB and MySQL < 8.0.1).
    public var sourceMs: Int64?
    /// The binlog coordinates that identify the change (`file:pos:row`), and the GTID if any.
    public var binlog: String
    public var gtid: String?
    /// The Kafka record timestamp (CreateTime: the Connect producer's clock when it sent it).
    public var kafkaMs: Int64?
    /// When the processor handed it to the engine (host clock).
    public var consumedMs: Int64

    public init(partition: Int32, offset: Int64, orderId: UInt64, op: String, updatedAtMs: Int64?, debeziumMs: Int64?, sourceMs: Int64?,
                binlog: String, gtid: String?, kafkaMs: Int64?, consumedMs: Int64) {
        self.partition = partition
        self.offset = offset
        self.orderId = orderId
        self.op = op
        self.updatedAtMs = updatedAtMs
        self.debeziumMs = debeziumMs
        self.sourceMs = sourceMs
        self.binlog = binlog
        self.gtid = gtid
        self.kafkaMs = kafkaMs
        self.consumedMs = consumedMs
    }
}

/// A flush ClickHouse acknowledged: `[start, end)` of one partition, at `atMs` (host clock).
public struct AcknowledgedRange: Sendable, Codable, Equatable {
    public var partition: Int32
    public var start: Int64
    public var end: Int64
    public var atMs: Int64
    public init(partition: Int32, start: Int64, end: Int64, atMs: Int64) {
        self.partition = partition
        self.start = start
        self.end = end
        self.atMs = atMs
    }
}

/// The hops of one change, in order. Each is "this hop's time − the previous hop's time".
public enum Hop: String, Sendable, Codable, CaseIterable {
    case debezium = "commit→debezium"
    case kafka = "debezium→kafka"
    case processor = "kafka→processor"
    case clickhouse = "processor→clickhouse"
    case endToEnd = "end-to-end"
}

/// One change's times at each hop (ms since the epoch; nil where the hop did not see it).
public struct ChangeTimeline: Sendable, Codable, Equatable {
    public var orderId: UInt64
    public var kind: String
    public var measured: Bool
    public var commitMs: Int64
    /// Where the commit time came from: `updated_at` (MySQL's clock) or `host` (the step began, for deletes).
    public var commitClock: String
    public var debeziumMs: Int64?
    public var kafkaMs: Int64?
    public var consumedMs: Int64?
    public var visibleMs: Int64?
    public var partition: Int32?
    public var offset: Int64?

    public func latency(_ hop: Hop) -> Double? {
        func d(_ a: Int64?, _ b: Int64?) -> Double? { guard let a, let b else { return nil }; return Double(a - b) }
        switch hop {
        case .debezium: return d(debeziumMs, commitMs)
        case .kafka: return d(kafkaMs, debeziumMs)
        case .processor: return d(consumedMs, kafkaMs)
        case .clickhouse: return d(visibleMs, consumedMs)
        case .endToEnd: return d(visibleMs, commitMs)
        }
    }
}

/// What a `bench e2e` run found (pure: computed from the writes, the events and the acknowledgements).
public struct E2EAnalysis: Sendable, Codable, Equatable {
    public struct Consistency: Sendable, Codable, Equatable {
        /// Changes the generator committed (every step changes one orders row once).
        public var committed: Int
        /// Distinct changes (binlog coordinates) seen in Kafka, consumed by the processor, and
        /// confirmed in ClickHouse (`cdc_orders_raw` rows at their offsets).
        public var inKafka: Int
        public var consumed: Int
        public var inClickHouse: Int
        /// The same change at two offsets, or one offset in ClickHouse twice.
        public var duplicatesInKafka: Int
        public var duplicatesInClickHouse: Int
        /// Orders whose events do not match their steps one for one (missing or extra).
        public var mismatchedOrders: Int
        /// Committed but not in ClickHouse after the drain (must be 0).
        public var notArrived: Int
        /// The first hop a not-arrived change is missing at, counted.
        public var missingAt: [String: Int]
        /// inClickHouse / committed, 100 = every change exactly once.
        public var percent: Double
    }

    public var consistency: Consistency
    public var hops: [String: Percentiles.Summary]
    /// Changes committed in the measured window (after the warm-up).
    public var measuredChanges: Int
    /// Measured changes that reached ClickHouse per second of the measured window.
    public var throughputPerSecond: Double
    /// Hop latencies below zero (clock differences), per hop; they are kept in the figures.
    public var negative: [String: Int]
    public var timelines: [ChangeTimeline]
}

public enum E2EAnalyzer {
    /// Pairs each order's k-th written change with its k-th event (one partition per order, in
    /// offset order), takes each event's acknowledgement from the flush that covered its offset,
    /// and counts every change at every hop.
    /// - Parameters:
    ///   - tzOffsetMs: MySQL's session time zone minus UTC (`NOW() − UTC_TIMESTAMP()`): Debezium
    ///     reads DATETIME digits as UTC, so `updated_at − tzOffset` is the real instant.
    ///   - confirmed: (partition, offset) → rows found in ClickHouse's raw table.
    public static func analyze(writes: [WrittenChange], events: [ObservedEvent], acknowledged: [AcknowledgedRange],
                               confirmed: [PartitionOffset: Int], measureFromMs: Int64, measureToMs: Int64,
                               tzOffsetMs: Int64 = 0) -> E2EAnalysis {
        // Events of this run's orders only (other writers may share the topic), first sighting of each offset.
        let ours = Set(writes.map(\.orderId))
        var seenOffsets = Set<PartitionOffset>()
        var byOrder: [UInt64: [ObservedEvent]] = [:]
        var binlogs: [String: Int] = [:]
        for e in events where ours.contains(e.orderId) {
            let at = PartitionOffset(partition: e.partition, offset: e.offset)
            guard seenOffsets.insert(at).inserted else { continue }
            byOrder[e.orderId, default: []].append(e)
            binlogs[e.binlog, default: 0] += 1
        }
        let acks = Dictionary(grouping: acknowledged, by: \.partition).mapValues { $0.sorted { $0.atMs < $1.atMs } }
        func ackTime(_ p: Int32, _ o: Int64) -> Int64? { acks[p]?.first { $0.start <= o && o < $0.end }?.atMs }

        var timelines: [ChangeTimeline] = []
        var mismatched = 0
        var writesByOrder: [UInt64: [WrittenChange]] = [:]
        for w in writes { writesByOrder[w.orderId, default: []].append(w) }
        for (order, ws) in writesByOrder {
            let es = (byOrder[order] ?? []).sorted { $0.offset < $1.offset }
            if es.count != ws.count { mismatched += 1 }
            for (k, w) in ws.enumerated() {
                let e = k < es.count ? es[k] : nil
                let fromMySQL = e?.updatedAtMs.map { $0 - tzOffsetMs }
                var t = ChangeTimeline(orderId: order, kind: w.kind, measured: w.startedAtMs >= measureFromMs && w.startedAtMs <= measureToMs,
                                       commitMs: fromMySQL ?? w.startedAtMs, commitClock: fromMySQL == nil ? "host" : "updated_at")
                if let e {
                    t.debeziumMs = e.debeziumMs
                    t.kafkaMs = e.kafkaMs
                    t.consumedMs = e.consumedMs
                    t.partition = e.partition
                    t.offset = e.offset
                    let at = PartitionOffset(partition: e.partition, offset: e.offset)
                    if (confirmed[at] ?? 0) > 0 { t.visibleMs = ackTime(e.partition, e.offset) }
                }
                timelines.append(t)
            }
        }
        timelines.sort { ($0.commitMs, $0.orderId) < ($1.commitMs, $1.orderId) }

        var missingAt: [String: Int] = [:]
        for t in timelines where t.visibleMs == nil {
            let hop = t.kafkaMs == nil && t.debeziumMs == nil && t.consumedMs == nil ? "not consumed (Kafka or processor)"
                : t.consumedMs == nil ? "processor" : "clickhouse"
            missingAt[hop, default: 0] += 1
        }
        let inKafka = timelines.filter { $0.consumedMs != nil }.count
        let inClickHouse = timelines.filter { $0.visibleMs != nil }.count
        let ourOffsets = Set(byOrder.values.flatMap { $0.map { PartitionOffset(partition: $0.partition, offset: $0.offset) } })
        let consistency = E2EAnalysis.Consistency(
            committed: writes.count, inKafka: inKafka, consumed: inKafka, inClickHouse: inClickHouse,
            duplicatesInKafka: binlogs.values.reduce(0) { $0 + max(0, $1 - 1) },
            duplicatesInClickHouse: ourOffsets.reduce(0) { $0 + max(0, (confirmed[$1] ?? 0) - 1) },
            mismatchedOrders: mismatched, notArrived: writes.count - inClickHouse, missingAt: missingAt,
            percent: writes.isEmpty ? 0 : 100 * Double(inClickHouse) / Double(writes.count))

        let measured = timelines.filter(\.measured)
        var hops: [String: Percentiles.Summary] = [:]
        var negative: [String: Int] = [:]
        for hop in Hop.allCases {
            let values = measured.compactMap { $0.latency(hop) }
            if let s = Percentiles.summary(values) { hops[hop.rawValue] = s }
            let n = values.filter { $0 < 0 }.count
            if n > 0 { negative[hop.rawValue] = n }
        }
        let seconds = max(0.001, Double(measureToMs - measureFromMs) / 1000)
        let visibleMeasured = measured.filter { $0.visibleMs != nil }.count
        return E2EAnalysis(consistency: consistency, hops: hops, measuredChanges: measured.count,
                           throughputPerSecond: Double(visibleMeasured) / seconds, negative: negative, timelines: timelines)
    }
}

public struct PartitionOffset: Hashable, Sendable, Codable {
    public var partition: Int32
    public var offset: Int64
    public init(partition: Int32, offset: Int64) {
        self.partition = partition
        self.offset = offset
    }
}

/// The verdict against the manifest's `bench.e2e` targets: every change arrived exactly once,
/// end-to-end p99 ≤ p99Ms, throughput ≥ minRate. Each missed target is named.
public enum E2EVerdict {
    public static func judge(_ a: E2EAnalysis, p99Ms: Int, minRate: Double, requestedRate: Double) -> [String] {
        var missed: [String] = []
        let c = a.consistency
        if c.notArrived > 0 || c.duplicatesInKafka > 0 || c.duplicatesInClickHouse > 0 || c.mismatchedOrders > 0 {
            missed.append("consistency: \(c.inClickHouse)/\(c.committed) changes in ClickHouse (\(c.notArrived) not arrived"
                          + (c.missingAt.isEmpty ? "" : ", first missing at " + c.missingAt.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", "))
                          + "; \(c.duplicatesInKafka) duplicated in Kafka, \(c.duplicatesInClickHouse) in ClickHouse, \(c.mismatchedOrders) orders mismatched)")
        }
        if let e2e = a.hops[Hop.endToEnd.rawValue] {
            if e2e.p99 > Double(p99Ms) { missed.append(String(format: "bench.e2e.p99Ms: end-to-end p99 %.0f ms > %d ms", e2e.p99, p99Ms)) }
        } else {
            missed.append("bench.e2e.p99Ms: no change reached ClickHouse in the measured window")
        }
        if a.throughputPerSecond < minRate {
            missed.append(String(format: "bench.e2e.minRate: %.0f changes/s reached ClickHouse < %.0f", a.throughputPerSecond, minRate)
                          + (requestedRate < minRate ? String(format: " (the run asked for only %.0f/s: use --rate ≥ %.0f)", requestedRate, minRate) : ""))
        }
        return missed
    }
}
