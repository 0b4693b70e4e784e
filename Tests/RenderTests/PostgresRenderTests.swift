import Foundation
import Manifest
import TestSupport
import XCTest
import Yams
@testable import Render

/// `processor.sinks: [clickhouse, postgres]`: the compose file gets a postgres service on the
/// official image's contract, .env its password, and the sink's migrations are rendered. The
/// golden copy holds only the files that differ from the default profile's render.
final class PostgresRenderTests: XCTestCase {
    static var secrets: ResolvedSecrets {
        var s = RenderTests.secrets
        s.postgresPassword = "golden-pg-Pw10"
        return s
    }

    let renderer = Renderer(templates: TemplateSource(directories: [TestSupport.repo + "/templates"]))

    func manifest() throws -> Manifest {
        let text = try String(contentsOfFile: TestSupport.repo + "/manifests/default.yaml", encoding: .utf8)
            .replacingOccurrences(of: "  sinks: [clickhouse]  ", with: "  sinks: [clickhouse, postgres]  ")
        let m = try ManifestLoader.parse(text, file: "default+postgres.yaml").manifest
        XCTAssertTrue(m.postgresEnabled)
        return m
    }

    /// The files that differ from the default render, byte for byte (CDCCTL_UPDATE_GOLDEN=1 regenerates).
    func testVariantMatchesGoldenFiles() throws {
        let golden = TestSupport.repo + "/Tests/RenderTests/Golden/postgres-sink"
        let plain = Dictionary(uniqueKeysWithValues: try renderer.render(try ManifestLoader.load(path: TestSupport.repo + "/manifests/default.yaml").manifest,
                                                                          secrets: Self.secrets).map { ($0.path, $0.contents) })
        let files = try renderer.render(try manifest(), secrets: Self.secrets).filter { plain[$0.path] != $0.contents }
        XCTAssertEqual(files.map(\.path), [".env", "docker-compose.yml", "postgres/migrations/0001_sink_tables.sql"])
        if ProcessInfo.processInfo.environment["CDCCTL_UPDATE_GOLDEN"] == "1" {
            try? FileManager.default.removeItem(atPath: golden)
            _ = try OutputWriter.write(files, to: golden)
        }
        for f in files {
            XCTAssertEqual(f.contents, try String(contentsOfFile: golden + "/" + f.path, encoding: .utf8), "\(f.path) differs from its golden copy")
        }
    }

    func testPostgresServiceFollowsTheOfficialImageContract() throws {
        let files = Dictionary(uniqueKeysWithValues: try renderer.render(try manifest(), secrets: Self.secrets).map { ($0.path, $0) })
        let compose = try XCTUnwrap(files["docker-compose.yml"]?.contents)
        XCTAssertFalse(compose.contains("golden-pg-Pw10"), "the password only in .env")
        let yaml = try XCTUnwrap(try Yams.load(yaml: compose) as? [String: Any])
        let pg = try XCTUnwrap((yaml["services"] as? [String: Any])?["postgres"] as? [String: Any])
        let env = try XCTUnwrap(pg["environment"] as? [String: Any])
        XCTAssertEqual(env["POSTGRES_DB"] as? String, "analytics")
        XCTAssertEqual(env["POSTGRES_USER"] as? String, "cdcctl")
        XCTAssertEqual(env["POSTGRES_PASSWORD"] as? String, "${POSTGRES_PASSWORD:?run cdcctl render to write .env}")
        XCTAssertEqual(pg["mem_limit"] as? String, "512m")
        XCTAssertEqual(pg["ports"] as? [String], ["127.0.0.1:5432:5432"])
        XCTAssertEqual(pg["volumes"] as? [String], ["postgres-data:/var/lib/postgresql/data"])
        XCTAssertEqual((pg["healthcheck"] as? [String: Any])?["test"] as? [String],
                       ["CMD", "pg_isready", "-h", "127.0.0.1", "-U", "cdcctl", "-d", "analytics"])
        XCTAssertTrue((yaml["volumes"] as? [String: Any])?.keys.contains("postgres-data") ?? false)
        XCTAssertTrue((pg["command"] as? [String])?.contains("shared_buffers=128MB") ?? false, "a quarter of the 512 MiB limit")
        let dotenv = try XCTUnwrap(files[".env"])
        XCTAssertEqual(dotenv.mode, 0o600)
        XCTAssertTrue(dotenv.contents.contains("POSTGRES_PASSWORD='golden-pg-Pw10'\n"))
    }

    func testNothingOfPostgresIsRenderedWithoutTheSink() throws {
        let files = try renderer.render(try ManifestLoader.load(path: TestSupport.repo + "/manifests/default.yaml").manifest, secrets: Self.secrets)
        XCTAssertFalse(files.contains { $0.path.hasPrefix("postgres/") })
        XCTAssertFalse(files.first { $0.path == "docker-compose.yml" }!.contents.contains("postgres"))
        XCTAssertFalse(files.first { $0.path == ".env" }!.contents.contains("POSTGRES_PASSWORD"))
    }
}

extension PostgresRenderTests {
    /// The variant's compose file passes Docker Compose v2's own validation.
    func testComposeWithPostgresIsValidForDockerComposeV2() throws {
        let compose = try TestSupport.tool("docker-compose", env: "CDCCTL_COMPOSE_BIN",
                                           also: [TestSupport.repo + "/.testbed/venv/lib/python3.11/site-packages/compose/docker-compose"])
        let dir = try TestSupport.temporaryDirectory(self)
        _ = try OutputWriter.write(try renderer.render(try manifest(), secrets: Self.secrets), to: dir)
        let result = try TestSupport.run(compose, ["--project-directory", dir, "-f", dir + "/docker-compose.yml", "config", "-q"])
        XCTAssertEqual(result.status, 0, result.output)
    }
}
