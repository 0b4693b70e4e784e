import Connect
import HTTP
import Foundation
import Kafka
import Manifest
import Synchronization

/// Kafka Connect's connector and task states as gauges, task restarts as the monitor saw them,
/// and CDC freshness per captured table.
public enum ConnectMetrics {
    /// Connect's states (`ConnectorState`, `TaskStatus.State`): each gets a 0/1 sample, so a
    /// query can ask `== 1` for any of them and a vanished state reads 0, not stale.
    public static let states = ["RUNNING", "PAUSED", "STOPPED", "FAILED", "UNASSIGNED", "RESTARTING"]

    /// Pure. `statuses[name] == nil`: the manifest's connector is not registered.
    public static func write(connectors: [String], statuses: [String: ConnectorState], restarts: [String: [Int: Int]],
                             into e: inout Exposition) {
        var cs: [([(String, String)], Double)] = []
        var ts: [([(String, String)], Double)] = []
        var failedTasks: [([(String, String)], Double)] = []
        var registered: [([(String, String)], Double)] = []
        for name in connectors {
            let s = statuses[name]
            registered.append(([("connector", name)], s == nil ? 0 : 1))
            guard let s else { continue }
            for state in states { cs.append(([("connector", name), ("state", state)], s.state == state ? 1 : 0)) }
            for t in s.tasks {
                for state in states { ts.append(([("connector", name), ("task", String(t.id)), ("state", state)], t.state == state ? 1 : 0)) }
            }
            failedTasks.append(([("connector", name)], Double(s.tasks.filter { $0.state == "FAILED" }.count)))
        }
        e.gauge("cdcctl_connect_connector_registered", "1 when the manifest's connector is registered on the Connect cluster.", registered)
        e.gauge("cdcctl_connect_connector_state", "1 for the connector's current state (RUNNING, PAUSED, STOPPED, FAILED, UNASSIGNED, RESTARTING), 0 for the others.", cs)
        e.gauge("cdcctl_connect_task_state", "1 for each task's current state, 0 for the others.", ts)
        e.gauge("cdcctl_connect_connector_failed_tasks", "Tasks of the connector in state FAILED.", failedTasks)
        var r: [([(String, String)], Double)] = []
        for name in restarts.keys.sorted() {
            for (task, n) in restarts[name]!.sorted(by: { $0.key < $1.key }) { r.append(([("connector", name), ("task", String(task))], Double(n))) }
        }
        e.counter("cdcctl_connect_task_restarts_total", "Task restarts the monitor observed since it started (a FAILED or UNASSIGNED task RUNNING again, or moved to another worker).", r)
    }

    /// Pure. The newest record's timestamp on each captured table's topic and on the connector's
    /// heartbeat topic; freshness is the age of the newer one, since Debezium's heartbeats move
    /// on while a table is idle (and stop when the connector does).
    public static func writeFreshness(tables: [(connector: String, table: String, topic: String, heartbeatTopic: String)],
                                      newestMs: [String: Int64], nowMs: Int64, into e: inout Exposition) {
        var last: [([(String, String)], Double)] = []
        var fresh: [([(String, String)], Double)] = []
        for t in tables {
            let labels = [("connector", t.connector), ("table", t.table)]
            let table = newestMs[t.topic]
            let beat = newestMs[t.heartbeatTopic]
            if let table { last.append((labels, Double(table) / 1000)) }
            guard let newest = [table, beat].compactMap({ $0 }).max() else { continue }
            fresh.append((labels, Double(max(0, nowMs - newest)) / 1000))
        }
        e.gauge("cdcctl_cdc_last_event_timestamp_seconds", "Kafka timestamp of the newest change event of the table (Unix seconds).", last)
        e.gauge("cdcctl_cdc_freshness_seconds", "Age of the newest change event of the table or of the connector's heartbeat, whichever is newer.", fresh)
    }
}

/// Remembers each task's last state and worker to count restarts across scrapes.
public final class RestartTracker: Sendable {
    private let state = Mutex<(last: [String: [Int: (String, String)]], counts: [String: [Int: Int]])>(([:], [:]))

    public init() {}

    public func observe(_ statuses: [String: ConnectorState]) -> [String: [Int: Int]] {
        state.withLock { s in
            for (name, c) in statuses {
                var counts = s.counts[name] ?? [:]
                for t in c.tasks {
                    counts[t.id] = counts[t.id] ?? 0
                    if let (was, worker) = s.last[name]?[t.id], t.state == "RUNNING",
                       was == "FAILED" || was == "UNASSIGNED" || was == "RESTARTING" || worker != t.workerId {
                        counts[t.id]! += 1
                    }
                }
                s.counts[name] = counts
                s.last[name] = Dictionary(c.tasks.map { ($0.id, ($0.state, $0.workerId)) }, uniquingKeysWith: { a, _ in a })
            }
            return s.counts
        }
    }
}

public final class ConnectCollector: Collector {
    public let name = "connect"
    let manifest: Manifest
    let timeout: Double
    let tracker = RestartTracker()

    public init(manifest: Manifest, timeout: Double) {
        self.manifest = manifest
        self.timeout = timeout
    }

    public func collect(into e: inout Exposition) throws {
        let client = ConnectClient(baseURL: manifest.access.connectURL, http: HTTPClient(retries: 0), timeoutSeconds: timeout)
        var statuses: [String: ConnectorState] = [:]
        let names = manifest.connect.connectors.map(\.name)
        for n in names { if let s = try client.status(n) { statuses[n] = s } }
        ConnectMetrics.write(connectors: names, statuses: statuses, restarts: tracker.observe(statuses), into: &e)
    }
}

/// Reads the newest record of each partition of the captured tables' topics and the heartbeat
/// topics: assign at the high watermark − 1 and read to the partition's end (librdkafka's
/// partition-end event). On Apache Kafka that is one record. The end event, not the watermark,
/// says when to stop, so a watermark that lags the log (Tansu's does, by records and seconds:
/// docs/testbed.md) costs a few more records read, never an old timestamp reported as the newest.
/// Thin; a topic not on the cluster is left out.
///
/// Its Kafka handles live across scrapes (made at the first, dropped after a failed one): a new
/// admin and consumer per scrape meant librdkafka's broker threads and a 1 MiB prefetch buffer
/// made and torn down every 15 s, and about 2 KiB of RSS kept per scrape. The runner never runs
/// one collector twice at once, so the handles are used by one thread at a time.
public final class FreshnessCollector: Collector, @unchecked Sendable {
    public let name = "freshness"
    let manifest: Manifest
    let timeoutMs: Int32
    let clock: @Sendable () -> Int64
    private var handles: (admin: KafkaAdmin, consumer: KafkaConsumer)?
    /// Handles made so far (1 while the cluster answers), for tests.
    public private(set) var handlesMade = 0

    public init(manifest: Manifest, timeoutMs: Int32, clock: @escaping @Sendable () -> Int64 = { Int64(Date().timeIntervalSince1970 * 1000) }) {
        self.manifest = manifest
        self.timeoutMs = timeoutMs
        self.clock = clock
    }

    public static func tables(_ m: Manifest) -> [(connector: String, table: String, topic: String, heartbeatTopic: String)] {
        m.connect.connectors.flatMap { c in
            c.tables.map { (c.name, $0, "\(c.topicPrefix).\($0)", "__debezium-heartbeat.\(c.topicPrefix)") }
        }
    }

    public func collect(into e: inout Exposition) throws {
        let tables = Self.tables(manifest)
        let topics = Array(Set(tables.flatMap { [$0.topic, $0.heartbeatTopic] })).sorted()
        let (admin, consumer) = try kafka()
        do {
            try read(tables: tables, topics: topics, admin: admin, consumer: consumer, into: &e)
        } catch {
            handles = nil  // the next scrape starts with fresh ones
            throw error
        }
    }

    func kafka() throws -> (admin: KafkaAdmin, consumer: KafkaConsumer) {
        if let handles { return handles }
        let settings = KafkaSettings(bootstrap: manifest.access.kafkaBootstrap, clientId: "cdcctl-monitor")
        let made = (try KafkaAdmin(settings, timeoutMs: timeoutMs),
                    try KafkaConsumer(settings, group: "cdcctl-monitor-freshness", fromBeginning: false, readCommitted: false,
                                  prefetchKilobytes: 1024, partitionEnds: true))
        handles = made
        handlesMade += 1
        return made
    }

    func read(tables: [(connector: String, table: String, topic: String, heartbeatTopic: String)], topics: [String],
              admin: KafkaAdmin, consumer: KafkaConsumer, into e: inout Exposition) throws {
        let md = try admin.metadata()
        var wanted: [(topic: String, partition: Int32, offset: Int64)] = []
        for t in md.topics where topics.contains(t.name) {
            for p in t.partitions {
                let w = try consumer.watermarks(topic: t.name, partition: p.id, timeoutMs: timeoutMs)
                wanted.append((t.name, p.id, max(w.low, w.high - 1)))
            }
        }
        let newest = try newestTimestamps(from: wanted, consumer: consumer)
        ConnectMetrics.writeFreshness(tables: tables, newestMs: newest, nowMs: clock(), into: &e)
    }

    /// The newest record timestamp per topic, reading each partition from `starts` to its end.
    /// Where a read starts does not decide what is newest: the partition-end event does.
    func newestTimestamps(from starts: [(topic: String, partition: Int32, offset: Int64)], consumer: KafkaConsumer) throws -> [String: Int64] {
        var newest: [String: Int64] = [:]
        try consumer.readToEnd(from: starts, seconds: Double(timeoutMs) / 1000) { msg in
            if msg.timestampMs > 0 { newest[msg.topic] = max(newest[msg.topic] ?? 0, msg.timestampMs) }
            return false
        }
        return newest
    }
}
