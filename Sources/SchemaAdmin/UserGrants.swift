import ClickHouse
import Manifest

/// A ClickHouse role user whose rights differ from what the manifest renders into users.d.
public struct UserDrift: Sendable, Codable, Equatable {
    public var user: String
    /// `writer` (the processor) or `reader` (Grafana).
    public var role: String
    public var problem: String
    public var expected: String
    public var actual: String
}

/// What `schema status` checks of the writer and reader users, logged in as each: the profile
/// settings that carry their rights (readonly, allow_ddl, the reader's limits) and whether a
/// database other than the analytics one is reachable. Works on ClickHouse 18.16 and current
/// versions alike (no SHOW GRANTS, which 18.16 lacks; no query parameters or extra settings,
/// which a readonly user may not send).
public enum UserGrantCheck {
    public struct Expectation: Sendable, Equatable {
        public var user: String
        public var role: String
        public var settings: [String: String]
    }

    public struct Observation: Sendable, Equatable {
        /// nil: could not log in (the message says why).
        public var settings: [String: String]?
        public var loginError: String?
        /// The server's error code for a SELECT from another database (nil: it succeeded).
        public var foreignDatabaseErrorCode: Int?
        /// False when the server let the user in with a wrong password: it checks no users at all
        /// (the testbed's stand-ins), so there are no grants to compare.
        public var checksPasswords: Bool

        public init(settings: [String: String]?, loginError: String? = nil, foreignDatabaseErrorCode: Int?, checksPasswords: Bool = true) {
            self.settings = settings
            self.loginError = loginError
            self.foreignDatabaseErrorCode = foreignDatabaseErrorCode
            self.checksPasswords = checksPasswords
        }
    }

    /// Access denied: 291 (18.x DATABASE_ACCESS_DENIED), 497 (ACCESS_DENIED).
    static let accessDenied: Set<Int> = [291, 497]

    public static func expectations(_ m: Manifest) -> [Expectation] {
        let c = m.clickhouse
        return [
            Expectation(user: m.access.clickhouseWriterUser, role: "writer", settings: ["readonly": "0", "allow_ddl": "0"]),
            Expectation(user: m.access.clickhouseReaderUser, role: "reader", settings: [
                "readonly": "1", "max_execution_time": String(c.readerMaxExecutionSeconds),
                "max_result_rows": String(c.readerMaxResultRows), "max_rows_to_read": String(c.readerMaxRowsToRead),
            ]),
        ]
    }

    /// The probe's settings query, and the table in another database it tries to read.
    static let settingsNames = ["readonly", "allow_ddl", "max_execution_time", "max_result_rows", "max_rows_to_read"]
    public static let probeTable = "default.cdcctl_grant_probe"

    public static func compare(_ e: Expectation, _ o: Observation, database: String) -> [UserDrift] {
        guard o.checksPasswords else { return [] }
        guard let settings = o.settings else {
            return [UserDrift(user: e.user, role: e.role, problem: "cannot log in", expected: "logs in with its secret",
                              actual: o.loginError ?? "failed")]
        }
        var out: [UserDrift] = []
        for key in e.settings.keys.sorted() where settings[key] != e.settings[key] {
            out.append(UserDrift(user: e.user, role: e.role, problem: "profile setting \(key)", expected: e.settings[key]!,
                                 actual: settings[key] ?? "(absent)"))
        }
        if let code = o.foreignDatabaseErrorCode, accessDenied.contains(code) {
            // Only the analytics database: as rendered.
        } else {
            out.append(UserDrift(user: e.user, role: e.role, problem: "reaches databases other than \(database)",
                                 expected: "access denied outside \(database)",
                                 actual: o.foreignDatabaseErrorCode.map { "error \($0), not access denied" } ?? "read \(probeTable)"))
        }
        return out
    }

    /// Logs in as `client`'s user and asks. Thin.
    public static func observe(_ client: ClickHouseClient) -> Observation {
        var wrong = client.config
        wrong.password = "cdcctl-grant-check-wrong-password"
        if (try? ClickHouseClient(wrong).execute("SELECT 1")) != nil {
            return Observation(settings: nil, foreignDatabaseErrorCode: nil, checksPasswords: false)
        }
        let text: String
        do {
            text = try client.execute("SELECT name, value FROM system.settings WHERE name IN ("
                                      + settingsNames.map { "'\($0)'" }.joined(separator: ", ") + ") FORMAT TabSeparated")
        } catch {
            return Observation(settings: nil, loginError: (error as? ClickHouseError)?.description ?? "\(error)", foreignDatabaseErrorCode: nil)
        }
        var settings: [String: String] = [:]
        for line in text.split(separator: "\n") {
            let parts = line.split(separator: "\t", maxSplits: 1)
            if parts.count == 2 { settings[String(parts[0])] = String(parts[1]) }
        }
        var code: Int?
        do {
            try client.execute("SELECT 1 FROM \(probeTable) LIMIT 0")
        } catch let e as ClickHouseError {
            code = e.code
        } catch {
            code = -1
        }
        return Observation(settings: settings, foreignDatabaseErrorCode: code)
    }
}
