/// `SHOW GRANTS` lines read as privileges on objects, and what a user holds beyond what it
/// should. Pure; MySQL 8 and MariaDB 10.5+ spellings.
public enum MySQLGrants {
    /// What Debezium's MySQL connector needs, on *.* — and all the CDC user may hold.
    public static let debeziumPrivileges = ["SELECT", "RELOAD", "SHOW DATABASES", "REPLICATION SLAVE", "REPLICATION CLIENT"]
    /// MariaDB 10.5+ split REPLICATION CLIENT: BINLOG MONITOR is what SHOW MASTER STATUS and
    /// SHOW BINARY LOGS need (REPLICATION CLIENT is now its alias, and SHOW GRANTS says BINLOG MONITOR).
    public static let debeziumMariaDBPrivileges = ["SELECT", "RELOAD", "SHOW DATABASES", "REPLICATION SLAVE", "BINLOG MONITOR"]

    /// Debezium's five as the source engine (`mysql` or `mariadb`) names them in messages and fixes.
    /// Comparisons use the canonical (MySQL) names: `aliases` maps MariaDB's onto them.
    public static func debeziumPrivileges(engine: String) -> [String] {
        engine == "mariadb" ? debeziumMariaDBPrivileges : debeziumPrivileges
    }
    /// The order generator's application user, on the shop database only.
    public static let applicationPrivileges = ["SELECT", "INSERT", "UPDATE", "DELETE"]

    /// Other names servers list for the same privilege: MariaDB shows REPLICATION CLIENT as
    /// BINLOG MONITOR; MySQL 8.0.22+ may say REPLICATION REPLICA for REPLICATION SLAVE.
    public static let aliases: [String: String] = ["BINLOG MONITOR": "REPLICATION CLIENT", "REPLICATION REPLICA": "REPLICATION SLAVE"]

    /// One privilege on one object (`*.*`, `` `shop`.* ``); `object` nil for a granted role.
    public struct Privilege: Sendable, Codable, Equatable, CustomStringConvertible {
        public var privilege: String
        public var object: String?

        public init(privilege: String, object: String?) {
            self.privilege = privilege
            self.object = object
        }

        public var description: String { object.map { "\(privilege) ON \($0)" } ?? "role \(privilege)" }

        public func revoke(user: String) -> String {
            guard let object else { return "REVOKE \(privilege) FROM '\(user)'@'%';" }
            return "REVOKE \(privilege) ON \(object) FROM '\(user)'@'%';"
        }

        public var isGlobal: Bool { object == "*.*" || object == "`*`.`*`" }
    }

    /// Every privilege the lines give (USAGE, which is none, left out; GRANT OPTION as its own
    /// privilege). The password hash a line may carry is never kept.
    public static func parse(_ lines: [String]) -> [Privilege] {
        var out: [Privilege] = []
        for line in lines {
            let upper = line.uppercased()
            guard upper.hasPrefix("GRANT "), let to = upper.range(of: " TO ") else { continue }
            let headUpper = upper[upper.index(upper.startIndex, offsetBy: 6)..<to.lowerBound]
            let head = line[line.index(line.startIndex, offsetBy: 6)..<line.index(line.startIndex, offsetBy: upper.distance(from: upper.startIndex, to: to.lowerBound))]
            guard let on = headUpper.range(of: " ON ") else {
                for role in head.split(separator: ",") { out.append(Privilege(privilege: role.trimmingCharacters(in: .whitespaces), object: nil)) }
                continue
            }
            let onStart = headUpper.distance(from: headUpper.startIndex, to: on.lowerBound)
            let onEnd = headUpper.distance(from: headUpper.startIndex, to: on.upperBound)
            let object = String(head[head.index(head.startIndex, offsetBy: onEnd)...]).trimmingCharacters(in: .whitespaces)
            if object.hasPrefix("''@") { continue }  // PROXY names a user, not an object
            let privileges = headUpper[headUpper.startIndex..<headUpper.index(headUpper.startIndex, offsetBy: onStart)]
            for p in privileges.split(separator: ",").map({ $0.trimmingCharacters(in: .whitespaces) }) where !p.isEmpty && p != "USAGE" {
                out.append(Privilege(privilege: aliases[p] ?? p, object: object))
            }
            if upper.hasSuffix(" WITH GRANT OPTION") || upper.contains(" WITH GRANT OPTION ") {
                out.append(Privilege(privilege: "GRANT OPTION", object: object))
            }
        }
        return out
    }

    /// Privileges beyond `allowed` (each on `object`); ALL PRIVILEGES counts as extra.
    public static func extras(_ lines: [String], allowed: [String], on allowedObject: String) -> [Privilege] {
        parse(lines).filter { p in
            guard let object = p.object else { return true }
            return !(allowed.contains(p.privilege) && sameObject(object, allowedObject))
        }
    }

    /// Privileges of `required` the lines do not give on `object` (ALL PRIVILEGES gives all).
    public static func missing(_ lines: [String], required: [String], on object: String) -> [String] {
        let have = Set(parse(lines).filter { $0.object.map { sameObject($0, object) } ?? false }.map(\.privilege))
        if have.contains("ALL PRIVILEGES") || have.contains("ALL") { return [] }
        return required.filter { !have.contains($0) }
    }

    /// `*.*` = `` `*`.`*` ``, `` `shop`.* `` = `shop.*`.
    static func sameObject(_ a: String, _ b: String) -> Bool {
        a.replacingBackticks == b.replacingBackticks
    }

    /// `` `shop`.* `` for a database name.
    public static func databaseObject(_ database: String) -> String { "`\(database)`.*" }
}

extension String {
    var replacingBackticks: String { filter { $0 != "`" } }
}
