import Diagnostics
import Foundation

/// An exception the ClickHouse server reported: the number from `X-ClickHouse-Exception-Code`
/// (or the body's `Code: N.`), the name in the body's trailing `(NAME)` and the message.
///
/// Callers branch on `code` (retry a `TOO_MANY_PARTS`, treat `UNKNOWN_DATABASE` as "nothing
/// applied yet"); `cdcError` turns it into cdcctl's one error type for printing.
public struct ClickHouseError: Error, Sendable, Equatable, CustomStringConvertible {
    /// ClickHouse's error code (src/Common/ErrorCodes.cpp).
    public var code: Int
    /// `UNKNOWN_TABLE`, when the body names it.
    public var name: String?
    /// The exception text, without the `Code: N. DB::Exception:` prefix and the version suffix.
    public var message: String
    public var httpStatus: Int
    /// `http://host:port` of the server.
    public var server: String

    public init(code: Int, name: String?, message: String, httpStatus: Int, server: String) {
        self.code = code
        self.name = name
        self.message = message
        self.httpStatus = httpStatus
        self.server = server
    }

    /// The codes cdcctl reacts to. Stable across server versions.
    public enum Code {
        public static let tableAlreadyExists = 57
        public static let unknownTable = 60
        public static let syntaxError = 62
        public static let unknownDatabase = 81
        public static let databaseAlreadyExists = 82
        public static let unknownSetting = 115
        public static let timeoutExceeded = 159
        public static let readonly = 164
        public static let memoryLimitExceeded = 241
        public static let tooManyParts = 252
        public static let accessDenied = 497
        public static let authenticationFailed = 516
    }

    /// Worth sending again unchanged (with the same deduplication token, for inserts).
    public var isRetryable: Bool {
        [Code.timeoutExceeded, Code.memoryLimitExceeded, Code.tooManyParts].contains(code) || [502, 503, 504].contains(httpStatus)
    }

    /// `Code: 60. UNKNOWN_TABLE: Table analytics.x does not exist.`
    public var description: String {
        "Code: \(code). \(name.map { $0 + ": " } ?? "")\(message)"
    }

    public var cdcError: CdcError {
        let fix: String?
        switch code {
        case Code.authenticationFailed, 192, 193:  // + UNKNOWN_USER, WRONG_PASSWORD
            fix = "check access.clickhouseUser and secrets.clickhousePassword match a user of the server"
        case Code.accessDenied, Code.readonly:
            fix = "grant the ClickHouse user the privilege named above (or use a user that has it)"
        case Code.syntaxError:
            fix = "fix the SQL at the position the server names"
        default:
            fix = nil
        }
        return CdcError.failed("ClickHouse \(description)", subject: "clickhouse \(server)", fix: fix)
    }

    /// Parses a ClickHouse error response. `headerCode` is `X-ClickHouse-Exception-Code`.
    /// Returns nil when neither the header nor the body carries an exception.
    public static func parse(status: Int, headerCode: String?, body: String, server: String) -> ClickHouseError? {
        let text = body.trimmingCharacters(in: .whitespacesAndNewlines)
        // A result streamed with status 200 can end with the exception: take the last `Code:`.
        let start = text.ranges(of: "Code: ").last?.lowerBound
        let exceptionText = start.map { String(text[$0...]) } ?? text
        var code = headerCode.flatMap { Int($0.trimmingCharacters(in: .whitespaces)) }
        // `Code: 60. DB::Exception: …` (current), `Code: 60, e.displayText() = DB::Exception: …` (18.x).
        if code == nil, start != nil, let m = exceptionText.firstMatch(of: #/^Code: (\d+)[.,]/#) { code = Int(m.output.1) }
        guard let code else { return nil }

        var message = exceptionText
        if let m = message.firstMatch(of: #/^Code: \d+[.,]\s*(?:e\.displayText\(\) = )?(?:DB::Exception:\s*)?/#) { message = String(message[m.range.upperBound...]) }
        if let e = message.ranges(of: ", e.what() = ").last { message = String(message[..<e.lowerBound]) }
        if let v = message.ranges(of: " (version ").last { message = String(message[..<v.lowerBound]) }
        var name: String?
        if let m = message.firstMatch(of: #/\s*\(([A-Z][A-Z0-9_]+)\)\s*$/#) {
            name = String(m.output.1)
            message = String(message[..<m.range.lowerBound])
        }
        return ClickHouseError(code: code, name: name, message: message.trimmingCharacters(in: .whitespacesAndNewlines),
                               httpStatus: status, server: server)
    }
}
