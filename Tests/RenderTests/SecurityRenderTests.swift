import Checksum
import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif
import Manifest
import Render
import TestSupport
import XCTest
import Yams

/// Issue 21, as rendered: ClickHouse users by role, Grafana for visitors, nothing unauthenticated
/// in the tunnel, every host port on bindAddress, no secret in any command line.
final class SecurityRenderTests: XCTestCase {
    let renderer = Renderer(templates: TemplateSource(directories: [TestSupport.repo + "/templates"]))
    let secrets = RenderTests.secrets

    /// The default profile with `extra` YAML merged on top (sections given here replace the defaults' keys).
    func manifest(_ extra: String = "") throws -> Manifest {
        try ManifestLoader.parse("apiVersion: cdcctl/v1\n" + extra, file: "cdcctl.yaml").manifest
    }

    func files(_ m: Manifest) throws -> [String: String] {
        Dictionary(uniqueKeysWithValues: try renderer.render(m, secrets: secrets).map { ($0.path, $0.contents) })
    }

    func compose(_ m: Manifest) throws -> [String: Any] {
        let text = try XCTUnwrap(try files(m)["docker-compose.yml"])
        return try XCTUnwrap(try Yams.load(yaml: text) as? [String: Any])
    }

    func service(_ m: Manifest, _ name: String) throws -> [String: Any] {
        let services = try XCTUnwrap(try compose(m)["services"] as? [String: Any])
        return try XCTUnwrap(services[name] as? [String: Any], "no service \(name)")
    }

    func environment(_ m: Manifest, _ name: String) throws -> [String: String] {
        let env = try XCTUnwrap(try service(m, name)["environment"] as? [String: Any])
        return env.mapValues { "\($0)" }
    }

    // MARK: - 1. ClickHouse users by role

    func testClickHouseHasOneUserPerRoleWithHashedPasswordsAndNarrowNetworks() throws {
        let m = try manifest()
        let xml = try XCTUnwrap(try files(m)["clickhouse/users.d/cdcctl.xml"])
        let doc = try XMLDocument(xmlString: xml, options: [])
        func text(_ path: String) throws -> [String] { try doc.nodes(forXPath: path).compactMap(\.stringValue) }

        XCTAssertEqual(try doc.nodes(forXPath: "/clickhouse/users/*").compactMap(\.name).sorted(),
                       ["cdcctl", "cdcctl_writer", "default", "grafana_reader"])
        XCTAssertEqual(try text("/clickhouse/users/cdcctl/password_sha256_hex"), [SHA256.hex(secrets.clickhousePassword)])
        XCTAssertEqual(try text("/clickhouse/users/cdcctl_writer/password_sha256_hex"), [SHA256.hex(secrets.clickhouseWriterPassword)])
        XCTAssertEqual(try text("/clickhouse/users/grafana_reader/password_sha256_hex"), [SHA256.hex(secrets.clickhouseReaderPassword)])
        for user in ["cdcctl", "cdcctl_writer", "grafana_reader"] {
            XCTAssertEqual(try text("/clickhouse/users/\(user)/networks/ip"), ["127.0.0.1/32", "::1/128", "172.29.0.0/24"], user)
        }
        // … which is the compose network, pinned to that subnet.
        let compose = try XCTUnwrap(try files(m)["docker-compose.yml"])
        XCTAssertTrue(compose.contains("networks:\n  default:\n    # Pinned (cluster.subnet): ClickHouse's users log in only from this network and loopback.\n    ipam:\n      config:\n        - subnet: 172.29.0.0/24\n"), compose)
        XCTAssertFalse(xml.contains("::/0"))
        // The writer: its database only, no DDL; the reader: readonly, its database only, bounded.
        XCTAssertEqual(try text("/clickhouse/users/cdcctl_writer/allow_databases/database"), ["analytics"])
        XCTAssertEqual(try text("/clickhouse/users/cdcctl_writer/profile"), ["cdcctl_writer"])
        XCTAssertEqual(try text("/clickhouse/profiles/cdcctl_writer/allow_ddl"), ["0"])
        XCTAssertEqual(try text("/clickhouse/profiles/cdcctl_writer/readonly"), [])
        XCTAssertEqual(try text("/clickhouse/users/grafana_reader/allow_databases/database"), ["analytics"])
        XCTAssertEqual(try text("/clickhouse/users/grafana_reader/profile"), ["cdcctl_reader"])
        XCTAssertEqual(try text("/clickhouse/profiles/cdcctl_reader/readonly"), ["1"])
        XCTAssertEqual(try text("/clickhouse/profiles/cdcctl_reader/max_execution_time"), ["30"])
        XCTAssertEqual(try text("/clickhouse/profiles/cdcctl_reader/max_result_rows"), ["1000000"])
        XCTAssertEqual(try text("/clickhouse/profiles/cdcctl_reader/max_rows_to_read"), ["1000000000"])
        // Only the admin manages access; the role users are not given it.
        XCTAssertEqual(try text("/clickhouse/users/cdcctl/access_management"), ["1"])
        XCTAssertEqual(try text("/clickhouse/users/cdcctl_writer/access_management") + (try text("/clickhouse/users/grafana_reader/access_management")), [])
        XCTAssertEqual(try text("/clickhouse/users/cdcctl/allow_databases/database"), [], "the admin migrates every database")
    }

    func testGrafanaLogsInAsTheReaderAndNoContainerHoldsTheAdminsPassword() throws {
        let m = try manifest()
        let rendered = try files(m)
        let datasource = try XCTUnwrap(rendered["grafana/provisioning/datasources/datasources.yml"])
        XCTAssertTrue(datasource.contains("username: \"grafana_reader\""), datasource)
        XCTAssertTrue(datasource.contains("password: $CLICKHOUSE_READER_PASSWORD"))
        let env = try environment(m, "grafana")
        XCTAssertEqual(env["CLICKHOUSE_READER_PASSWORD"], "${CLICKHOUSE_READER_PASSWORD:?run cdcctl render to write .env}")
        XCTAssertNil(env["CLICKHOUSE_PASSWORD"])
        // The admin's and the writer's passwords are in no rendered file at all (only their hashes).
        for (path, text) in rendered {
            XCTAssertFalse(text.contains(secrets.clickhousePassword), "the ClickHouse admin password is in \(path)")
            XCTAssertFalse(text.contains(secrets.clickhouseWriterPassword), "the writer's password is in \(path)")
        }
        XCTAssertTrue(try XCTUnwrap(rendered[".env"]).contains("CLICKHOUSE_READER_PASSWORD='\(secrets.clickhouseReaderPassword)'"))
    }

    // MARK: - 2. Grafana for visitors

    func testGrafanaHasNoAnonymousAccessByDefaultAndNeverExploreOrSignUp() throws {
        let env = try environment(try manifest(), "grafana")
        XCTAssertEqual(env["GF_AUTH_ANONYMOUS_ENABLED"], "false")
        XCTAssertNil(env["GF_AUTH_ANONYMOUS_ORG_ROLE"])
        XCTAssertEqual(env["GF_EXPLORE_ENABLED"], "false")
        XCTAssertEqual(env["GF_USERS_ALLOW_SIGN_UP"], "false")
        XCTAssertEqual(env["GF_USERS_ALLOW_ORG_CREATE"], "false")
        XCTAssertEqual(env["GF_SECURITY_ADMIN_PASSWORD"], "${GRAFANA_ADMIN_PASSWORD:?run cdcctl render to write .env}")
    }

    func testAnonymousViewersAreViewersOfTheProvisionedOrganisationOnly() throws {
        let env = try environment(try manifest("grafana:\n  anonymousViewers: true\n"), "grafana")
        XCTAssertEqual(env["GF_AUTH_ANONYMOUS_ENABLED"], "true")
        XCTAssertEqual(env["GF_AUTH_ANONYMOUS_ORG_ROLE"], "Viewer")
        // Provisioned dashboards land in the first organisation, "Main Org.".
        XCTAssertEqual(env["GF_AUTH_ANONYMOUS_ORG_NAME"], "Main Org.")
        XCTAssertEqual(env["GF_EXPLORE_ENABLED"], "false")
        XCTAssertEqual(env["GF_USERS_ALLOW_SIGN_UP"], "false")
        XCTAssertEqual(env["GF_SECURITY_ADMIN_PASSWORD"], "${GRAFANA_ADMIN_PASSWORD:?run cdcctl render to write .env}", "the admin keeps its password")
    }

    // MARK: - 3. The tunnel and the host ports

    func ingress(_ m: Manifest) throws -> [[String: Any]] {
        let text = try XCTUnwrap(try files(m)["cloudflared/config.yml"])
        let yaml = try XCTUnwrap(try Yams.load(yaml: text) as? [String: Any])
        return try XCTUnwrap(yaml["ingress"] as? [[String: Any]])
    }

    func testTunnelPublishesGrafanaOnlyByDefaultAndKafkaUIOnlyWithItsLogin() throws {
        let plain = try ingress(try manifest("cloudflared:\n  enabled: true\n  domain: example.org\n"))
        XCTAssertEqual(plain.compactMap { $0["hostname"] as? String }, ["grafana.example.org"])
        XCTAssertEqual(plain.last?["service"] as? String, "http_status:404")
        XCTAssertEqual(try environment(try manifest(), "kafka-ui")["AUTH_TYPE"], "DISABLED")

        let m = try manifest("cloudflared:\n  enabled: true\n  domain: example.org\n  publish: [grafana, kafka-ui]\nkafkaUI:\n  login: true\n")
        XCTAssertEqual(try ingress(m).compactMap { $0["hostname"] as? String }, ["grafana.example.org", "kafka-ui.example.org"])
        XCTAssertEqual(try ingress(m).compactMap { $0["service"] as? String }, ["http://grafana:3000", "http://kafka-ui:8080", "http_status:404"])
        let env = try environment(m, "kafka-ui")
        XCTAssertEqual(env["AUTH_TYPE"], "LOGIN_FORM")
        XCTAssertEqual(env["SPRING_SECURITY_USER_NAME"], "admin")
        XCTAssertEqual(env["SPRING_SECURITY_USER_PASSWORD"], "${KAFKA_UI_PASSWORD:?run cdcctl render to write .env}")
        XCTAssertTrue(try XCTUnwrap(try files(m)[".env"]).contains("KAFKA_UI_PASSWORD='\(secrets.kafkaUIPassword)'"))
    }

    func testEveryHostPortIsBoundToBindAddress() throws {
        for bind in ["127.0.0.1", "192.168.7.20"] {
            let services = try XCTUnwrap(try compose(try manifest("cluster:\n  bindAddress: \(bind)\ncloudflared:\n  enabled: true\n"))["services"] as? [String: Any])
            var published = 0
            for (name, value) in services {
                for port in ((value as? [String: Any])?["ports"] as? [Any] ?? []).map({ "\($0)" }) {
                    XCTAssertTrue(port.hasPrefix(bind + ":"), "\(name) publishes \(port) beyond \(bind)")
                    published += 1
                }
            }
            XCTAssertEqual(published, 9, "mysql, 3 brokers, connect, clickhouse, prometheus, grafana, kafka-ui; none for cloudflared")
        }
    }

    // MARK: - 5. No secret on a command line

    /// Healthchecks, commands and entrypoints are container process arguments (`ps` in the
    /// container or on the host shows them); the compose file names secrets only as ${VARS}.
    func testNoSecretValueIsInTheComposeFileOrAnyContainersArguments() throws {
        let m = try manifest("cloudflared:\n  enabled: true\n  publish: [grafana, kafka-ui]\nkafkaUI:\n  login: true\ngrafana:\n  anonymousViewers: true\n")
        var withToken = secrets
        withToken.cloudflareTunnelToken = "golden-tunnel-Tk10"
        let rendered = Dictionary(uniqueKeysWithValues: try renderer.render(m, secrets: withToken).map { ($0.path, $0.contents) })
        let composeText = try XCTUnwrap(rendered["docker-compose.yml"])
        let values = withToken.all
        XCTAssertEqual(values.count, 9)
        for value in values {
            XCTAssertFalse(composeText.contains(value), "a secret value is in docker-compose.yml")
        }
        let services = try XCTUnwrap(try Yams.load(yaml: composeText) as? [String: Any])["services"] as? [String: Any]
        var checked = 0
        for (name, s) in services ?? [:] {
            let s = s as? [String: Any] ?? [:]
            let args = [s["command"], s["entrypoint"], (s["healthcheck"] as? [String: Any])?["test"]].compactMap { $0 }.map { "\($0)" }
            for a in args {
                checked += 1
                for value in values { XCTAssertFalse(a.contains(value), "\(name): a secret in \(a)") }
                XCTAssertFalse(a.lowercased().contains("password"), "\(name) passes a password argument: \(a)")
            }
        }
        XCTAssertGreaterThanOrEqual(checked, 10)
        // The secrets live only in the two 0600 files.
        let holders = try renderer.render(m, secrets: withToken).filter { f in values.contains { f.contents.contains($0) } }
        XCTAssertEqual(holders.map(\.path), [".env", "connect/secrets/mysql.properties"])
        XCTAssertEqual(holders.map(\.mode), [0o600, 0o600])
    }
}
