import Telemetry
import XCTest

/// The one failpoint reader both loops use: `POINT[@N]` from their own variable.
final class FailpointTests: XCTestCase {
    func testPointAndRoundAreReadFromTheOwnersVariableOnly() {
        let p = Failpoint.fromEnvironment("CDCCTL_PROCESSOR_FAILPOINT", owner: "processor", unit: "flush",
                                          environment: ["CDCCTL_PROCESSOR_FAILPOINT": "after-insert:trades@3"])
        XCTAssertEqual(p?.point, "after-insert:trades")
        XCTAssertEqual(p?.round, 3)
        let pg = Failpoint.fromEnvironment("CDCCTL_FAILPOINT", prefix: "pg.", owner: "postgres-sink", unit: "batch",
                                           environment: ["CDCCTL_FAILPOINT": "pg.after-rows"])
        XCTAssertEqual(pg?.point, "after-rows", "the prefix is not part of the point")
        XCTAssertEqual(pg?.round, 1, "the first round unless @N")
        XCTAssertNil(Failpoint.fromEnvironment("CDCCTL_FAILPOINT", prefix: "pg.", owner: "postgres-sink", unit: "batch",
                                               environment: ["CDCCTL_FAILPOINT": "after-rows"]), "another owner's point")
        XCTAssertNil(Failpoint.fromEnvironment("CDCCTL_PROCESSOR_FAILPOINT", owner: "processor", unit: "flush", environment: [:]))
        var logged: [String] = []
        pg?.hit("after-offsets", round: 1, log: { logged.append($0) })
        pg?.hit("after-rows", round: 2, log: { logged.append($0) })
        XCTAssertEqual(logged, [], "another point or round does nothing")
    }
}
