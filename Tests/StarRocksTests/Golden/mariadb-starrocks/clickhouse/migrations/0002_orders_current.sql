-- The current state of each order, folded from its change events: the row with the highest
-- version wins at merge time and under FINAL; a delete event writes is_deleted = 1 with a
-- higher version, and FINAL then drops the order. Query it as
--   SELECT … FROM orders_current FINAL WHERE …

CREATE TABLE IF NOT EXISTS analytics.orders_current
(
    order_id UInt64,
    customer_id UInt64,
    symbol LowCardinality(String),
    side LowCardinality(String),
    order_type LowCardinality(String),
    quantity Decimal(18, 4),
    price Decimal(18, 4),
    status LowCardinality(String),
    created_at DateTime64(3),
    updated_at DateTime64(3),
    version UInt64,
    is_deleted UInt8
)
ENGINE = ReplacingMergeTree(version, is_deleted)
ORDER BY order_id
SETTINGS non_replicated_deduplication_window = 10000;
