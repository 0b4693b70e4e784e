import Manifest
import Stack
import Runtime
import XCTest

/// The pure parts of `up`: stage order, which services read which rendered files, the health gate.
final class UpPlanTests: XCTestCase {
    func manifest(_ yaml: String = "apiVersion: cdcctl/v1\n") throws -> Manifest {
        try ManifestLoader.parse(yaml, file: "test.yaml").manifest
    }

    func testStagesFollowThePipelineDependencies() throws {
        let stages = StackLayout.stages(try manifest())
        XCTAssertEqual(stages.map(\.name), ["kafka quorum", "mysql", "connect", "clickhouse", "the rest"])
        XCTAssertEqual(stages[0].services, ["kafka-1", "kafka-2", "kafka-3"])
        XCTAssertEqual(stages[4].services, ["prometheus", "grafana", "kafka-ui"])
        let noUI = StackLayout.stages(try manifest("apiVersion: cdcctl/v1\nkafkaUI:\n  enabled: false\n"))
        XCTAssertEqual(noUI[4].services, ["prometheus", "grafana"])
    }

    func testServicesReadingRenderedFiles() {
        XCTAssertEqual(StackLayout.servicesReading("mysql/conf.d/cdc.cnf"), ["mysql"])
        XCTAssertEqual(StackLayout.servicesReading("connect/secrets/mysql.properties"), ["connect"])
        XCTAssertEqual(StackLayout.servicesReading("prometheus/rules/cdc-alerts.yml"), ["prometheus"])
        XCTAssertEqual(StackLayout.servicesReading("connect/worker.env"), [], "env files are part of the service definition")
        XCTAssertEqual(StackLayout.servicesReading("kafka/kafka-1.env"), [])
        XCTAssertEqual(StackLayout.changedPaths(old: ["a": "1", "b": "2", "c": "3"], new: ["a": "1", "b": "9", "d": "4"]), ["b", "c", "d"])
    }

    func status(_ service: String, _ state: String, _ health: String?) -> ServiceStatus {
        ServiceStatus(service: service, container: "cdc-\(service)", id: service, image: "i", state: state, health: health)
    }

    func testHealthGateWaitsStageByStage() throws {
        let stages = StackLayout.stages(try manifest())
        var all = ["kafka-1", "kafka-2", "kafka-3", "mysql", "connect", "clickhouse", "prometheus", "grafana", "kafka-ui"]
            .map { status($0, "running", "healthy") }
        all[1] = status("kafka-2", "running", "starting")
        all[4] = status("connect", "created", nil)
        var gate = HealthGate.evaluate(stages, all, composeFinished: false)
        XCTAssertEqual(gate.ready, [])
        XCTAssertEqual(gate.waitingStage, "kafka quorum")
        XCTAssertEqual(gate.waitingOn.map(\.description), ["kafka-1 healthy", "kafka-2 starting", "kafka-3 healthy"])
        XCTAssertEqual(gate.failed, [], "a created container is waiting for its dependencies while compose runs")

        all[1] = status("kafka-2", "running", "healthy")
        gate = HealthGate.evaluate(stages, all, composeFinished: false)
        XCTAssertEqual(gate.ready, ["kafka quorum", "mysql"])
        XCTAssertEqual(gate.waitingStage, "connect")

        gate = HealthGate.evaluate(stages, all, composeFinished: true)
        XCTAssertEqual(gate.failed.map(\.description), ["connect stopped"], "once compose returned, a stopped container will not start")

        all[4] = status("connect", "running", "healthy")
        all[7] = status("grafana", "running", nil)
        gate = HealthGate.evaluate(stages, all, composeFinished: true)
        XCTAssertTrue(gate.done)
        XCTAssertEqual(gate.ready.count, 5)

        all[5] = status("clickhouse", "running", "unhealthy")
        gate = HealthGate.evaluate(stages, Array(all.dropLast()), composeFinished: false)
        XCTAssertEqual(gate.failed.map(\.description), ["clickhouse unhealthy"])
        XCTAssertEqual(gate.waitingStage, "clickhouse")
        XCTAssertFalse(gate.done)
    }
}
