import Diagnostics
import Manifest
import XCTest

/// `processor.sinks` and the `postgres:` section: defaults, validation with file:line, budget.
final class PostgresManifestTests: XCTestCase {
    func load(_ yaml: String) throws -> Manifest {
        try ManifestLoader.parse("apiVersion: cdcctl/v1\n" + yaml, file: "cdcctl.yaml").manifest
    }

    func problems(_ yaml: String) -> [CdcError] {
        do {
            _ = try ManifestLoader.parse("apiVersion: cdcctl/v1\n" + yaml, file: "cdcctl.yaml")
            return []
        } catch let e as CdcErrors {
            return e.errors
        } catch {
            XCTFail("\(error)")
            return []
        }
    }

    func testDefaultsWriteToClickHouseOnlyAndKeepPostgresOutOfTheBudget() throws {
        let m = try load("")
        XCTAssertEqual(m.processor.sinks, ["clickhouse"])
        XCTAssertFalse(m.postgresEnabled)
        XCTAssertTrue(m.clickhouseSinkEnabled)
        XCTAssertEqual(m.postgres.database, "analytics")
        XCTAssertEqual(m.postgres.image, "postgres:15.10-bookworm")
        XCTAssertEqual(m.access.postgresPort, 5432)
        XCTAssertEqual(m.secrets.postgresPassword, "generate")
        XCTAssertFalse(MemoryBudget(m).lines.contains { $0.service == "postgres" })
    }

    func testPostgresSinkCountsInTheBudgetAndAccessFollowsThePort() throws {
        let m = try load("processor:\n  sinks: [clickhouse, postgres]\npostgres:\n  memory: 768m\n  port: 15433\n")
        XCTAssertTrue(m.postgresEnabled && m.clickhouseSinkEnabled)
        XCTAssertEqual(MemoryBudget(m).lines.first { $0.service == "postgres" }?.limitMiB, 768)
        XCTAssertEqual(m.access.postgresPort, 15433)
        XCTAssertEqual(m.access.postgresHost, "127.0.0.1")
        XCTAssertEqual(Exposure.services(m).last?.service, "postgres", "its published port is in the audit's list, with a password")
        XCTAssertEqual(Exposure.services(m).last?.hostPort, 15433)
        XCTAssertFalse(Exposure.services(try load("")).contains { $0.service == "postgres" })
        let only = try load("processor:\n  sinks: [postgres]\n")
        XCTAssertFalse(only.clickhouseSinkEnabled)
    }

    func testSinksMustBeKnownUniqueAndNotEmpty() {
        let unknown = problems("processor:\n  sinks: [clickhouse, mongo]\n")
        XCTAssertEqual(unknown.map(\.subject), ["processor.sinks[1]"])
        XCTAssertEqual(unknown.first?.location?.line, 3)
        XCTAssertTrue(unknown.first?.message.contains("unknown sink 'mongo'") ?? false)

        let twice = problems("processor:\n  sinks:\n    - postgres\n    - postgres\n")
        XCTAssertEqual(twice.map(\.subject), ["processor.sinks[1]"])
        XCTAssertEqual(twice.first?.location?.line, 5)

        let empty = problems("processor:\n  sinks: []\n")
        XCTAssertEqual(empty.map(\.subject), ["processor.sinks"])
        XCTAssertEqual(empty.first?.location?.line, 3)
    }

    func testPostgresSectionIsCheckedWhenTheSinkIsOn() {
        let p = problems("""
            processor:
              sinks: [postgres]
              metricsPort: 9400
            postgres:
              image: postgres:latest
              port: 9400
              database: "my-db"
              batchMaxRecords: 0
            """ + "\n")
        let subjects = Set(p.compactMap(\.subject))
        XCTAssertEqual(subjects, ["postgres.image", "postgres.port", "postgres.database", "postgres.batchMaxRecords"], "\(p)")
        XCTAssertEqual(p.first { $0.subject == "postgres.image" }?.location?.line, 6)
        XCTAssertEqual(p.first { $0.subject == "postgres.database" }?.location?.line, 8)
        // The same image with the sink off: nothing runs it, nothing to refuse.
        XCTAssertTrue(problems("postgres:\n  image: postgres:latest\n").isEmpty)
    }

    func testPasswordIsAReferenceNeverAValue() {
        let p = problems("secrets:\n  postgresPassword: hunter2\n")
        XCTAssertEqual(p.map(\.subject), ["secrets.postgresPassword"])
    }
}
