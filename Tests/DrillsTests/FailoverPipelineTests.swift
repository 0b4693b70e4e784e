@testable import Drills
import Foundation
import Reports
import XCTest

/// Condition 7 (`--through-pipeline`) over constructed observations: MySQL's orders after the
/// generator stopped against what ClickHouse holds once the processor caught up.
final class FailoverPipelineTests: XCTestCase {
    /// 40 committed changes on 12 orders: 10 live (6 FILLED, 4 CANCELLED), 2 deleted; 15 executions.
    static func agreeing() -> PipelineObservation {
        let live = (101...110).map { OrderState(orderId: UInt64($0), status: $0 <= 106 ? "FILLED" : "CANCELLED") }
        return PipelineObservation(ordersAfterId: 100, executionsAfterId: 500, committedChanges: 40, committedExecutions: 15,
                                   source: live, current: live, rawOrderRows: 40, rawOrderEvents: 40,
                                   rawExecutionCreates: 15, rawExecutionCreateEvents: 15, caughtUpAfterSeconds: 2.5)
    }

    func testEveryChangeOnceInEveryTablePasses() {
        let o = Self.agreeing()
        XCTAssertEqual(PipelineVerdict.problems(o), [])
        let c = PipelineVerdict.condition(o)
        XCTAssertEqual(c.number, 7)
        XCTAssertEqual(c.outcome, .pass, c.detail)
        XCTAssertTrue(c.detail.contains("40 committed order changes"), c.detail)
        XCTAssertTrue(c.detail.contains("caught up 2.5 s"), c.detail)
    }

    func testAMissingChangeFails() {
        var o = Self.agreeing()
        o.rawOrderRows = 39
        o.rawOrderEvents = 39
        let c = PipelineVerdict.condition(o)
        XCTAssertEqual(c.outcome, .fail)
        XCTAssertTrue(c.detail.contains("39 of 40 committed order changes: 1 missing"), c.detail)
        // A missing execution says so in the same words (the end-to-end drill accepts a loss by
        // the stand-in broker only when the detail says "missing").
        var e = Self.agreeing()
        e.rawExecutionCreates = 14
        e.rawExecutionCreateEvents = 14
        e.caughtUpAfterSeconds = nil
        let ce = PipelineVerdict.condition(e)
        XCTAssertEqual(ce.outcome, .fail)
        XCTAssertEqual(ce.detail, "not caught up within \(Int(e.catchUpTimeoutSeconds)) s: cdc_order_executions_raw has 14 of 15 committed executions: 1 missing")
    }

    func testADuplicateRawRowFails() {
        var o = Self.agreeing()
        o.rawOrderRows = 41  // one event (topic, partition, offset) inserted twice
        XCTAssertEqual(PipelineVerdict.condition(o).outcome, .fail)
        XCTAssertTrue(PipelineVerdict.problems(o).contains { $0.contains("1 duplicate row(s)") }, "\(PipelineVerdict.problems(o))")
        var e = Self.agreeing()
        e.rawExecutionCreates = 16
        XCTAssertTrue(PipelineVerdict.problems(e).contains { $0.contains("cdc_order_executions_raw holds 1 duplicate") })
    }

    func testMoreEventsThanCommittedFailsUnlessIndeterminate() {
        var o = Self.agreeing()
        o.rawOrderRows = 41
        o.rawOrderEvents = 41
        XCTAssertTrue(PipelineVerdict.problems(o).contains { $0.contains("1 more order changes than were committed") })
        o.indeterminate = 1  // a COMMIT whose answer was lost may have committed
        XCTAssertEqual(PipelineVerdict.problems(o), [])
    }

    func testOrdersCurrentMustEqualMySQL() {
        var o = Self.agreeing()
        o.current.removeLast()                                           // 110 missing
        o.current.append(OrderState(orderId: 111, status: "NEW"))        // deleted in MySQL, still in ClickHouse
        o.current[0].status = "PARTIALLY_FILLED"                         // 101 stale
        o.current.append(OrderState(orderId: 102, status: "FILLED"))     // 102 twice
        let problems = PipelineVerdict.problems(o)
        XCTAssertTrue(problems.contains { $0.contains("missing from orders_current: 110") }, "\(problems)")
        XCTAssertTrue(problems.contains { $0.contains("MySQL no longer has (deleted, or never committed): 111") }, "\(problems)")
        XCTAssertTrue(problems.contains { $0.contains("101: MySQL FILLED, ClickHouse PARTIALLY_FILLED") }, "\(problems)")
        XCTAssertTrue(problems.contains { $0.contains("order(s) 102 more than once") }, "\(problems)")
    }

    func testNotCaughtUpAndErrorsFail() {
        var o = Self.agreeing()
        o.rawOrderEvents = 10
        o.rawOrderRows = 10
        o.caughtUpAfterSeconds = nil
        o.catchUpTimeoutSeconds = 60
        XCTAssertTrue(PipelineVerdict.condition(o).detail.hasPrefix("not caught up within 60 s"), PipelineVerdict.condition(o).detail)
        let e = PipelineObservation(error: "ClickHouse did not answer")
        XCTAssertEqual(PipelineVerdict.condition(e).outcome, .fail)
        XCTAssertTrue(PipelineVerdict.condition(e).detail.contains("cannot compare: ClickHouse did not answer"))
    }

    func testTheRunJudgesConditionSevenOnlyThroughThePipeline() {
        var h = FailoverVerdictTests.cleanHistory()
        XCTAssertEqual(FailoverVerdict.judge(h).conditions.count, 6, "without --through-pipeline: the six conditions")
        h.parameters.throughPipeline = true
        h.pipeline = Self.agreeing()
        let passed = FailoverVerdict.judge(h)
        XCTAssertEqual(passed.conditions.map(\.number), [1, 2, 3, 4, 5, 6, 7])
        XCTAssertEqual(passed.verdict, "passed")
        XCTAssertEqual(passed.pipeline?.committedChanges, 40)
        XCTAssertTrue(FailoverSummary.text(passed).contains("pipeline: 40 order changes and 15 executions committed"), FailoverSummary.text(passed))
        h.pipeline?.rawOrderEvents = 30
        let failed = FailoverVerdict.judge(h)
        XCTAssertEqual(failed.verdict, "failed")
        XCTAssertEqual(failed.violated.map(\.number), [7])
        h.pipeline = nil
        XCTAssertEqual(FailoverVerdict.judge(h).conditions.last?.outcome, .notApplicable)
    }
}
