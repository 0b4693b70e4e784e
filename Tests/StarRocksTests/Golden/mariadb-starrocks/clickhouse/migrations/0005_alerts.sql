-- Anomalies the stream processor detected (price z-score, volume spike, oversized order).
-- alert_id is deterministic (rule, symbol, window), so a re-detected alert replaces itself.

CREATE TABLE IF NOT EXISTS analytics.alerts
(
    alert_id String,
    rule LowCardinality(String),
    symbol LowCardinality(String),
    severity LowCardinality(String),
    detected_at DateTime64(3),
    window_start DateTime64(3),
    value Float64,
    threshold Float64,
    detail String
)
ENGINE = ReplacingMergeTree
ORDER BY alert_id
SETTINGS non_replicated_deduplication_window = 10000;
