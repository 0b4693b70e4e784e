import ClickHouse
import Foundation
import HTTP
import Manifest
import Render
import SchemaAdmin
import TestSupport
import XCTest

/// The rendered users.d/cdcctl.xml run by a real ClickHouse server: Debian's clickhouse-server
/// 18.16 (the testbed's chdb front has one user and checks no grants). The server is started
/// here, on loopback, with its own config and data under a temporary directory, and stopped at
/// the end. What only a current ClickHouse shows (SQL grants, SHOW GRANTS, settings
/// constraints) is in docs/security.md.
final class ClickHouseLegacyGrantsTests: XCTestCase {
    static let passwords = (admin: "adm-Pw-31", writer: "wrt-Pw-32", reader: "rdr-Pw-33")
    var port = 0
    var directory = ""
    var binary = ""
    var server: Process?

    func manifest(_ extra: String = "") throws -> Manifest {
        // Small reader limits so a test query can cross them.
        try ManifestLoader.parse("apiVersion: cdcctl/v1\nclickhouse:\n  readerMaxResultRows: 10\n  readerMaxRowsToRead: 100000\n" + extra,
                                 file: "cdcctl.yaml").manifest
    }

    func usersXML(_ m: Manifest) throws -> String {
        let secrets = ResolvedSecrets(mysqlRootPassword: "r", mysqlCdcPassword: "c", clickhousePassword: Self.passwords.admin,
                                      grafanaAdminPassword: "g", cloudflareTunnelToken: nil, mysqlAppPassword: "a",
                                      clickhouseWriterPassword: Self.passwords.writer, clickhouseReaderPassword: Self.passwords.reader)
        let files = try Renderer(templates: TemplateSource(directories: [TestSupport.repo + "/templates"])).render(m, secrets: secrets)
        return try XCTUnwrap(files.first { $0.path == "clickhouse/users.d/cdcctl.xml" }).contents
    }

    func client(_ user: String, _ password: String) -> ClickHouseClient {
        ClickHouseClient(ClickHouseConfig(url: "http://127.0.0.1:\(port)", user: user, password: password, timeoutSeconds: 20),
                         http: HTTPClient(retries: 0))
    }

    /// The server's error code for `sql` as `c`, or nil when it succeeded.
    func code(_ c: ClickHouseClient, _ sql: String) -> Int? {
        do {
            try c.execute(sql)
            return nil
        } catch let e as ClickHouseError {
            return e.code
        } catch {
            return -1
        }
    }

    override func setUpWithError() throws {
        let env = ProcessInfo.processInfo.environment
        binary = env["CDCCTL_CLICKHOUSE_LEGACY"] ?? "/usr/sbin/clickhouse-server"
        guard FileManager.default.isExecutableFile(atPath: binary) else {
            try TestSupport.missing("Debian's clickhouse-server 18.16", fix: "run scripts/test (it installs clickhouse-server), or apt-get install clickhouse-server")
        }
        directory = try TestSupport.temporaryDirectory(self)
        port = try TestSupport.freePort()
        let tcpPort = try TestSupport.freePort()
        for d in ["data", "tmp", "log", "users.d"] { try FileManager.default.createDirectory(atPath: "\(directory)/\(d)", withIntermediateDirectories: true) }
        try """
            <yandex>
                <logger><level>warning</level><log>\(directory)/log/server.log</log><errorlog>\(directory)/log/error.log</errorlog></logger>
                <listen_host>127.0.0.1</listen_host>
                <http_port>\(port)</http_port>
                <tcp_port>\(tcpPort)</tcp_port>
                <path>\(directory)/data/</path>
                <tmp_path>\(directory)/tmp/</tmp_path>
                <users_config>\(directory)/users.xml</users_config>
                <default_profile>default</default_profile>
                <default_database>default</default_database>
                <mark_cache_size>5368709</mark_cache_size>
            </yandex>
            """.write(toFile: directory + "/config.xml", atomically: true, encoding: .utf8)
        // The image's users.xml holds the default profile and quota; users.d/cdcctl.xml is ours.
        try """
            <yandex>
                <profiles><default></default></profiles>
                <users></users>
                <quotas><default><interval><duration>3600</duration><queries>0</queries><errors>0</errors><result_rows>0</result_rows>
                <read_rows>0</read_rows><execution_time>0</execution_time></interval></default></quotas>
            </yandex>
            """.write(toFile: directory + "/users.xml", atomically: true, encoding: .utf8)
        addTeardownBlock { [weak self] in self?.stop() }
        try start(users: try usersXML(try manifest()))
        let admin = client("cdcctl", Self.passwords.admin)
        for sql in ["CREATE DATABASE analytics", "CREATE DATABASE other",
                    "CREATE TABLE analytics.trades (symbol String, price Float64) ENGINE = MergeTree ORDER BY symbol",
                    "CREATE TABLE other.private (x UInt32) ENGINE = MergeTree ORDER BY x",
                    "INSERT INTO analytics.trades SELECT toString(number), number FROM system.numbers LIMIT 50"] {
            try admin.execute(sql)
        }
    }

    /// Starts the server with `users` as users.d/cdcctl.xml and waits (bounded) until it answers /ping.
    func start(users: String) throws {
        try users.write(toFile: directory + "/users.d/cdcctl.xml", atomically: true, encoding: .utf8)
        let p = Process()
        p.executableURL = URL(fileURLWithPath: binary)
        p.arguments = ["--config-file=\(directory)/config.xml"]
        p.standardOutput = FileHandle.nullDevice
        p.standardError = FileHandle.nullDevice
        try p.run()
        server = p
        let probe = client("cdcctl", Self.passwords.admin)
        let deadline = Date().addingTimeInterval(30)
        while (try? probe.ping()) == nil {
            guard p.isRunning, Date() < deadline else {
                let log = (try? String(contentsOfFile: directory + "/log/error.log", encoding: .utf8)) ?? ""
                XCTFail("clickhouse-server 18.16 did not answer on 127.0.0.1:\(port): \(log.suffix(800))")
                throw XCTSkip("failed above")
            }
            Thread.sleep(forTimeInterval: 0.2)
        }
    }

    /// Users.d changes take effect on a restart here (18.16 re-reads it only on a later mtime).
    func restart(users: String) throws {
        stop()
        try start(users: users)
    }

    func stop() {
        guard let p = server else { return }
        p.terminate()
        p.waitUntilExit()
        server = nil
    }

    func testTheProcessorsWriterCanInsertAndSelectButNeitherDropNorAlterNorLeaveItsDatabase() throws {
        let writer = client("cdcctl_writer", Self.passwords.writer)
        XCTAssertNil(code(writer, "INSERT INTO analytics.trades VALUES ('X', 1.5)"))
        XCTAssertEqual(try writer.execute("SELECT count() FROM analytics.trades WHERE symbol = 'X'").trimmingCharacters(in: .whitespacesAndNewlines), "1")
        // 392 QUERY_IS_PROHIBITED (allow_ddl = 0), 291 DATABASE_ACCESS_DENIED.
        XCTAssertEqual(code(writer, "DROP TABLE analytics.trades"), 392)
        XCTAssertEqual(code(writer, "TRUNCATE TABLE analytics.trades"), 392)
        XCTAssertEqual(code(writer, "ALTER TABLE analytics.trades DELETE WHERE 1"), 392)
        XCTAssertEqual(code(writer, "CREATE TABLE analytics.x (a UInt8) ENGINE = Memory"), 392)
        XCTAssertEqual(code(writer, "DROP DATABASE analytics"), 392)
        XCTAssertEqual(code(writer, "SET allow_ddl = 1"), 392, "the session cannot lift it")
        XCTAssertEqual(code(writer, "SELECT * FROM other.private"), 291)
        XCTAssertEqual(code(writer, "INSERT INTO other.private VALUES (1)"), 291)
        // Still there: the admin counts 51 rows.
        XCTAssertEqual(try client("cdcctl", Self.passwords.admin).execute("SELECT count() FROM analytics.trades").trimmingCharacters(in: .whitespacesAndNewlines), "51")
    }

    func testGrafanasReaderCanOnlySelectFromAnalyticsWithinItsLimits() throws {
        let reader = client("grafana_reader", Self.passwords.reader)
        XCTAssertEqual(try reader.execute("SELECT count() FROM analytics.trades").trimmingCharacters(in: .whitespacesAndNewlines), "50")
        // 164 READONLY, 291 DATABASE_ACCESS_DENIED, 396 TOO_MANY_ROWS_OR_BYTES, 158 TOO_MANY_ROWS.
        XCTAssertEqual(code(reader, "INSERT INTO analytics.trades VALUES ('Y', 1)"), 164)
        XCTAssertEqual(code(reader, "ALTER TABLE analytics.trades DELETE WHERE 1"), 164)
        XCTAssertEqual(code(reader, "DROP TABLE analytics.trades"), 164)
        XCTAssertEqual(code(reader, "CREATE TABLE analytics.y (a UInt8) ENGINE = Memory"), 164)
        XCTAssertEqual(code(reader, "SELECT * FROM other.private"), 291)
        XCTAssertEqual(code(reader, "SET max_result_rows = 0"), 164, "readonly 1: no settings, so the limits hold")
        XCTAssertEqual(code(reader, "SELECT symbol FROM analytics.trades"), 396, "50 rows > readerMaxResultRows 10")
        XCTAssertEqual(code(reader, "SELECT count() FROM system.numbers LIMIT 1000000"), 158, "readerMaxRowsToRead 100000")
        XCTAssertEqual(code(client("grafana_reader", "wrong"), "SELECT 1"), 193)
        XCTAssertEqual(code(client("default", ""), "SELECT 1"), 192, "render removes the default user")
    }

    /// What `schema status` checks, against the real server: no drift as rendered; a reader
    /// whose profile lost readonly, or that reaches another database, is reported.
    func testSchemaStatusUserCheckFindsNoDriftAsRenderedAndReportsAWeakenedReader() throws {
        let m = try manifest()
        let database = m.clickhouse.database
        let expectations = UserGrantCheck.expectations(m)
        XCTAssertEqual(expectations.map(\.user), ["cdcctl_writer", "grafana_reader"])
        let writer = UserGrantCheck.observe(client("cdcctl_writer", Self.passwords.writer))
        let reader = UserGrantCheck.observe(client("grafana_reader", Self.passwords.reader))
        XCTAssertEqual(writer.foreignDatabaseErrorCode, 291)
        XCTAssertTrue(writer.checksPasswords && reader.checksPasswords, "18.16 refuses a wrong password")
        XCTAssertEqual(UserGrantCheck.compare(expectations[0], writer, database: database), [])
        XCTAssertEqual(UserGrantCheck.compare(expectations[1], reader, database: database), [])

        // Weaken the reader on disk as a hand edit would: readonly off and every database allowed.
        let weakened = try usersXML(m)
            .replacingOccurrences(of: "<readonly>1</readonly>", with: "<readonly>0</readonly>")
            .replacingOccurrences(of: "<allow_databases>\n                <database>analytics</database>\n            </allow_databases>\n        </grafana_reader>",
                                  with: "</grafana_reader>")
        XCTAssertNotEqual(weakened, try usersXML(m))
        try restart(users: weakened)
        let drift = UserGrantCheck.compare(expectations[1], UserGrantCheck.observe(client("grafana_reader", Self.passwords.reader)), database: database)
        XCTAssertEqual(drift.map(\.problem), ["profile setting readonly", "reaches databases other than analytics"])
        XCTAssertEqual(drift.first?.actual, "0")
        XCTAssertEqual(drift.last?.actual, "error 60, not access denied")
    }

    /// A single address: 18.16 mis-checks IPv4 ranges (it applies an IPv4 prefix to the
    /// IPv6-mapped address, so `10.0.0.0/8` admits 127.0.0.1); current ClickHouse checks the
    /// CIDRs the manifest lists. docs/security.md says so.
    func testAnAddressOutsideTheNetworksIsRefused() throws {
        let narrowed = try usersXML(try manifest("  networks: [10.255.255.7]\n"))
        XCTAssertFalse(narrowed.contains("127.0.0.1"))
        XCTAssertNil(code(client("grafana_reader", Self.passwords.reader), "SELECT 1"), "127.0.0.1 is in the default networks")
        try restart(users: narrowed)
        XCTAssertEqual(code(client("grafana_reader", Self.passwords.reader), "SELECT 1"), 195, "IP_ADDRESS_NOT_ALLOWED from 127.0.0.1")
        XCTAssertEqual(code(client("cdcctl", Self.passwords.admin), "SELECT 1"), 195)
    }
}
