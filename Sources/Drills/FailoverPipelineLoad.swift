import ClickHouse
import Diagnostics
import Foundation
import Manifest
import MySQL
import OperationsCore
import Polling
import Producers
import Telemetry

/// `--through-pipeline`, the part that touches the world (thin): the order generator of
/// `produce orders` (the `Producers` machinery: model, pacer, MySQL sink as `source.appUser`) on
/// a thread for the whole run, then MySQL and ClickHouse read back for the orders of this run
/// until they agree (the processor caught up) or `catchUpTimeoutSeconds` passes. Judged by the
/// pure `PipelineVerdict`.
public final class PipelineLoad: @unchecked Sendable {
    let manifest: Manifest
    let mysql: MySQLEndpoint
    let clickhouse: ClickHouseClient
    let database: String
    let ratePerSecond: Double
    public let catchUpTimeoutSeconds: Double
    let stop = StopFlag()
    private var thread: Thread?
    private var runner: OrderRunner?
    private let done = DispatchSemaphore(value: 0)
    private var summary = OrderRunSummary()
    private(set) var ordersAfterId: UInt64 = 0
    private(set) var executionsAfterId: UInt64 = 0

    public init(_ ws: Workspace, manifest m: Manifest, ratePerSecond: Double? = nil, catchUpTimeoutSeconds: Double = 120) throws {
        let secrets = try ws.resolveSecrets(m)
        manifest = m
        mysql = MySQLEndpoint(host: m.access.mysqlHost, port: m.access.mysqlPort, user: m.source.appUser,
                              password: secrets.mysqlAppPassword, database: m.source.database)
        clickhouse = ClickHouseClient(ws.clickhouse(m, secrets: secrets, timeoutSeconds: 10))
        database = m.clickhouse.database
        self.ratePerSecond = ratePerSecond ?? m.producers.orders.ratePerSecond
        self.catchUpTimeoutSeconds = catchUpTimeoutSeconds
    }

    /// Where this run's orders start, then the generator on its own thread (constant rate).
    public func start(progress: @escaping @Sendable (String) -> Void) throws {
        let c = try MySQLConnection(mysql, timeoutSeconds: 5)
        func highest(_ sql: String) throws -> UInt64 { (try c.query(sql).rows.first?.first ?? nil).flatMap { UInt64($0) } ?? 0 }
        ordersAfterId = try highest("SELECT COALESCE(MAX(order_id), 0) FROM orders")
        executionsAfterId = try highest("SELECT COALESCE(MAX(execution_id), 0) FROM order_executions")
        let o = manifest.producers.orders
        let model = OrderModel(settings: OrderModelSettings(symbols: o.symbols, deleteShare: o.deleteShare, cancelShare: o.cancelShare,
                                                            oversizedShare: o.oversizedShare,
                                                            oversizedNotional: manifest.processor.anomalies.oversizedOrderNotional),
                               seed: UInt64.random(in: 0 ... UInt64(UInt32.max)))
        let settings = OrderRunSettings(ratePerSecond: ratePerSecond, pattern: .constant, retrySeconds: 30)
        progress("order generator: \(ratePerSecond) steps/s into \(manifest.source.database) as \(mysql.user), orders after id \(ordersAfterId)")
        let stop = self.stop
        runner = OrderRunner(model: model, settings: settings, clock: SystemClock(), wallStart: Date().timeIntervalSince1970,
                             progress: progress, shouldStop: { stop.isSet })
        thread = Thread { [self] in
            var sink = MySQLOrderSink(mysql)
            summary = runner!.run(into: &sink)
            done.signal()
        }
        thread?.start()
    }

    /// Stops the generator (it finishes its step) and waits for it.
    public func stopGenerator() -> OrderRunSummary {
        stop.set(reason: "drill ended")
        if thread != nil { done.wait() }
        return summary
    }

    struct Row: Decodable { var order_id: UInt64; var status: String }
    struct Count: Decodable { var rows: UInt64; var events: UInt64 }

    /// One comparison of MySQL and ClickHouse for this run's orders.
    func observe(_ s: OrderRunSummary, caughtUpAfter: Double?) -> PipelineObservation {
        var o = PipelineObservation(ordersAfterId: ordersAfterId, executionsAfterId: executionsAfterId,
                                    committedChanges: s.committed,
                                    committedExecutions: (s.committedByKind["fill"] ?? 0) + (s.committedByKind["partial"] ?? 0),
                                    indeterminate: s.indeterminate, unwritten: s.failed + s.unwrittenBacklog,
                                    caughtUpAfterSeconds: caughtUpAfter, catchUpTimeoutSeconds: catchUpTimeoutSeconds)
        do {
            let c = try MySQLConnection(mysql, timeoutSeconds: 5)
            o.source = try c.query("SELECT order_id, status FROM orders WHERE order_id > \(ordersAfterId)").rows.compactMap { r in
                guard r.count == 2, let id = r[0].flatMap({ UInt64($0) }), let status = r[1] else { return nil }
                return OrderState(orderId: id, status: status)
            }
            let p = ["after": String(ordersAfterId), "exec": String(executionsAfterId)]
            o.current = try clickhouse.select("SELECT order_id, toString(status) AS status FROM orders_current FINAL WHERE order_id > {after:UInt64}",
                                              as: Row.self, database: database, parameters: p).map { OrderState(orderId: $0.order_id, status: $0.status) }
            let raw = try clickhouse.select("SELECT count() AS rows, uniqExact(topic, partition, offset) AS events FROM cdc_orders_raw WHERE order_id > {after:UInt64}",
                                            as: Count.self, database: database, parameters: p).first
            o.rawOrderRows = Int(raw?.rows ?? 0)
            o.rawOrderEvents = Int(raw?.events ?? 0)
            let ex = try clickhouse.select("SELECT count() AS rows, uniqExact(topic, partition, offset) AS events FROM cdc_order_executions_raw WHERE execution_id > {exec:UInt64} AND op = 'c'",
                                           as: Count.self, database: database, parameters: p).first
            o.rawExecutionCreates = Int(ex?.rows ?? 0)
            o.rawExecutionCreateEvents = Int(ex?.events ?? 0)
        } catch {
            o.error = CdcError.bridging(error).message
        }
        return o
    }

    /// After the drill: stop the generator, then compare every second until ClickHouse agrees
    /// with MySQL (the processor caught up) or the bound passes; the last comparison is judged.
    public func finish(progress: @escaping @Sendable (String) -> Void) -> PipelineObservation {
        let s = stopGenerator()
        progress("order generator stopped: \(s.committed) changes committed (\(s.indeterminate) indeterminate, \(s.unwritten) unwritten); "
                 + "waiting up to \(Int(catchUpTimeoutSeconds)) s for ClickHouse to agree with MySQL")
        let started = Date()
        var last = observe(s, caughtUpAfter: nil)
        while !PipelineVerdict.problems(last).isEmpty, Date().timeIntervalSince(started) < catchUpTimeoutSeconds {
            Thread.sleep(forTimeInterval: 1)
            last = observe(s, caughtUpAfter: nil)
        }
        if PipelineVerdict.problems(last).isEmpty { last.caughtUpAfterSeconds = Date().timeIntervalSince(started) }
        return last
    }
}
