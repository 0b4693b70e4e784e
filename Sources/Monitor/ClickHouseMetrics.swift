import ClickHouse
import Foundation
import HTTP
import Manifest

/// ClickHouse: up, rows/bytes/active parts per table of the pipeline's database, and the
/// processor's dead letters (`processor_rejects`) by stage.
public enum ClickHouseMetrics {
    public struct TablePart: Sendable, Equatable, Decodable {
        public var table: String
        public var rows: Int64
        public var bytes: Int64
        public var parts: Int64
        public init(table: String, rows: Int64, bytes: Int64, parts: Int64) {
            self.table = table
            self.rows = rows
            self.bytes = bytes
            self.parts = parts
        }
    }

    public struct Rejects: Sendable, Equatable, Decodable {
        public var stage: String
        public var rows: Int64
    }

    /// Pure. `tables` nil: ClickHouse did not answer.
    public static func write(database: String, tables: [TablePart]?, rejects: [Rejects]?, into e: inout Exposition) {
        e.gauge("cdcctl_clickhouse_up", "1 when ClickHouse answers /ping and queries.", tables == nil ? 0 : 1)
        let t = tables ?? []
        e.gauge("cdcctl_clickhouse_table_rows", "Rows in the table's active parts.", t.map { ([("database", database), ("table", $0.table)], Double($0.rows)) })
        e.gauge("cdcctl_clickhouse_table_bytes", "Bytes on disk of the table's active parts.", t.map { ([("database", database), ("table", $0.table)], Double($0.bytes)) })
        e.gauge("cdcctl_clickhouse_table_active_parts", "Active parts of the table (too many: inserts too small or too frequent).",
                t.map { ([("database", database), ("table", $0.table)], Double($0.parts)) })
        if let rejects {
            var by = Dictionary(uniqueKeysWithValues: ["decode", "future", "aggregate", "insert"].map { ($0, Int64(0)) })
            for r in rejects { by[r.stage, default: 0] += r.rows }
            e.gauge("cdcctl_clickhouse_rejected_rows", "Rows in processor_rejects (dead letters), by stage.",
                    by.keys.sorted().map { ([("stage", $0)], Double(by[$0]!)) })
        }
    }
}

public final class ClickHouseCollector: Collector {
    public let name = "clickhouse"
    let config: ClickHouseConfig
    let database: String

    public init(config: ClickHouseConfig, database: String) {
        self.config = config
        self.database = database
    }

    public func collect(into e: inout Exposition) throws {
        let client = ClickHouseClient(config, http: HTTPClient(retries: 0))
        let tables: [ClickHouseMetrics.TablePart]
        do {
            try client.ping()
            tables = try client.select("""
                SELECT table, toInt64(sum(rows)) AS rows, toInt64(sum(bytes_on_disk)) AS bytes, toInt64(count()) AS parts
                FROM system.parts WHERE active AND database = {db:String} GROUP BY table ORDER BY table
                """, as: ClickHouseMetrics.TablePart.self, parameters: ["db": database])
        } catch {
            ClickHouseMetrics.write(database: database, tables: nil, rejects: nil, into: &e)
            throw error
        }
        // Before the migrations ran there is no processor_rejects: no dead letters to count.
        let rejects = try? client.select("SELECT toString(stage) AS stage, toInt64(count()) AS rows FROM \(database).processor_rejects FINAL GROUP BY stage",
                                         as: ClickHouseMetrics.Rejects.self)
        ClickHouseMetrics.write(database: database, tables: tables, rejects: rejects, into: &e)
    }
}
