import Foundation
import Synchronization

/// The PostgreSQL loop's counters, appended to the processor's /metrics.
public final class PostgresSinkMetrics: Sendable {
    public struct Snapshot: Sendable, Equatable {
        public var recordsIn: UInt64 = 0
        /// Rows written (inserted, upserted or deleted) by table.
        public var rowsWritten: [String: UInt64] = [:]
        public var transactions: UInt64 = 0
        /// Transactions sent again because PostgreSQL was unavailable (or refused the batch).
        public var retries: UInt64 = 0
        public var rejects: [String: UInt64] = [:]
        public var tombstones: UInt64 = 0
        /// Records behind the partitions' high watermarks (sum), when last measured.
        public var lagRecords: Int64?
        /// 1 while PostgreSQL is unavailable and the loop is waiting for it.
        public var waiting = false
        /// When the first record was read and the last transaction committed (monotonic ns), for `bench postgres`.
        public var firstRecordNs: UInt64?
        public var lastCommitNs: UInt64?
    }

    private let s = Mutex(Snapshot())
    public init() {}
    public func snapshot() -> Snapshot { s.withLock { $0 } }

    func add(recordsIn n: Int) {
        guard n > 0 else { return }
        let now = DispatchTime.now().uptimeNanoseconds
        s.withLock { $0.recordsIn += UInt64(n); if $0.firstRecordNs == nil { $0.firstRecordNs = now } }
    }
    func add(rows n: Int, table: String) { s.withLock { $0.rowsWritten[table, default: 0] += UInt64(n) } }
    func add(transactions n: Int) {
        let now = DispatchTime.now().uptimeNanoseconds
        s.withLock { $0.transactions += UInt64(n); $0.lastCommitNs = now }
    }
    func add(retries n: Int) { s.withLock { $0.retries += UInt64(n) } }
    func add(rejects n: Int, stage: String) { s.withLock { $0.rejects[stage, default: 0] += UInt64(n) } }
    func add(tombstones n: Int) { s.withLock { $0.tombstones += UInt64(n) } }
    func set(lag: Int64?) { s.withLock { $0.lagRecords = lag } }
    func set(waiting: Bool) { s.withLock { $0.waiting = waiting } }

    /// Prometheus exposition format.
    public func render() -> String {
        let s = snapshot()
        var out = ""
        func counter(_ name: String, _ help: String, _ value: UInt64) {
            out += "# HELP \(name) \(help)\n# TYPE \(name) counter\n\(name) \(value)\n"
        }
        counter("cdcctl_postgres_sink_records_in_total", "Records the PostgreSQL loop consumed from Kafka.", s.recordsIn)
        counter("cdcctl_postgres_sink_transactions_total", "Batches committed to PostgreSQL (rows and offsets in one transaction).", s.transactions)
        counter("cdcctl_postgres_sink_retries_total", "Batch transactions sent again (PostgreSQL unavailable or refusing the batch).", s.retries)
        counter("cdcctl_postgres_sink_tombstones_total", "Debezium tombstones consumed (nothing to write).", s.tombstones)
        out += "# HELP cdcctl_postgres_sink_rows_total Rows written to PostgreSQL, by table.\n# TYPE cdcctl_postgres_sink_rows_total counter\n"
        for table in s.rowsWritten.keys.sorted() { out += "cdcctl_postgres_sink_rows_total{table=\"\(table)\"} \(s.rowsWritten[table]!)\n" }
        out += "# HELP cdcctl_postgres_sink_rejects_total Records quarantined in sink_rejects, by stage.\n# TYPE cdcctl_postgres_sink_rejects_total counter\n"
        for stage in ["decode", "insert"] { out += "cdcctl_postgres_sink_rejects_total{stage=\"\(stage)\"} \(s.rejects[stage] ?? 0)\n" }
        out += "# HELP cdcctl_postgres_sink_waiting 1 while PostgreSQL is unavailable and the loop consumes nothing new.\n"
        out += "# TYPE cdcctl_postgres_sink_waiting gauge\ncdcctl_postgres_sink_waiting \(s.waiting ? 1 : 0)\n"
        if let lag = s.lagRecords {
            out += "# HELP cdcctl_postgres_sink_lag_records Records between the stored offsets and the partitions' high watermarks.\n"
            out += "# TYPE cdcctl_postgres_sink_lag_records gauge\ncdcctl_postgres_sink_lag_records \(lag)\n"
        }
        return out
    }
}
