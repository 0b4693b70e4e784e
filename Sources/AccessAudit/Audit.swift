import Manifest

/// `cdcctl audit`: who can reach what. One row per published host port, tunnel hostname and
/// database user, with its authentication and grants, and a verdict. Pure over the manifest and
/// what the servers said (`AuditObservation`); `forbidden` rows are what issue 21 rules out.
public struct AuditRow: Sendable, Codable, Equatable {
    public enum Kind: String, Sendable, Codable { case port, tunnel, clickhouseUser = "clickhouse-user", mysqlUser = "mysql-user" }
    public enum Verdict: String, Sendable, Codable { case ok, warn, forbidden }
    public var kind: Kind
    /// The service or user.
    public var subject: String
    /// Where it is reached: `127.0.0.1:8123`, a hostname, the networks a user may log in from.
    public var reach: String
    public var authentication: String
    public var grants: String
    public var verdict: Verdict
    /// Why it is not ok, and the fix.
    public var reason: String?
}

public struct AuditReport: Sendable, Codable, Equatable {
    public var cluster: String
    public var rows: [AuditRow]
    /// What could not be checked against a server (not a failure).
    public var notes: [String]
    public var forbidden: Int { rows.filter { $0.verdict == .forbidden }.count }
    public var warnings: Int { rows.filter { $0.verdict == .warn }.count }
}

/// The grants the servers reported, or why they could not be read (nil: not asked).
public struct AuditObservation: Sendable, Equatable {
    public var cdcGrants: Result<[String], AuditUnreachable>?
    public var appGrants: Result<[String], AuditUnreachable>?

    public init(cdcGrants: Result<[String], AuditUnreachable>? = nil, appGrants: Result<[String], AuditUnreachable>? = nil) {
        self.cdcGrants = cdcGrants
        self.appGrants = appGrants
    }
}

public struct AuditUnreachable: Error, Sendable, Equatable {
    public var message: String
    public init(_ message: String) { self.message = message }
}

public enum SecurityAudit {
    public static func audit(_ m: Manifest, observed: AuditObservation = AuditObservation()) -> AuditReport {
        var rows: [AuditRow] = []
        var notes: [String] = []
        let loopback = Exposure.isLoopback(m.cluster.bindAddress)

        // Host ports: every one bound to cluster.bindAddress.
        for s in Exposure.services(m) {
            guard let port = s.hostPort else { continue }
            var verdict = AuditRow.Verdict.ok
            var reason: String?
            if !loopback && s.authentication == .none {
                verdict = .forbidden
                reason = "\(s.service) asks for no authentication and is bound to \(m.cluster.bindAddress), which other hosts reach; set cluster.bindAddress: 127.0.0.1"
            } else if !loopback {
                verdict = .warn
                reason = "bound to \(m.cluster.bindAddress), not loopback: reachable from that network (password only)"
            } else if s.authentication == .none {
                reason = "no authentication: loopback only, never publish it"
            }
            rows.append(AuditRow(kind: .port, subject: s.service, reach: "\(m.cluster.bindAddress):\(port)",
                                 authentication: s.authentication.rawValue, grants: s.note, verdict: verdict, reason: reason))
        }

        // Tunnel hostnames: only services with a login.
        if m.cloudflared.enabled {
            let routed = Set(Exposure.tunnelRoutes(m).map(\.service))
            for name in m.cloudflared.publish {
                let auth = Exposure.authentication(of: name, m)
                let hostname = "\(name).\(m.cloudflared.domain)"
                if let auth, auth != .none, routed.contains(name) {
                    let note = auth == .loginAnonymousViewer ? "visitors: Viewer of the provisioned organisation; Explore and sign-up off" : "login required"
                    rows.append(AuditRow(kind: .tunnel, subject: name, reach: hostname, authentication: auth.rawValue, grants: note,
                                         verdict: .ok, reason: nil))
                } else {
                    rows.append(AuditRow(kind: .tunnel, subject: name, reach: hostname, authentication: (auth ?? .none).rawValue,
                                         grants: "-", verdict: .forbidden,
                                         reason: "would publish \(name) without authentication; remove it from cloudflared.publish"
                                             + (name == "kafka-ui" ? " or set kafkaUI.login: true" : "")))
                }
            }
        }

        // ClickHouse users by role (users.d, as rendered).
        let c = m.clickhouse
        let networks = c.networks.joined(separator: " ")
        let wide = c.networks.filter(CIDR.isEverything)
        func chRow(_ user: String, _ grants: String) -> AuditRow {
            AuditRow(kind: .clickhouseUser, subject: user, reach: networks, authentication: "password (sha256)", grants: grants,
                     verdict: wide.isEmpty ? .ok : .forbidden,
                     reason: wide.isEmpty ? nil : "clickhouse.networks lets \(wide.joined(separator: ", ")) log in; list loopback and the compose network")
        }
        rows.append(chRow(c.user, "all databases, DDL, access management (cdcctl schema, status; host side only)"))
        rows.append(chRow(c.writerUser, "INSERT, SELECT on \(c.database) only; no DDL (processor)"))
        rows.append(chRow(c.readerUser, "readonly, SELECT on \(c.database) only; \(c.readerMaxExecutionSeconds) s, \(c.readerMaxResultRows) result rows, \(c.readerMaxRowsToRead) rows read per query (Grafana)"))

        // MySQL users: root bootstraps; CDC exactly Debezium's five; the app user its database's rows.
        rows.append(AuditRow(kind: .mysqlUser, subject: "root", reach: "\(m.cluster.bindAddress):\(m.source.port)", authentication: "password",
                             grants: "ALL (bootstrap: the image's initdb; source check only when the CDC user cannot log in)",
                             verdict: .ok, reason: nil))
        rows.append(mysqlRow(m, user: m.source.cdcUser, expected: MySQLGrants.debeziumPrivileges, on: "*.*", observed: observed.cdcGrants, notes: &notes))
        rows.append(mysqlRow(m, user: m.source.appUser, expected: MySQLGrants.applicationPrivileges, on: MySQLGrants.databaseObject(m.source.database),
                             observed: observed.appGrants, notes: &notes))
        return AuditReport(cluster: m.cluster.name, rows: rows, notes: notes)
    }

    static func mysqlRow(_ m: Manifest, user: String, expected: [String], on object: String,
                         observed: Result<[String], AuditUnreachable>?, notes: inout [String]) -> AuditRow {
        let want = "\(expected.joined(separator: ", ")) ON \(object)"
        var row = AuditRow(kind: .mysqlUser, subject: user, reach: "\(m.cluster.bindAddress):\(m.source.port)", authentication: "password",
                           grants: want + " (as rendered)", verdict: .ok, reason: nil)
        switch observed {
        case nil:
            break
        case .failure(let e)?:
            notes.append("\(user): grants not checked on the server (\(e.message))")
        case .success(let lines)?:
            let extra = MySQLGrants.extras(lines, allowed: expected, on: object)
            let missing = MySQLGrants.missing(lines, required: expected, on: object)
            row.grants = want + " (server)"
            if !extra.isEmpty {
                row.verdict = .forbidden
                row.grants = (expected.filter { !missing.contains($0) }.map { "\($0) ON \(object)" } + extra.map(\.description)).joined(separator: ", ")
                row.reason = "holds more than it needs: " + extra.map(\.description).joined(separator: "; ") + ". Fix: "
                    + extra.map { $0.revoke(user: user) }.joined(separator: " ")
            } else if !missing.isEmpty {
                row.verdict = .warn
                row.reason = "lacks \(missing.joined(separator: ", ")) ON \(object): GRANT \(missing.joined(separator: ", ")) ON \(object) TO '\(user)'@'%';"
            }
        }
        return row
    }
}
