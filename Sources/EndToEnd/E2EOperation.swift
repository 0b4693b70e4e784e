import ClickHouse
import Diagnostics
import Foundation
import Kafka
import Manifest
import MySQL
import OperationsCore
import Polling
import Processor
import ProcessorRuntime
import Producers
import Synchronization
import Telemetry

/// `cdcctl bench e2e`: drives the order generator into MySQL on the running cluster and times
/// every change at every hop, with a processor of its own on the orders topic (own consumer
/// group, starting at the topic's end, writing to the manifest's ClickHouse database).
///
/// How each clock is read (all on the host in the testbed and in `cdcctl up`'s containers,
/// which share the host's kernel clock; on separate machines their NTP offsets add in):
/// - commit: the row's `updated_at` (DATETIME(3), MySQL's clock at the statement, just before
///   COMMIT), corrected for MySQL's session time zone; deletes carry no new `updated_at`, so
///   theirs is the generator's host clock when the step began. Both are read before COMMIT, so
///   no hop from them can be negative (COMMIT returning is later than Debezium may see the
///   change: taking it made a delete look 1–11 ms "before" its commit).
/// - Debezium: the envelope's `ts_ms` (the Connect worker's JVM clock when the task read it).
/// - Kafka: the record's timestamp (CreateTime: the Connect producer's clock when it sent it;
///   LogAppendTime would make it the broker's).
/// - processor: the host clock when the record was handed to the engine.
/// - ClickHouse: the host clock when ClickHouse acknowledged the flush's inserts — confirmed
///   after the run by a query of `cdc_orders_raw` for every change's (partition, offset).
public enum E2EBench {
    public struct Options: Sendable {
        public var rate: Double
        public var durationSeconds: Double
        public var warmupSeconds: Double
        public var drainSeconds: Double
        public var createUser: Bool
        public var seed: UInt64
        /// Measure the processor as it flushed before issue 18 (timer only), for before/after figures.
        public var flushTimerOnly = false
        public init(rate: Double, durationSeconds: Double, warmupSeconds: Double, drainSeconds: Double = 60, createUser: Bool = false,
                    seed: UInt64 = 1) {
            self.rate = rate
            self.durationSeconds = durationSeconds
            self.warmupSeconds = warmupSeconds
            self.drainSeconds = drainSeconds
            self.createUser = createUser
            self.seed = seed
        }
    }

    public struct Clocks: Sendable, Codable, Equatable {
        /// MySQL's session time zone minus UTC.
        public var mysqlTimeZoneOffsetMs: Int64
        /// MySQL's clock minus the host's, measured once (± half the query's round trip).
        public var mysqlSkewMs: Int64
        public var mysqlRoundTripMs: Int64
        public var note: String
    }

    public struct Result: Sendable, Codable {
        public var rate: Double
        public var durationSeconds: Double
        public var warmupSeconds: Double
        public var topic: String
        public var group: String
        public var recoveryMode: String?
        public var flushIntervalMs: Int
        public var pollIntervalMs: Int?
        public var startedAtMs: Int64
        public var writtenPerSecond: Double
        public var generator: OrderRunSummary
        public var clocks: Clocks
        public var analysis: E2EAnalysis
        public var targets: [String: Double]
        public var missed: [String]
        public var verdict: String
        public var processorFlushes: [String: UInt64]
        /// `drained-or-full` (issue 18) or `timer-only` (before it, `--flush-timer-only`).
        public var flushPolicy: String
    }

    /// Collects what the processor saw, on its thread; read after it stopped (and while draining).
    final class Observer: ProcessorObserver, @unchecked Sendable {
        struct Raw { var partition: Int32; var offset: Int64; var timestampMs: Int64?; var value: [UInt8]; var consumedMs: Int64 }
        let topic: String
        let state = Mutex<(assigned: Bool, raws: [Raw], acks: [AcknowledgedRange], consumed: Int)>((false, [], [], 0))
        init(topic: String) { self.topic = topic }
        func assigned(partitions: [(topic: String, partition: Int32)]) { state.withLock { $0.assigned = true } }
        func consumed(_ m: RawMessage, atMs: Int64) {
            guard m.topic == topic, let v = m.value, v.count > 0 else { return }
            let raw = Raw(partition: m.partition, offset: m.offset, timestampMs: m.timestampMs, value: Array(v), consumedMs: atMs)
            state.withLock { $0.raws.append(raw); $0.consumed += 1 }
        }
        func acknowledged(ranges: [(topic: String, partition: Int32, start: Int64, end: Int64)], atMs: Int64) {
            let mine = ranges.filter { $0.topic == topic }.map { AcknowledgedRange(partition: $0.partition, start: $0.start, end: $0.end, atMs: atMs) }
            state.withLock { $0.acks += mine }
        }
    }

    /// Wraps the generator's MySQL sink: records every committed change's order id and time.
    struct RecordingSink: OrderSink {
        var inner: MySQLOrderSink
        var writes: [WrittenChange] = []
        mutating func write(_ step: OrderStep) throws {
            let before = inner.orderIds[step.order]
            let started = Int64((Date().timeIntervalSince1970 * 1000).rounded(.down))
            try inner.write(step)
            if let id = before ?? inner.orderIds[step.order] { writes.append(WrittenChange(orderId: id, kind: step.kind, startedAtMs: started)) }
        }
    }

    public static func run(_ ws: Workspace, manifest m: Manifest, options o: Options, progress: @escaping (String) -> Void) throws -> Result {
        guard o.rate > 0, o.rate.isFinite else { throw CdcError.invalid("must be a positive number of changes per second", subject: "--rate", fix: "e.g. --rate 200") }
        guard o.durationSeconds > 0 else { throw CdcError.invalid("must be positive seconds", subject: "--duration", fix: "e.g. --duration 30") }
        guard o.warmupSeconds >= 0 else { throw CdcError.invalid("must not be negative", subject: "--warmup", fix: "e.g. --warmup 5") }
        let secrets = try ws.resolveSecrets(m)
        let config = ProcessorConfig(manifest: m)
        let topic = config.ordersTopic
        let database = m.source.database
        if o.createUser {
            let root = MySQLEndpoint(host: m.access.mysqlHost, port: m.access.mysqlPort, user: "root", password: secrets.mysqlRootPassword)
            try AppUser.ensure(root: root, user: m.source.appUser, password: secrets.mysqlAppPassword, database: database)
        }
        let endpoint = MySQLEndpoint(host: m.access.mysqlHost, port: m.access.mysqlPort, user: m.source.appUser,
                                     password: secrets.mysqlAppPassword, database: database)
        let clocks = try readClocks(endpoint)
        progress(String(format: "clocks: MySQL time zone %+.0f min from UTC, MySQL − host %+lld ms (±%lld ms)",
                        Double(clocks.mysqlTimeZoneOffsetMs) / 60_000, clocks.mysqlSkewMs, clocks.mysqlRoundTripMs / 2))

        // The processor of this run: the orders topic only, its own group, from the topic's end.
        let runId = String(UUID().uuidString.prefix(8).lowercased())
        let group = "\(m.processor.consumerGroup).bench-\(runId)"
        let observer = Observer(topic: topic)
        var options = ProcessorRunner.Options(bootstrap: m.access.kafkaBootstrap, group: group, clickhouse: ws.clickhouse(m, secrets: secrets),
                                              database: m.clickhouse.database, flushIntervalMs: m.processor.flushIntervalMs,
                                              batchMaxRows: m.processor.batchMaxRows, maxBufferedEvents: m.processor.maxBufferedEvents)
        options.onlyTopics = [topic]
        options.startAtEndWhenUncommitted = true
        options.flushWhenDrained = !o.flushTimerOnly
        let runner = ProcessorRunner(options: options, config: config, observer: observer, log: { progress($0) })
        let stop = StopFlag()
        let failure = Mutex<String?>(nil)
        let done = DispatchSemaphore(value: 0)
        nonisolated(unsafe) let service = runner  // used by that thread alone until it signals `done`
        let thread = Thread {
            do { try service.run(until: stop) } catch { failure.withLock { $0 = CdcError.bridging(error).message } }
            done.signal()
        }
        thread.stackSize = 8 << 20
        thread.start()
        var joined = false
        func stopProcessor() {
            guard !joined else { return }
            stop.set(reason: "bench finished")
            done.wait()
            joined = true
        }
        defer { stopProcessor() }
        let ready = try Poll.until(Deadline(seconds: 120), backoff: Backoff(initial: 0.05, maximum: 0.25)) { () -> Bool? in
            if let f = failure.withLock({ $0 }) { throw CdcError.failed("the bench's processor failed: \(f)", subject: "bench e2e") }
            return observer.state.withLock { $0.assigned } ? true : nil
        }
        guard ready != nil else {
            throw CdcError.failed("the bench's processor was not assigned \(topic) within 120 s", subject: "bench e2e",
                                  fix: "check that the topic exists (`cdcctl topics apply`) and Kafka answers (`cdcctl status`)")
        }
        // librdkafka resolves "the end" on its first fetch: give it a moment before the first write.
        Thread.sleep(forTimeInterval: 1.5)

        let model = OrderModel(settings: OrderModelSettings(symbols: m.producers.orders.symbols, deleteShare: m.producers.orders.deleteShare,
                                                            cancelShare: m.producers.orders.cancelShare,
                                                            oversizedShare: m.producers.orders.oversizedShare,
                                                            oversizedNotional: m.processor.anomalies.oversizedOrderNotional),
                               seed: o.seed)
        var sink = RecordingSink(inner: MySQLOrderSink(endpoint))
        let started = Date()
        let startedMs = Int64(started.timeIntervalSince1970 * 1000)
        let measureFrom = startedMs + Int64(o.warmupSeconds * 1000)
        progress(String(format: "writing orders at %.0f changes/s for %.0f s (+%.0f s warm-up) into %@ as %@; processor group %@ on %@",
                        o.rate, o.durationSeconds, o.warmupSeconds, database, endpoint.description, group, topic))
        var generator = OrderRunner(model: model, settings: OrderRunSettings(ratePerSecond: o.rate, pattern: .constant,
                                                                             durationSeconds: o.warmupSeconds + o.durationSeconds, retrySeconds: 10),
                                    clock: SystemClock(), wallStart: started.timeIntervalSince1970,
                                    live: { s in progress(String(format: "  %d changes committed, %.0f/s", s.committed, s.stepsPerSecond)) },
                                    shouldStop: { failure.withLock { $0 } != nil })
        let summary = generator.run(into: &sink)
        let measureTo = Int64(Date().timeIntervalSince1970 * 1000)
        if let f = failure.withLock({ $0 }) { throw CdcError.failed("the bench's processor failed: \(f)", subject: "bench e2e") }

        // Drain, bounded: until every change's offset was acknowledged or the time is up.
        let writes = sink.writes
        progress("draining: waiting up to \(Int(o.drainSeconds)) s for \(writes.count) changes to reach ClickHouse")
        let ours = Set(writes.map(\.orderId))
        var scanned = 0, arrived = 0
        _ = Poll.until(Deadline(seconds: o.drainSeconds), backoff: .every(0.1)) { () -> Bool? in
            let fresh = observer.state.withLock { Array($0.raws[scanned...]) }
            scanned += fresh.count
            arrived += fresh.lazy.compactMap { decode($0) }.filter { ours.contains($0.orderId) }.count
            return arrived >= writes.count && allAcknowledged(observer) ? true : nil
        }
        stopProcessor()
        let flushes = runner.metrics.snapshot().flushReasons

        let (raws, acks) = observer.state.withLock { ($0.raws, $0.acks) }
        let events = raws.compactMap { decode($0) }
        let ids = Set(writes.map(\.orderId))
        let confirmed = try confirm(ClickHouseClient(ws.clickhouse(m, secrets: secrets)), database: m.clickhouse.database, topic: topic, ids: ids)
        let analysis = E2EAnalyzer.analyze(writes: writes, events: events, acknowledged: acks, confirmed: confirmed,
                                           measureFromMs: measureFrom, measureToMs: measureTo, tzOffsetMs: clocks.mysqlTimeZoneOffsetMs)
        let missed = E2EVerdict.judge(analysis, p99Ms: m.bench.e2e.p99Ms, minRate: m.bench.e2e.minRate, requestedRate: o.rate)
        let poll = m.connect.connectors.first { c in c.tables.contains { c.topic(for: $0) == topic } }?.pollIntervalMs
        return Result(rate: o.rate, durationSeconds: o.durationSeconds, warmupSeconds: o.warmupSeconds, topic: topic, group: group,
                      recoveryMode: runner.recoveryMode?.rawValue, flushIntervalMs: m.processor.flushIntervalMs, pollIntervalMs: poll,
                      startedAtMs: startedMs, writtenPerSecond: summary.stepsPerSecond, generator: summary, clocks: clocks,
                      analysis: analysis, targets: ["p99Ms": Double(m.bench.e2e.p99Ms), "minRate": m.bench.e2e.minRate],
                      missed: missed, verdict: missed.isEmpty ? "met" : "missed", processorFlushes: flushes,
                      flushPolicy: o.flushTimerOnly ? "timer-only" : "drained-or-full")
    }

    /// Every offset the processor consumed was acknowledged by ClickHouse.
    static func allAcknowledged(_ observer: Observer) -> Bool {
        observer.state.withLock { s in
            var maxAck: [Int32: Int64] = [:]
            for a in s.acks { maxAck[a.partition] = max(maxAck[a.partition] ?? 0, a.end) }
            var maxSeen: [Int32: Int64] = [:]
            for r in s.raws { maxSeen[r.partition] = max(maxSeen[r.partition] ?? -1, r.offset) }
            return maxSeen.allSatisfy { (maxAck[$0.key] ?? 0) > $0.value }
        }
    }

    /// MySQL's time zone and its clock against the host's (the midpoint of the query's round trip).
    static func readClocks(_ endpoint: MySQLEndpoint) throws -> Clocks {
        let c = try MySQLConnection(endpoint, timeoutSeconds: 5)
        let before = Date().timeIntervalSince1970 * 1000
        let r = try c.query("SELECT ROUND(UNIX_TIMESTAMP(NOW(3)) * 1000), TIMESTAMPDIFF(SECOND, UTC_TIMESTAMP(), NOW())")
        let after = Date().timeIntervalSince1970 * 1000
        let mysqlMs = Double(r.rows.first?[0] ?? "") ?? (before + after) / 2
        let tz = Int64(r.rows.first?[1] ?? "0") ?? 0
        // Time zones are whole quarter hours; the seconds between the two reads are noise.
        let tzRounded = Int64((Double(tz) / 900).rounded()) * 900 * 1000
        return Clocks(mysqlTimeZoneOffsetMs: tzRounded, mysqlSkewMs: Int64((mysqlMs - (before + after) / 2).rounded()),
                      mysqlRoundTripMs: Int64((after - before).rounded()),
                      note: "commit = updated_at (MySQL clock, read as UTC by Debezium, corrected by the time zone); Debezium = envelope ts_ms (Connect's clock); "
                          + "Kafka = record timestamp (producer CreateTime); processor and ClickHouse = host clock (consumed; inserts acknowledged)")
    }

    /// One change event's fields (JSONSerialization is fine here: it runs after the measurement).
    static func decode(_ r: Observer.Raw) -> ObservedEvent? {
        guard let o = try? JSONSerialization.jsonObject(with: Data(r.value)) as? [String: Any] else { return nil }
        let after = o["after"] as? [String: Any], before = o["before"] as? [String: Any]
        guard let row = after ?? before, let id = (row["order_id"] as? NSNumber)?.uint64Value else { return nil }
        let source = o["source"] as? [String: Any] ?? [:]
        let binlog = "\(source["file"] ?? "?"):\(source["pos"] ?? "?"):\(source["row"] ?? "?")"
        return ObservedEvent(partition: r.partition, offset: r.offset, orderId: id, op: o["op"] as? String ?? "?",
                             updatedAtMs: (after?["updated_at"] as? NSNumber)?.int64Value, debeziumMs: (o["ts_ms"] as? NSNumber)?.int64Value,
                             sourceMs: (source["ts_ms"] as? NSNumber)?.int64Value, binlog: binlog, gtid: source["gtid"] as? String,
                             kafkaMs: r.timestampMs, consumedMs: r.consumedMs)
    }

    struct RawRow: Decodable { var partition: Int32; var offset: Int64; var order_id: UInt64; var n: Int }

    /// Every row `cdc_orders_raw` holds for this run's orders: (partition, offset) → rows.
    static func confirm(_ ch: ClickHouseClient, database: String, topic: String, ids: Set<UInt64>) throws -> [PartitionOffset: Int] {
        guard let low = ids.min(), let high = ids.max() else { return [:] }
        let rows = try ch.select("""
            SELECT partition, offset, order_id, count() AS n FROM \(database).cdc_orders_raw
            WHERE topic = {topic:String} AND order_id BETWEEN {low:UInt64} AND {high:UInt64} GROUP BY partition, offset, order_id
            """, as: RawRow.self, parameters: ["topic": topic, "low": String(low), "high": String(high)])
        var out: [PartitionOffset: Int] = [:]
        for r in rows where ids.contains(r.order_id) { out[PartitionOffset(partition: r.partition, offset: r.offset), default: 0] += r.n }
        return out
    }
}
