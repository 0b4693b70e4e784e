import BuiltinFiles
import Diagnostics
import Foundation
import Kafka
import Manifest
import MySQL
import OperationsCore
import Polling
import Producers

public struct OrdersBenchResult: Sendable, Codable {
    public var database: String
    public var steps: Int
    public var committed: Int
    public var seconds: Double
    public var stepsPerSecond: Double
    public var committedByKind: [String: Int]
    public var peakRssMiB: Double
}

public struct TradesBenchResult: Sendable, Codable {
    public var topic: String
    public var trades: Int
    public var acknowledged: Int
    public var failed: Int
    public var seconds: Double
    public var tradesPerSecond: Double
    public var peakRssMiB: Double
    public var librdkafka: String
}

/// `cdcctl bench orders` / `bench trades`: the producers' own code at full speed into scratch
/// places (a database or topic created for the run and dropped after). Measurements, not tests.
public enum ProducersBench {
    /// Lifecycle steps (one transaction each) as fast as one connection commits them, into a
    /// scratch database with the seed schema, as root (the bench measures MySQL, not grants).
    public static func orders(_ workspace: Workspace, manifest m: Manifest, steps: Int, progress: (String) -> Void) throws -> OrdersBenchResult {
        let secrets = try workspace.resolveSecrets(m)
        let database = "cdcctl_bench_\(UUID().uuidString.prefix(8).lowercased())"
        let root = MySQLEndpoint(host: m.access.mysqlHost, port: m.access.mysqlPort, user: "root", password: secrets.mysqlRootPassword)
        let admin = try MySQLConnection(root)
        try admin.query("CREATE DATABASE \(database)")
        defer { _ = try? MySQLConnection(root).query("DROP DATABASE IF EXISTS \(database)") }
        try admin.query("USE \(database)")
        let schema = BuiltinFiles.templates["mysql/initdb.d/001-schema.sql.mustache"] ?? ""
        for statement in schema.components(separatedBy: ";\n") {
            let sql = statement.split(separator: "\n").filter { !$0.hasPrefix("--") }.joined(separator: "\n")
            if sql.contains("CREATE TABLE") { try admin.query(sql) }
        }
        progress("writing \(steps) lifecycle steps into \(database) (scratch, dropped after) as fast as one connection commits")
        let o = m.producers.orders
        var endpoint = root
        endpoint.database = database
        var sink = MySQLOrderSink(endpoint)
        var runner = OrderRunner(model: OrderModel(settings: OrderModelSettings(symbols: o.symbols, deleteShare: o.deleteShare, cancelShare: o.cancelShare,
                                                                                oversizedShare: o.oversizedShare,
                                                                                oversizedNotional: m.processor.anomalies.oversizedOrderNotional), seed: 1),
                                 settings: OrderRunSettings(ratePerSecond: 1_000_000, pattern: .constant, count: steps, retrySeconds: 10),
                                 clock: SystemClock(), wallStart: Date().timeIntervalSince1970)
        let s = runner.run(into: &sink)
        return OrdersBenchResult(database: database, steps: s.attempted, committed: s.committed, seconds: s.seconds,
                                 stepsPerSecond: s.stepsPerSecond, committedByKind: s.committedByKind, peakRssMiB: ProcessorBench.peakRssMiB())
    }

    /// Synthetic trade lines replayed as fast as possible (`--source replay --speed 0`) into a scratch topic.
    public static func trades(_ m: Manifest, count: Int, progress: (String) -> Void) throws -> TradesBenchResult {
        let settings = KafkaSettings(bootstrap: m.access.kafkaBootstrap, clientId: "cdcctl-bench")
        let scratch = try ScratchTopic(m, settings: settings, prefix: "cdcctl-bench-trades")
        defer { scratch.drop() }
        let topic = scratch.name
        // The recorded file, in memory: what replay reads, parsed by the processor's codec.
        var gen = SyntheticTrades(symbols: m.producers.trades.symbols, seed: 1, startMs: Int64(Date().timeIntervalSince1970 * 1000), stepMs: 10)
        let text = (0..<min(count, 100_000)).map { _ in gen.next().json }.joined(separator: "\n")
        var replay = ReplayTrades(trades: try ReplayTrades.load(text: text, path: "bench"), speed: 0, loop: true)
        progress("replaying \(count) trades into \(topic) (scratch, deleted after) as fast as possible, acks=all, idempotent")
        let sink = try KafkaTradeSink(bootstrap: m.access.kafkaBootstrap, topic: topic)
        let s = try TradeRunner(clock: SystemClock(), count: count, flushTimeoutMs: 120_000).run(into: sink) { replay.next() }
        return TradesBenchResult(topic: topic, trades: s.queued, acknowledged: s.acknowledged, failed: s.failed, seconds: s.seconds,
                                 tradesPerSecond: s.tradesPerSecond, peakRssMiB: ProcessorBench.peakRssMiB(), librdkafka: KafkaLibrary.version)
    }
}
