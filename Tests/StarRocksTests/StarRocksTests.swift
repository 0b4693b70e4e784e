import Diagnostics
import Foundation
import Manifest
import Render
import StarRocks
import TestSupport
import XCTest
import Yams

/// The StarRocks variant's SQL and compose section. No StarRocks server runs here: the SQL is
/// held by golden files, a structural check (StarRocksSQLCheck) and sqlglot's StarRocks parser.
final class StarRocksTests: XCTestCase {
    static let variantYAML = """
        apiVersion: cdcctl/v1
        cluster: {name: variants}
        source: {engine: mariadb}
        starrocks: {enabled: true}

        """
    static let secrets = ResolvedSecrets(mysqlRootPassword: "golden-root-Pw1", mysqlCdcPassword: "golden-cdc-Pw2",
                                         clickhousePassword: "golden-ch-Pw3", grafanaAdminPassword: "golden-gf-Pw4",
                                         cloudflareTunnelToken: nil, mysqlAppPassword: "golden-app-Pw6",
                                         clickhouseWriterPassword: "golden-chw-Pw7", clickhouseReaderPassword: "golden-chr-Pw8",
                                         kafkaUIPassword: "golden-ui-Pw9")
    let renderer = Renderer(templates: TemplateSource(directories: [TestSupport.repo + "/templates"]))

    func variant() throws -> Manifest { try ManifestLoader.parse(Self.variantYAML, file: "variants.yaml").manifest }

    func rendered() throws -> [RenderedFile] { try renderer.render(try variant(), secrets: Self.secrets) }

    func file(_ path: String) throws -> String {
        try XCTUnwrap(try rendered().first { $0.path == path }?.contents, "\(path) not rendered")
    }

    /// `;`-terminated statements of a generated file, comments dropped (as the splitter does).
    func statements(_ text: String) -> [String] {
        text.components(separatedBy: ";\n").map { chunk in
            chunk.split(separator: "\n", omittingEmptySubsequences: false).filter { !$0.trimmingCharacters(in: .whitespaces).hasPrefix("--") }
                .joined(separator: "\n").trimmingCharacters(in: .whitespacesAndNewlines)
        }.filter { !$0.isEmpty }
    }

    // MARK: - golden files

    /// The MariaDB + StarRocks variant, byte for byte: the files that differ from the same cluster
    /// without the variant (the rest is the default profile's golden copy; regenerate with
    /// CDCCTL_UPDATE_GOLDEN=1, review the diff).
    func testVariantMatchesGoldenFiles() throws {
        let golden = TestSupport.repo + "/Tests/StarRocksTests/Golden/mariadb-starrocks"
        let plain = try renderer.render(try ManifestLoader.parse("apiVersion: cdcctl/v1\ncluster: {name: variants}\n", file: "plain.yaml").manifest,
                                        secrets: Self.secrets)
        let base = Dictionary(uniqueKeysWithValues: plain.map { ($0.path, $0.contents) })
        let files = try rendered().filter { base[$0.path] != $0.contents }
        XCTAssertTrue(files.contains { $0.path == "docker-compose.yml" } && files.contains { $0.path.hasPrefix("starrocks/") }, "\(files.map(\.path))")
        if ProcessInfo.processInfo.environment["CDCCTL_UPDATE_GOLDEN"] == "1" {
            try? FileManager.default.removeItem(atPath: golden)
            _ = try OutputWriter.write(files, to: golden)
        }
        let expected = try FileManager.default.subpathsOfDirectory(atPath: golden)
            .filter { var d: ObjCBool = false; return FileManager.default.fileExists(atPath: golden + "/" + $0, isDirectory: &d) && !d.boolValue }
            .sorted()
        XCTAssertEqual(files.map(\.path), expected)
        for f in files {
            XCTAssertEqual(f.contents, try String(contentsOfFile: golden + "/" + f.path, encoding: .utf8), "\(f.path) differs from its golden copy")
        }
    }

    func testStarRocksIsRenderedOnlyWhenEnabled() throws {
        let plain = try renderer.render(try ManifestLoader.parse("apiVersion: cdcctl/v1\n", file: "x").manifest, secrets: Self.secrets)
        XCTAssertFalse(plain.contains { $0.path.hasPrefix("starrocks/") })
        XCTAssertFalse(plain.first { $0.path == "docker-compose.yml" }!.contents.contains("starrocks"))
        let compose = try file("docker-compose.yml")
        XCTAssertTrue(compose.contains("  starrocks-fe:\n"), compose)
        XCTAssertTrue(compose.contains("  starrocks-be:\n"), compose)
        XCTAssertTrue(compose.contains("mem_limit: 1536m") || compose.contains("mem_limit: 1.5g"), "FE limit from the manifest")
        XCTAssertTrue(try file("starrocks/fe.conf").contains("-Xmx1024m"))
        XCTAssertTrue(try file("starrocks/be.conf").contains("mem_limit = 1638M"), "80% of the BE's 2 GiB container")
    }

    func testComposeWithStarRocksIsValidYAMLWithLimitsOnBothServices() throws {
        let compose = try file("docker-compose.yml")
        let yaml = try XCTUnwrap(try Yams.load(yaml: compose) as? [String: Any])
        let services = try XCTUnwrap(yaml["services"] as? [String: Any])
        for name in ["starrocks-fe", "starrocks-be"] {
            let s = try XCTUnwrap(services[name] as? [String: Any], name)
            XCTAssertNotNil(s["mem_limit"], name)
            XCTAssertNotNil(s["healthcheck"], name)
        }
        let volumes = try XCTUnwrap(yaml["volumes"] as? [String: Any])
        XCTAssertTrue(volumes.keys.contains("starrocks-fe-meta") && volumes.keys.contains("starrocks-be-storage"))
    }

    /// Docker Compose v2 accepts the MariaDB + StarRocks compose file (volumes, depends_on, limits).
    func testVariantComposeIsValidForDockerComposeV2() throws {
        let compose = try TestSupport.tool("docker-compose", env: "CDCCTL_COMPOSE_BIN",
                                           also: [TestSupport.repo + "/.testbed/venv/lib/python3.11/site-packages/compose/docker-compose"])
        let dir = try TestSupport.temporaryDirectory(self)
        _ = try OutputWriter.write(try rendered(), to: dir)
        let ok = try TestSupport.run(compose, ["--project-directory", dir, "-f", dir + "/docker-compose.yml", "config", "-q"])
        XCTAssertEqual(ok.status, 0, ok.output)
        // Real validation: the BE's storage volume undeclared fails it.
        let path = dir + "/docker-compose.yml"
        try String(contentsOfFile: path, encoding: .utf8).replacingOccurrences(of: "  starrocks-be-storage:\n", with: "")
            .write(toFile: path, atomically: true, encoding: .utf8)
        XCTAssertNotEqual(try TestSupport.run(compose, ["--project-directory", dir, "-f", path, "config", "-q"]).status, 0)
    }

    // MARK: - the SQL

    func testGeneratedSQLPassesTheStructuralCheck() throws {
        let m = try variant()
        let tables = StarRocksSQL.captured(m).map(\.table)
        XCTAssertEqual(tables.map(\.name), ["orders", "order_executions"])
        let all = statements(try file(StarRocksSQL.tablesFile)) + statements(try file(StarRocksSQL.routineLoadFile))
        XCTAssertEqual(all.count, 4, "two tables, two jobs")
        XCTAssertEqual(StarRocksSQLCheck.check(statements: all, tables: tables), [])
    }

    func testRoutineLoadMapsDeletesFromTheBeforeImage() throws {
        let jobs = try file(StarRocksSQL.routineLoadFile)
        XCTAssertTrue(jobs.contains("CREATE ROUTINE LOAD orders_from_kafka ON orders"))
        XCTAssertTrue(jobs.contains("__op = if(dbz_op = 'd', 1, 0)"))
        XCTAssertTrue(jobs.contains("order_id = if(dbz_op = 'd', before_order_id, after_order_id)"))
        XCTAssertTrue(jobs.contains("\"kafka_topic\" = \"cdc.shop.orders\""))
        XCTAssertTrue(jobs.contains("\"kafka_broker_list\" = \"kafka-1:19092,kafka-2:19092,kafka-3:19092\""))
        XCTAssertTrue(jobs.contains("WHERE dbz_op IN ('c', 'u', 'd', 'r')"), "tombstones carry no op")
    }

    /// The check is not a rubber stamp: each broken variant of a generated statement is caught, named.
    func testStructuralCheckCatchesBrokenStatements() throws {
        let tables = StarRocksSQL.captured(try variant()).map(\.table)
        let table = statements(try file(StarRocksSQL.tablesFile))[0]
        let job = statements(try file(StarRocksSQL.routineLoadFile))[0]
        let cases: [(String, String, String)] = [
            ("unbalanced", job.replacingOccurrences(of: "__op = if(dbz_op = 'd', 1, 0)", with: "__op = if(dbz_op = 'd', 1, 0"), "'(' without ')'"),
            ("no __op", job.replacingOccurrences(of: ",\n    __op = if(dbz_op = 'd', 1, 0)", with: ""), "no __op mapping"),
            ("a jsonpath short", job.replacingOccurrences(of: "\"$.after.order_id\", ", with: ""), "jsonpaths for 21 source fields"),
            ("a column never loaded", job.replacingOccurrences(of: ",\n    status = if(dbz_op = 'd', before_status, after_status)", with: ""), "column status is never loaded"),
            ("no topic", job.replacingOccurrences(of: "\"kafka_topic\"", with: "\"kafka_topics\""), "FROM KAFKA needs kafka_topic"),
            ("batch interval", job.replacingOccurrences(of: "\"max_batch_interval\" = \"10\"", with: "\"max_batch_interval\" = \"600\""), "max_batch_interval = 600 is out of range"),
            ("non-key NOT NULL", table.replacingOccurrences(of: "customer_id BIGINT", with: "customer_id BIGINT NOT NULL"), "customer_id is NOT NULL"),
            ("key not first", table.replacingOccurrences(of: "PRIMARY KEY (order_id)", with: "PRIMARY KEY (symbol)"), "PRIMARY KEY (symbol) is not"),
            ("unknown statement", "DROP TABLE orders", "not a statement the StarRocks variant writes"),
        ]
        for (name, sql, expected) in cases {
            XCTAssertTrue(sql != table && sql != job, "\(name): the mutation applied")
            let problems = StarRocksSQLCheck.check(statements: [sql], tables: tables)
            XCTAssertTrue(problems.contains { $0.contains(expected) }, "\(name): \(problems)")
        }
    }

    /// sqlglot's StarRocks dialect parses the tables as CREATE TABLE and every expression of the
    /// jobs; a broken expression makes it fail (so the check can fail).
    func testSqlglotParsesTheGeneratedSQL() throws {
        let dir = try TestSupport.temporaryDirectory(self)
        let files = try rendered().filter { $0.path.hasPrefix(StarRocksSQL.folder) }
        _ = try OutputWriter.write(files, to: dir)
        let paths = files.map { dir + "/" + $0.path }
        let script = TestSupport.repo + "/scripts/check-starrocks-sql"
        let run = try TestSupport.runSeparately(script, paths)
        if run.status == 2 {
            try TestSupport.missing("sqlglot (scripts/check-starrocks-sql could not install \(String(describing: run)))", fix: "let it reach PyPI once, or pre-install .tools/sqlglot")
        }
        XCTAssertEqual(run.status, 0, String(describing: run))
        let lines = run.stdout.split(separator: "\n")
        XCTAssertEqual(lines.count, 4, "\(lines)")
        XCTAssertEqual(lines.filter { $0.contains("\"kind\": \"create table\"") && $0.contains("\"ok\": true") }.count, 2, "\(lines)")
        XCTAssertEqual(lines.filter { $0.contains("\"kind\": \"routine load\"") && $0.contains("\"ok\": true") }.count, 2, "\(lines)")

        let broken = dir + "/broken.sql"
        let job = try String(contentsOfFile: paths.first { $0.hasSuffix("0002_routine_load.sql") }!, encoding: .utf8)
        try job.replacingOccurrences(of: "__op = if(dbz_op = 'd', 1, 0)", with: "__op = if(dbz_op = = 'd', 1, 0)")
            .write(toFile: broken, atomically: true, encoding: .utf8)
        let bad = try TestSupport.runSeparately(script, [broken])
        XCTAssertEqual(bad.status, 1, String(describing: bad))
        XCTAssertTrue(bad.stdout.contains("\"ok\": false"), bad.stdout)
    }

    // MARK: - manifest

    func testManifestRefusesACapturedTableStarRocksDoesNotKnow() {
        let yaml = """
            apiVersion: cdcctl/v1
            starrocks: {enabled: true}
            kafka:
              topics: [{name: cdc.shop.orders}, {name: cdc.shop.customers}, {name: schemahistory.cdc, partitions: 1, retentionHours: -1, retentionBytes: -1}]
            connect:
              connectors:
                - {name: c1, tables: [shop.orders, shop.customers]}

            """
        XCTAssertThrowsError(try ManifestLoader.parse(yaml, file: "x")) { error in
            let text = "\(error)"
            XCTAssertTrue(text.contains("StarRocks has no column layout for captured table 'shop.customers'"), text)
        }
    }

    func testDefaultProfileWithStarRocksFitsTheBudget() throws {
        let budget = MemoryBudget(try variant())
        XCTAssertTrue(budget.lines.contains { $0.service == "starrocks-fe" && $0.heapMiB == 1024 })
        XCTAssertTrue(budget.fits, budget.table)
    }

    // MARK: - vm.max_map_count (read, never written)

    func testMaxMapCountPreflight() {
        XCTAssertNil(MaxMapCount.problem("262144\n", minimum: 262_144))
        XCTAssertNil(MaxMapCount.problem("1048576", minimum: 262_144))
        let low = MaxMapCount.problem("65530\n", minimum: 262_144)
        XCTAssertEqual(low?.kind, .operationFailed)
        XCTAssertTrue(low?.message.contains("65530") == true)
        XCTAssertTrue(low?.fix?.contains("sysctl -w vm.max_map_count=262144") == true)
        XCTAssertNotNil(MaxMapCount.problem(nil, minimum: 262_144), "unreadable is a problem, not a pass")
        XCTAssertNotNil(MaxMapCount.problem("lots", minimum: 262_144))
        // This machine's own value parses (whatever it is).
        XCTAssertNotNil(MaxMapCount.read().flatMap { Int($0.trimmingCharacters(in: .whitespacesAndNewlines)) })
    }
}
