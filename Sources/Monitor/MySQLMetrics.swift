import Connect
import Connectors
import Foundation
import HTTP
import Manifest
import MySQL

/// The source's binlogs against where each connector reads, and the `source check` variables.
public enum MySQLMetrics {
    public struct Binlog: Sendable, Equatable {
        public var name: String
        public var sizeBytes: Int64
        public init(name: String, sizeBytes: Int64) {
            self.name = name
            self.sizeBytes = sizeBytes
        }
        /// `mysql-bin.000042` → 42.
        public var index: Int? { name.split(separator: ".").last.flatMap { Int($0) } }
    }

    /// Where a connector's stored offset points: the binlog file, and when that event was written.
    public struct Position: Sendable, Equatable {
        public var connector: String
        public var file: String?
        public var tsSeconds: Int64?
        public init(connector: String, file: String?, tsSeconds: Int64?) {
            self.connector = connector
            self.file = file
            self.tsSeconds = tsSeconds
        }
    }

    /// Debezium MySQL's offset from `GET /connectors/{name}/offsets`:
    /// `{"offsets":[{"partition":{"server":…},"offset":{"file":…,"pos":…,"ts_sec":…}}]}`.
    public static func position(connector: String, offsets: Any) -> Position {
        let list = (offsets as? [String: Any])?["offsets"] as? [[String: Any]] ?? []
        let offset = list.compactMap { $0["offset"] as? [String: Any] }.first
        let ts = offset?["ts_sec"]
        let tsValue = (ts as? NSNumber)?.int64Value ?? (ts as? String).flatMap { Int64($0) }
        return Position(connector: connector, file: offset?["file"] as? String, tsSeconds: tsValue)
    }

    /// Pure. `expireSeconds` 0 means binlogs are never purged by age.
    public static func write(binlogs: [Binlog], expireSeconds: Int64, positions: [Position], checks: [PreflightCheck], nowSeconds: Int64,
                             into e: inout Exposition) {
        e.gauge("cdcctl_mysql_binlog_files", "Binary log files on the source (SHOW BINARY LOGS).", Double(binlogs.count))
        e.gauge("cdcctl_mysql_binlog_size_bytes", "Total size of the source's binary logs.", Double(binlogs.reduce(0) { $0 + $1.sizeBytes }))
        e.gauge("cdcctl_mysql_binlog_expire_seconds", "binlog_expire_logs_seconds (or expire_logs_days × 86400); 0 = never purged by age.",
                Double(expireSeconds))
        let indices = binlogs.compactMap(\.index)
        let oldest = indices.min()
        var present: [([(String, String)], Double)] = []
        var behind: [([(String, String)], Double)] = []
        var age: [([(String, String)], Double)] = []
        for p in positions {
            let l = [("connector", p.connector)]
            if let file = p.file {
                let idx = Binlog(name: file, sizeBytes: 0).index
                present.append((l, binlogs.contains { $0.name == file } ? 1 : 0))
                if let idx, let oldest { behind.append((l, Double(max(0, idx - oldest)))) }
            }
            if let ts = p.tsSeconds { age.append((l, Double(max(0, nowSeconds - ts)))) }
        }
        e.gauge("cdcctl_mysql_binlog_connector_file_present", "1 while the binlog file the connector's stored offset names is still on the source; 0 once it was purged (the connector cannot resume).", present)
        e.gauge("cdcctl_mysql_binlog_connector_files_from_oldest", "Binlog files between the oldest one on disk and the connector's file (0: the connector's file is the next to be purged).", behind)
        e.gauge("cdcctl_mysql_binlog_connector_position_age_seconds", "Age of the event at the connector's stored offset (its ts_sec); compare with the expiry.", age)
        e.gauge("cdcctl_mysql_source_check_ok", "1 when the `cdcctl source check` requirement holds on the running source, 0 when it drifted (warn counts as held).",
                checks.map { ([("check", $0.name)], $0.status == .fail ? 0 : 1) })
    }

    public static func expireSeconds(_ v: [String: String]) -> Int64 {
        if let s = v["binlog_expire_logs_seconds"].flatMap({ Int64($0) }), s > 0 { return s }
        return (v["expire_logs_days"].flatMap { Double($0) }).map { Int64($0 * 86_400) } ?? 0
    }
}

/// Reads the source as root (binlogs, variables), the CDC user's grants (as `source check`
/// does), and each connector's stored offset from Connect. Thin.
public final class MySQLCollector: Collector {
    public let name = "mysql"
    let manifest: Manifest
    let rootPassword: String
    let cdcPassword: String
    let timeout: Double

    public init(manifest: Manifest, rootPassword: String, cdcPassword: String, timeout: Double) {
        self.manifest = manifest
        self.rootPassword = rootPassword
        self.cdcPassword = cdcPassword
        self.timeout = timeout
    }

    public func collect(into e: inout Exposition) throws {
        let m = manifest
        let t = UInt32(max(1, timeout.rounded(.up)))
        let admin = try MySQLConnection(MySQLEndpoint(host: m.access.mysqlHost, port: m.access.mysqlPort, user: "root", password: rootPassword),
                                        timeoutSeconds: t)
        let logs = try admin.query("SHOW BINARY LOGS").rows.compactMap { r -> MySQLMetrics.Binlog? in
            guard let name = r.first ?? nil else { return nil }
            return MySQLMetrics.Binlog(name: name, sizeBytes: r.count > 1 ? Int64(r[1] ?? "") ?? 0 : 0)
        }
        let variables = try admin.variables()
        let grants: [String]?
        var loginError: String?
        do {
            let cdc = try MySQLConnection(MySQLEndpoint(host: m.access.mysqlHost, port: m.access.mysqlPort, user: m.source.cdcUser, password: cdcPassword),
                                          timeoutSeconds: t)
            grants = try cdc.query("SHOW GRANTS").firstColumn
        } catch let error as MySQLError {
            grants = nil
            loginError = error.description
        }
        let checks = SourcePreflight.assess(SourceFacts(variables: variables, cdcGrants: grants, cdcLoginError: loginError), manifest: m)
        // A connector Connect cannot tell about (unreachable, not registered) has no position: left out.
        let client = ConnectClient(baseURL: m.access.connectURL, http: HTTPClient(retries: 0), timeoutSeconds: timeout)
        let positions = m.connect.connectors.compactMap { c in
            (try? client.offsets(c.name)).map { MySQLMetrics.position(connector: c.name, offsets: $0) }
        }
        MySQLMetrics.write(binlogs: logs, expireSeconds: MySQLMetrics.expireSeconds(variables), positions: positions, checks: checks,
                           nowSeconds: Int64(Date().timeIntervalSince1970), into: &e)
    }
}
