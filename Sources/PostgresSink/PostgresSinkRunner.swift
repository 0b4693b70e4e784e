import Diagnostics
import Foundation
import Kafka
import Polling
import Postgres
import Processor
import Telemetry

/// The processor's PostgreSQL loop: exactly-once the classic way (docs/postgres.md).
///
/// - Its own consumer group (`<processor.consumerGroup>.postgres`), partitions **assigned**
///   (no group rebalancing), positioned on start at the `next_offset`s stored in PostgreSQL's
///   `cdcctl_offsets` (the beginning where none is stored).
/// - Each batch is one PostgreSQL transaction: the stored offsets are locked and checked
///   against where this loop believes it is (a second writer is refused), history rows, the
///   current tables' net upserts/deletes, the touched users' statistics, quarantined records,
///   and the new offsets; COMMIT; only then the next batch is read.
/// - PostgreSQL unavailable: the same batch is sent again with backoff; nothing new is read.
/// - After COMMIT the offsets also go to the Kafka group, for lag tools only (best effort).
public final class PostgresSinkRunner: Service {
    public struct Options: Sendable {
        public var bootstrap: String
        public var group: String
        public var ordersTopic: String
        public var executionsTopic: String
        public var endpoint: PostgresEndpoint
        public var batchMaxRecords: Int
        /// Stop after this long without input (tests, backfills); nil runs until stopped.
        public var exitWhenIdleSeconds: Double?
        public var backoff = Backoff(initial: 0.2, maximum: 5)

        public init(bootstrap: String, group: String, ordersTopic: String, executionsTopic: String, endpoint: PostgresEndpoint,
                    batchMaxRecords: Int, exitWhenIdleSeconds: Double? = nil) {
            self.bootstrap = bootstrap
            self.group = group
            self.ordersTopic = ordersTopic
            self.executionsTopic = executionsTopic
            self.endpoint = endpoint
            self.batchMaxRecords = batchMaxRecords
            self.exitWhenIdleSeconds = exitWhenIdleSeconds
        }
    }

    public let name = "postgres-sink"
    let options: Options
    public let metrics = PostgresSinkMetrics()
    let log: (String) -> Void
    private var stop = StopFlag()
    private var connection: PostgresConnection?
    private var consumer: KafkaConsumer!
    /// The next offset to read per partition, as committed in PostgreSQL (nil: nothing stored).
    private var committed: [String: Int64] = [:]
    private var partitions: [(topic: String, partition: Int32)] = []
    private var batches = 0
    private var lastLagAt = Date.distantPast
    /// Test-only (`CDCCTL_FAILPOINT=pg.before-begin|pg.after-rows|pg.after-offsets|pg.after-commit[@N]`).
    private let failpoint = Failpoint.fromEnvironment("CDCCTL_FAILPOINT", prefix: "pg.", owner: "postgres-sink", unit: "batch")

    public init(options: Options, log: @escaping (String) -> Void) {
        self.options = options
        self.log = log
    }

    static func key(_ topic: String, _ partition: Int32) -> String { "\(topic)[\(partition)]" }

    public func run(until stop: StopFlag) throws {
        self.stop = stop
        let settings = KafkaSettings(bootstrap: options.bootstrap, clientId: "cdcctl-postgres-sink")
        let admin = try KafkaAdmin(settings)
        let wanted = [options.ordersTopic, options.executionsTopic]
        // A topic created moments ago may reach this broker's metadata a little later: wait briefly.
        var md = try admin.metadata()
        _ = try Poll.until(Deadline(seconds: 10), backoff: .every(0.5)) { () throws -> Bool? in
            let present = Set(md.topics.filter { $0.error == nil }.map { $0.name })
            if wanted.allSatisfy(present.contains) { return true }
            md = try admin.metadata()
            return nil
        }
        for t in wanted {
            guard let info = md.topics.first(where: { $0.name == t && $0.error == nil }) else {
                throw CdcError.invalid("input topic '\(t)' does not exist", subject: "postgres-sink",
                                       fix: "run `cdcctl topics apply` (and register the connector) first")
            }
            partitions += info.partitions.map { (t, $0.id) }.sorted { $0.1 < $1.1 }
        }
        // The offsets live in PostgreSQL: a server that is down at start-up is waited for.
        let stored = try untilAvailable("reading the stored offsets") { try self.loadOffsets() }
        committed = stored
        consumer = try KafkaConsumer(settings, group: options.group, prefetchKilobytes: 2_048)
        let starts = partitions.map { p in (topic: p.topic, partition: p.partition, offset: stored[Self.key(p.topic, p.partition)] ?? -2) }
        if stored.isEmpty {
            log("postgres-sink: no offsets stored in PostgreSQL for group \(options.group): starting at the beginning of \(partitions.count) partition(s)")
        } else {
            let text = starts.map { "\(Self.key($0.topic, $0.partition))=\($0.offset < 0 ? "beginning" : String($0.offset))" }.joined(separator: " ")
            log("postgres-sink: seeking to the offsets stored in PostgreSQL (cdcctl_offsets, group \(options.group)): \(text)")
        }
        try consumer.assign(starts)
        log("postgres-sink: writing \(options.ordersTopic) and \(options.executionsTopic) to \(options.endpoint.description), "
            + "up to \(options.batchMaxRecords) records per transaction")
        var lastInput = Date()
        while !stop.isSet {
            let records = try readBatch()
            let now = Date()
            if records.isEmpty {
                if let idle = options.exitWhenIdleSeconds, now.timeIntervalSince(lastInput) >= idle {
                    log("postgres-sink: idle for \(idle) s, stopping")
                    break
                }
                measureLag()
                continue
            }
            lastInput = now
            try write(SinkPlan(records))
            measureLag()
        }
        log("postgres-sink: stopped after \(metrics.snapshot().recordsIn) records in \(metrics.snapshot().transactions) transaction(s)")
    }

    // MARK: - Reading

    /// Up to `batchMaxRecords` records: waits (briefly) for the first, then takes what is
    /// already fetched, so a burst is one transaction and a trickle is not delayed.
    private func readBatch() throws -> [SinkChange] {
        var out: [SinkChange] = []
        while out.count < options.batchMaxRecords && !stop.isSet {
            guard let m = try consumer.poll(timeoutMs: out.isEmpty ? 200 : 0) else { break }
            let table: SinkTable = m.topic == options.ordersTopic ? .orders : .orderExecutions
            out.append(SinkDecoder.decode(table, position: RecordPosition(topic: m.topic, partition: m.partition, offset: m.offset),
                                          key: m.key, value: m.value))
        }
        metrics.add(recordsIn: out.count)
        return out
    }

    // MARK: - Writing: one transaction per batch

    private func write(_ plan: SinkPlan) throws {
        batches += 1
        var isolate = false
        var otherFailures = 0
        while true {
            do {
                let rejected = try untilAvailable("writing batch \(batches)") { try self.transaction(plan, isolate: isolate) }
                for r in plan.rejects + rejected {
                    log("postgres-sink: quarantined \(Self.key(r.position.topic, r.position.partition))@\(r.position.offset) (\(r.stage)): \(r.reason)")
                }
                break
            } catch let e as PostgresError where e.failure == .badData && !isolate {
                // One record's values were refused: send the batch again, each change behind a
                // savepoint, quarantining the ones refused.
                isolate = true
                metrics.add(retries: 1)
                log("postgres-sink: PostgreSQL refused batch \(batches) as bad data (\(e.sqlState ?? "?")): isolating the refused record(s)")
            } catch let e as PostgresError where stop.isSet {
                throw CdcError.failed("stopping while PostgreSQL cannot take batch \(batches) (\(e)); nothing is lost: the next run resumes at the offsets stored in PostgreSQL",
                                      subject: "postgres-sink")
            } catch let e as PostgresError where otherFailures < 5 {
                otherFailures += 1
                metrics.add(retries: 1)
                let wait = options.backoff.delay(after: otherFailures)
                log("postgres-sink: batch \(batches) failed (attempt \(otherFailures)), retrying in \(String(format: "%.1f", wait)) s: \(e)")
                SystemClock().sleep(wait)
            } catch let e as PostgresError {
                throw CdcError.failed("PostgreSQL refused batch \(batches): \(e)", subject: "postgres-sink",
                                      fix: "fix what the error names (schema: `cdcctl schema apply --target postgres`; privileges); the next run resumes at the offsets stored in PostgreSQL")
            }
        }
        for p in plan.nextOffsets { committed[Self.key(p.topic, p.partition)] = p.offset }
        metrics.add(transactions: 1)
        metrics.add(rows: plan.orderHistory.count, table: "orders_history")
        metrics.add(rows: plan.executionHistory.count, table: "order_executions_history")
        metrics.add(rows: plan.orderUpserts.count + plan.orderDeletes.count, table: "orders_current")
        metrics.add(rows: plan.executionUpserts.count + plan.executionDeletes.count, table: "order_executions_current")
        metrics.add(tombstones: plan.tombstones)
        failpoint?.hit("after-commit", round: batches, log: log)
        // For lag tools only: the position that counts is PostgreSQL's.
        do {
            try consumer.commit(plan.nextOffsets.map { (topic: $0.topic, partition: $0.partition, nextOffset: $0.offset) })
        } catch {
            log("postgres-sink: could not commit offsets to Kafka for lag reporting (harmless, PostgreSQL holds the position): \(error)")
        }
    }

    /// BEGIN → lock and check the stored offsets → rows → rejects → stats → offsets → COMMIT.
    /// Returns the changes refused (isolating mode) and quarantined.
    private func transaction(_ plan: SinkPlan, isolate: Bool) throws -> [SinkReject] {
        let pg = try connected()
        failpoint?.hit("before-begin", round: batches, log: log)
        do {
            let refused = try pg.transaction { pg in try write(plan, isolate: isolate, pg) }
            metrics.add(rejects: plan.rejects.count, stage: "decode")
            metrics.add(rejects: refused.count, stage: "insert")
            return refused
        } catch {
            if !pg.isHealthy { connection = nil }  // the next round connects again
            throw error
        }
    }

    /// The transaction's body (`transaction` begins, commits, and rolls back on a throw).
    private func write(_ plan: SinkPlan, isolate: Bool, _ pg: PostgresConnection) throws -> [SinkReject] {
        try fence(pg, plan)
        var refused: [SinkReject] = []
        if isolate {
            for change in plan.changes {
                let one = SinkPlan([change])
                guard one.rejects.isEmpty, one.tombstones == 0 else { continue }
                try pg.exec("SAVEPOINT change")
                do {
                    try SinkStatements.apply(one, pg)
                    try pg.exec("RELEASE SAVEPOINT change")
                } catch let e as PostgresError where e.failure == .badData {
                    try pg.exec("ROLLBACK TO SAVEPOINT change")
                    let image = (one.orderHistory + one.executionHistory).first.flatMap { $0.after ?? $0.before }
                    refused.append(SinkReject(position: change.position, stage: "insert", reason: "\(e.sqlState ?? "?"): \(e.message)",
                                              key: nil, value: image.map { Array($0.utf8) }))
                }
            }
        } else {
            try SinkStatements.apply(plan, pg)
        }
        try SinkStatements.rejects(plan.rejects + refused, pg)
        try SinkStatements.stats(plan.affectedUsers, pg)
        failpoint?.hit("after-rows", round: batches, log: log)
        try SinkStatements.offsets(group: options.group, plan.nextOffsets, pg)
        failpoint?.hit("after-offsets", round: batches, log: log)
        return refused
    }

    /// The stored offsets of the batch's partitions, locked for this transaction, must be where
    /// this loop's reading started: otherwise another writer moved them (a second processor with
    /// the same group) and this batch would be applied twice.
    private func fence(_ pg: PostgresConnection, _ plan: SinkPlan) throws {
        let rows = try pg.exec("""
            SELECT topic, partition, next_offset FROM cdcctl_offsets
            WHERE consumer_group = $1 AND topic = ANY($2::text[]) FOR UPDATE
            """, [options.group, PostgresArray.literal(Array(Set(plan.nextOffsets.map { Optional($0.topic) })))]).rows
        for r in rows {
            guard let topic = r[0], let partition = r[1].flatMap({ Int32($0) }), let stored = r[2].flatMap({ Int64($0) }) else { continue }
            let key = Self.key(topic, partition)
            guard plan.nextOffsets.contains(where: { $0.topic == topic && $0.partition == partition }) else { continue }
            if committed[key] != stored {
                throw SinkFenced(partition: key, stored: stored, expected: committed[key])
            }
        }
    }

    private func connected() throws -> PostgresConnection {
        if let c = connection, c.isHealthy { return c }
        connection = nil
        let c = try PostgresConnection(options.endpoint)
        connection = c
        return c
    }

    /// The next offset to read per partition, as `group` stored it in `cdcctl_offsets`.
    public static func storedOffsets(_ pg: PostgresConnection, group: String) throws -> [RecordPosition] {
        try pg.exec("SELECT topic, partition, next_offset FROM cdcctl_offsets WHERE consumer_group = $1", [group]).rows.compactMap { r in
            guard let t = r[0], let p = r[1].flatMap({ Int32($0) }), let o = r[2].flatMap({ Int64($0) }) else { return nil }
            return RecordPosition(topic: t, partition: p, offset: o)
        }
    }

    private func loadOffsets() throws -> [String: Int64] {
        let pg = try connected()
        do {
            return Dictionary(try Self.storedOffsets(pg, group: options.group).map { (Self.key($0.topic, $0.partition), $0.offset) },
                              uniquingKeysWith: { _, last in last })
        } catch let e as PostgresError where e.sqlState == "42P01" {
            throw CdcError.invalid("PostgreSQL \(options.endpoint.description) has no cdcctl_offsets table", subject: "postgres-sink",
                                   fix: "run `cdcctl schema apply --target postgres`")
        }
    }

    // MARK: - Waiting for PostgreSQL

    /// Runs `body` until PostgreSQL takes it: retried with backoff (`Poll.retry`, no deadline)
    /// while it is unavailable; logs once when it goes away and once when it is back.
    private func untilAvailable<T>(_ what: String, _ body: () throws -> T) throws -> T {
        var down: Date?
        let stop = self.stop
        let value = try Poll.retry(Deadline(seconds: .infinity), backoff: options.backoff,
                                   isTransient: { error in
                                       !stop.isSet && (error as? PostgresError)?.failure == .unavailable
                                   },
                                   retrying: { attempt, error in
                                       if attempt == 1 {
                                           down = Date()
                                           self.metrics.set(waiting: true)
                                           self.log("postgres-sink: PostgreSQL unavailable while \(what) (\(error)); "
                                                    + "retrying the same work with backoff, consuming nothing new")
                                       }
                                       self.connection = nil
                                       self.metrics.add(retries: 1)
                                   }, body)
        if let down {
            metrics.set(waiting: false)
            log("postgres-sink: PostgreSQL is back after \(String(format: "%.1f", Date().timeIntervalSince(down))) s; \(what) succeeded")
        }
        return value
    }

    // MARK: - Lag

    private func measureLag() {
        guard Date().timeIntervalSince(lastLagAt) >= 5 else { return }
        lastLagAt = Date()
        var total: Int64 = 0
        for p in partitions {
            guard let w = try? consumer.watermarks(topic: p.topic, partition: p.partition, timeoutMs: 1_000) else { metrics.set(lag: nil); return }
            total += max(0, w.high - (committed[Self.key(p.topic, p.partition)] ?? w.low))
        }
        metrics.set(lag: total)
    }
}

/// Another writer moved the stored offsets: this loop stops instead of applying a batch twice.
public struct SinkFenced: Error, CdcErrorConvertible {
    public var partition: String
    public var stored: Int64
    public var expected: Int64?
    public var cdcError: CdcError {
        CdcError.failed("the offset stored in PostgreSQL for \(partition) is \(stored), not \(expected.map(String.init) ?? "unset") where this loop started: "
                        + "another processor with the same group is writing", subject: "postgres-sink",
                        fix: "run one `cdcctl process run` per manifest; restart this one to resume from the stored offsets")
    }
}
