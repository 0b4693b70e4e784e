import CPostgres
import Diagnostics
import Foundation

/// Where a PostgreSQL server is and who connects. The password travels to libpq as its own
/// parameter (`PQconnectdbParams`), never inside a conninfo string that could end up in a log.
public struct PostgresEndpoint: Sendable, Equatable {
    public var host: String
    public var port: Int
    public var user: String
    public var password: String
    public var database: String
    public var connectTimeoutSeconds: Int
    public var applicationName: String
    /// Tables named without a schema resolve here first (`search_path`), e.g. a benchmark's scratch schema.
    public var searchPath: String?

    public init(host: String, port: Int, user: String, password: String, database: String, connectTimeoutSeconds: Int = 5,
                applicationName: String = "cdcctl", searchPath: String? = nil) {
        self.searchPath = searchPath
        self.host = host
        self.port = port
        self.user = user
        self.password = password
        self.database = database
        self.connectTimeoutSeconds = connectTimeoutSeconds
        self.applicationName = applicationName
    }

    /// `user@host:port/database`, for messages (no password).
    public var description: String { "\(user)@\(host):\(port)/\(database)" }

    /// The same server, another database.
    public func with(database: String) -> PostgresEndpoint {
        var e = self
        e.database = database
        return e
    }
}

/// A result: the column names and every row as text (libpq's text format), NULL as nil.
public struct PostgresResult: Sendable, Equatable {
    public var columns: [String]
    public var rows: [[String?]]
    /// Rows a command changed (`INSERT`/`UPDATE`/`DELETE`), 0 otherwise.
    public var affectedRows: Int

    /// The first column of the first row.
    public var scalar: String? { rows.first?.first ?? nil }
}

/// One blocking connection over libpq. Values go as text parameters of `PQexecParams`, never
/// spliced into SQL; identifiers are quoted with `quoteIdentifier`.
public final class PostgresConnection: @unchecked Sendable {
    private let handle: OpaquePointer
    public let endpoint: PostgresEndpoint

    public init(_ endpoint: PostgresEndpoint) throws {
        var pairs: [(String, String)] = [
            ("host", endpoint.host), ("port", String(endpoint.port)), ("user", endpoint.user), ("password", endpoint.password),
            ("dbname", endpoint.database), ("connect_timeout", String(max(endpoint.connectTimeoutSeconds, 2))),
            ("application_name", endpoint.applicationName), ("client_encoding", "UTF8"),
            // A dead peer is noticed by the kernel within ~15 s instead of the default two hours.
            ("keepalives", "1"), ("keepalives_idle", "5"), ("keepalives_interval", "2"), ("keepalives_count", "3"),
        ]
        if let path = endpoint.searchPath { pairs.append(("options", "-csearch_path=\(path)")) }
        let conn = Self.withCStrings(pairs.map(\.0)) { keys in
            Self.withCStrings(pairs.map(\.1)) { values in PQconnectdbParams(keys, values, 0) }
        }
        guard let conn else { throw PostgresError(.connect, sqlState: nil, message: "libpq: out of memory", endpoint: endpoint) }
        guard PQstatus(conn) == CONNECTION_OK else {
            let message = Redact.secrets(in: Self.trimmed(PQerrorMessage(conn)), values: [endpoint.password])
            PQfinish(conn)
            throw PostgresError(.connect, sqlState: nil, message: message, endpoint: endpoint, connectionBad: true)
        }
        // Server notices (NOTICE: drop cascades to …) are not cdcctl's output: libpq would print them on stderr.
        PQsetNoticeProcessor(conn, { _, _ in }, nil)
        handle = conn
        self.endpoint = endpoint
    }

    deinit { PQfinish(handle) }

    /// Whether the connection is still usable (libpq noticed no broken socket).
    public var isHealthy: Bool { PQstatus(handle) == CONNECTION_OK }

    /// Runs one statement with text parameters (`$1`, `$2`, …; nil is SQL NULL).
    @discardableResult
    public func exec(_ sql: String, _ parameters: [String?] = []) throws -> PostgresResult {
        let result: OpaquePointer? = Self.withOptionalCStrings(parameters) { values in
            PQexecParams(handle, sql, Int32(parameters.count), nil, values, nil, nil, 0)
        }
        return try consume(result, sql: sql)
    }

    /// Runs a script of several statements without parameters (the simple query protocol):
    /// migrations. Inside a transaction block it is atomic with the rest of the block.
    @discardableResult
    public func execScript(_ sql: String) throws -> PostgresResult {
        try consume(PQexec(handle, sql), sql: sql)
    }

    private func consume(_ result: OpaquePointer?, sql: String) throws -> PostgresResult {
        guard let result else {
            throw PostgresError(.query(Self.summary(sql)), sqlState: nil, message: Self.trimmed(PQerrorMessage(handle)), endpoint: endpoint,
                                connectionBad: PQstatus(handle) != CONNECTION_OK)
        }
        defer { PQclear(result) }
        switch PQresultStatus(result) {
        case PGRES_COMMAND_OK, PGRES_EMPTY_QUERY:
            let n = PQcmdTuples(result).map { Int(String(cString: $0)) ?? 0 } ?? 0
            return PostgresResult(columns: [], rows: [], affectedRows: n)
        case PGRES_TUPLES_OK:
            let columns = (0..<PQnfields(result)).map { String(cString: PQfname(result, $0)) }
            var rows: [[String?]] = []
            rows.reserveCapacity(Int(PQntuples(result)))
            for r in 0..<PQntuples(result) {
                rows.append((0..<PQnfields(result)).map { c in
                    PQgetisnull(result, r, c) == 1 ? nil : String(cString: PQgetvalue(result, r, c))
                })
            }
            return PostgresResult(columns: columns, rows: rows, affectedRows: rows.count)
        default:
            let state = PQresultErrorField(result, Int32(UInt8(ascii: "C"))).map { String(cString: $0) }
            let primary = PQresultErrorField(result, Int32(UInt8(ascii: "M"))).map { String(cString: $0) }
            throw PostgresError(.query(Self.summary(sql)), sqlState: state, message: primary ?? Self.trimmed(PQresultErrorMessage(result)),
                                endpoint: endpoint, connectionBad: PQstatus(handle) != CONNECTION_OK)
        }
    }

    /// `BEGIN`, `body`, `COMMIT`; a failure in `body` (or in COMMIT) rolls back and is rethrown.
    /// The connection stays usable unless it broke.
    public func transaction<T>(_ body: (PostgresConnection) throws -> T) throws -> T {
        try exec("BEGIN")
        do {
            let value = try body(self)
            try exec("COMMIT")
            return value
        } catch {
            if isHealthy { _ = try? exec("ROLLBACK") }
            throw error
        }
    }

    /// `BEGIN`, `body`, then always `ROLLBACK`: what statements would do, kept by nothing (DDL is
    /// transactional in PostgreSQL, so a dry run or a scratch schema leaves no trace).
    public func rolledBack<T>(_ body: (PostgresConnection) throws -> T) throws -> T {
        try exec("BEGIN")
        defer { if isHealthy { _ = try? exec("ROLLBACK") } }
        return try body(self)
    }

    /// `"name"` with embedded quotes doubled, for identifiers that cannot be parameters.
    public static func quoteIdentifier(_ name: String) -> String {
        "\"" + name.replacing("\"", with: "\"\"") + "\""
    }

    /// The server's version number (e.g. 150018).
    public var serverVersion: Int { Int(PQserverVersion(handle)) }

    static func summary(_ sql: String) -> String {
        String(sql.split(whereSeparator: \.isNewline).first.map(String.init)?.prefix(120) ?? "")
    }

    static func trimmed(_ text: UnsafePointer<CChar>?) -> String {
        guard let text else { return "" }
        return String(cString: text).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    static func withCStrings<R>(_ strings: [String], _ body: (UnsafePointer<UnsafePointer<CChar>?>) -> R) -> R {
        let copies: [UnsafeMutablePointer<CChar>?] = strings.map { strdup($0) } + [nil]
        defer { for c in copies { free(c) } }
        return copies.map { UnsafePointer($0) }.withUnsafeBufferPointer { body($0.baseAddress!) }
    }

    static func withOptionalCStrings<R>(_ strings: [String?], _ body: (UnsafePointer<UnsafePointer<CChar>?>?) -> R) -> R {
        guard !strings.isEmpty else { return body(nil) }
        let copies: [UnsafeMutablePointer<CChar>?] = strings.map { $0.map { strdup($0) } ?? nil }
        defer { for c in copies { free(c) } }
        return copies.map { UnsafePointer($0) }.withUnsafeBufferPointer { body($0.baseAddress!) }
    }
}
