import Manifest

/// The StarRocks side of the seed, as SQL: a primary-key table per captured table and a Routine
/// Load job per Debezium topic. Pure: `render` writes it as migrations under
/// `starrocks/migrations/`, `cdcctl schema apply --target starrocks` runs them on the FE.
///
/// Not run against a StarRocks server (none runs on the build machines): checked by
/// `StarRocksSQLCheck` (structure) and by sqlglot's StarRocks dialect (scripts/check-starrocks-sql).
public enum StarRocksSQL {
    public static let folder = "starrocks/migrations"
    public static let tablesFile = folder + "/0001_tables.sql"
    public static let routineLoadFile = folder + "/0002_routine_load.sql"
    /// Source fields of a job carry these prefixes; the table's columns are derived from them.
    public static let afterPrefix = "after_"
    public static let beforePrefix = "before_"
    public static let opField = "dbz_op"

    /// Captured tables StarRocks loads, each once, in connector order.
    public static func captured(_ m: Manifest) -> [(table: StarRocksTables.Table, topic: String)] {
        var seen: Set<String> = []
        var out: [(StarRocksTables.Table, String)] = []
        for c in m.connect.connectors {
            for t in c.tables {
                guard let layout = StarRocksTables.table(for: t), !seen.contains(layout.name) else { continue }
                seen.insert(layout.name)
                out.append((layout, c.topic(for: t)))
            }
        }
        return out
    }

    public static func jobName(_ table: String) -> String { "\(table)_from_kafka" }

    public static func tables(_ m: Manifest, header: String) -> String {
        var out = ["-- \(header)",
                   "-- Primary-key tables for the captured tables: a change upserts its row, a delete removes it.",
                   "-- One BE on the 16 GB box, hence replication_num 1 and one bucket."]
        for (t, _) in captured(m) {
            let columns = t.columns.map { c in
                "    \(c.name) \(c.type)" + (t.key.contains(c.name) ? " NOT NULL" : "")
            }
            out.append("""

                CREATE TABLE IF NOT EXISTS \(t.name) (
                \(columns.joined(separator: ",\n"))
                )
                PRIMARY KEY (\(t.key.joined(separator: ", ")))
                DISTRIBUTED BY HASH (\(t.key.joined(separator: ", "))) BUCKETS 1
                PROPERTIES (
                    "replication_num" = "1",
                    "enable_persistent_index" = "true"
                );
                """)
        }
        return out.joined(separator: "\n") + "\n"
    }

    /// One `CREATE ROUTINE LOAD` per captured table. Each Debezium envelope gives one row: the
    /// `after` image for c/u/r, the `before` image (FULL row image) for d with `__op = 1`, which
    /// deletes the key in a primary-key table. Tombstones (null values after a delete) and other
    /// messages without `op` are filtered by the WHERE clause.
    public static func routineLoads(_ m: Manifest, header: String) -> String {
        let r = m.starrocks
        var out = ["-- \(header)",
                   "-- Routine Load jobs: StarRocks reads the Debezium topics (JSON, schemas off) itself."]
        for (t, topic) in captured(m) {
            let sourceFields = t.columns.map { afterPrefix + $0.name } + t.columns.map { beforePrefix + $0.name } + [opField]
            let paths = t.columns.map { "\"$.after.\($0.name)\"" } + t.columns.map { "\"$.before.\($0.name)\"" } + ["\"$.op\""]
            let derived = t.columns.map { c -> String in
                let pick = "if(\(opField) = 'd', \(beforePrefix)\(c.name), \(afterPrefix)\(c.name))"
                switch c.encoding {
                case .plain: return "\(c.name) = \(pick)"
                case .epochMilliseconds: return "\(c.name) = from_unixtime(cast(\(pick) / 1000 AS BIGINT))"
                }
            } + ["__op = if(\(opField) = 'd', 1, 0)"]
            out.append("""

                CREATE ROUTINE LOAD \(jobName(t.name)) ON \(t.name)
                COLUMNS (
                    \(sourceFields.joined(separator: ", ")),
                    \(derived.joined(separator: ",\n    "))
                ),
                WHERE \(opField) IN ('c', 'u', 'd', 'r')
                PROPERTIES (
                    "format" = "json",
                    "jsonpaths" = '[\(paths.joined(separator: ", "))]',
                    "strip_outer_array" = "false",
                    "timezone" = "UTC",
                    "desired_concurrent_number" = "\(r.desiredConcurrentNumber)",
                    "max_batch_interval" = "\(r.maxBatchIntervalSeconds)",
                    "max_error_number" = "\(r.maxErrorNumber)"
                )
                FROM KAFKA (
                    "kafka_broker_list" = "\(r.kafkaBootstrap)",
                    "kafka_topic" = "\(topic)",
                    "property.group.id" = "starrocks-\(m.cluster.name)-\(t.name)",
                    "property.kafka_default_offsets" = "OFFSET_BEGINNING"
                );
                """)
        }
        return out.joined(separator: "\n") + "\n"
    }
}
