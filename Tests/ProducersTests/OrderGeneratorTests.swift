import Diagnostics
import MySQL
import Polling
@testable import Producers
import XCTest

/// A clock the test moves: `sleep` advances it at once.
final class FakeClock: Clock, @unchecked Sendable {
    var t = 1000.0
    func now() -> Double { t }
    func sleep(_ seconds: Double) { t += max(seconds, 0) }
}

/// The order tables in memory, enforcing what MySQL's schema and the lifecycle demand.
struct MemoryOrders: OrderSink {
    struct Row { var quantity: Int; var status: String; var executed: Int }
    var rows: [Int: Row] = [:]
    var executions = 0
    var deleted: Set<Int> = []
    var log: [OrderStep] = []
    /// Throw this (once per entry) before writing, to imitate MySQL trouble.
    var failures: [Error] = []

    mutating func write(_ step: OrderStep) throws {
        if !failures.isEmpty { throw failures.removeFirst() }
        switch step {
        case let .place(o, _, _, _, q, _):
            XCTAssertNil(rows[o]); rows[o] = Row(quantity: q, status: "NEW", executed: 0)
        case let .execute(o, _, q, _, fills):
            guard var r = rows[o] else { return XCTFail("execution of unknown order \(o)") }
            XCTAssertTrue(["NEW", "PARTIALLY_FILLED"].contains(r.status), "execution of a \(r.status) order")
            r.executed += q
            XCTAssertLessThanOrEqual(r.executed, r.quantity)
            r.status = fills ? "FILLED" : "PARTIALLY_FILLED"
            rows[o] = r
            executions += 1
        case let .cancel(o):
            guard let r = rows[o] else { return XCTFail("cancel of unknown order \(o)") }
            XCTAssertTrue(["NEW", "PARTIALLY_FILLED"].contains(r.status))
            rows[o]?.status = "CANCELLED"
        case let .delete(o):
            guard let r = rows[o] else { return XCTFail("delete of unknown order \(o)") }
            XCTAssertTrue(["FILLED", "CANCELLED"].contains(r.status), "only finished orders are deleted")
            rows[o] = nil
            deleted.insert(o)
        }
        log.append(step)
    }

    func checkInvariants(file: StaticString = #filePath, line: UInt = #line) {
        for (id, r) in rows {
            if r.status == "FILLED" { XCTAssertEqual(r.executed, r.quantity, "order \(id): executions sum to the quantity", file: file, line: line) }
            if r.status == "PARTIALLY_FILLED" { XCTAssertGreaterThan(r.executed, 0, file: file, line: line) }
            if r.status == "CANCELLED" { XCTAssertLessThan(r.executed, r.quantity, file: file, line: line) }
        }
    }
}

let settings = OrderModelSettings(symbols: ["005930", "000660", "035420"], deleteShare: 0.1, cancelShare: 0.2,
                                  oversizedShare: 0.01, oversizedNotional: 100_000_000)

final class OrderGeneratorTests: XCTestCase {
    func testTimeOfDayIsTheKRXUShapeInKST() {
        let p = RatePattern.timeOfDay(offHours: 0.02)
        func at(_ hhmm: String) -> Double { p.factor(kstSecondOfDay: RatePattern.parseClock(hhmm)!, elapsed: 0) }
        XCTAssertEqual(at("09:05"), 1, "the first 30 minutes are the peak")
        XCTAssertEqual(at("12:10"), 5.0 / 17, accuracy: 1e-9, "midday lull")
        XCTAssertEqual(at("15:10"), 12.0 / 17, accuracy: 1e-9, "second peak before the close")
        XCTAssertGreaterThan(at("15:10"), at("12:10"))
        XCTAssertEqual(at("15:30"), 0.02, "closed at 15:30")
        XCTAssertEqual(at("08:59"), 0.02)
        XCTAssertEqual(at("03:00"), 0.02)
        XCTAssertEqual(RatePattern.timeOfDay(offHours: 0).factor(kstSecondOfDay: 0, elapsed: 0), 0)
        XCTAssertEqual(RatePattern.kstSecondOfDay(unixSeconds: 0), 9 * 3600, "KST is UTC+9")
        XCTAssertEqual(RatePattern.kstSecondOfDay(unixSeconds: 15 * 3600 + 60), 60, "15:01 UTC is 00:01 KST")
        XCTAssertNil(RatePattern.parseClock("9:05"))
        XCTAssertNil(RatePattern.parseClock("24:00"))
        XCTAssertEqual(RatePattern.named("flat", offHours: 0), .constant)
        XCTAssertNil(RatePattern.named("sometimes", offHours: 0))
        let burst = RatePattern.named("burst", offHours: 0)!
        XCTAssertEqual(burst.factor(kstSecondOfDay: 0, elapsed: 5), 1)
        XCTAssertEqual(burst.factor(kstSecondOfDay: 0, elapsed: 30), 0.1)
        XCTAssertEqual(burst.factor(kstSecondOfDay: 0, elapsed: 65), 1)
    }

    func testPacerKeepsTheRateAndCountsWhatItSkips() {
        var p = Pacer(maxBacklog: 20)
        var total = p.due(now: 0, rate: 10)
        for i in 1...100 { total += p.due(now: Double(i) * 0.01, rate: 10) }
        XCTAssertEqual(total, 11, "1 at once, then 10 per second")
        XCTAssertEqual(p.due(now: 101, rate: 10), 20, "a long stall yields at most the backlog")
        XCTAssertEqual(p.dropped, 980, "the rest is counted, not written late")
    }

    func testSameSeedSameOrdersAndTheLifecycleHolds() {
        func steps(_ seed: UInt64) -> [OrderStep] {
            var m = OrderModel(settings: settings, seed: seed)
            var db = MemoryOrders()
            for _ in 0..<3000 {
                let s = m.next()
                XCTAssertNoThrow(try db.write(s))
                m.committed(s)
            }
            db.checkInvariants()
            return db.log
        }
        let a = steps(42)
        XCTAssertEqual(a, steps(42))
        XCTAssertNotEqual(a, steps(43))
        let kinds = Dictionary(grouping: a, by: \.kind).mapValues(\.count)
        for kind in ["place", "partial", "fill", "cancel", "delete"] { XCTAssertGreaterThan(kinds[kind] ?? 0, 0, "\(kind) occurs: \(kinds)") }
        var customers: [Int: Int] = [:]
        var oversized = 0
        var pricesBySymbol: [String: [Int64]] = [:]
        for case let .place(_, c, symbol, _, q, price) in a {
            customers[c, default: 0] += 1
            if Double(q) * Double(price) > 100_000_000 { oversized += 1 }
            pricesBySymbol[symbol, default: []].append(price)
        }
        let heavy = (1...10).reduce(0) { $0 + (customers[$1] ?? 0) }
        XCTAssertGreaterThan(Double(heavy) / Double(kinds["place"]!), 0.4, "ten heavy users place about half the orders")
        XCTAssertGreaterThan(oversized, 0, "some orders trip oversized_order")
        for (symbol, prices) in pricesBySymbol {
            let ref = Double(OrderModel.reference(symbol))
            XCTAssertGreaterThan(Set(prices).count, 10, "\(symbol) walks")
            XCTAssertTrue(prices.allSatisfy { abs(Double($0) / ref - 1) < 0.2 }, "\(symbol) stays near its reference")
        }
    }

    func testRetriesTransientFailuresAndNeverCountsAnUncommittedStep() {
        let clock = FakeClock()
        let down = MySQLError(.connect, code: MySQLError.Code.connectionRefused, message: "refused",
                              endpoint: MySQLEndpoint(host: "127.0.0.1", port: 1, user: "app", password: "x"))
        var db = MemoryOrders()
        db.failures = [down, down, down, OrderWriteFailure(indeterminate: true, underlying: "lost during COMMIT")]
        var lines: [String] = []
        var runner = OrderRunner(model: OrderModel(settings: settings, seed: 1),
                                 settings: OrderRunSettings(ratePerSecond: 100, pattern: .constant, count: 200, retrySeconds: 30),
                                 clock: clock, wallStart: 0, progress: { lines.append($0) })
        let s = runner.run(into: &db)
        XCTAssertEqual(s.endedBy, "count")
        XCTAssertEqual(s.attempted, 200)
        XCTAssertEqual(s.retries, 3, "the first step was retried while MySQL refused")
        XCTAssertEqual(s.indeterminate, 1, "a lost COMMIT is not reported as written")
        XCTAssertEqual(s.committed, 199)
        XCTAssertEqual(db.log.count, 199, "committed = what the database holds")
        XCTAssertTrue(lines.contains { $0.hasPrefix("MySQL unavailable") }, "said so on stderr: \(lines)")
        db.checkInvariants()
    }

    func testAStepThatStaysUnwritableIsCountedAndTheRunGoesOn() {
        let clock = FakeClock()
        let down = MySQLError(.connect, code: MySQLError.Code.cannotConnect, message: "down",
                              endpoint: MySQLEndpoint(host: "127.0.0.1", port: 1, user: "app", password: "x"))
        var db = MemoryOrders()
        db.failures = Array(repeating: down, count: 40)
        var runner = OrderRunner(model: OrderModel(settings: settings, seed: 2),
                                 settings: OrderRunSettings(ratePerSecond: 10, pattern: .constant, durationSeconds: 60, retrySeconds: 5,
                                                            backoff: .every(1)), clock: clock, wallStart: 0)
        let s = runner.run(into: &db)
        XCTAssertEqual(s.endedBy, "duration")
        XCTAssertGreaterThan(s.failed, 0, "steps given up after the retry window")
        XCTAssertGreaterThan(s.unwrittenBacklog, 0, "steps due during the outage are skipped and counted")
        XCTAssertEqual(s.committed, db.log.count)
        XCTAssertEqual(s.attempted, s.committed + s.failed)
        db.checkInvariants()
    }

    func testANonTransientErrorEndsTheRun() {
        let denied = MySQLError(.query("INSERT"), code: 1142, message: "INSERT command denied",
                                endpoint: MySQLEndpoint(host: "127.0.0.1", port: 1, user: "app", password: "x"))
        var db = MemoryOrders()
        db.failures = [denied]
        var runner = OrderRunner(model: OrderModel(settings: settings, seed: 3),
                                 settings: OrderRunSettings(ratePerSecond: 10, pattern: .constant, count: 50), clock: FakeClock(), wallStart: 0)
        let s = runner.run(into: &db)
        XCTAssertEqual(s.endedBy, "error")
        XCTAssertEqual(s.committed, 0)
        XCTAssertEqual(s.retries, 0)
    }

    func testAtRunsThePatternAsIfItWereThatTime() {
        func committed(at: String) -> Int {
            var db = MemoryOrders()
            var runner = OrderRunner(model: OrderModel(settings: settings, seed: 4),
                                     settings: OrderRunSettings(ratePerSecond: 100, pattern: .timeOfDay(offHours: 0),
                                                                startKSTSecond: RatePattern.parseClock(at), durationSeconds: 10),
                                     clock: FakeClock(), wallStart: 0)
            return runner.run(into: &db).committed
        }
        let open = committed(at: "09:05"), lull = committed(at: "12:05"), night = committed(at: "03:00")
        XCTAssertEqual(Double(open), 1000, accuracy: 5)
        XCTAssertEqual(Double(lull), 1000 * 5 / 17, accuracy: 5)
        XCTAssertEqual(night, 0)
    }
}
