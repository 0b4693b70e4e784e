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
            let denied = code == 1045 || code == 1044
            throw CdcError(denied ? .invalidInput : .operationFailed,
                           "cannot connect to MySQL as \(endpoint.description): \(Redact.secrets(in: message, values: [endpoint.password])) (error \(code))",
                           subject: "source",
                           fix: denied ? "check the user and the password the manifest's secrets reference"
                                       : "check the server is up at \(endpoint.host):\(endpoint.port) (access.mysqlHost/mysqlPort in the manifest)")
        }
        handle = h
        self.endpoint = endpoint
    }

    deinit { mysql_close(handle) }

    @discardableResult
    public func query(_ sql: String) throws -> MySQLResult {
        guard mysql_real_query(handle, sql, UInt(sql.utf8.count)) == 0 else {
            throw CdcError.failed("MySQL error \(mysql_errno(handle)): \(String(cString: mysql_error(handle)))",
                                  subject: "\(endpoint.description): \(sql.prefix(120))")
        }
        guard let result = mysql_store_result(handle) else {
            if mysql_field_count(handle) != 0 {
                throw CdcError.failed("MySQL error reading a result: \(String(cString: mysql_error(handle)))", subject: endpoint.description)
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
