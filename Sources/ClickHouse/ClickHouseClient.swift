import Diagnostics
import Foundation
import HTTP

/// How to reach a ClickHouse server over its HTTP interface.
public struct ClickHouseConfig: Sendable {
    /// `http://host:8123`.
    public var url: String
    public var user: String
    public var password: String
    public var timeoutSeconds: Double

    public init(url: String, user: String, password: String, timeoutSeconds: Double = 30) {
        self.url = url
        self.user = user
        self.password = password
        self.timeoutSeconds = timeoutSeconds
    }
}

/// Formats `insert` sends. RowBinary bodies are built by the caller.
public enum InsertFormat: String, Sendable {
    case jsonEachRow = "JSONEachRow"
    case rowBinary = "RowBinary"
}

/// A client for ClickHouse's HTTP interface (the server's, not a driver's): one statement per
/// request, settings as URL parameters, credentials in `X-ClickHouse-User`/`X-ClickHouse-Key`,
/// server exceptions as `ClickHouseError`.
public final class ClickHouseClient: Sendable {
    public let config: ClickHouseConfig
    let http: HTTPClient

    public init(_ config: ClickHouseConfig, http: HTTPClient = HTTPClient()) {
        self.config = config
        self.http = http
    }

    public var server: String { HTTPClient.origin(config.url) }

    /// `GET /ping`: the server answers `Ok.` without authentication.
    public func ping() throws {
        let response = try http.send(HTTPRequest("GET", endpoint("/ping", [:]), timeoutSeconds: min(config.timeoutSeconds, 5)))
        guard response.status == 200 else {
            throw CdcError.failed("ClickHouse /ping answered HTTP \(response.status): \(response.text.prefix(200))",
                                  subject: "clickhouse \(server)", fix: "check access.clickhouseURL points at ClickHouse's HTTP port")
        }
    }

    /// Runs one statement (DDL, INSERT … VALUES, OPTIMIZE …) and returns the response body.
    /// `idempotent` statements (IF NOT EXISTS DDL, deduplicated inserts) are retried after a
    /// transport error.
    @discardableResult
    public func execute(_ sql: String, database: String? = nil, settings: [String: String] = [:],
                        parameters: [String: String] = [:], idempotent: Bool = false) throws -> String {
        try send(query: nil, body: Array(sql.utf8), database: database, settings: settings, parameters: parameters,
                 idempotent: idempotent).text
    }

    /// Runs a SELECT and decodes each row of its JSONEachRow output. Values bind to
    /// `{name:Type}` placeholders through `parameters` (never pasted into the SQL). 64-bit
    /// integers come as JSON numbers (the server's default quotes them, chdb's does not), and the
    /// server buffers the result so an error arrives as an error status, not mid-stream.
    public func select<Row: Decodable>(_ sql: String, as: Row.Type = Row.self, database: String? = nil,
                                       settings: [String: String] = [:], parameters: [String: String] = [:]) throws -> [Row] {
        var s = ["output_format_json_quote_64bit_integers": "0", "wait_end_of_query": "1"]
        s.merge(settings) { _, new in new }
        let body = try send(query: nil, body: Array((sql + "\nFORMAT JSONEachRow").utf8), database: database, settings: s,
                            parameters: parameters, idempotent: true).body
        let decoder = JSONDecoder()
        var rows: [Row] = []
        for line in body.split(separator: UInt8(ascii: "\n")) where !line.isEmpty {
            do {
                rows.append(try decoder.decode(Row.self, from: Data(line)))
            } catch {
                let text = String(decoding: line, as: UTF8.self)
                if let e = ClickHouseError.parse(status: 200, headerCode: nil, body: text, server: server) { throw e }
                throw CdcError.failed("unexpected row from ClickHouse: \(text.prefix(200)) (\(error))", subject: "clickhouse \(server)")
            }
        }
        return rows
    }

    /// Sends rows in `format` to `INSERT INTO table`. With a `deduplicationToken` the server
    /// stores a repeated insert once (the table needs `non_replicated_deduplication_window` > 0
    /// unless it is Replicated), so the insert is retried after transport errors.
    ///
    /// DateTime text is read `best_effort` (ISO 8601 with `T` and `Z` too) unless `settings` say
    /// otherwise: the server's default is `basic`, chdb's `best_effort`, and both must read alike.
    public func insert(into table: String, database: String? = nil, columns: [String]? = nil, format: InsertFormat = .jsonEachRow,
                       body: [UInt8], deduplicationToken: String? = nil, settings: [String: String] = [:]) throws {
        var s = ["date_time_input_format": "best_effort"]
        s.merge(settings) { _, new in new }
        if let deduplicationToken {
            s["insert_deduplicate"] = "1"
            s["insert_deduplication_token"] = deduplicationToken
        }
        let columnList = columns.map { " (" + $0.map(ClickHouseSQL.identifier).joined(separator: ", ") + ")" } ?? ""
        let query = "INSERT INTO \(ClickHouseSQL.qualified(database, table))\(columnList) FORMAT \(format.rawValue)"
        try send(query: query, body: body, database: database, settings: s, parameters: [:], idempotent: deduplicationToken != nil)
    }

    /// Encodes each row as one JSON object (JSONEachRow) and inserts them.
    public func insert<Row: Encodable>(_ rows: [Row], into table: String, database: String? = nil,
                                       deduplicationToken: String? = nil, settings: [String: String] = [:]) throws {
        guard !rows.isEmpty else { return }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.withoutEscapingSlashes]
        var body: [UInt8] = []
        for row in rows {
            body += try encoder.encode(row)
            body.append(UInt8(ascii: "\n"))
        }
        try insert(into: table, database: database, format: .jsonEachRow, body: body, deduplicationToken: deduplicationToken,
                   settings: settings)
    }

    // MARK: - Transport

    @discardableResult
    func send(query: String?, body: [UInt8], database: String?, settings: [String: String], parameters: [String: String],
              idempotent: Bool) throws -> HTTPResponse {
        var items: [String: String] = settings
        if let query { items["query"] = query }
        if let database { items["database"] = database }
        for (name, value) in parameters { items["param_" + name] = value }
        var headers: [(String, String)] = [("X-ClickHouse-User", config.user), ("Content-Type", "text/plain; charset=UTF-8")]
        // An empty header would be dropped by libcurl anyway; no key means "no password".
        if !config.password.isEmpty { headers.append(("X-ClickHouse-Key", config.password)) }
        let request = HTTPRequest("POST", endpoint("/", items), headers: headers, body: body,
                                  timeoutSeconds: config.timeoutSeconds, idempotent: idempotent)
        let response = try http.send(request)
        if response.status != 200 || response.headers["x-clickhouse-exception-code"] != nil {
            throw ClickHouseError.parse(status: response.status, headerCode: response.headers["x-clickhouse-exception-code"],
                                        body: response.text, server: server)
                ?? CdcError.failed("ClickHouse answered HTTP \(response.status): \(response.text.prefix(300))",
                                   subject: "clickhouse \(server)", fix: "check access.clickhouseURL points at ClickHouse's HTTP port")
        }
        return response
    }

    func endpoint(_ path: String, _ items: [String: String]) -> String {
        var base = config.url
        while base.hasSuffix("/") { base.removeLast() }
        guard !items.isEmpty else { return base + path }
        let query = items.keys.sorted().map { "\(Self.percentEncode($0))=\(Self.percentEncode(items[$0]!))" }.joined(separator: "&")
        return base + path + "?" + query
    }

    static func percentEncode(_ s: String) -> String {
        let unreserved = Set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~".utf8)
        var out = ""
        for byte in s.utf8 {
            if unreserved.contains(byte) {
                out.append(Character(UnicodeScalar(byte)))
            } else {
                out += "%" + (byte < 16 ? "0" : "") + String(byte, radix: 16, uppercase: true)
            }
        }
        return out
    }
}
