import Diagnostics
import Foundation
import Kafka
import Manifest
import OperationsCore
import Polling
import Postgres
import PostgresSink
import Render
import Telemetry

public struct PostgresBenchResult: Sendable, Codable {
    public var events: Int
    public var batchMaxRecords: Int
    public var transactions: UInt64
    /// Rows inserted, upserted or deleted over all tables.
    public var rows: UInt64
    public var seconds: Double
    /// Change records consumed and committed to PostgreSQL per second (first read → last COMMIT).
    public var recordsPerSecond: Double
    public var rowsPerSecond: Double
    public var meanTransactionMs: Double
    public var serverVersion: Int
}

/// `cdcctl bench postgres`: the processor's PostgreSQL loop over `events` Debezium-shaped order
/// changes in scratch topics, into a scratch schema of the manifest's sink database (dropped
/// afterwards, with the topics). A measurement, not a test: it asserts nothing.
public enum PostgresBench {
    public static func run(_ ws: Workspace, manifest m: Manifest, events: Int, batchMaxRecords: Int?,
                           progress: @escaping (String) -> Void) throws -> PostgresBenchResult {
        guard m.postgresEnabled else {
            throw CdcError.invalid("bench postgres needs the PostgreSQL sink", subject: "processor.sinks",
                                   fix: "add postgres to processor.sinks and point access.postgresHost/Port at the server")
        }
        let secrets = try ws.resolveSecrets(m)
        let batch = batchMaxRecords ?? m.postgres.batchMaxRecords
        let schema = "cdcctl_bench_\(UUID().uuidString.prefix(8).lowercased())"
        let base = ws.postgres(m, secrets: secrets, connectTimeoutSeconds: 10, applicationName: "cdcctl-bench")
        let admin: PostgresConnection
        do { admin = try PostgresConnection(base) } catch let e as PostgresError { throw e.cdcError }
        try admin.exec("CREATE SCHEMA \(schema)")
        defer { _ = try? admin.exec("DROP SCHEMA \(schema) CASCADE") }
        var endpoint = base
        endpoint.searchPath = schema
        // The sink's migrations as `schema apply --target postgres` renders them, into the scratch schema.
        let scratch = try PostgresConnection(endpoint)
        for file in try Renderer(templates: try ws.templates(override: nil)).render(m, secrets: secrets, under: "postgres/migrations") {
            try scratch.execScript(file.contents)
        }

        let settings = KafkaSettings(bootstrap: m.access.kafkaBootstrap, clientId: "cdcctl-bench")
        let orders = try ScratchTopic(m, settings: settings, prefix: "cdcctl-bench-pg-orders")
        defer { orders.drop() }
        let executions = try ScratchTopic(m, settings: settings, prefix: "cdcctl-bench-pg-executions")
        defer { executions.drop() }
        progress("producing \(events) order changes to \(orders.name) (create, two updates; 1 in 10 deleted)")
        let producer = try KafkaProducer(settings, lingerMs: 5)
        let t0 = Int64(Date().timeIntervalSince1970 * 1000)
        var sent = 0, orderId = 0
        let statuses = ["NEW", "PARTIALLY_FILLED", "FILLED"]
        while sent < events {
            orderId += 1
            let key = Array("{\"order_id\":\(orderId)}".utf8)
            func row(_ status: String) -> String {
                "{\"order_id\":\(orderId),\"customer_id\":\(orderId % 5000),\"symbol\":\"005930\",\"side\":\"BUY\",\"order_type\":\"LIMIT\",\"quantity\":\"\(orderId % 90 + 10).0000\",\"price\":\"71000.5000\",\"status\":\"\(status)\",\"created_at\":\(t0),\"updated_at\":\(t0 + 1000)}"
            }
            var previous: String?
            for (step, status) in statuses.enumerated() where sent < events {
                let after = row(status)
                let value = "{\"before\":\(previous ?? "null"),\"after\":\(after),\"source\":{\"ts_ms\":\(t0 + Int64(step)),\"db\":\"shop\",\"table\":\"orders\"},\"op\":\"\(step == 0 ? "c" : "u")\",\"ts_ms\":\(t0)}"
                try producer.send(topic: orders.name, key: key, value: Array(value.utf8))
                previous = after
                sent += 1
            }
            if orderId % 10 == 0, sent < events, let before = previous {
                let value = "{\"before\":\(before),\"after\":null,\"source\":{\"ts_ms\":\(t0 + 3),\"db\":\"shop\",\"table\":\"orders\"},\"op\":\"d\",\"ts_ms\":\(t0)}"
                try producer.send(topic: orders.name, key: key, value: Array(value.utf8))
                sent += 1
            }
            if orderId % 10_000 == 0 { producer.poll() }
        }
        try producer.flush(timeoutMs: 120_000)
        // A new topic reaches every Tansu process's metadata a few seconds late: wait for both.
        let kafka = try KafkaAdmin(settings)
        _ = Poll.until(Deadline(seconds: 30), backoff: .every(0.5)) { () -> Bool? in
            guard let md = try? kafka.metadata() else { return nil }
            let names: Set<String> = Set(md.topics.filter { $0.error == nil }.map { $0.name })
            return names.contains(orders.name) && names.contains(executions.name) ? true : nil
        }

        progress("writing them to PostgreSQL \(base.description), schema \(schema), up to \(batch) records per transaction")
        let runner = PostgresSinkRunner(options: .init(bootstrap: m.access.kafkaBootstrap, group: "cdcctl-bench-\(schema)",
                                                       ordersTopic: orders.name, executionsTopic: executions.name, endpoint: endpoint,
                                                       batchMaxRecords: batch, exitWhenIdleSeconds: 10),
                                        log: progress)
        try runner.run(until: StopFlag())
        let s = runner.metrics.snapshot()
        let seconds = Double((s.lastCommitNs ?? 0) &- (s.firstRecordNs ?? 0)) / 1e9
        let rows = s.rowsWritten.values.reduce(0, +)
        return PostgresBenchResult(events: events, batchMaxRecords: batch, transactions: s.transactions, rows: rows, seconds: seconds,
                                   recordsPerSecond: seconds > 0 ? Double(s.recordsIn) / seconds : 0,
                                   rowsPerSecond: seconds > 0 ? Double(rows) / seconds : 0,
                                   meanTransactionMs: s.transactions > 0 ? seconds * 1000 / Double(s.transactions) : 0,
                                   serverVersion: admin.serverVersion)
    }
}
