/// The seed schema's captured tables (templates/mysql/initdb.d/001-schema.sql) as StarRocks
/// columns: what the StarRocks variant creates and loads. Kept beside the manifest because the
/// validator refuses a StarRocks manifest that captures a table StarRocks knows nothing of.
public enum StarRocksTables {
    public struct Column: Sendable, Equatable {
        public var name: String
        /// StarRocks type.
        public var type: String
        /// How Debezium's JSON carries it (decimal.handling.mode=string, DATETIME(3) as epoch ms).
        public var encoding: Encoding
    }

    public enum Encoding: Sendable, Equatable {
        case plain
        /// io.debezium.time.Timestamp: milliseconds since the epoch, for a DATETIME(3) column.
        case epochMilliseconds
    }

    public struct Table: Sendable, Equatable {
        public var name: String
        /// The primary key, also the first columns (StarRocks requires the key first).
        public var key: [String]
        public var columns: [Column]
    }

    static func c(_ name: String, _ type: String, _ encoding: Encoding = .plain) -> Column {
        Column(name: name, type: type, encoding: encoding)
    }

    public static let tables: [Table] = [
        Table(name: "orders", key: ["order_id"], columns: [
            c("order_id", "BIGINT"), c("customer_id", "BIGINT"), c("symbol", "VARCHAR(16)"), c("side", "VARCHAR(8)"),
            c("order_type", "VARCHAR(8)"), c("quantity", "DECIMAL(18, 4)"), c("price", "DECIMAL(18, 4)"),
            c("status", "VARCHAR(24)"), c("created_at", "DATETIME", .epochMilliseconds), c("updated_at", "DATETIME", .epochMilliseconds),
        ]),
        Table(name: "order_executions", key: ["execution_id"], columns: [
            c("execution_id", "BIGINT"), c("order_id", "BIGINT"), c("symbol", "VARCHAR(16)"), c("quantity", "DECIMAL(18, 4)"),
            c("price", "DECIMAL(18, 4)"), c("executed_at", "DATETIME", .epochMilliseconds),
        ]),
    ]

    public static var known: [String] { tables.map(\.name) }

    /// The layout of a captured `schema.table` (any schema: the table name decides), or nil.
    public static func table(for captured: String) -> Table? {
        let name = captured.split(separator: ".").last.map(String.init) ?? captured
        return tables.first { $0.name == name }
    }

    public static func columns(for captured: String) -> [Column]? { table(for: captured)?.columns }
}
