import Runtime
import TestSupport
import XCTest
@testable import Stack

/// Status verdicts over a FAKE runtime (TestSupport.FakeRuntime): which containers make a
/// problem line, and that an engine that is not there is one plain problem, not a crash.
final class StatusVerdictTests: XCTestCase {
    func status(_ service: String, _ state: String, _ health: String?) -> ServiceStatus {
        ServiceStatus(service: service, container: "cdc-\(service)", id: service, image: "i", state: state, health: health)
    }

    func testUnhealthyAndMissingContainersAreProblems() {
        let fake = FakeRuntime(services: [status("kafka-1", "running", "healthy"), status("mysql", "running", "unhealthy"),
                                          status("connect", "exited", nil)])
        var problems: [String] = []
        let reports = StatusOperation.containerReports(fake, expected: ["kafka-1", "mysql", "connect", "clickhouse"], problems: &problems)
        XCTAssertEqual(reports.map(\.service), ["kafka-1", "mysql", "connect", "clickhouse"], "in the manifest's order")
        XCTAssertEqual(problems, ["service mysql: unhealthy", "service connect: stopped", "service clickhouse: no container (run cdcctl up)"])
        XCTAssertEqual(reports.last?.state, "missing")
        XCTAssertEqual(fake.calls.prefix(2), ["check", "services"])
    }

    func testAnEngineThatIsNotThereIsOneProblem() {
        let fake = FakeRuntime()
        fake.unavailable = RuntimeError(.daemonNotRunning(address: "unix:///x.sock", fromDockerHost: false))
        var problems: [String] = []
        XCTAssertEqual(StatusOperation.containerReports(fake, expected: ["kafka-1"], problems: &problems), [])
        XCTAssertEqual(problems, ["containers: the Docker daemon is not running (nothing answers at unix:///x.sock)"])
    }
}
