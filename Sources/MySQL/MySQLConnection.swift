import CMariaDB
import Diagnostics
import Foundation

public struct MySQLEndpoint: Sendable {
    public var host: String
    public var port: Int
    public var user: String
    public var password: String
    public var database: String?

    public init(host: String, port: Int, user: String, password: String, database: String? = nil) {
        self.host = host
        self.port = port
        self.user = user
        self.password = password
        self.database = database
    }

    public var description: String { "\(user)@\(host):\(port)" }
}

public struct MySQLResult: Sendable {
    public var columns: [String]
    public var rows: [[String?]]
    public var affectedRows: UInt64
    public var lastInsertId: UInt64

    /// Values of the first column, with NULLs left out.
    public var firstColumn: [String] { rows.compactMap { $0.first ?? nil } }
}

/// One blocking connection over MariaDB Connector/C. Text protocol only: cdcctl's queries are
/// checks and small writes, and values it sends are escaped with mysql_real_escape_string.
public final class MySQLConnection: @unchecked Sendable {
    private let handle: UnsafeMutablePointer<MYSQL>
    public let endpoint: MySQLEndpoint

    public init(_ endpoint: MySQLEndpoint, timeoutSeconds: UInt32 = 5) throws {
        guard let h = mysql_init(nil) else { throw CdcError.failed("MariaDB client: out of memory") }
        cdc_mysql_option_uint(h, MYSQL_OPT_CONNECT_TIMEOUT, timeoutSeconds)
        cdc_mysql_option_uint(h, MYSQL_OPT_READ_TIMEOUT, max(timeoutSeconds, 30))
        cdc_mysql_option_uint(h, MYSQL_OPT_WRITE_TIMEOUT, max(timeoutSeconds, 30))
        cdc_mysql_option_str(h, MYSQL_SET_CHARSET_NAME, "utf8mb4")
        guard mysql_real_connect(h, endpoint.host, endpoint.user, endpoint.password, endpoint.database,
                                 UInt32(endpoint.port), nil, 0) != nil else {
            let code = mysql_errno(h)
            let message = String(cString: mysql_error(h))
            mysql_close(h)
            throw MySQLError(.connect, code: code, message: Redact.secrets(in: message, values: [endpoint.password]), endpoint: endpoint)
        }
        handle = h
        self.endpoint = endpoint
    }

    deinit { mysql_close(handle) }

    @discardableResult
    public func query(_ sql: String) throws -> MySQLResult {
        guard mysql_real_query(handle, sql, UInt(sql.utf8.count)) == 0 else {
            throw MySQLError(.query(String(sql.prefix(120))), code: mysql_errno(handle), message: String(cString: mysql_error(handle)),
                             endpoint: endpoint)
        }
        guard let result = mysql_store_result(handle) else {
            if mysql_field_count(handle) != 0 {
                throw MySQLError(.readResult, code: mysql_errno(handle), message: String(cString: mysql_error(handle)), endpoint: endpoint)
            }
            return MySQLResult(columns: [], rows: [], affectedRows: mysql_affected_rows(handle), lastInsertId: mysql_insert_id(handle))
        }
        defer { mysql_free_result(result) }
        let count = Int(mysql_num_fields(result))
        let fields = mysql_fetch_fields(result)
        let columns = (0..<count).map { String(cString: fields![$0].name) }
        var rows: [[String?]] = []
        while let row = mysql_fetch_row(result) {
            let lengths = mysql_fetch_lengths(result)
            rows.append((0..<count).map { i in
                guard let cell = row[i] else { return nil }
                return String(decoding: UnsafeRawBufferPointer(start: cell, count: Int(lengths![i])), as: UTF8.self)
            })
        }
        return MySQLResult(columns: columns, rows: rows, affectedRows: 0, lastInsertId: 0)
    }

    /// `SHOW VARIABLES` as a dictionary (names lower-cased).
    public func variables(like pattern: String? = nil) throws -> [String: String] {
        let r = try query("SHOW GLOBAL VARIABLES" + (pattern.map { " LIKE '\(escape($0))'" } ?? ""))
        var out: [String: String] = [:]
        for row in r.rows where row.count >= 2 { out[(row[0] ?? "").lowercased()] = row[1] ?? "" }
        return out
    }

    /// Escapes a string for use inside single quotes.
    public func escape(_ s: String) -> String {
        var out = [CChar](repeating: 0, count: s.utf8.count * 2 + 1)
        let n = mysql_real_escape_string(handle, &out, s, UInt(s.utf8.count))
        return String(decoding: out.prefix(Int(n)).map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}

/// An error the MySQL/MariaDB server or client library reported; callers branch on `code`
/// (the server's or client's error number), never on the text.
public struct MySQLError: Error, Sendable, Equatable, CustomStringConvertible, CdcErrorConvertible {
    public enum Phase: Sendable, Equatable {
        case connect
        case query(String)
        case readResult
    }

    public var phase: Phase
    public var code: UInt32
    public var message: String
    public var host: String
    public var port: Int
    public var user: String

    public init(_ phase: Phase, code: UInt32, message: String, endpoint: MySQLEndpoint) {
        self.phase = phase
        self.code = code
        self.message = message
        self.host = endpoint.host
        self.port = endpoint.port
        self.user = endpoint.user
    }

    public enum Code {
        public static let accessDeniedToDatabase: UInt32 = 1044
        public static let accessDenied: UInt32 = 1045
        public static let deadlock: UInt32 = 1213
        public static let lockWaitTimeout: UInt32 = 1205
        public static let connectionRefused: UInt32 = 2002  // CR_CONNECTION_ERROR (socket)
        public static let cannotConnect: UInt32 = 2003      // CR_CONN_HOST_ERROR
        public static let serverGone: UInt32 = 2006         // CR_SERVER_GONE_ERROR
        public static let lostConnection: UInt32 = 2013     // CR_SERVER_LOST
    }

    public var isAccessDenied: Bool { code == Code.accessDenied || code == Code.accessDeniedToDatabase }

    /// The server is not there (yet), the connection dropped, or a lock conflict: the same
    /// statement may succeed when sent again.
    public var isTransient: Bool {
        [Code.connectionRefused, Code.cannotConnect, Code.serverGone, Code.lostConnection, Code.deadlock, Code.lockWaitTimeout].contains(code)
    }

    var endpoint: String { "\(user)@\(host):\(port)" }

    public var description: String {
        switch phase {
        case .connect: "cannot connect to MySQL as \(endpoint): \(message) (error \(code))"
        case .query: "MySQL error \(code): \(message)"
        case .readResult: "MySQL error reading a result: \(message)"
        }
    }

    public var cdcError: CdcError {
        switch phase {
        case .connect:
            CdcError(isAccessDenied ? .invalidInput : .operationFailed, description, subject: "source",
                     fix: isAccessDenied ? "check the user and the password the manifest's secrets reference"
                                         : "check the server is up at \(host):\(port) (access.mysqlHost/mysqlPort in the manifest)",
                     transient: isTransient)
        case let .query(sql):
            CdcError(.operationFailed, description, subject: "\(endpoint): \(sql)", transient: isTransient)
        case .readResult:
            CdcError(.operationFailed, description, subject: endpoint, transient: isTransient)
        }
    }
}
