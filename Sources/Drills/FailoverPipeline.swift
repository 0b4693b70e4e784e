import Foundation

/// One order as a store holds it after the run: MySQL's `orders` row, or `orders_current FINAL`.
public struct OrderState: Sendable, Codable, Equatable {
    public var orderId: UInt64
    public var status: String
    public init(orderId: UInt64, status: String) {
        self.orderId = orderId
        self.status = status
    }
}

/// `--through-pipeline`: what the order generator committed to MySQL during the run, and what
/// ClickHouse holds for the orders of this run (ids above the highest before it) once the
/// processor caught up. The input of condition 7; pure data.
public struct PipelineObservation: Sendable, Codable, Equatable {
    /// Orders and executions of this run have ids above these (the highest before it started).
    public var ordersAfterId: UInt64
    public var executionsAfterId: UInt64
    /// Generator steps whose COMMIT returned OK: each is exactly one row change of `orders`
    /// (place → c, fill/partial/cancel → u, delete → d), so one event in `cdc_orders_raw`.
    public var committedChanges: Int
    /// Executions the committed steps inserted (`fill` + `partial`): one `c` each in `cdc_order_executions_raw`.
    public var committedExecutions: Int
    /// Commits whose outcome is unknown (the connection broke during COMMIT): each may or may not be in MySQL.
    public var indeterminate: Int
    /// Steps not committed (rolled back, or MySQL unavailable past the retry bound): expected nowhere.
    public var unwritten: Int
    /// MySQL's `orders` of this run after the generator stopped (deleted orders absent).
    public var source: [OrderState]
    /// `orders_current FINAL` of this run (deleted orders dropped by FINAL).
    public var current: [OrderState]
    /// `cdc_orders_raw` rows of this run, and how many distinct (topic, partition, offset) they hold.
    public var rawOrderRows: Int
    public var rawOrderEvents: Int
    /// `cdc_order_executions_raw` `c` rows of this run, and distinct events among them.
    public var rawExecutionCreates: Int
    public var rawExecutionCreateEvents: Int
    /// Seconds after the generator stopped until ClickHouse agreed (nil: it never did within the bound).
    public var caughtUpAfterSeconds: Double?
    public var catchUpTimeoutSeconds: Double
    /// Why the comparison could not be made (MySQL or ClickHouse did not answer, the generator failed).
    public var error: String?

    public init(ordersAfterId: UInt64 = 0, executionsAfterId: UInt64 = 0, committedChanges: Int = 0, committedExecutions: Int = 0,
                indeterminate: Int = 0, unwritten: Int = 0, source: [OrderState] = [], current: [OrderState] = [],
                rawOrderRows: Int = 0, rawOrderEvents: Int = 0, rawExecutionCreates: Int = 0, rawExecutionCreateEvents: Int = 0,
                caughtUpAfterSeconds: Double? = nil, catchUpTimeoutSeconds: Double = 120, error: String? = nil) {
        self.ordersAfterId = ordersAfterId
        self.executionsAfterId = executionsAfterId
        self.committedChanges = committedChanges
        self.committedExecutions = committedExecutions
        self.indeterminate = indeterminate
        self.unwritten = unwritten
        self.source = source
        self.current = current
        self.rawOrderRows = rawOrderRows
        self.rawOrderEvents = rawOrderEvents
        self.rawExecutionCreates = rawExecutionCreates
        self.rawExecutionCreateEvents = rawExecutionCreateEvents
        self.caughtUpAfterSeconds = caughtUpAfterSeconds
        self.catchUpTimeoutSeconds = catchUpTimeoutSeconds
        self.error = error
    }
}

/// A `PipelineObservation`'s counts, for the report, `-o json` and the run's record.
public struct PipelineFigures: Sendable, Codable, Equatable {
    public var committedChanges: Int
    public var committedExecutions: Int
    public var indeterminate: Int
    public var unwritten: Int
    public var liveOrdersMySQL: Int
    public var liveOrdersClickHouse: Int
    public var rawOrderRows: Int
    public var rawOrderEvents: Int
    public var rawExecutionCreates: Int
    public var caughtUpAfterSeconds: Double?
    public var error: String?

    public init(_ o: PipelineObservation) {
        committedChanges = o.committedChanges
        committedExecutions = o.committedExecutions
        indeterminate = o.indeterminate
        unwritten = o.unwritten
        liveOrdersMySQL = o.source.count
        liveOrdersClickHouse = o.current.count
        rawOrderRows = o.rawOrderRows
        rawOrderEvents = o.rawOrderEvents
        rawExecutionCreates = o.rawExecutionCreates
        caughtUpAfterSeconds = o.caughtUpAfterSeconds
        error = o.error
    }

    public var line: String {
        if let error { return "pipeline: \(error)" }
        return "pipeline: \(committedChanges) order changes and \(committedExecutions) executions committed (\(indeterminate) indeterminate, \(unwritten) not written); "
            + "cdc_orders_raw \(rawOrderEvents) events in \(rawOrderRows) rows; live orders MySQL \(liveOrdersMySQL), orders_current \(liveOrdersClickHouse); "
            + (caughtUpAfterSeconds.map { String(format: "caught up %.1f s after the generator stopped", $0) } ?? "never caught up")
    }
}

/// Condition 7 over a `PipelineObservation`. Pure.
public enum PipelineVerdict {
    /// Every way ClickHouse differs from what was committed; empty: every change exactly once.
    /// The collector polls until this is empty (the processor caught up) or its bound passes.
    public static func problems(_ o: PipelineObservation) -> [String] {
        if let e = o.error { return ["cannot compare: \(e)"] }
        var out: [String] = []
        let slack = o.indeterminate
        // Exactly once in the raw table: no event twice, none missing, none invented.
        if o.rawOrderRows > o.rawOrderEvents {
            out.append("cdc_orders_raw holds \(o.rawOrderRows - o.rawOrderEvents) duplicate row(s) (same topic, partition, offset)")
        }
        if o.rawOrderEvents < o.committedChanges {
            out.append("cdc_orders_raw has \(o.rawOrderEvents) of \(o.committedChanges) committed order changes: \(o.committedChanges - o.rawOrderEvents) missing"
                       + (slack > 0 ? " (\(slack) commit(s) indeterminate)" : ""))
        } else if o.rawOrderEvents > o.committedChanges + slack {
            out.append("cdc_orders_raw has \(o.rawOrderEvents - o.committedChanges) more order changes than were committed")
        }
        if o.rawExecutionCreates > o.rawExecutionCreateEvents {
            out.append("cdc_order_executions_raw holds \(o.rawExecutionCreates - o.rawExecutionCreateEvents) duplicate create row(s)")
        }
        if o.rawExecutionCreateEvents < o.committedExecutions {
            out.append("cdc_order_executions_raw has \(o.rawExecutionCreateEvents) of \(o.committedExecutions) committed executions: "
                       + "\(o.committedExecutions - o.rawExecutionCreateEvents) missing" + (slack > 0 ? " (\(slack) commit(s) indeterminate)" : ""))
        } else if o.rawExecutionCreateEvents > o.committedExecutions + slack {
            out.append("cdc_order_executions_raw has \(o.rawExecutionCreateEvents - o.committedExecutions) more executions than were committed")
        }
        // Exactly once in orders_current: one row per live order, in MySQL's final state.
        var seen: [UInt64: Int] = [:]
        for c in o.current { seen[c.orderId, default: 0] += 1 }
        let twice = seen.filter { $0.value > 1 }.keys.sorted()
        if !twice.isEmpty { out.append("orders_current FINAL holds order(s) \(ids(twice)) more than once") }
        let source = Dictionary(o.source.map { ($0.orderId, $0.status) }, uniquingKeysWith: { a, _ in a })
        let current = Dictionary(o.current.map { ($0.orderId, $0.status) }, uniquingKeysWith: { a, _ in a })
        let missing = source.keys.filter { current[$0] == nil }.sorted()
        let extra = current.keys.filter { source[$0] == nil }.sorted()
        let differ = source.keys.filter { current[$0] != nil && current[$0] != source[$0] }.sorted()
        if !missing.isEmpty { out.append("\(missing.count) order(s) in MySQL missing from orders_current: \(ids(missing))") }
        if !extra.isEmpty { out.append("\(extra.count) order(s) in orders_current that MySQL no longer has (deleted, or never committed): \(ids(extra))") }
        if !differ.isEmpty {
            out.append("\(differ.count) order(s) whose status differs: "
                       + differ.prefix(5).map { "\($0): MySQL \(source[$0]!), ClickHouse \(current[$0]!)" }.joined(separator: ", ")
                       + (differ.count > 5 ? ", …" : ""))
        }
        return out
    }

    public static func condition(_ o: PipelineObservation?) -> Condition {
        let name = "every order change exactly once in ClickHouse"
        guard let o else {
            return Condition(number: 7, name: name, outcome: .notApplicable, detail: "not run: add --through-pipeline")
        }
        let problems = problems(o)
        guard problems.isEmpty else {
            let late = o.caughtUpAfterSeconds == nil && o.error == nil ? "not caught up within \(Int(o.catchUpTimeoutSeconds)) s: " : ""
            return Condition(number: 7, name: name, outcome: .fail, detail: late + problems.joined(separator: "; "))
        }
        let when = o.caughtUpAfterSeconds.map { String(format: ", caught up %.1f s after the generator stopped", $0) } ?? ""
        return Condition(number: 7, name: name, outcome: .pass,
                         detail: "\(o.committedChanges) committed order changes and \(o.committedExecutions) executions each once in cdc_orders_raw / "
                            + "cdc_order_executions_raw; orders_current FINAL equals MySQL for \(o.source.count) live order(s)\(when)"
                            + (o.unwritten > 0 ? "; \(o.unwritten) step(s) not committed (expected nowhere)" : ""))
    }

    static func ids(_ list: [UInt64]) -> String {
        list.prefix(8).map(String.init).joined(separator: ", ") + (list.count > 8 ? " and \(list.count - 8) more" : "")
    }
}
