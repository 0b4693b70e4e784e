import Diagnostics
import Foundation
import Manifest
import MySQL
import OperationsCore
import Polling
import Synchronization
import Telemetry

/// `cdcctl produce orders`: the manifest's `producers.orders` (with the command's overrides)
/// → the model, the pattern and the MySQL sink as `source.appUser` → a run → its summary.
public enum ProduceOrdersOperation {
    public struct Options: Sendable {
        public var rate: Double?
        public var pattern: String?
        public var at: String?
        public var durationSeconds: Double?
        public var count: Int?
        public var seed: UInt64?
        public var retrySeconds: Double
        /// Create or update the app user as root first (servers cdcctl did not render, e.g. the testbed).
        public var createUser: Bool
        /// `HOST:PORT` or `PORT` (127.0.0.1) for GET /metrics while the run lasts.
        public var metricsListen: String?

        public init(rate: Double? = nil, pattern: String? = nil, at: String? = nil, durationSeconds: Double? = nil, count: Int? = nil,
                    seed: UInt64? = nil, retrySeconds: Double = 30, createUser: Bool = false) {
            self.rate = rate
            self.pattern = pattern
            self.at = at
            self.durationSeconds = durationSeconds
            self.count = count
            self.seed = seed
            self.retrySeconds = retrySeconds
            self.createUser = createUser
        }
    }

    public struct Result: Sendable, Codable {
        public var database: String
        public var user: String
        public var seed: UInt64
        public var pattern: String
        public var peakRatePerSecond: Double
        public var summary: OrderRunSummary
        /// Orders the generator left open (NEW / PARTIALLY_FILLED) when it stopped.
        public var openOrders: Int
    }

    /// Checks what a run needs before touching anything (exit 2 with the fix).
    public static func settings(_ m: Manifest, _ o: Options) throws -> (OrderRunSettings, String) {
        if let listen = o.metricsListen { _ = try ProduceTradesOperation.metricsAddress(listen) }
        let name = o.pattern ?? m.producers.orders.pattern
        guard let pattern = RatePattern.named(name, offHours: m.producers.orders.offHoursFactor) else {
            throw CdcError.invalid("unknown pattern '\(name)'", subject: "--pattern", fix: "use time-of-day, constant or burst")
        }
        let rate = o.rate ?? m.producers.orders.ratePerSecond
        guard rate > 0, rate.isFinite else {
            throw CdcError.invalid("the rate must be positive steps per second, found \(rate)", subject: o.rate == nil ? "producers.orders.ratePerSecond" : "--rate",
                                   fix: "e.g. --rate 20")
        }
        var start: Int?
        if let at = o.at {
            guard let s = RatePattern.parseClock(at) else {
                throw CdcError.invalid("'\(at)' is not a time of day", subject: "--at", fix: "HH:MM in KST, e.g. --at 09:05")
            }
            start = s
        }
        if let d = o.durationSeconds, !(d > 0) {
            throw CdcError.invalid("must be positive seconds, found \(d)", subject: "--duration", fix: "e.g. --duration 60")
        }
        if let c = o.count, c <= 0 { throw CdcError.invalid("must be a positive number of steps, found \(c)", subject: "--count", fix: "e.g. --count 1000") }
        guard o.retrySeconds >= 0 else { throw CdcError.invalid("must not be negative", subject: "--retry-seconds", fix: "e.g. 30") }
        return (OrderRunSettings(ratePerSecond: rate, pattern: pattern, startKSTSecond: start, count: o.count,
                                 durationSeconds: o.durationSeconds, retrySeconds: o.retrySeconds), name)
    }

    public static func run(_ workspace: Workspace, manifest m: Manifest, options o: Options,
                           progress: @escaping (String) -> Void, live: @escaping (String) -> Void) throws -> Result {
        let (settings, patternName) = try settings(m, o)
        let secrets = try workspace.resolveSecrets(m)
        let database = m.source.database
        if o.createUser {
            let root = MySQLEndpoint(host: m.access.mysqlHost, port: m.access.mysqlPort, user: "root", password: secrets.mysqlRootPassword)
            try AppUser.ensure(root: root, user: m.source.appUser, password: secrets.mysqlAppPassword, database: database)
            progress("app user '\(m.source.appUser)' has SELECT, INSERT, UPDATE, DELETE on \(database)")
        }
        let endpoint = MySQLEndpoint(host: m.access.mysqlHost, port: m.access.mysqlPort, user: m.source.appUser,
                                     password: secrets.mysqlAppPassword, database: database)
        let seed = o.seed ?? UInt64.random(in: 0 ... UInt64(UInt32.max))
        let model = OrderModel(settings: OrderModelSettings(symbols: m.producers.orders.symbols, deleteShare: m.producers.orders.deleteShare,
                                                            cancelShare: m.producers.orders.cancelShare,
                                                            oversizedShare: m.producers.orders.oversizedShare,
                                                            oversizedNotional: m.processor.anomalies.oversizedOrderNotional),
                               seed: seed)
        var sink = MySQLOrderSink(endpoint)
        // Fail fast on what retrying cannot fix (wrong password, no grant, no table): exit 2 with the fix.
        do {
            _ = try Poll.retry(Deadline(seconds: settings.retrySeconds), backoff: settings.backoff, retrying: { attempt, error in
                progress("MySQL unavailable at \(endpoint.host):\(endpoint.port) (\(CdcError.bridging(error).message)); retrying (attempt \(attempt))")
            }) { try MySQLConnection(endpoint, timeoutSeconds: 3).query("SELECT 1 FROM orders LIMIT 0") }
        } catch let e as MySQLError where e.isAccessDenied || e.code == 1142 || e.code == 1146 || e.code == 1049 {
            throw CdcError.invalid("the app user cannot use \(database).orders: \(e.description)", subject: "source.appUser",
                                   fix: "render and up the stack (003-app-user.sh creates '\(m.source.appUser)'), or pass --create-user to create it as root; the schema comes from 001-schema.sql")
        }
        progress("producing orders into \(database) as \(endpoint.description): \(patternName), peak \(settings.ratePerSecond) steps/s, seed \(seed)"
                 + (o.at.map { ", clock at \($0) KST" } ?? ""))
        let stop = StopFlag()
        let snapshot = Mutex(OrderRunSummary())
        var metrics: MetricsServer?
        if let listen = o.metricsListen {
            let (host, port) = try ProduceTradesOperation.metricsAddress(listen)
            metrics = try MetricsServer(host: host, port: port, source: "--metrics-listen") { ProducerMetrics.text(orders: snapshot.withLock { $0 }) }
            progress("metrics on http://\(host):\(port)/metrics")
        }
        defer { _ = metrics }
        var runner = OrderRunner(model: model, settings: settings, clock: SystemClock(), wallStart: Date().timeIntervalSince1970,
                                 progress: progress,
                                 live: { s in
                                     snapshot.withLock { $0 = s }
                                     live(String(format: "orders: %d committed, %d unwritten, %.0f steps/s", s.committed, s.unwritten, s.stepsPerSecond))
                                 },
                                 shouldStop: { stop.isSet })
        let summary = try ProducerService.run(name: "produce orders", stop: stop, log: progress) { _ in runner.run(into: &sink) }
        return Result(database: database, user: m.source.appUser, seed: seed, pattern: patternName, peakRatePerSecond: settings.ratePerSecond,
                      summary: summary, openOrders: runner.model.open.count)
    }
}
