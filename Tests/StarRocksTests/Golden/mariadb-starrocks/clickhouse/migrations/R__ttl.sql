-- Retention from the manifest's clickhouse.ttl. A repeatable migration: it runs after the
-- versioned ones whenever its rendered text changes, so changing a TTL in the manifest is
-- `cdcctl schema apply`, not an edit of an applied migration. ClickHouse then drops expired
-- rows in the background (materialize_ttl_after_modify).

ALTER TABLE analytics.cdc_orders_raw MODIFY TTL toDateTime(source_ts) + INTERVAL 7 DAY;
ALTER TABLE analytics.cdc_order_executions_raw MODIFY TTL toDateTime(source_ts) + INTERVAL 7 DAY;
ALTER TABLE analytics.trades MODIFY TTL toDateTime(traded_at) + INTERVAL 30 DAY;
ALTER TABLE analytics.trade_aggregates MODIFY TTL toDateTime(window_start) + INTERVAL 365 DAY;
ALTER TABLE analytics.alerts MODIFY TTL toDateTime(detected_at) + INTERVAL 90 DAY;
ALTER TABLE analytics.processor_rejects MODIFY TTL toDateTime(rejected_at) + INTERVAL 7 DAY;
