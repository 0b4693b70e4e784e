import Postgres
import Processor

/// The statements of one batch's transaction. Each table gets one statement whatever the batch
/// size: the batch's columns travel as array parameters of `unnest(...)`.
enum SinkStatements {

    static func ts(_ column: String) -> String { "timestamptz 'epoch' + \(column) * interval '1 millisecond'" }

    static func apply(_ plan: SinkPlan, _ pg: PostgresConnection) throws {
        try history("orders_history", "order_id", plan.orderHistory, pg)
        try history("order_executions_history", "execution_id", plan.executionHistory, pg)
        if !plan.orderUpserts.isEmpty {
            let rows = plan.orderUpserts
            try pg.exec("""
                INSERT INTO orders_current (order_id, customer_id, symbol, side, order_type, quantity, price, status, created_at, updated_at,
                                            source_ts, kafka_topic, kafka_partition, kafka_offset)
                SELECT id, cu, sy, si, ot, q, pr, st, \(ts("ca")), \(ts("ua")), \(ts("ts")), t, p, o
                FROM unnest($1::bigint[], $2::bigint[], $3::text[], $4::text[], $5::text[], $6::numeric[], $7::numeric[], $8::text[],
                            $9::bigint[], $10::bigint[], $11::bigint[], $12::text[], $13::int[], $14::bigint[])
                     AS u(id, cu, sy, si, ot, q, pr, st, ca, ua, ts, t, p, o)
                ON CONFLICT (order_id) DO UPDATE SET
                    customer_id = EXCLUDED.customer_id, symbol = EXCLUDED.symbol, side = EXCLUDED.side, order_type = EXCLUDED.order_type,
                    quantity = EXCLUDED.quantity, price = EXCLUDED.price, status = EXCLUDED.status, created_at = EXCLUDED.created_at,
                    updated_at = EXCLUDED.updated_at, source_ts = EXCLUDED.source_ts, kafka_topic = EXCLUDED.kafka_topic,
                    kafka_partition = EXCLUDED.kafka_partition, kafka_offset = EXCLUDED.kafka_offset
                """, [
                    PostgresArray.literal(rows.map { $0.row.orderId }), PostgresArray.literal(rows.map { $0.row.customerId }),
                    PostgresArray.literal(rows.map { Optional($0.row.symbol) }), PostgresArray.literal(rows.map { Optional($0.row.side) }),
                    PostgresArray.literal(rows.map { Optional($0.row.orderType) }),
                    PostgresArray.literal(rows.map { Optional($0.row.quantity.description) }),
                    PostgresArray.literal(rows.map { Optional($0.row.price.description) }), PostgresArray.literal(rows.map { Optional($0.row.status) }),
                    PostgresArray.literal(rows.map { $0.row.createdAtMs }), PostgresArray.literal(rows.map { $0.row.updatedAtMs }),
                    PostgresArray.literal(rows.map { $0.sourceTsMs }), PostgresArray.literal(rows.map { Optional($0.position.topic) }),
                    PostgresArray.literal(rows.map { $0.position.partition }), PostgresArray.literal(rows.map { $0.position.offset }),
                ])
        }
        if !plan.orderDeletes.isEmpty {
            try pg.exec("DELETE FROM orders_current WHERE order_id = ANY($1::bigint[])", [PostgresArray.literal(plan.orderDeletes)])
        }
        if !plan.executionUpserts.isEmpty {
            let rows = plan.executionUpserts
            try pg.exec("""
                INSERT INTO order_executions_current (execution_id, order_id, symbol, quantity, price, executed_at,
                                                      source_ts, kafka_topic, kafka_partition, kafka_offset)
                SELECT id, oi, sy, q, pr, \(ts("ea")), \(ts("ts")), t, p, o
                FROM unnest($1::bigint[], $2::bigint[], $3::text[], $4::numeric[], $5::numeric[], $6::bigint[], $7::bigint[],
                            $8::text[], $9::int[], $10::bigint[])
                     AS u(id, oi, sy, q, pr, ea, ts, t, p, o)
                ON CONFLICT (execution_id) DO UPDATE SET
                    order_id = EXCLUDED.order_id, symbol = EXCLUDED.symbol, quantity = EXCLUDED.quantity, price = EXCLUDED.price,
                    executed_at = EXCLUDED.executed_at, source_ts = EXCLUDED.source_ts, kafka_topic = EXCLUDED.kafka_topic,
                    kafka_partition = EXCLUDED.kafka_partition, kafka_offset = EXCLUDED.kafka_offset
                """, [
                    PostgresArray.literal(rows.map { $0.row.executionId }), PostgresArray.literal(rows.map { $0.row.orderId }),
                    PostgresArray.literal(rows.map { Optional($0.row.symbol) }),
                    PostgresArray.literal(rows.map { Optional($0.row.quantity.description) }),
                    PostgresArray.literal(rows.map { Optional($0.row.price.description) }),
                    PostgresArray.literal(rows.map { $0.row.executedAtMs }), PostgresArray.literal(rows.map { $0.sourceTsMs }),
                    PostgresArray.literal(rows.map { Optional($0.position.topic) }), PostgresArray.literal(rows.map { $0.position.partition }),
                    PostgresArray.literal(rows.map { $0.position.offset }),
                ])
        }
        if !plan.executionDeletes.isEmpty {
            try pg.exec("DELETE FROM order_executions_current WHERE execution_id = ANY($1::bigint[])",
                        [PostgresArray.literal(plan.executionDeletes)])
        }
    }

    /// History rows. No `ON CONFLICT`: a change applied twice would be a unique violation on
    /// (topic, partition, offset) — visible, never silently absorbed.
    static func history(_ table: String, _ idColumn: String, _ rows: [SinkPlan.History], _ pg: PostgresConnection) throws {
        guard !rows.isEmpty else { return }
        try pg.exec("""
            INSERT INTO \(table) (\(idColumn), op, before, after, source_ts, kafka_topic, kafka_partition, kafka_offset)
            SELECT id, op, b, a, \(ts("ts")), t, p, o
            FROM unnest($1::bigint[], $2::text[], $3::jsonb[], $4::jsonb[], $5::bigint[], $6::text[], $7::int[], $8::bigint[])
                 AS u(id, op, b, a, ts, t, p, o)
            """, [
                PostgresArray.literal(rows.map(\.id)), PostgresArray.literal(rows.map { Optional($0.op) }),
                PostgresArray.literal(rows.map(\.before)), PostgresArray.literal(rows.map(\.after)),
                PostgresArray.literal(rows.map(\.sourceTsMs)), PostgresArray.literal(rows.map { Optional($0.position.topic) }),
                PostgresArray.literal(rows.map(\.position.partition)), PostgresArray.literal(rows.map(\.position.offset)),
            ])
    }

    static func rejects(_ rows: [SinkReject], _ pg: PostgresConnection) throws {
        guard !rows.isEmpty else { return }
        try pg.exec("""
            INSERT INTO sink_rejects (kafka_topic, kafka_partition, kafka_offset, stage, reason, record_key, record_value)
            SELECT * FROM unnest($1::text[], $2::int[], $3::bigint[], $4::text[], $5::text[], $6::bytea[], $7::bytea[])
            """, [
                PostgresArray.literal(rows.map { Optional($0.position.topic) }), PostgresArray.literal(rows.map(\.position.partition)),
                PostgresArray.literal(rows.map(\.position.offset)), PostgresArray.literal(rows.map { Optional($0.stage) }),
                PostgresArray.literal(rows.map { Optional(String($0.reason.unicodeScalars.filter { $0 != "\u{0}" })) }),
                PostgresArray.literal(rows.map { PostgresArray.hex($0.key) }), PostgresArray.literal(rows.map { PostgresArray.hex($0.value) }),
            ])
    }

    /// The touched users' rows recomputed from `orders_current` (already updated in this
    /// transaction); users left without orders lose their row.
    static func stats(_ users: [Int64], _ pg: PostgresConnection) throws {
        guard !users.isEmpty else { return }
        let ids = PostgresArray.literal(users)
        try pg.exec("""
            INSERT INTO user_order_stats (user_id, order_count, notional, new_count, partially_filled_count, filled_count,
                                          cancelled_count, rejected_count, updated_at)
            SELECT customer_id, count(*), sum(quantity * price),
                   count(*) FILTER (WHERE status = 'NEW'), count(*) FILTER (WHERE status = 'PARTIALLY_FILLED'),
                   count(*) FILTER (WHERE status = 'FILLED'), count(*) FILTER (WHERE status = 'CANCELLED'),
                   count(*) FILTER (WHERE status = 'REJECTED'), now()
            FROM orders_current WHERE customer_id = ANY($1::bigint[]) GROUP BY customer_id
            ON CONFLICT (user_id) DO UPDATE SET
                order_count = EXCLUDED.order_count, notional = EXCLUDED.notional, new_count = EXCLUDED.new_count,
                partially_filled_count = EXCLUDED.partially_filled_count, filled_count = EXCLUDED.filled_count,
                cancelled_count = EXCLUDED.cancelled_count, rejected_count = EXCLUDED.rejected_count, updated_at = EXCLUDED.updated_at
            """, [ids])
        try pg.exec("""
            DELETE FROM user_order_stats s WHERE s.user_id = ANY($1::bigint[])
              AND NOT EXISTS (SELECT 1 FROM orders_current o WHERE o.customer_id = s.user_id)
            """, [ids])
    }

    static func offsets(group: String, _ next: [RecordPosition], _ pg: PostgresConnection) throws {
        guard !next.isEmpty else { return }
        try pg.exec("""
            INSERT INTO cdcctl_offsets (consumer_group, topic, partition, next_offset, updated_at)
            SELECT $1, t, p, o, now() FROM unnest($2::text[], $3::int[], $4::bigint[]) AS u(t, p, o)
            ON CONFLICT (consumer_group, topic, partition) DO UPDATE SET next_offset = EXCLUDED.next_offset, updated_at = now()
            """, [group, PostgresArray.literal(next.map { Optional($0.topic) }), PostgresArray.literal(next.map(\.partition)),
                  PostgresArray.literal(next.map(\.offset))])
    }
}
