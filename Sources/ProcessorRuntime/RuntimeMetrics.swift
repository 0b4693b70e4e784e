import Foundation
import Processor
import Synchronization

/// The processor's counters, served as Prometheus text on /metrics.
public final class RuntimeMetrics: Sendable {
    public struct Snapshot: Sendable {
        public var eventsIn: UInt64 = 0
        public var malformed: UInt64 = 0
        public var rowsOut: [String: UInt64] = [:]
        public var sinkErrors: UInt64 = 0
        /// Quarantined records and rows (`processor_rejects`) by stage.
        public var rejects: [String: UInt64] = [:]
        public var batches: UInt64 = 0
        public var batchSecondsSum: Double = 0
        /// Cumulative counts per upper bound, Prometheus histogram style.
        public var batchBuckets: [Double: UInt64] = [:]
        public var engine: ProcessorMetrics?
        /// How a restart finds its place (`kafka-commit-metadata` or `clickhouse-checkpoints`).
        public var recoveryMode: String?
        /// Flushes by what triggered them (`drained`, `full`, `timer`; FlushPolicy).
        public var flushReasons: [String: UInt64] = [:]
        /// Kafka timestamps (ms) of the newest record consumed, and of the newest whose rows
        /// ClickHouse acknowledged: `cdcctl_freshness_seconds{hop}` is the age of each.
        public var newestConsumedMs: Int64?
        public var newestAcknowledgedMs: Int64?
        /// Debezium `source.ts_ms` (the source's commit time) of the newest CDC change whose rows
        /// ClickHouse acknowledged: `{hop="source"}`, how far ClickHouse is behind the database.
        public var newestSourceCommitMs: Int64?
    }

    static let bounds: [Double] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]
    private let s = Mutex(Snapshot())

    public init() {}

    public func snapshot() -> Snapshot { s.withLock { $0 } }

    func add(eventsIn n: UInt64) { s.withLock { $0.eventsIn += n } }
    func add(malformed n: UInt64) { s.withLock { $0.malformed += n } }
    func add(sinkErrors n: UInt64) { s.withLock { $0.sinkErrors += n } }
    func add(rowsOut n: Int, table: String) { s.withLock { $0.rowsOut[table, default: 0] += UInt64(n) } }
    func add(rejects n: Int, stage: String) { s.withLock { $0.rejects[stage, default: 0] += UInt64(n) } }
    public func observe(consumedTimestampMs ms: Int64) { s.withLock { $0.newestConsumedMs = max($0.newestConsumedMs ?? ms, ms) } }
    public func observe(acknowledgedTimestampMs ms: Int64) { s.withLock { $0.newestAcknowledgedMs = max($0.newestAcknowledgedMs ?? ms, ms) } }
    public func observe(sourceCommitAcknowledgedMs ms: Int64) { s.withLock { $0.newestSourceCommitMs = max($0.newestSourceCommitMs ?? ms, ms) } }
    func add(flushReason reason: String) { s.withLock { $0.flushReasons[reason, default: 0] += 1 } }
    func set(engine m: ProcessorMetrics) { s.withLock { $0.engine = m } }
    func set(recoveryMode mode: String) { s.withLock { $0.recoveryMode = mode } }

    func observeBatch(seconds: Double) {
        s.withLock { s in
            s.batches += 1
            s.batchSecondsSum += seconds
            for b in Self.bounds where seconds <= b { s.batchBuckets[b, default: 0] += 1 }
        }
    }

    /// Prometheus exposition format, names as the alert rules and dashboard use them.
    public func render(nowMs: Int64 = Int64((Date().timeIntervalSince1970 * 1000).rounded())) -> String {
        let s = snapshot()
        var out = ""
        func counter(_ name: String, _ help: String, _ value: UInt64, labels: String = "") {
            out += "# HELP \(name) \(help)\n# TYPE \(name) counter\n\(name)\(labels) \(value)\n"
        }
        counter("cdcctl_processor_events_in_total", "Records consumed from Kafka.", s.eventsIn)
        counter("cdcctl_processor_malformed_total", "Records that could not be decoded (quarantined).", s.malformed)
        counter("cdcctl_processor_sink_errors_total", "Failed ClickHouse inserts (each retried or isolated).", s.sinkErrors)
        counter("cdcctl_processor_late_events_dropped_total", "Trades later than the allowed lateness.", s.engine?.lateEventsDropped ?? 0)
        counter("cdcctl_processor_late_events_updated_total", "Late trades that re-emitted their window.", s.engine?.lateEventsUpdated ?? 0)
        counter("cdcctl_processor_future_events_total", "Trades too far ahead of their Kafka timestamp (quarantined).",
                s.engine?.futureEventsRejected ?? 0)
        counter("cdcctl_processor_aggregate_overflows_total", "Trades left out of their window: the sums would not fit.",
                s.engine?.aggregateOverflows ?? 0)
        counter("cdcctl_processor_idle_windows_total", "Windows written by the idle rule or at a stop.", s.engine?.idleWindowsEmitted ?? 0)
        counter("cdcctl_processor_alerts_total", "Anomaly alerts emitted.", s.engine?.alerts ?? 0)
        out += "# HELP cdcctl_processor_rejects_total Records and rows quarantined in processor_rejects, by stage.\n# TYPE cdcctl_processor_rejects_total counter\n"
        for stage in ["decode", "future", "aggregate", "insert"] {
            out += "cdcctl_processor_rejects_total{stage=\"\(stage)\"} \(s.rejects[stage] ?? 0)\n"
        }
        out += "# HELP cdcctl_processor_rows_out_total Rows acknowledged by ClickHouse.\n# TYPE cdcctl_processor_rows_out_total counter\n"
        for table in s.rowsOut.keys.sorted() { out += "cdcctl_processor_rows_out_total{table=\"\(table)\"} \(s.rowsOut[table]!)\n" }
        out += "# HELP cdcctl_processor_flushes_total Flushes by trigger: drained (nothing more to read), full, timer.\n# TYPE cdcctl_processor_flushes_total counter\n"
        for reason in ["drained", "full", "timer"] {
            out += "cdcctl_processor_flushes_total{reason=\"\(reason)\"} \(s.flushReasons[reason] ?? 0)\n"
        }
        // Age of the newest change seen at each hop the processor sees: `kafka` = consumed from
        // Kafka and `clickhouse` = acknowledged by ClickHouse (both from the record's Kafka
        // timestamp), `source` = the source commit (Debezium source.ts_ms) of the newest CDC
        // change ClickHouse acknowledged, i.e. the whole pipeline's lag behind MySQL while changes
        // flow. Absent until seen; idle tables are the monitor's (heartbeats, cdcctl_cdc_freshness_seconds).
        if s.newestConsumedMs != nil || s.newestAcknowledgedMs != nil || s.newestSourceCommitMs != nil {
            out += "# HELP cdcctl_freshness_seconds Age of the newest change seen at each hop (kafka, clickhouse: its Kafka timestamp; source: its source commit).\n# TYPE cdcctl_freshness_seconds gauge\n"
            for (hop, ms) in [("source", s.newestSourceCommitMs), ("kafka", s.newestConsumedMs), ("clickhouse", s.newestAcknowledgedMs)] {
                guard let ms else { continue }
                out += "cdcctl_freshness_seconds{hop=\"\(hop)\"} \(String(format: "%.3f", max(0, Double(nowMs - ms) / 1000)))\n"
            }
        }
        if let mode = s.recoveryMode {
            out += "# HELP cdcctl_processor_recovery_mode Where restarts find the unacknowledged flush (1 = in force).\n"
            out += "# TYPE cdcctl_processor_recovery_mode gauge\ncdcctl_processor_recovery_mode{mode=\"\(mode)\"} 1\n"
        }
        out += "# HELP cdcctl_processor_batch_latency_seconds Flush time: pend commit, inserts, commit.\n"
        out += "# TYPE cdcctl_processor_batch_latency_seconds histogram\n"
        for b in Self.bounds { out += "cdcctl_processor_batch_latency_seconds_bucket{le=\"\(b)\"} \(s.batchBuckets[b] ?? 0)\n" }
        out += "cdcctl_processor_batch_latency_seconds_bucket{le=\"+Inf\"} \(s.batches)\n"
        out += "cdcctl_processor_batch_latency_seconds_sum \(s.batchSecondsSum)\ncdcctl_processor_batch_latency_seconds_count \(s.batches)\n"
        return out
    }
}
