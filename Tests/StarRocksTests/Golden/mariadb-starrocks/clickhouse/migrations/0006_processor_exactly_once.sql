-- The stream processor's exactly-once and dead-letter tables (docs/processor.md, issue 12).
-- Applied migrations are immutable: this one changes what 0001, 0004 and 0005 created.
--
-- 1. The raw change tables collapse a row written twice, like every other processor table:
--    ReplacingMergeTree keyed by the event's Kafka position. ClickHouse cannot change a table's
--    engine in place, so each is copied into a new table that then takes its name. (Their TTL
--    comes from R__ttl, which runs again after this: a TTL here would tie this migration's
--    checksum to the manifest.)
CREATE TABLE IF NOT EXISTS analytics.cdc_orders_raw_rmt
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
ENGINE = ReplacingMergeTree
ORDER BY (topic, partition, offset)
SETTINGS non_replicated_deduplication_window = 10000;

INSERT INTO analytics.cdc_orders_raw_rmt SELECT * FROM analytics.cdc_orders_raw;
RENAME TABLE analytics.cdc_orders_raw TO analytics.cdc_orders_raw_mergetree, analytics.cdc_orders_raw_rmt TO analytics.cdc_orders_raw;
DROP TABLE analytics.cdc_orders_raw_mergetree;

CREATE TABLE IF NOT EXISTS analytics.cdc_order_executions_raw_rmt
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
ENGINE = ReplacingMergeTree
ORDER BY (topic, partition, offset)
SETTINGS non_replicated_deduplication_window = 10000;

INSERT INTO analytics.cdc_order_executions_raw_rmt SELECT * FROM analytics.cdc_order_executions_raw;
RENAME TABLE analytics.cdc_order_executions_raw TO analytics.cdc_order_executions_raw_mergetree, analytics.cdc_order_executions_raw_rmt TO analytics.cdc_order_executions_raw;
DROP TABLE analytics.cdc_order_executions_raw_mergetree;

-- 2. Notional as the engine computes it: price scale 8 + volume scale 12 = 20 decimals
--    (0004's Decimal(38, 12) truncated it). Values up to 10^18, which the engine enforces.
ALTER TABLE analytics.trade_aggregates MODIFY COLUMN notional Decimal(38, 20);

-- 3. A price move's direction: a drop and a spike are different alerts ('' for rows written before).
ALTER TABLE analytics.alerts ADD COLUMN IF NOT EXISTS direction LowCardinality(String) DEFAULT '' AFTER threshold;

-- 4. Dead letters: records and rows quarantined instead of stopping the pipeline. stage is
--    decode (malformed, or values their columns cannot hold), future (event time too far ahead
--    of the Kafka timestamp), aggregate (kept in trades, left out of its window) or insert
--    (ClickHouse refused the row as bad data). Keyed so a replay writes the same row again.
CREATE TABLE IF NOT EXISTS analytics.processor_rejects
(
    topic LowCardinality(String),
    partition UInt16,
    offset Int64,
    stage LowCardinality(String),
    target_table LowCardinality(String),
    reason String,
    payload String,
    rejected_at DateTime64(3) DEFAULT now64(3)
)
ENGINE = ReplacingMergeTree
ORDER BY (stage, target_table, topic, partition, offset, cityHash64(payload))
SETTINGS non_replicated_deduplication_window = 10000;

-- 5. The processor's checkpoints where the broker drops consumer-group commit metadata (Tansu):
--    offset and metadata per partition, the highest seq wins. Written once per flush, never
--    deduplicated (window 0: a repeated checkpoint is a new fact).
CREATE TABLE IF NOT EXISTS analytics.processor_checkpoints
(
    consumer_group String,
    topic String,
    partition UInt16,
    offset Int64,
    metadata String,
    seq UInt64,
    written_at DateTime64(3) DEFAULT now64(3)
)
ENGINE = ReplacingMergeTree(seq)
ORDER BY (consumer_group, topic, partition)
SETTINGS non_replicated_deduplication_window = 0;
