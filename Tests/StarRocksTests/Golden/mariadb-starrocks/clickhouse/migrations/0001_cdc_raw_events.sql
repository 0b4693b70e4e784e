-- Raw Debezium change events, one row per event as it came off Kafka: op is c (create),
-- u (update), d (delete) or r (snapshot read); before/after hold the row images as JSON text.
-- (topic, partition, offset) identifies an event; the stream processor inserts with an
-- insert_deduplication_token, which needs non_replicated_deduplication_window on a
-- non-replicated MergeTree. TTLs come from the manifest: see R__ttl.sql.
-- Applied migrations are immutable: change the schema in a new, higher-numbered file.

CREATE TABLE IF NOT EXISTS analytics.cdc_orders_raw
(
    topic LowCardinality(String),
    partition UInt16,
    offset UInt64,
    op LowCardinality(String),
    order_id UInt64,
    before Nullable(String),
    after Nullable(String),
    source_ts DateTime64(3),
    ingested_at DateTime64(3) DEFAULT now64(3)
)
ENGINE = MergeTree
ORDER BY (order_id, source_ts, offset)
SETTINGS non_replicated_deduplication_window = 10000;

CREATE TABLE IF NOT EXISTS analytics.cdc_order_executions_raw
(
    topic LowCardinality(String),
    partition UInt16,
    offset UInt64,
    op LowCardinality(String),
    execution_id UInt64,
    order_id UInt64,
    before Nullable(String),
    after Nullable(String),
    source_ts DateTime64(3),
    ingested_at DateTime64(3) DEFAULT now64(3)
)
ENGINE = MergeTree
ORDER BY (order_id, source_ts, offset)
SETTINGS non_replicated_deduplication_window = 10000;
