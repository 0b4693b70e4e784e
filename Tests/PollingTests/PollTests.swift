import Diagnostics
import Foundation
import Polling
import XCTest

/// A clock that only moves when the code under test sleeps: deadlines run in microseconds.
final class ManualClock: Clock, @unchecked Sendable {
    private let lock = NSLock()
    private var time: Double = 1_000
    private(set) var sleeps: [Double] = []

    func now() -> Double { lock.withLock { time } }
    func sleep(_ seconds: Double) { lock.withLock { sleeps.append(seconds); time += seconds } }
}

final class PollTests: XCTestCase {
    func testBackoffGrowsToItsMaximum() {
        let b = Backoff(initial: 0.5, factor: 2, maximum: 3)
        XCTAssertEqual((0...5).map { b.delay(after: $0) }, [0, 0.5, 1, 2, 3, 3])
        XCTAssertEqual(Backoff.every(1).delay(after: 7), 1)
    }

    func testUntilReturnsTheFirstValueAndCountsTheWaits() {
        let clock = ManualClock()
        var calls = 0
        var waited: [Int] = []
        let value = Poll.until(Deadline(seconds: 10, clock: clock), backoff: .every(1), waiting: { waited.append($0) }) { () -> String? in
            calls += 1
            return calls == 3 ? "ready" : nil
        }
        XCTAssertEqual(value, "ready")
        XCTAssertEqual(waited, [1, 2])
        XCTAssertEqual(clock.sleeps, [1, 1])
    }

    func testUntilGivesUpAtTheDeadlineWithoutSleepingPastIt() {
        let clock = ManualClock()
        var calls = 0
        let value: Int? = Poll.until(Deadline(seconds: 2.5, clock: clock), backoff: .every(1)) { calls += 1; return nil }
        XCTAssertNil(value)
        XCTAssertEqual(clock.sleeps, [1, 1, 0.5], "the last pause is cut to the deadline")
        XCTAssertEqual(calls, 4, "one last check at the deadline")
    }

    func testRetryRetriesTransientFailuresOnly() throws {
        let clock = ManualClock()
        var attempts = 0
        var heard: [Int] = []
        let result = try Poll.retry(Deadline(seconds: 60, clock: clock), backoff: Backoff(initial: 1, maximum: 5),
                                    retrying: { n, _ in heard.append(n) }) { () -> Int in
            attempts += 1
            if attempts < 4 { throw CdcError.failed("broker not ready", transient: true) }
            return 42
        }
        XCTAssertEqual(result, 42)
        XCTAssertEqual(heard, [1, 2, 3])
        XCTAssertEqual(clock.sleeps, [1, 2, 4])

        attempts = 0
        XCTAssertThrowsError(try Poll.retry(Deadline(seconds: 60, clock: clock)) { () -> Int in
            attempts += 1
            throw CdcError.invalid("bad replication factor")
        })
        XCTAssertEqual(attempts, 1, "bad input is not retried")
    }

    func testRetryThrowsTheLastFailureAtTheDeadline() {
        let clock = ManualClock()
        var attempts = 0
        XCTAssertThrowsError(try Poll.retry(Deadline(seconds: 3, clock: clock), backoff: .every(1)) { () -> Int in
            attempts += 1
            throw CdcError.failed("attempt \(attempts)", transient: true)
        }) { error in
            XCTAssertEqual((error as? CdcError)?.message, "attempt 4")
        }
    }

    func testBridgingKeepsTypedAdapterErrorsJudgement() {
        struct Adapter: CdcErrorConvertible { var cdcError: CdcError { .failed("server away", transient: true) } }
        XCTAssertTrue(Poll.isTransient(Adapter()))
        XCTAssertFalse(Poll.isTransient(CdcError.failed("permanent")))
        XCTAssertFalse(Poll.isTransient(NSError(domain: "x", code: 1)))
        XCTAssertEqual(CdcError.bridging(Adapter()).message, "server away")
        XCTAssertEqual(CdcErrors.exitCode(of: CdcErrors([.invalid("a"), .failed("b")])), 2)
    }
}
