@testable import Drills
import Foundation
import Telemetry
import XCTest

/// The drill stops on SIGINT/SIGTERM through the processor's signal handling (Telemetry's
/// `ServiceHost`), and a second signal while it restores the broker does not end the process.
final class FailoverSignalTests: XCTestCase {
    func testASecondSIGINTDoesNotSkipTheRestore() throws {
        let lines = LinesBox()
        var restored = false
        var sawStop = false
        let drill = FailoverDrill { stop in
            // Stand-in for the driver: run until stopped, then restore, which takes a while.
            // Bounded: a SIGINT that never arrives fails the test instead of hanging the suite.
            let giveUp = Date().addingTimeInterval(20)
            while !stop.isSet && Date() < giveUp { Thread.sleep(forTimeInterval: 0.01) }
            sawStop = stop.isSet
            guard sawStop else { return FailoverVerdict.judge(FailoverHistory(parameters: FailoverVerdictTests.params())) }
            kill(getpid(), SIGINT)  // the operator presses Ctrl-C again during the restore
            Thread.sleep(forTimeInterval: 0.5)
            restored = true
            return FailoverVerdict.judge(FailoverHistory(parameters: FailoverVerdictTests.params(), interrupted: stop.reason))
        }
        DispatchQueue.global().asyncAfter(deadline: .now() + 0.2) { kill(getpid(), SIGINT) }
        try ServiceHost.run(drill, secondSignal: .ignore) { lines.append($0) }
        // Had the second SIGINT exited (the processor's default), this process would be gone.
        XCTAssertTrue(sawStop)
        XCTAssertTrue(restored, "the restore ran to its end")
        XCTAssertEqual(drill.report?.verdict, "interrupted")
        XCTAssertEqual(drill.report?.interrupted, "SIGINT")
        let all = lines.all
        XCTAssertTrue(all.contains { $0.contains("failover-test: SIGINT, stopping; the target is restored first") }, "\(all)")
        XCTAssertTrue(all.contains { $0.contains("SIGINT again, still stopping") }, "\(all)")
    }

    final class LinesBox: @unchecked Sendable {
        private let lock = NSLock()
        private var lines: [String] = []
        func append(_ s: String) { lock.lock(); lines.append(s); lock.unlock() }
        var all: [String] { lock.lock(); defer { lock.unlock() }; return lines }
    }
}
