import Foundation
import SchemaAdmin
import TestSupport
import XCTest

/// `cdcctl schema plan|apply --target starrocks`: what can be shown without a StarRocks FE
/// (none runs here): the refusal without the variant, a clean failure when the FE does not
/// answer, and which statement creates which Routine Load job.
final class StarRocksSchemaTests: XCTestCase {
    func manifest(_ dir: String, starrocks: String) throws -> String {
        // A loopback port nobody listens on stands for an FE that is down.
        let yaml = "apiVersion: cdcctl/v1\ncluster: {name: srschema}\nstarrocks: \(starrocks)\n"
        try yaml.write(toFile: dir + "/cdcctl.yaml", atomically: true, encoding: .utf8)
        return dir + "/cdcctl.yaml"
    }

    func testTargetStarRocksIsRefusedWithoutTheVariant() throws {
        let dir = try TestSupport.temporaryDirectory(self)
        let path = try manifest(dir, starrocks: "{enabled: false}")
        let run = try CLI(directory: dir)(["schema", "apply", "--target", "starrocks", "-m", path])
        XCTAssertEqual(run.status, 2, run.output)
        XCTAssertTrue(run.output.contains("starrocks.enabled"), run.output)
    }

    func testAnFEThatDoesNotAnswerFailsTheApplyWithItsAddress() throws {
        let dir = try TestSupport.temporaryDirectory(self)
        let path = try manifest(dir, starrocks: "{enabled: true, queryPort: 1, httpPort: 18031}")
        let cli = CLI(directory: dir)
        let run = try cli(["schema", "apply", "--target", "starrocks", "-m", path])
        XCTAssertEqual(run.status, 1, run.output)
        XCTAssertTrue(run.output.contains("127.0.0.1:1"), run.output)
        let plan = try cli(["schema", "plan", "--target", "starrocks", "-m", path])
        XCTAssertEqual(plan.status, 1, plan.output)
        // The failed apply is journaled like any other.
        let history = try cli(["history", "-m", path])
        XCTAssertTrue(history.output.contains("schema apply"), history.output)
    }

    func testRoutineLoadJobNameIsReadFromItsStatement() {
        XCTAssertEqual(StarRocksSchemaOperation.routineLoadJob("CREATE ROUTINE LOAD orders_from_kafka ON orders\nCOLUMNS (a)"), "orders_from_kafka")
        XCTAssertEqual(StarRocksSchemaOperation.routineLoadJob("  create routine load cdc.x_from_kafka on x ("), "x_from_kafka")
        XCTAssertNil(StarRocksSchemaOperation.routineLoadJob("CREATE TABLE IF NOT EXISTS orders (a INT)"))
    }
}
