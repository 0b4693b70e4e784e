/// Debezium change events from the MySQL connector with the JSON converter and
/// `schemas.enable=false`, `decimal.handling.mode=string` and the default
/// `time.precision.mode=adaptive_time_microseconds` (DATETIME(3) arrives as epoch milliseconds):
///
///     key:   {"order_id":42}
///     value: {"before":{…}|null,"after":{…}|null,"source":{"ts_ms":…,"db":"shop","table":"orders",…},
///             "op":"c|u|d|r","ts_ms":…}
///     tombstone (after a delete): the same key and a null value.
public enum Debezium {
    public static func decodeOrder(key: UnsafeRawBufferPointer?, value: UnsafeRawBufferPointer?,
                                   at position: RecordPosition) throws(DecodeError) -> CdcMessage<OrderRow> {
        try decode(key: key, value: value, at: position)
    }

    public static func decodeExecution(key: UnsafeRawBufferPointer?, value: UnsafeRawBufferPointer?,
                                       at position: RecordPosition) throws(DecodeError) -> CdcMessage<ExecutionRow> {
        try decode(key: key, value: value, at: position)
    }

    static func decode<Row: DebeziumRow>(key: UnsafeRawBufferPointer?, value: UnsafeRawBufferPointer?,
                                         at position: RecordPosition) throws(DecodeError) -> CdcMessage<Row> {
        if let value, !isNull(value) {
            return .change(try scan(value, at: position, part: "value") { (s: inout JSONScanner) throws(JSONError) in
                try change(&s)
            })
        }
        guard let key, key.count > 0 else {
            throw DecodeError(position: position, field: "key", message: "a tombstone (null value) needs a key {\"\(Row.keyField)\":N}")
        }
        return .tombstone(key: try scan(key, at: position, part: "key") { (s: inout JSONScanner) throws(JSONError) in
            try s.beginObject()
            var id: Int64?
            var first = true
            while let k = try s.nextKey(&first) {
                if s.key(k, is: Row.keyField) { id = try s.int64() } else { try s.skipValue() }
            }
            guard let id else { throw s.missing(Row.keyField) }
            return id
        })
    }

    /// A null value: no bytes, or the JSON literal `null`.
    static func isNull(_ value: UnsafeRawBufferPointer) -> Bool {
        var s = JSONScanner(value)
        guard s.peek() != nil else { return true }
        return ((try? s.null()) ?? false) && (try? s.end()) != nil
    }

    static func change<Row: DebeziumRow>(_ s: inout JSONScanner) throws(JSONError) -> ChangeEvent<Row> {
        try s.beginObject()
        var op: DebeziumOp?
        var before: Row?, after: Row?
        var beforeJSON: String?, afterJSON: String?
        var source: SourceInfo?
        var tsMs: Int64?
        var first = true
        while let k = try s.nextKey(&first) {
            if s.key(k, is: "after") {
                (after, afterJSON) = try row(&s, "after")
            } else if s.key(k, is: "before") {
                (before, beforeJSON) = try row(&s, "before")
            } else if s.key(k, is: "source") {
                do { source = try SourceInfo.decode(&s) } catch { throw error.inside("source") }
            } else if s.key(k, is: "op") {
                let start = s.position
                let text = try s.string()
                guard let o = DebeziumOp(rawValue: text) else {
                    throw s.error("unsupported op '\(text)' (expected c, u, d or r)", at: start)
                }
                op = o
            } else if s.key(k, is: "ts_ms") {
                tsMs = try s.null() ? nil : try s.int64()
            } else {
                try s.skipValue()
            }
        }
        guard let op else { throw s.missing("op") }
        guard let source else { throw s.missing("source") }
        if let table = source.table, table != Row.table {
            throw JSONError(byteOffset: s.position, field: "source.table",
                            message: "the event is for table '\(table)', this topic carries '\(Row.table)'")
        }
        switch op {
        case .create, .read, .update:
            guard after != nil else { throw JSONError(byteOffset: s.position, field: "after", message: "op '\(op.rawValue)' needs an after image, found null or none") }
        case .delete:
            guard before != nil else { throw JSONError(byteOffset: s.position, field: "before", message: "op 'd' needs a before image, found null or none") }
            guard after == nil else { throw JSONError(byteOffset: s.position, field: "after", message: "op 'd' must have a null after image") }
        }
        if op == .create || op == .read, before != nil {
            throw JSONError(byteOffset: s.position, field: "before", message: "op '\(op.rawValue)' must have a null before image")
        }
        return ChangeEvent(op: op, before: before, after: after, beforeJSON: beforeJSON, afterJSON: afterJSON,
                           source: source, tsMs: tsMs)
    }

    /// A row image (or null), with its JSON text as received for the raw tables.
    private static func row<Row: DebeziumRow>(_ s: inout JSONScanner, _ name: String) throws(JSONError) -> (Row?, String?) {
        do {
            if try s.null() { return (nil, nil) }
            let start = s.position
            let row = try Row.decode(&s)
            return (row, s.text(start..<s.position))
        } catch {
            throw error.inside(name)
        }
    }
}

public enum DebeziumOp: String, Sendable, Equatable {
    case create = "c", update = "u", delete = "d", read = "r"
}

/// What Debezium says about where a change came from (the fields this processor uses).
public struct SourceInfo: Sendable, Equatable {
    /// When the change was committed in MySQL (for snapshot reads: when it was read).
    public var tsMs: Int64
    public var db: String?
    public var table: String?

    public init(tsMs: Int64, db: String? = nil, table: String? = nil) {
        self.tsMs = tsMs
        self.db = db
        self.table = table
    }

    static func decode(_ s: inout JSONScanner) throws(JSONError) -> SourceInfo {
        try s.beginObject()
        var tsMs: Int64?, db: String?, table: String?
        var first = true
        while let k = try s.nextKey(&first) {
            if s.key(k, is: "ts_ms") { tsMs = try s.int64() }
            else if s.key(k, is: "db") { db = try s.null() ? nil : try s.string() }
            else if s.key(k, is: "table") { table = try s.null() ? nil : try s.string() }
            else { try s.skipValue() }
        }
        guard let tsMs else { throw s.missing("ts_ms") }
        return SourceInfo(tsMs: tsMs, db: db, table: table)
    }
}

/// One change of one row, decoded.
public struct ChangeEvent<Row: Sendable & Equatable>: Sendable, Equatable {
    public var op: DebeziumOp
    public var before: Row?
    public var after: Row?
    /// The row images' JSON text exactly as received (for `cdc_*_raw`).
    public var beforeJSON: String?
    public var afterJSON: String?
    public var source: SourceInfo
    /// When Debezium processed the change (top-level ts_ms), if present.
    public var tsMs: Int64?

    public init(op: DebeziumOp, before: Row?, after: Row?, beforeJSON: String?, afterJSON: String?,
                source: SourceInfo, tsMs: Int64?) {
        self.op = op
        self.before = before
        self.after = after
        self.beforeJSON = beforeJSON
        self.afterJSON = afterJSON
        self.source = source
        self.tsMs = tsMs
    }

    /// The row the change is about: the after image, or the before image of a delete.
    public var row: Row {
        // Decoding guarantees an after image for c/u/r and a before image for d.
        after ?? before!
    }
}

/// A record of a CDC topic: a change, or the tombstone Debezium writes after a delete so log
/// compaction can drop the key.
public enum CdcMessage<Row: Sendable & Equatable>: Sendable, Equatable {
    case change(ChangeEvent<Row>)
    case tombstone(key: Int64)
}

protocol DebeziumRow: Sendable, Equatable {
    /// The MySQL table (`source.table`).
    static var table: String { get }
    /// The primary key column, the field of the record key.
    static var keyField: StaticString { get }
    static func decode(_ s: inout JSONScanner) throws(JSONError) -> Self
}

/// A row of `shop.orders`.
public struct OrderRow: Sendable, Equatable, DebeziumRow {
    public var orderId: Int64
    public var customerId: Int64
    public var symbol: String
    /// `BUY` or `SELL` (MySQL ENUM, passed through).
    public var side: String
    /// `MARKET` or `LIMIT`.
    public var orderType: String
    public var quantity: FixedDecimal
    public var price: FixedDecimal
    /// `NEW`, `PARTIALLY_FILLED`, `FILLED`, `CANCELLED` or `REJECTED`.
    public var status: String
    public var createdAtMs: Int64
    public var updatedAtMs: Int64

    public init(orderId: Int64, customerId: Int64, symbol: String, side: String, orderType: String, quantity: FixedDecimal,
                price: FixedDecimal, status: String, createdAtMs: Int64, updatedAtMs: Int64) {
        self.orderId = orderId
        self.customerId = customerId
        self.symbol = symbol
        self.side = side
        self.orderType = orderType
        self.quantity = quantity
        self.price = price
        self.status = status
        self.createdAtMs = createdAtMs
        self.updatedAtMs = updatedAtMs
    }

    static let table = "orders"
    static let keyField: StaticString = "order_id"

    static func decode(_ s: inout JSONScanner) throws(JSONError) -> OrderRow {
        try s.beginObject()
        var orderId: Int64?, customerId: Int64?, createdAt: Int64?, updatedAt: Int64?
        var symbol: String?, side: String?, orderType: String?, status: String?
        var quantity: FixedDecimal?, price: FixedDecimal?
        var first = true
        while let k = try s.nextKey(&first) {
            if s.key(k, is: "order_id") { orderId = try s.unsignedId() }
            else if s.key(k, is: "customer_id") { customerId = try s.unsignedId() }
            else if s.key(k, is: "symbol") { symbol = try s.string() }
            else if s.key(k, is: "side") { side = try s.string() }
            else if s.key(k, is: "order_type") { orderType = try s.string() }
            else if s.key(k, is: "quantity") { quantity = try s.orderAmount() }
            else if s.key(k, is: "price") { price = try s.orderAmount() }
            else if s.key(k, is: "status") { status = try s.string() }
            else if s.key(k, is: "created_at") { createdAt = try s.int64() }
            else if s.key(k, is: "updated_at") { updatedAt = try s.int64() }
            else { try s.skipValue() }
        }
        guard let orderId else { throw s.missing("order_id") }
        guard let customerId else { throw s.missing("customer_id") }
        guard let symbol else { throw s.missing("symbol") }
        guard let side else { throw s.missing("side") }
        guard let orderType else { throw s.missing("order_type") }
        guard let quantity else { throw s.missing("quantity") }
        guard let price else { throw s.missing("price") }
        guard let status else { throw s.missing("status") }
        guard let createdAt else { throw s.missing("created_at") }
        guard let updatedAt else { throw s.missing("updated_at") }
        return OrderRow(orderId: orderId, customerId: customerId, symbol: symbol, side: side, orderType: orderType,
                        quantity: quantity, price: price, status: status, createdAtMs: createdAt, updatedAtMs: updatedAt)
    }
}

/// A row of `shop.order_executions`.
public struct ExecutionRow: Sendable, Equatable, DebeziumRow {
    public var executionId: Int64
    public var orderId: Int64
    public var symbol: String
    public var quantity: FixedDecimal
    public var price: FixedDecimal
    public var executedAtMs: Int64

    public init(executionId: Int64, orderId: Int64, symbol: String, quantity: FixedDecimal, price: FixedDecimal, executedAtMs: Int64) {
        self.executionId = executionId
        self.orderId = orderId
        self.symbol = symbol
        self.quantity = quantity
        self.price = price
        self.executedAtMs = executedAtMs
    }

    static let table = "order_executions"
    static let keyField: StaticString = "execution_id"

    static func decode(_ s: inout JSONScanner) throws(JSONError) -> ExecutionRow {
        try s.beginObject()
        var executionId: Int64?, orderId: Int64?, executedAt: Int64?
        var symbol: String?
        var quantity: FixedDecimal?, price: FixedDecimal?
        var first = true
        while let k = try s.nextKey(&first) {
            if s.key(k, is: "execution_id") { executionId = try s.unsignedId() }
            else if s.key(k, is: "order_id") { orderId = try s.unsignedId() }
            else if s.key(k, is: "symbol") { symbol = try s.string() }
            else if s.key(k, is: "quantity") { quantity = try s.decimal() }
            else if s.key(k, is: "price") { price = try s.decimal() }
            else if s.key(k, is: "executed_at") { executedAt = try s.int64() }
            else { try s.skipValue() }
        }
        guard let executionId else { throw s.missing("execution_id") }
        guard let orderId else { throw s.missing("order_id") }
        guard let symbol else { throw s.missing("symbol") }
        guard let quantity else { throw s.missing("quantity") }
        guard let price else { throw s.missing("price") }
        guard let executedAt else { throw s.missing("executed_at") }
        return ExecutionRow(executionId: executionId, orderId: orderId, symbol: symbol, quantity: quantity, price: price,
                            executedAtMs: executedAt)
    }
}

extension JSONScanner {
    /// An id stored in a UInt64 column: negative ids cannot be stored, so they are refused here
    /// (a counted, logged rejection) instead of failing the whole insert.
    mutating func unsignedId() throws(JSONError) -> Int64 {
        let start = position
        let v = try int64()
        guard v >= 0 else { throw error("expected an id ≥ 0 (a UInt64 column), found \(v)", at: start) }
        return v
    }

    /// An order quantity or price: it must fit `orders_current`'s Decimal(18,4), as in MySQL
    /// (zeros past the 4th decimal are dropped, other digits are an error).
    mutating func orderAmount() throws(JSONError) -> FixedDecimal {
        let start = position
        var d = try decimal()
        if d.scale > 4 { d = d.normalized }
        guard d.scale <= 4, d.integerDigits <= 14 else { throw error("\(d) does not fit Decimal(18,4)", at: start) }
        return d
    }

    /// A required field that the object did not have.
    func missing(_ name: StaticString) -> JSONError {
        JSONError(byteOffset: position, field: name.description, message: "required field is missing")
    }
}
