import AccessAudit
import Diagnostics
import Foundation
import Manifest
import MySQL
import OperationsCore

public struct PreflightCheck: Sendable, Codable, Equatable {
    public enum Status: String, Sendable, Codable { case ok, warn, fail }
    public var name: String
    public var status: Status
    public var observed: String
    public var expected: String
    /// The exact SQL or config line that fixes it.
    public var fix: String?
}

/// What the source server told us, gathered once so the verdicts stay pure.
public struct SourceFacts: Sendable, Equatable {
    public var variables: [String: String]
    /// `SHOW GRANTS` lines of the CDC user, or nil when it could not log in.
    public var cdcGrants: [String]?
    public var cdcLoginError: String?

    public init(variables: [String: String], cdcGrants: [String]?, cdcLoginError: String?) {
        self.variables = variables
        self.cdcGrants = cdcGrants
        self.cdcLoginError = cdcLoginError
    }

    /// MariaDB has gtid_strict_mode; MySQL does not. (The version string cannot tell: the
    /// testbed's MariaDB reports 8.0.2 for the Debezium MySQL connector's sake.)
    public var isMariaDB: Bool { variables["gtid_strict_mode"] != nil }

    /// The server says it is MariaDB in its version string (a stand-in started with
    /// `--version=8.0.2-…` does not).
    public var versionSaysMariaDB: Bool { (variables["version"] ?? "").lowercased().contains("mariadb") }
}

/// Debezium's requirements of a MySQL/MariaDB source, each with its fix. Pure.
public enum SourcePreflight {
    public static let requiredPrivileges = MySQLGrants.debeziumPrivileges
    public static let requiredMariaDBPrivileges = MySQLGrants.debeziumMariaDBPrivileges

    public static func required(engine: String) -> [String] { MySQLGrants.debeziumPrivileges(engine: engine) }

    public static func assess(_ facts: SourceFacts, manifest m: Manifest) -> [PreflightCheck] {
        let v = facts.variables
        var checks: [PreflightCheck] = []
        func check(_ name: String, _ ok: Bool, observed: String?, expected: String, fix: String, warnOnly: Bool = false) {
            checks.append(PreflightCheck(name: name, status: ok ? .ok : (warnOnly ? .warn : .fail),
                                         observed: observed ?? "(not set)", expected: expected, fix: ok ? nil : fix))
        }
        let mysql = !facts.isMariaDB
        let server = (facts.isMariaDB ? "MariaDB" : "MySQL") + " " + (v["version"] ?? "?")
        // The connector cdcctl renders follows source.engine; each refuses the other server.
        switch (m.source.engine, facts.isMariaDB, facts.versionSaysMariaDB) {
        case ("mariadb", false, _):
            check("engine", false, observed: server, expected: "MariaDB (source.engine: mariadb)",
                  fix: "set source.engine: mysql: the MariaDB connector (\(DebeziumConfig.mariaDBConnectorClass)) refuses MySQL")
        case ("mysql", true, true):
            check("engine", false, observed: server, expected: "MySQL 8 (source.engine: mysql)",
                  fix: "set source.engine: mariadb, so cdcctl renders the MariaDB connector: the MySQL connector refuses MariaDB")
        case ("mysql", true, false):
            check("engine", false, observed: server + " (MariaDB reporting a MySQL version)", expected: "MySQL 8 (source.engine: mysql)",
                  fix: "this is a MariaDB started with --version=8.0.2-… to stand in for MySQL 8 (the testbed): the MySQL connector "
                      + "accepts it, but MariaDB's GTIDs and grants are not MySQL's; use source.engine: mariadb for a real MariaDB",
                  warnOnly: true)
        case ("mariadb", true, false):
            check("engine", false, observed: server + " (MariaDB reporting a MySQL version)", expected: "MariaDB's own version string",
                  fix: "remove the --version override from the server's options: it exists only to pass MariaDB off as MySQL 8",
                  warnOnly: true)
        default:
            check("engine", true, observed: server, expected: m.source.engine == "mariadb" ? "MariaDB" : "MySQL 8", fix: "")
        }
        let persist = mysql ? "SET PERSIST" : "SET GLOBAL"
        let cnfNote = mysql ? "" : " (and put it in the [mysqld] section of my.cnf so it survives a restart)"

        let logBin = v["log_bin"]?.uppercased()
        check("binlog enabled", logBin == "ON" || logBin == "1", observed: v["log_bin"], expected: "ON",
              fix: "add `log_bin = mysql-bin` to the [mysqld] section of my.cnf and restart the server")
        check("binlog_format", v["binlog_format"]?.uppercased() == "ROW", observed: v["binlog_format"], expected: "ROW",
              fix: "\(persist) binlog_format = 'ROW';\(cnfNote) — then restart the connector")
        check("binlog_row_image", v["binlog_row_image"]?.uppercased() == "FULL", observed: v["binlog_row_image"], expected: "FULL",
              fix: "\(persist) binlog_row_image = 'FULL';\(cnfNote)")
        if let options = v["binlog_row_value_options"] {
            check("binlog_row_value_options", !options.uppercased().contains("PARTIAL_JSON"), observed: options.isEmpty ? "(empty)" : options,
                  expected: "not PARTIAL_JSON", fix: "SET PERSIST binlog_row_value_options = '';")
        }
        if m.source.gtid {
            if mysql {
                check("gtid_mode", v["gtid_mode"]?.uppercased() == "ON", observed: v["gtid_mode"], expected: "ON",
                      fix: "SET PERSIST enforce_gtid_consistency = ON; then step gtid_mode through OFF_PERMISSIVE, ON_PERMISSIVE to ON with SET PERSIST gtid_mode = …;")
                check("enforce_gtid_consistency", v["enforce_gtid_consistency"]?.uppercased() == "ON", observed: v["enforce_gtid_consistency"],
                      expected: "ON", fix: "SET PERSIST enforce_gtid_consistency = ON;")
            } else {
                // MariaDB always writes GTIDs (domain-server-sequence); strict mode keeps them in order.
                check("gtid_strict_mode", v["gtid_strict_mode"]?.uppercased() == "ON", observed: v["gtid_strict_mode"], expected: "ON",
                      fix: "SET GLOBAL gtid_strict_mode = ON; and gtid_strict_mode = ON in my.cnf", warnOnly: true)
                check("gtid position", v["gtid_binlog_pos"] != nil,
                      observed: (v["gtid_binlog_pos"] ?? "").isEmpty ? "(no GTID written yet)" : v["gtid_binlog_pos"],
                      expected: "readable (gtid_binlog_pos, domain \(v["gtid_domain_id"] ?? "?"))",
                      fix: "log in as a user that may read global variables")
            }
        }
        let serverId = Int(v["server_id"] ?? "") ?? 0
        let connectorIds = m.connect.connectors.map(\.serverId)
        check("server_id", serverId > 0 && !connectorIds.contains(serverId), observed: String(serverId),
              expected: "non-zero and not used by a connector (\(connectorIds.map(String.init).joined(separator: ", ")))",
              fix: serverId == 0 ? "set `server-id = \(m.source.serverId)` in my.cnf and restart"
                                 : "give the connector another serverId in the manifest (connect.connectors[].serverId)")
        let expire = Int(v["binlog_expire_logs_seconds"] ?? "") ?? (Int(v["expire_logs_days"] ?? "") ?? 0) * 86_400
        let minimum = 86_400
        check("binlog retention", expire == 0 || expire >= minimum, observed: expire == 0 ? "never purged" : "\(expire) s",
              expected: "at least \(minimum) s (the manifest asks \(m.source.binlogExpireSeconds) s)",
              fix: "\(persist) binlog_expire_logs_seconds = \(m.source.binlogExpireSeconds);\(cnfNote)")
        if expire != 0 && expire >= minimum && expire < m.source.binlogExpireSeconds {
            checks[checks.count - 1].status = .warn
            checks[checks.count - 1].fix = "\(persist) binlog_expire_logs_seconds = \(m.source.binlogExpireSeconds);\(cnfNote)"
        }

        let required = facts.isMariaDB ? requiredMariaDBPrivileges : requiredPrivileges
        let grantFix = "GRANT \(required.joined(separator: ", ")) ON *.* TO '\(m.source.cdcUser)'@'%';"
        if let grants = facts.cdcGrants {
            let missing = missingPrivileges(grants, required: required)
            check("grants of \(m.source.cdcUser)", missing.isEmpty, observed: missing.isEmpty ? "all present" : "missing \(missing.joined(separator: ", "))",
                  expected: required.joined(separator: ", "), fix: grantFix)
            // Least privilege: exactly Debezium's five, nothing more (a warning: the connector still works).
            let extra = extraPrivileges(grants)  // canonical names: MariaDB's BINLOG MONITOR is REPLICATION CLIENT here
            check("least privilege", extra.isEmpty, observed: extra.isEmpty ? "no extra grants" : "extra " + extra.map(\.description).joined(separator: "; "),
                  expected: "only \(required.joined(separator: ", ")) ON *.*",
                  fix: extra.map { $0.revoke(user: m.source.cdcUser) }.joined(separator: " "), warnOnly: true)
        } else {
            check("login as \(m.source.cdcUser)", false, observed: facts.cdcLoginError ?? "failed", expected: "can log in",
                  fix: "CREATE USER '\(m.source.cdcUser)'@'%' IDENTIFIED BY '<the secret mysqlCdcPassword>'; \(grantFix)")
        }
        return checks
    }

    /// Every privilege the grant lines give beyond Debezium's five on *.* (other global
    /// privileges, anything on a database or table, GRANT OPTION, roles). Pure.
    public static func extraPrivileges(_ grants: [String]) -> [MySQLGrants.Privilege] {
        MySQLGrants.extras(grants, allowed: requiredPrivileges, on: "*.*")
    }

    /// Privileges of `required` that the grant lines do not give on *.*.
    public static func missingPrivileges(_ grants: [String], required: [String] = requiredPrivileges) -> [String] {
        // MySQLGrants compares canonical names (MariaDB's BINLOG MONITOR is REPLICATION CLIENT);
        // report each missing one as `required` names it.
        let canonical = { (p: String) in MySQLGrants.aliases[p] ?? p }
        let missing = Set(MySQLGrants.missing(grants, required: required.map(canonical), on: "*.*"))
        return required.filter { missing.contains(canonical($0)) }
    }
}

extension SourcePreflight {
    /// Connects as the CDC user (its variables and its own grants). Root is used only when the
    /// CDC user cannot log in, to read the variables for the rest of the report.
    public static func gather(_ m: Manifest, rootPassword: String, cdcPassword: String) throws -> SourceFacts {
        let cdcLoginError: String
        do {
            let cdc = try MySQLConnection(MySQLEndpoint(host: m.access.mysqlHost, port: m.access.mysqlPort, user: m.source.cdcUser, password: cdcPassword))
            return SourceFacts(variables: try cdc.variables(), cdcGrants: try cdc.query("SHOW GRANTS").firstColumn, cdcLoginError: nil)
        } catch let e as MySQLError {
            cdcLoginError = e.description
        }
        let admin = try MySQLConnection(MySQLEndpoint(host: m.access.mysqlHost, port: m.access.mysqlPort, user: "root", password: rootPassword))
        return SourceFacts(variables: try admin.variables(), cdcGrants: nil, cdcLoginError: cdcLoginError)
    }
}
