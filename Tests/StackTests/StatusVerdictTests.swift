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
        let seen = StatusOperation.containerReports(fake, expected: ["kafka-1", "mysql", "connect", "clickhouse"])
        XCTAssertEqual(seen.reports.map(\.service), ["kafka-1", "mysql", "connect", "clickhouse"], "in the manifest's order")
        XCTAssertEqual(seen.problems.map(\.description), ["service mysql: unhealthy", "service connect: stopped", "service clickhouse: no container"])
        XCTAssertTrue(seen.problems.allSatisfy { !$0.fix.isEmpty }, "every problem has a fix")
        XCTAssertEqual(seen.reports.last?.state, "missing")
        XCTAssertTrue(seen.any)
        XCTAssertEqual(fake.calls.prefix(2), ["check", "services"])
    }

    func testAnEngineThatIsNotThereIsNoCrash() {
        let fake = FakeRuntime()
        fake.unavailable = RuntimeError(.daemonNotRunning(address: "unix:///x.sock", fromDockerHost: false))
        let seen = StatusOperation.containerReports(fake, expected: ["kafka-1"])
        XCTAssertEqual(seen.reports, [])
        XCTAssertFalse(seen.any)
        XCTAssertEqual(seen.engineError, "the Docker daemon is not running (nothing answers at unix:///x.sock)")
    }

    let unreachableKafka = KafkaReport(brokersLive: 0, brokersExpected: 3, brokers: [], controller: nil, controllerNote: "", partitions: 0, problems: [], error: "unreachable")
    let unknownConnector = ConnectorReport(name: "shop-mysql", state: "UNKNOWN", tasks: "-", error: "Kafka Connect unreachable", healthy: false)
    let unreachableClickHouse = ClickHouseReport(reachable: false, database: "analytics", tables: [], error: "unreachable")

    func testNothingRunningIsOnePlainProblem() {
        let none = ContainerObservation(engineError: nil, reports: [], problems: [StatusProblem("service kafka-1", "no container", fix: "up")], any: false)
        let v = StatusOperation.judge(cluster: "cdc", containers: none, startedByUp: false, kafka: unreachableKafka,
                                      connectors: [unknownConnector], clickhouse: unreachableClickHouse, addresses: "Kafka 127.0.0.1:9092", flag: " -m x.yaml")
        XCTAssertEqual(v.summary, "nothing is running for cluster cdc")
        XCTAssertEqual(v.problems.map(\.fix), ["cdcctl -m x.yaml up starts it"])
        XCTAssertFalse(v.runsOnDocker, "never started with up, no containers: no Docker table")
    }

    func testAClusterOutsideDockerShowsNoContainerProblems() {
        // The servers answer elsewhere (the testbed's, a remote cluster); no container runs here.
        let none = ContainerObservation(engineError: "the Docker daemon is not running", reports: [], problems: [], any: false)
        let kafka = KafkaReport(brokersLive: 3, brokersExpected: 3, brokers: [], controller: nil, controllerNote: "", partitions: 12, problems: [], error: nil)
        let running = ConnectorReport(name: "shop-mysql", state: "RUNNING", tasks: "0:RUNNING", error: nil, healthy: true)
        let clickhouse = ClickHouseReport(reachable: true, database: "analytics", tables: [], error: nil)
        let v = StatusOperation.judge(cluster: "testbed", containers: none, startedByUp: false, kafka: kafka, connectors: [running],
                                      clickhouse: clickhouse, addresses: "Kafka 127.0.0.1:9092", flag: "")
        XCTAssertNil(v.summary)
        XCTAssertEqual(v.problems, [], "no Docker line for a cluster that does not run on Docker")
        XCTAssertFalse(v.runsOnDocker)
    }

    func testEveryProblemOfARunningClusterHasAFix() {
        let seen = ContainerObservation(engineError: nil, reports: [], problems: [StatusProblem("service mysql", "unhealthy", fix: "docker logs")], any: true)
        let notRegistered = ConnectorReport(name: "shop-mysql", state: "NOT REGISTERED", tasks: "none", error: "not registered", healthy: false)
        let v = StatusOperation.judge(cluster: "cdc", containers: seen, startedByUp: true, kafka: unreachableKafka, connectors: [notRegistered],
                                      clickhouse: unreachableClickHouse, addresses: "Kafka 127.0.0.1:9092", flag: "")
        XCTAssertNil(v.summary)
        XCTAssertEqual(v.problems.map(\.subject), ["service mysql", "kafka", "connector shop-mysql", "clickhouse"])
        XCTAssertEqual(v.problems[2].fix, "cdcctl connector register shop-mysql")
        XCTAssertTrue(v.problems.allSatisfy { !$0.fix.isEmpty })
    }
}

/// `up` refuses to recreate containers whose volumes were initialised with other secrets.
final class SecretsGuardTests: XCTestCase {
    func container(_ service: String, _ fingerprint: String?) -> ServiceStatus {
        ServiceStatus(service: service, container: "cdc-\(service)", id: service, image: "i", state: "running", health: "healthy",
                      secretsFingerprint: fingerprint)
    }

    func testOtherSecretsAreAConflictUnlabelledContainersAreNot() {
        let running = [container("mysql", "aaaa"), container("grafana", "bbbb"), container("kafka-1", nil)]
        XCTAssertEqual(StackLayout.secretsConflicts(running, fingerprint: "aaaa"), ["grafana"])
        XCTAssertEqual(StackLayout.secretsConflicts(running, fingerprint: "cccc"), ["grafana", "mysql"])
        XCTAssertEqual(StackLayout.secretsConflicts([], fingerprint: "cccc"), [], "nothing running: nothing to protect")
    }
}

/// clickhouse.openFiles above the engine's own limit is refused before compose starts anything.
final class OpenFilesPreflightTests: XCTestCase {
    func testAboveTheEngineLimitIsBadInputNamingTheValueThatWorks() throws {
        XCTAssertNil(StackLayout.openFilesProblem(requested: 16384, engineLimit: 20000))
        XCTAssertNil(StackLayout.openFilesProblem(requested: 262144, engineLimit: nil), "unknown limit: no guess")
        let e = try XCTUnwrap(StackLayout.openFilesProblem(requested: 262144, engineLimit: 20000))
        XCTAssertEqual(e.exitCode, 2)
        XCTAssertEqual(e.subject, "clickhouse.openFiles")
        XCTAssertTrue(e.fix?.contains("set clickhouse.openFiles: 20000") == true, "\(e)")
    }
}
