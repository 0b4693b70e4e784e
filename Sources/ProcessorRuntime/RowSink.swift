import ClickHouse
import Diagnostics
import Foundation
import Processor

/// What a failed insert means for the flush that sent it.
public enum SinkFailure: Sendable, Equatable {
    /// The server is unavailable (down, overloaded, timing out): send the same body again,
    /// forever, with backoff. Nothing is committed meanwhile.
    case unavailable
    /// The server refused the rows as bad data: isolate the bad rows into `processor_rejects`
    /// and go on.
    case badData(String)
    /// Anything else (a missing table, a denied privilege): retried a few times, then the run
    /// fails with the reason (a deployment to fix, not a record to skip).
    case other(String)
}

/// Where the processor's rows go. ClickHouse today; a PostgreSQL sink can plug in beside it.
/// An implementation must make a repeated `(table, token)` insert store its rows once.
public protocol RowSink: AnyObject {
    /// `clickhouse http://host:port/db`, for logs.
    var description: String { get }
    /// Inserts a JSONEachRow body into `table`, idempotently for a repeated token.
    func insert(_ table: ProcessorTable, body: [UInt8], token: String) throws
    /// How the flush reacts to `error`, thrown by `insert`.
    func classify(_ error: Error) -> SinkFailure
    /// The ids of orders whose current state is over `limit` (quantity × price), so an update
    /// without a before image after a restart is compared with what the sink holds.
    func ordersOverLimit(_ limit: FixedDecimal) throws -> [Int64]
}

/// The ClickHouse sink: JSONEachRow over HTTP with `insert_deduplication_token`.
public final class ClickHouseRowSink: RowSink {
    let client: ClickHouseClient
    let database: String

    public init(_ client: ClickHouseClient, database: String) {
        self.client = client
        self.database = database
    }

    public var description: String { "clickhouse \(client.server)/\(database)" }

    public func insert(_ table: ProcessorTable, body: [UInt8], token: String) throws {
        try client.insert(into: table.rawValue, database: database, body: body, deduplicationToken: token)
    }

    /// ClickHouse error codes that mean "these rows are bad", from src/Common/ErrorCodes.cpp:
    /// parse and conversion failures, out-of-range values, oversized strings.
    static let badDataCodes: Set<Int> = [
        6, 26, 27, 38, 41, 53, 69, 70, 72, 117, 131, 190, 321, 407, 469, 691,
        // CANNOT_PARSE_TEXT, CANNOT_PARSE_QUOTED_STRING, CANNOT_PARSE_INPUT_ASSERTION_FAILED,
        // CANNOT_PARSE_DATE, CANNOT_PARSE_DATETIME, TYPE_MISMATCH, ARGUMENT_OUT_OF_BOUND,
        // CANNOT_CONVERT_TYPE, CANNOT_PARSE_NUMBER, INCORRECT_DATA, TOO_LARGE_STRING_SIZE,
        // SIZES_OF_ARRAYS_DONT_MATCH, VALUE_IS_OUT_OF_RANGE_OF_DATA_TYPE, DECIMAL_OVERFLOW,
        // VIOLATED_CONSTRAINT, UNKNOWN_ELEMENT_OF_ENUM
    ]
    /// Codes that mean the server is there but cannot take the insert now.
    static let unavailableCodes: Set<Int> = [
        ClickHouseError.Code.timeoutExceeded, ClickHouseError.Code.memoryLimitExceeded, ClickHouseError.Code.tooManyParts,
        202, 209, 210, 242, 252, 999, 1000, 3, 32,  // too many queries, socket timeout, network, read-only replica, keeper, poco, EOF
    ]

    public func classify(_ error: Error) -> SinkFailure {
        guard let e = error as? ClickHouseError else { return .unavailable }  // transport: refused, reset, timed out
        if Self.badDataCodes.contains(e.code) { return .badData(e.description) }
        if Self.unavailableCodes.contains(e.code) || e.isRetryable { return .unavailable }
        return .other(e.description)
    }

    public func ordersOverLimit(_ limit: FixedDecimal) throws -> [Int64] {
        let text = try client.execute("""
            SELECT order_id FROM \(database).orders_current FINAL
            WHERE is_deleted = 0 AND toDecimal128(quantity, 4) * toDecimal128(price, 4) > toDecimal128('\(limit)', 8)
            FORMAT TSV
            """)
        return text.split(separator: "\n").compactMap { Int64($0) }
    }
}
